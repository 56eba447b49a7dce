"""Register every FOV to its own slow scan on top of the shared profile, and gate the residuals (rule register_fovs)."""
from stemdlf.config.load import MULTI, drift_options
from stemdlf.io.atomic import atomic_path
from stemdlf.preprocess.distortion import Distortion, RegistrationError, check_registrations
from stemdlf.preprocess.fov import register_fovs_from_files
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]) as log:
    p = snakemake.params
    distortion = Distortion.load(snakemake.input.profile, snakemake.input.view)
    fovs = dict(zip(p.fov_keys, zip(snakemake.input.dcfi, snakemake.input.slow)))
    truth = dict(zip(p.truth_keys, zip(snakemake.input.truth_profiles, snakemake.input.truth_facts)))
    cropped, regs, table = register_fovs_from_files(distortion, fovs, options=drift_options({"dcfi": p.registration}),
                                                    register=p.register, truth=truth)
    # which multi-FOV FOVs the profile was estimated on (all training FOVs, or the reference FOV)
    skipped = distortion.info.get("skipped", {})
    used = set(distortion.info.get("fovs") or [distortion.info.get("reference")])

    def in_profile(key):
        """Whether a FOV (``dataset/fov``) was used to estimate the profile: yes, no, or why it was skipped."""
        dataset, fov = key.split("/", 1)
        if dataset == MULTI and fov in skipped:
            return f"skipped: {skipped[fov]}"
        return "yes" if dataset == MULTI and fov in used else "no"

    table["in_profile"] = [in_profile(k) for k in table["key"]]
    log.info("per-FOV registration:\n%s", table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    problems = check_registrations(regs, p.max_residual_px, p.min_zncc)
    table["problem"] = [problems.get(k, "") for k in table["key"]]
    if problems and p.on_poor_registration == "stop":
        first = next(iter(problems))
        raise RegistrationError(
            f"{len(problems)} FOV(s) do not align with their slow scan, first {first}: {problems[first]}. "
            "Check that FOV's rapid.tif and slow.tif image the same area; set "
            "distortion.on_poor_registration: warn to go on with it flagged in results/distortion/fovs.csv")
    for key, problem in problems.items():
        log.warning("%s: %s", key, problem)
    cropped.info["registration"] = {"registered": bool(p.register), "common_slow_roi": cropped.slow_roi,
                                    "flagged": problems}
    cropped.save(snakemake.output.profile, snakemake.output.view)
    with atomic_path(snakemake.output.fovs) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
