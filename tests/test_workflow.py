"""End-to-end runs of the Snakemake workflow on the tiny config, in temporary folders."""

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tifffile
import yaml
from workflow_helpers import WORKFLOW_FILES, copy_workflow, planned, snakemake, trim_workflow

from stemdlf.cli import main as stemdlf_main

pytestmark = pytest.mark.workflow


def test_dry_run_lists_per_fov_jobs(tmp_path):
    workdir = copy_workflow(tmp_path)
    jobs = planned(snakemake(workdir, "-n"))
    # tiny.yaml: 5 multi FOVs + 1 single FOV
    assert jobs["simulate_fov"] == 6 and jobs["normalise_fov"] == 6 and jobs["dcfi_fov"] == 6
    assert jobs["validate_dataset"] == 2
    assert jobs["correct_fov"] == 6
    assert jobs["estimate_distortion"] == 6  # published/paper/dp x reference/global, compared side by side
    # every FOV of both datasets registered to its own slow scan, in one job
    assert jobs["register_fovs"] == 1
    # DLF-Slow, DLF-DCFI, DLF-Slow-uncorrected, DLF-100/500/1000/2500, DLF-5F, DLF-Self: one training and one
    # denoising each, and one denoising with the shipped DLF-5F as it is (evaluate.pretrained); a learning curve for
    # each, one for CARE; DLF-Self's detector response, measured once
    assert jobs["train_variant"] == 9 and jobs["denoise_variant"] == 10 and jobs["learning_curve"] == 10
    assert jobs["detector_response"] == 1
    # evaluation: 5 tuned baselines x 2 test FOVs; CARE trained once and applied once;
    # rapid, DCFI, 9 variants, the shipped filter, 6 baselines and the slow scan vs truth
    assert jobs["baseline_fov"] == 10 and jobs["train_care"] == jobs["denoise_care"] == 1
    assert jobs["metrics_method"] == 19 and jobs["figure"] == 7  # fig1-5, the crops and the statistics
    assert jobs["tables"] == jobs["claims"] == jobs["noise_model"] == jobs["readme_results"] == 1
    assert jobs["ablation"] == 1  # tiny.yaml's two ablation rows
    assert jobs["model_metrics"] == 1  # every filter's test scores beside its card, in one job


def test_lint_is_clean(tmp_path):
    workdir = copy_workflow(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--configfile", "tiny.yaml"],
                          cwd=workdir, capture_output=True, text=True)
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr


def test_full_run_outputs(tiny_run):
    validated = json.loads((tiny_run / "results/validated/multi.json").read_text())
    assert [f["fov"] for f in validated["fovs"]] == [f"fov{i:03d}" for i in range(5)]
    dcfi = tifffile.imread(tiny_run / "results/dcfi/multi/fov000/dcfi.tif")
    rapid = tifffile.imread(tiny_run / "results/normalised/multi/fov000/rapid.tif")
    assert dcfi.shape == (64, 64) and rapid.shape == (6, 64, 64)
    assert rapid.min() == 0 and rapid.max() == 65535
    assert (tiny_run / "results/dcfi/single/fov000/shifts.csv").read_text().count("\n") == 13
    assert (tiny_run / "logs/dcfi/multi/fov000.log").is_file()
    assert (tiny_run / "benchmarks/dcfi/multi/fov000.tsv").is_file()
    # nothing is written outside results/, logs/, benchmarks/ (and Snakemake's own .snakemake/)
    assert {p.name for p in tiny_run.iterdir()} <= set(WORKFLOW_FILES) | {
        "tiny.yaml", "results", "logs", "benchmarks", ".snakemake"}


def test_speed_benchmark_sums_each_rule_familys_jobs(tiny_run):
    """benchmarks/speed.py's per-rule rows: one per rule family (baselines per method), every job once."""
    import importlib.util

    import pandas as pd
    from workflow_helpers import REPO

    spec = importlib.util.spec_from_file_location("speed", REPO / "benchmarks/speed.py")
    speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(speed)
    rows = speed.per_rule_rows(tiny_run / "benchmarks")
    families = {re.search(r"rule family (\S+) \((\d+) jobs\)", r["what"]).groups(): r["value"] for r in rows}
    names = {name for name, _ in families}
    tsvs = list((tiny_run / "benchmarks").rglob("*.tsv"))
    assert sum(int(jobs) for _, jobs in families) == len(tsvs)
    assert {"train", "dcfi", "simulate"} <= names and not names & {"multi", "single"}
    assert any(name.startswith("baselines/") for name in names)
    dcfi = [value for (name, _), value in families.items() if name == "dcfi"][0]
    in_dcfi = [t for t in tsvs if t.relative_to(tiny_run / "benchmarks").parts[0] == "dcfi"]
    assert len(in_dcfi) == 6  # tiny.yaml: 5 multi FOVs + 1 single FOV
    assert dcfi == pytest.approx(sum(pd.read_csv(t, sep="\t")["s"].iloc[-1] for t in in_dcfi))


def replan(workdir, section, value):
    config = yaml.safe_load((workdir / "tiny.yaml").read_text())
    config[section] = value
    (workdir / "changed.yaml").write_text(yaml.safe_dump(config))
    return planned(snakemake(workdir, "-n", "--configfile", "changed.yaml"))


def test_changing_dcfi_settings_reruns_dcfi_and_what_depends_on_it(tiny_run):
    assert "Nothing to be done" in (lambda p: p.stdout + p.stderr)(snakemake(tiny_run, "-n"))
    jobs = replan(tiny_run, "dcfi", {"upsample_factor": 10})
    assert jobs["dcfi_fov"] == 6
    assert "normalise_fov" not in jobs and "simulate_fov" not in jobs


def test_changing_the_distortion_method_replans_only_the_selection_downstream(tiny_run):
    jobs = replan(tiny_run, "distortion", {"method": "paper"})
    assert not {"simulate_fov", "normalise_fov", "dcfi_fov", "estimate_distortion", "choose_reference"} & set(jobs)
    assert jobs["correct_fov"] == 6
    # every variant trained on corrected frames retrains; DLF-Slow-uncorrected does not
    assert jobs["train_variant"] == 8 and jobs["denoise_variant"] == 10  # the shipped filter too: corrected frames


def test_changing_the_bm3d_profile_replans_only_the_bm3d_baselines_and_their_evaluation(tiny_run):
    jobs = replan(tiny_run, "evaluate", {"bm3d_profile": "np"})
    assert jobs["baseline_fov"] == 3 * 2  # BM3D, BM3D-PSD, BM3D-deblur on the 2 test FOVs; not Gaussian, NLM
    assert jobs["metrics_method"] == 3 and jobs["tables"] == 1
    assert not {"train_variant", "train_care", "denoise_variant", "noise_model", "correct_fov"} & set(jobs)


def test_editing_a_library_module_reruns_the_jobs_that_import_it_and_no_other(tiny_run, tmp_path):
    import os

    from workflow_helpers import REPO

    edited = tmp_path / "src"
    shutil.copytree(REPO / "src", edited, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    env = {**os.environ, "PYTHONPATH": str(edited)}  # the master and its jobs import the edited copy
    assert "Nothing to be done" in (lambda p: p.stdout + p.stderr)(snakemake(tiny_run, "-n", env=env))
    with open(edited / "stemdlf" / "evaluate" / "metrics.py", "a") as f:
        f.write("\n# an edit\n")
    jobs = planned(snakemake(tiny_run, "-n", env=env))
    # what computes and tabulates the metrics and draws the figures that use them (their spectra)
    assert jobs["metrics_method"] >= 1 and jobs["tables"] == 1 and jobs["figure"] >= 1
    assert not {"simulate_fov", "normalise_fov", "dcfi_fov", "correct_fov", "train_variant", "train_care",
                "denoise_variant", "estimate_distortion", "baseline_fov", "noise_model"} & set(jobs)


def test_a_second_checkout_fingerprints_its_own_library_with_another_checkouts_environment(tiny_run, tmp_path):
    """README's advice for a second preset: a second clone run with the first clone's virtual
    environment. Its Snakefile must fingerprint the clone's own src/, which its jobs import."""
    import os

    from workflow_helpers import REPO

    clone = tmp_path / "clone"
    shutil.copytree(tiny_run, clone, symlinks=True)
    shutil.copytree(REPO / "src", clone / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the environment's stemdlf is REPO's
    assert "Nothing to be done" in (lambda p: p.stdout + p.stderr)(snakemake(clone, "-n", env=env))
    with open(clone / "src" / "stemdlf" / "evaluate" / "metrics.py", "a") as f:
        f.write("\n# an edit in the second checkout\n")
    jobs = planned(snakemake(clone, "-n", env=env))
    assert jobs["metrics_method"] >= 1 and jobs["tables"] == 1
    assert "train_variant" not in jobs


def test_distortion_outputs(tiny_run):
    import pandas as pd

    from stemdlf.preprocess.distortion import Distortion

    d = Distortion.load(tiny_run / "results/distortion/profile.csv", tiny_run / "results/distortion/view.json")
    r0, r1, c0, c1 = d.slow_roi
    corrected = tifffile.imread(tiny_run / "results/corrected/multi/fov000/rapid.tif")
    slow = tifffile.imread(tiny_run / "results/corrected/multi/fov000/slow.tif")
    assert corrected.shape == (6, r1 - r0, c1 - c0) and slow.shape == corrected.shape[1:]
    assert corrected.dtype == np.float32
    with tifffile.TiffFile(tiny_run / "results/corrected/single/fov000/dcfi.tif") as tif:
        assert tif.imagej_metadata["slow_roi"] == f"{r0},{r1},{c0},{c1}"
    table = pd.read_csv(tiny_run / "results/distortion/comparison.csv")
    assert set(table["estimator"]) == {f"{m}-{s}" for m in ("published", "paper", "dp")
                                       for s in ("reference", "global")}
    assert table["rms_px"].notna().all()
    split = yaml.safe_load((tiny_run / "results/split.yaml").read_text())
    assert len(split["train"]) == 3 and len(split["test"]) == 2
    assert (tiny_run / "results/distortion/diagnostic.pdf").stat().st_size > 0
    # every FOV of both datasets registered to its own slow scan, its offset applied in its corrected files
    fovs = pd.read_csv(tiny_run / "results/distortion/fovs.csv").set_index("key")
    assert list(fovs.index) == [f"multi/fov{i:03d}" for i in range(5)] + ["single/fov000"]
    assert fovs[["offset_y_px", "offset_x_px", "residual_px", "zncc_after", "truth_x_rms_px"]].notna().all().all()
    with tifffile.TiffFile(tiny_run / "results/corrected/multi/fov001/rapid.tif") as tif:
        offset = [float(v) for v in tif.imagej_metadata["fov_offset_px"].split(",")]
    assert offset == pytest.approx(list(fovs.loc["multi/fov001", ["offset_y_px", "offset_x_px"]]), abs=1e-3)


def test_real_data_layout_runs_through_the_same_command(tmp_path):
    data = tmp_path / "mydata"
    assert stemdlf_main(["simulate", str(data), "--n-fovs", "5", "--n-frames", "4", "--size", "64",
                         "--quiet", "--seed", "3"]) == 0
    shutil.rmtree(data / "truth")  # real data has no ground truth
    supplied = tifffile.imread(data / "fovs/fov002/rapid.tif").mean(axis=0).astype(np.uint16)
    tifffile.imwrite(data / "fovs/fov002/dcfi.tif", supplied)
    workdir = copy_workflow(tmp_path / "wf")
    trim_workflow(workdir, ["DLF-Slow", "DLF-100"], ["Gaussian"])  # the point here is the data layout
    config = yaml.safe_load((workdir / "tiny.yaml").read_text())
    config["datasets"]["multi"] = {"path": str(data)}
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir)
    assert not (workdir / "results/data/multi").exists()
    assert (workdir / "results/tables/summary.md").is_file() and (workdir / "results/claims.md").is_file()
    info = json.loads((workdir / "results/dcfi/multi/fov002/normalisation.json").read_text())
    assert info["source"] == "supplied"
    assert json.loads((workdir / "results/dcfi/multi/fov001/normalisation.json").read_text())["source"] == "computed"


def test_bad_real_data_stops_before_any_job_naming_the_file(tmp_path):
    data = tmp_path / "mydata"
    stemdlf_main(["simulate", str(data), "--n-fovs", "5", "--n-frames", "3", "--size", "32", "--quiet"])
    tifffile.imwrite(data / "fovs/fov003/slow.tif", np.zeros((32, 32), np.float32))
    workdir = copy_workflow(tmp_path / "wf")
    config = yaml.safe_load((workdir / "tiny.yaml").read_text())
    config["datasets"]["multi"] = {"path": str(data)}
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(workdir, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "fov003/slow.tif" in out and "dtype is float32" in out
    assert not (workdir / "results").exists()


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["dcfi"].update(windw=3), "windw"),
    (lambda c: c["split"].update(n_train=10), "split needs 12 FOVs"),
    (lambda c: c["variants"]["DLF-Slow"].update(lrr=1e-3), "lrr"),
    (lambda c: c["variants"]["DLF-100"].update(frames=50), "variants.DLF-100.frames is 50 but datasets.single has 12"),
    (lambda c: c["training"].update(augment="hflip"), "hflip"),
    (lambda c: c["split"].update(test_fovs=["fov009"]), "split lists FOVs the dataset does not have: fov009"),
    (lambda c: c["training"].update(patch_size=128), "patch_size 128 is larger than the 64x64 frames"),
    (lambda c: c["training"].update(patch_size=18), "patch_size 18 is not a multiple of 2**depth = 4"),
])
def test_bad_config_stops_with_a_clear_message(tmp_path, edit, message):
    workdir = copy_workflow(tmp_path)
    config = yaml.safe_load((workdir / "tiny.yaml").read_text())
    config.setdefault("dcfi", {})
    edit(config)
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(workdir, "-n", check=False)
    assert proc.returncode != 0 and message in proc.stdout + proc.stderr


@pytest.mark.parametrize("edit, jobs", [
    # no single-FOV series: DLF-100..2500 and Fig. 4 are left out, the single dataset is not processed
    ("datasets: {single: null}\n", {"train_variant": 5, "figure": 6, "simulate_fov": 5}),
    # a user's choice of variants
    ("run_variants: [DLF-5F, DLF-Slow]\n", {"train_variant": 2, "figure": 6, "simulate_fov": 5}),
])
def test_a_user_chooses_what_runs_in_one_config_edit(tmp_path, edit, jobs):
    workdir = copy_workflow(tmp_path)
    (workdir / "mine.yaml").write_text(edit)
    plan = planned(snakemake(workdir, "-n", "--configfile", "tiny.yaml", "mine.yaml"))
    assert {k: plan.get(k) for k in jobs} == jobs


def test_a_variant_fine_tuned_from_the_shipped_filter_names_it_by_fingerprint_not_by_path(tmp_path):
    from stemdlf.nn import pretrained

    workdir = copy_workflow(tmp_path)
    five = "{depth: 2, base_filters: 8, batch_norm: false, input_frames: 5}"
    (workdir / "mine.yaml").write_text(
        "run_variants: [DLF-5F, FT]\nvariants:\n  FT: {dataset: multi, target: slow, frames: all, lr: 3.0e-4, "
        f"epochs: 1, input_scaling: mean_frame, model: {five}, init_from: 'pretrained:DLF-5F'}}\n")
    proc = snakemake(workdir, "-n", "results/models/FT/model.keras", "--configfile", "tiny.yaml", "mine.yaml")
    assert planned(proc)["train_variant"] == 1
    # the installed package's path differs between checkouts: the job names the shipped filter and its hash in
    # its params (Plan.training_params), so a second checkout does not retrain it
    assert str(pretrained.weights_path("DLF-5F")) not in proc.stdout
    # rule pretrained writes a variant as the package ships it
    assert planned(snakemake(workdir, "-n", "results/pretrained/FT.keras", "--configfile", "tiny.yaml",
                             "mine.yaml"))["pretrained"] == 1
    # a shipped filter of another U-Net is refused before any job
    (workdir / "mine.yaml").write_text((workdir / "mine.yaml").read_text().replace("batch_norm: false",
                                                                                   "batch_norm: true"))
    proc = snakemake(workdir, "-n", "--configfile", "tiny.yaml", "mine.yaml", check=False)
    assert proc.returncode != 0 and "'pretrained:DLF-5F', whose model settings differ" in proc.stdout + proc.stderr


def test_numbers_in_exponent_notation_are_numbers(tmp_path):
    """YAML 1.1 reads "lr: 1e-3" as a string; the workflow reads it as the number it is."""
    workdir = copy_workflow(tmp_path)
    (workdir / "tiny.yaml").write_text((workdir / "tiny.yaml").read_text().replace(
        "  DLF-Slow: {epochs: 2}", "  DLF-Slow: {epochs: 2, lr: 1e-3}"))
    assert "lr: 1e-3" in (workdir / "tiny.yaml").read_text()
    proc = snakemake(workdir, "-n", check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_training_and_denoising_outputs(tiny_run):
    import pandas as pd

    from stemdlf.nn.denoise import load_model

    split = yaml.safe_load((tiny_run / "results/split.yaml").read_text())
    slow = tifffile.imread(tiny_run / f"results/corrected/multi/{split['test'][0]}/slow.tif")
    for variant in ["DLF-Slow", "DLF-DCFI", "DLF-Slow-uncorrected", "DLF-100", "DLF-2500"]:
        model = load_model(tiny_run / f"results/models/{variant}/model.keras")
        assert model.input_shape[-1] == 1
        assert json.loads((tiny_run / f"results/models/{variant}/model.json").read_text())["input_scaling"] == "none"
        history = pd.read_csv(tiny_run / f"results/models/{variant}/history.csv")
        assert list(history["epoch"]) == [1, 2]
        assert (tiny_run / f"results/models/{variant}/learning_curve.pdf").is_file()
        for fov in split["test"]:
            with tifffile.TiffFile(tiny_run / f"results/denoised/{variant}/{fov}.tif") as tif:
                denoised = tif.asarray()
                assert tif.imagej_metadata["variant"] == variant
            assert denoised.shape == (6, *slow.shape) and denoised.dtype == np.float32
    card = json.loads((tiny_run / "results/models/DLF-5F/model.json").read_text())
    assert card["input_frames"] == 5 and card["input_scaling"] == "mean_frame" and card["settings"]["loss"] == "mae"
    assert card["variant"] == "DLF-5F" and card["pixel_size_nm"] == pytest.approx(2.08, rel=1e-5)  # tiny.yaml
    assert card["geometry"].startswith("slow-scan grid") and card["normalisation"]["high_percentile"] == 100.0
    uncorrected = json.loads((tiny_run / "results/models/DLF-Slow-uncorrected/model.json").read_text())
    assert uncorrected["geometry"].startswith("rapid-scan grid")
    assert load_model(tiny_run / "results/models/DLF-5F/model.keras").input_shape[-1] == 5
    summary = json.loads((tiny_run / "results/models/DLF-100/training.json").read_text())
    assert summary["frames"] == 3 and summary["train_fovs"] == summary["validation_fovs"] == ["fov000"]
    summary = json.loads((tiny_run / "results/models/DLF-Slow/training.json").read_text())
    assert len(summary["train_fovs"]) == 2 and len(summary["validation_fovs"]) == 1  # 3 training FOVs, 20%
    assert not set(summary["train_fovs"] + summary["validation_fovs"]) & set(split["test"])
    assert not (tiny_run / "results/checkpoints").exists() or not any((tiny_run / "results/checkpoints").iterdir())


def test_changing_one_variant_replans_only_that_variant(tiny_run):
    config = yaml.safe_load((tiny_run / "tiny.yaml").read_text())
    jobs = replan(tiny_run, "variants", {**config["variants"], "DLF-500": {"frames": 6, "epochs": 2, "lr": 2.0e-3}})
    assert jobs == {"train_variant": 1, "denoise_variant": 1, "learning_curve": 1, "metrics_method": 1, "tables": 1,
                    "claims": 1, "figure": 3, "readme_results": 1, "model_metrics": 1, "ablation": 1, "all": 1}
    out = (lambda p: p.stdout + p.stderr)(snakemake(tiny_run, "-n", "--configfile", "changed.yaml"))
    assert set(re.findall(r"variant=([\w.+-]+)", out)) == {"DLF-500"}
    assert set(re.findall(r"method=([\w.+-]+)", out)) == {"DLF-500"}
    # only the figures that show DLF-500: the single-FOV figure, the PSNR bars and the per-frame statistics
    assert set(re.findall(r"fig=(fig\d|stats|crops)", out)) == {"fig3", "fig4", "stats"}


def test_care_retrains_only_when_its_variant_retrains(tiny_run):
    config = yaml.safe_load((tiny_run / "tiny.yaml").read_text())
    # another variant than CARE's (evaluate.care.like: DLF-5F) does not touch CARE
    slow = config["variants"].get("DLF-Slow", {})
    jobs = replan(tiny_run, "variants", {**config["variants"], "DLF-Slow": {**slow, "epochs": 3}})
    assert jobs["train_variant"] == 1 and "train_care" not in jobs
    # CARE gets DLF-5F's measured training time (evaluate.care.budget: seconds): it retrains with it
    five = config["variants"]["DLF-5F"]
    jobs = replan(tiny_run, "variants", {**config["variants"], "DLF-5F": {**five, "lr": 3.0e-3}})
    assert jobs["train_variant"] == 1 and jobs["train_care"] == jobs["denoise_care"] == 1


def test_evaluation_outputs_and_report(tiny_run):
    import pandas as pd

    metrics = pd.read_csv(tiny_run / "results/tables/metrics.csv")
    assert list(metrics.columns) == ["fov", "frame", "method", "metric", "value"]
    summary = pd.read_csv(tiny_run / "results/tables/summary.csv")
    methods = {"rapid", "DCFI", "DLF-Slow", "DLF-DCFI", "DLF-Slow-uncorrected", "DLF-100", "DLF-500", "DLF-1000",
               "DLF-2500", "DLF-5F", "DLF-Self", "pretrained-DLF-5F", "Gaussian", "NLM", "BM3D", "BM3D-PSD",
               "BM3D-deblur", "CARE", "slow"}
    assert set(summary["method"]) == methods
    psnr = summary[summary["metric"] == "psnr"].set_index("method")
    assert psnr.loc["DLF-Slow", "n"] == 2 * 4 and psnr.loc["DCFI", "n"] == 2  # 4 frames x 2 test FOVs; 1 DCFI each
    assert {"psnr_band", "psnr_outside_band", "ssim", "psnr_truth", "ssim_truth", "spectral_cutoff_px",
            "spectral_cutoff_per_um", "spectral_cutoff_truth_px"} <= set(summary["metric"])
    tuning = json.loads(next((tiny_run / "results/baselines/BM3D").glob("*.json")).read_text())
    assert tuning["parameter"] in [float(k) for k in tuning["psnr_by_parameter"]]
    claims = (tiny_run / "results/claims.md").read_text()
    assert "| DLF-Slow beats BM3D on psnr | **" in claims and "| DLF-Slow beats CARE on psnr | **" in claims
    assert "| DLF-5F has the best psnr_truth of every method" in claims and "1 dB above CARE" in claims
    care = json.loads((tiny_run / "results/models/CARE/training.json").read_text())
    assert care["like"]["variant"] == "DLF-5F" and care["budget_samples"] == 2 * 2 * 4  # DLF-5F's budget
    five = json.loads((tiny_run / "results/models/DLF-5F/training.json").read_text())
    assert care["max_seconds"] == pytest.approx(five["seconds_training"])  # the same wall-clock training time
    block = (tiny_run / "results/readme_results.md").read_text()
    assert "| DLF-5F |" in block and "Per-FOV registration" in block
    ablation = pd.read_csv(tiny_run / "results/tables/ablation.csv")
    assert list(ablation["variant"]) == ["DLF-Slow", "DLF-5F"]  # tiny.yaml's rows, in order
    means = summary.set_index(["method", "metric"])["mean"]
    assert ablation["psnr_truth"].tolist() == pytest.approx([means["DLF-Slow", "psnr_truth"],
                                                             means["DLF-5F", "psnr_truth"]])
    assert ablation["training_s"].iloc[1] == pytest.approx(five["seconds_training"])
    assert "| recommended | DLF-5F |" in (tiny_run / "results/tables/ablation.md").read_text()
    from stemdlf.nn.denoise import read_model_card

    card = read_model_card(tiny_run / "results/models/DLF-5F/model.keras")  # the card with its test scores
    assert card["test_metrics"]["means"]["psnr_truth"] == pytest.approx(means["DLF-5F", "psnr_truth"])
    test_fovs = yaml.safe_load((tiny_run / "results/split.yaml").read_text())["test"]
    assert card["test_metrics"]["test_fovs"] == test_fovs and card["test_metrics"]["frames"] == 2 * 4
    split = yaml.safe_load((tiny_run / "results/split.yaml").read_text())
    with tifffile.TiffFile(tiny_run / f"results/baselines/CARE/{split['test'][0]}.tif") as tif:
        assert tif.series[0].shape[0] == 4 and tif.imagej_metadata["method"] == "CARE"  # the evaluated frames
    for fig in ("fig1", "fig2", "fig3", "fig4", "fig5", "crops", "stats"):
        assert (tiny_run / f"results/figures/{fig}.pdf").stat().st_size > 0
    snakemake(tiny_run, "--report", "results/report.html")
    html = (tiny_run / "results/report.html").read_text(errors="replace")
    assert "fig3.png" in html and "claims.md" in html and "stats.png" in html
    assert "How to read it" in html  # the landing page (workflow/report/workflow.rst)


def test_the_careamics_peers_train_on_dlf_selfs_frames_for_its_time_and_are_scored_beside_it(tmp_path):
    """Issue 33, item 3: the real N2V2 and N2N (CAREamics, PyTorch) as methods of the evaluation."""
    import pandas as pd

    workdir = copy_workflow(tmp_path)
    # frames of 96 px hold two 32-px patches after correction, as CAREamics' validation split needs
    (workdir / "peers.yaml").write_text(
        "datasets: {single: null, multi: {simulate: {height: 96, width: 96}}}\n"
        "run_variants: [DLF-Self, DLF-5F]\n"
        "evaluate: {baselines: [Gaussian, N2V2, N2N], peers: {patch_size: 32}}\n")
    snakemake(workdir, "--configfile", "tiny.yaml", "peers.yaml")
    R = workdir / "results"
    summary = pd.read_csv(R / "tables/summary.csv").set_index(["method", "metric"])["mean"]
    own = json.loads((R / "models/DLF-Self/training.json").read_text())
    split = yaml.safe_load((R / "split.yaml").read_text())
    for peer in ("N2V2", "N2N"):
        assert np.isfinite(summary[peer, "psnr_truth"]) and np.isfinite(summary[peer, "ssim_truth"])
        trained = json.loads((R / f"models/{peer}/training.json").read_text())
        assert trained["like"] == "DLF-Self" and trained["fovs"] == split["train"] and trained["steps"] > 0
        # DLF-Self's training time, to the end of the step the timer stops at
        assert 0.8 * own["seconds_training"] < trained["seconds_training"] < own["seconds_training"] + 15
        with tifffile.TiffFile(R / f"baselines/{peer}/{split['test'][0]}.tif") as tif:
            assert tif.series[0].shape[0] == 4 and tif.imagej_metadata["tone_matched"] == 1
    claims = (R / "claims.md").read_text()
    assert "| DLF-Self (no slow scan) beats N2V2 on psnr_truth | **" in claims
    assert "| DLF-Self (no slow scan) beats N2N on ssim_truth | **" in claims


def test_a_killed_training_resumes_when_the_workflow_is_rerun(tiny_run):
    from stemdlf.nn.patches import training_pairs
    from stemdlf.nn.train import TrainingSettings, train_model

    summary = json.loads((tiny_run / "results/models/DLF-DCFI/training.json").read_text())
    settings = TrainingSettings.from_dict(summary["settings"])
    fovs = summary["fovs"]
    rapid = [tiny_run / f"results/corrected/multi/{f}/rapid.tif" for f in fovs]
    target = [tiny_run / f"results/corrected/multi/{f}/dcfi.tif" for f in fovs]
    pairs = training_pairs(rapid, target, fovs, None, summary["validation_fraction"], settings.patch_size,
                           settings.seed)
    for name in ("model.keras", "history.csv", "training.json"):  # the job was killed: no outputs
        (tiny_run / f"results/models/DLF-DCFI/{name}").unlink()
    train_model(*pairs, settings, tiny_run / "x.keras", tiny_run / "x.csv", tiny_run / "results/checkpoints/DLF-DCFI",
                log=lambda line: None, stop_after_epoch=1)
    snakemake(tiny_run)
    log = (tiny_run / "logs/train/DLF-DCFI.log").read_text()
    assert "resuming from the checkpoint after epoch 1" in log
    assert "epoch 2/2" in log and "epoch 1/2" not in log
    assert (tiny_run / "results/models/DLF-DCFI/model.keras").is_file()
    assert not (tiny_run / "results/checkpoints/DLF-DCFI").exists()


def test_a_workflow_stopped_by_sigterm_mid_training_leaves_no_partial_files_and_resumes_exactly(tmp_path):
    """SIGTERM (a cluster time limit, Ctrl-C of a batch system) to the whole run in the middle of a
    training job: no partial or temporary file is left, the plain rerun finishes, and the model
    equals one trained without interruption."""
    import os
    import signal
    import time

    import pandas as pd

    workdir = copy_workflow(tmp_path / "wf")
    trim_workflow(workdir, ["DLF-Slow"], ["Gaussian"])
    tiny = yaml.safe_load((workdir / "tiny.yaml").read_text())
    tiny["variants"]["DLF-Slow"] = {"epochs": 3, "steps_per_epoch": 400}  # a job long enough to be stopped in
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(tiny))
    model = workdir / "results/models/DLF-Slow/model.keras"
    # the target first: --configfile takes every value after it
    cmd = [sys.executable, "-m", "snakemake", str(model.relative_to(workdir)), "--cores", "2",
           "--configfile", "tiny.yaml"]
    run = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    log = workdir / "logs/train/DLF-Slow.log"
    deadline = time.monotonic() + 1200
    while not (log.is_file() and "epoch 1/3" in log.read_text()):  # stopped in epoch 2
        assert run.poll() is None, "the run ended before training reached its second epoch"
        assert time.monotonic() < deadline, "training did not start"
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGTERM)
    assert run.wait(timeout=300) != 0
    leftovers = [p for p in workdir.rglob("*") if ".part" in p.name]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    assert not model.exists() and not (workdir / "results/models/DLF-Slow/history.csv").exists()

    rerun = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)  # the same command, nothing by hand
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    text = log.read_text()
    assert "resuming from the checkpoint after epoch 1" in text and "epoch 3/3" in text
    assert not (workdir / "results/checkpoints/DLF-Slow").exists()
    assert not [p for p in workdir.rglob("*") if ".part" in p.name]

    # the reference trains in a process of its own on the job's one thread: floating-point sums, and so the
    # losses after a few hundred steps, depend on how many threads share a convolution
    reference_run = f"""
import json, sys
from stemdlf.runtime.threads import limit_cpu_threads
limit_cpu_threads(1)
from stemdlf.nn.patches import training_pairs
from stemdlf.nn.train import TrainingSettings, train_model
workdir, out = {str(workdir)!r}, {str(tmp_path)!r}
summary = json.load(open(workdir + "/results/models/DLF-Slow/training.json"))
settings = TrainingSettings.from_dict(summary["settings"])
fovs = summary["fovs"]
pairs = training_pairs([f"{{workdir}}/results/corrected/multi/{{f}}/rapid.tif" for f in fovs],
                       [f"{{workdir}}/results/corrected/multi/{{f}}/slow.tif" for f in fovs], fovs, None,
                       summary["validation_fraction"], settings.patch_size, settings.seed, settings.input_scaling)
train_model(*pairs, settings, out + "/ref.keras", out + "/ref.csv", out + "/ref_checkpoints", log=lambda line: None)
"""
    subprocess.run([sys.executable, "-c", reference_run], check=True, capture_output=True)
    resumed = pd.read_csv(workdir / "results/models/DLF-Slow/history.csv")
    reference = pd.read_csv(tmp_path / "ref.csv")
    np.testing.assert_allclose(resumed[["loss", "val_loss"]].to_numpy(), reference[["loss", "val_loss"]].to_numpy(),
                               rtol=1e-6)
