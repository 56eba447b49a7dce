# Shared helpers: dataset locations, FOV discovery, input functions, resources.
import os
import sys
from pathlib import Path

from stemdlf.config.load import (
    DISTORTION_WORKFLOW_KEYS,
    SYNTHETIC,
    acquisition_params,
    simulator_dict,
)
from stemdlf.workflow.ablation import check_ablation
from stemdlf.io.dataset import FOV_ID_PATTERN, validate_dataset
from stemdlf.preprocess.distortion.estimate import METHODS as DISTORTION_METHODS
from stemdlf.workflow import plan
from stemdlf.nn import pretrained
from stemdlf.workflow.plan import check_training_fits, run_variants, used_datasets
from stemdlf.workflow.provenance import code_fingerprint
from stemdlf.simulate import synthetic_fov_ids
from stemdlf.simulate.params import to_dict

# the variants that train (run_variants), and the datasets they and the evaluation use
VARIANTS, _left_out = run_variants(config)
for _note in _left_out:
    print(f"stemdlf: {_note}", file=sys.stderr)
DATASETS = used_datasets(config, VARIANTS)
# the ablation table's rows (config/ablation.yaml), each a variant of this run
ABLATION, _left_out = check_ablation(
    config.get("ablation") or [], VARIANTS, list(config["variants"])
)
for _note in _left_out:
    print(f"stemdlf: {_note}", file=sys.stderr)


wildcard_constraints:
    dataset="|".join(DATASETS),
    fov=FOV_ID_PATTERN,


def canonical(value):
    """Key-sorted copy of a config section: Snakemake compares params by their repr, so the
    same settings in another key order (e.g. from another config file) must not rerun jobs.
    """
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def code(script):
    """Fingerprint of the library code a rule's script runs (stemdlf.workflow.provenance): a rule's params
    carry it, so editing a library module reruns the jobs that import it, and only those.
    """
    return code_fingerprint(Path(workflow.basedir) / "scripts" / script)


def is_synthetic(dataset):
    return config["datasets"][dataset]["path"] == SYNTHETIC


def dataset_dir(dataset):
    """Where a dataset's raw frames are: simulated under results/, or the user's folder."""
    if is_synthetic(dataset):
        return f"results/data/{dataset}"
    return config["datasets"][dataset]["path"]


def explicit_split_lists():
    return bool(config["split"].get("train_fovs") or config["split"].get("test_fovs"))


def min_fovs(dataset):
    """FOVs a dataset needs: the split's train + test for the multi-FOV dataset (counts, not lists)."""
    if dataset == "multi" and not explicit_split_lists():
        return config["split"]["n_train"] + config["split"]["n_test"]
    return 1


_INFO = {}


def dataset_info(dataset):
    """Validated header facts of a real dataset, checked once per run before any job (cached)."""
    if dataset not in _INFO:
        _INFO[dataset] = validate_dataset(dataset_dir(dataset), min_fovs(dataset))
    return _INFO[dataset]


def fov_ids(dataset):
    """FOV ids of a dataset. Real data is validated here, from TIFF headers, before any job runs."""
    if not is_synthetic(dataset):
        return dataset_info(dataset).fov_ids
    n = config["datasets"][dataset]["simulate"]["n_fovs"]
    plan.check_fov_count(dataset, n, min_fovs(dataset))
    return synthetic_fov_ids(n)


def raw(dataset, fov, name):
    return f"{dataset_dir(dataset)}/fovs/{fov}/{name}"


def supplied_dcfi(wildcards):
    """The dataset's own dcfi.tif when it has one (then DCFI is not recomputed)."""
    path = Path(raw(wildcards.dataset, wildcards.fov, "dcfi.tif"))
    return [str(path)] if not is_synthetic(wildcards.dataset) and path.is_file() else []


def fov_index(wildcards):
    return fov_ids(wildcards.dataset).index(wildcards.fov)


def acquisition_dict(wildcards):
    return to_dict(acquisition_params(config, wildcards.dataset))


def frame_size(dataset):
    """(frames, pixels per frame) of a dataset's first FOV, from the config or the TIFF headers."""
    if is_synthetic(dataset):
        sim = config["datasets"][dataset]["simulate"]
        return sim["n_frames"], sim["height"] * sim["width"]
    info = dataset_info(dataset).fovs[0]
    return info.n_frames, info.shape[0] * info.shape[1]


def frames_mb(dataset, copies):
    """Memory (MB) of a job holding `copies` float copies of one FOV's stack or a DCFI chunk."""
    frames, px = frame_size(dataset)
    return plan.frames_mb(frames, px, config["dcfi"]["chunk_frames"], copies)


def image_mb(dataset, copies):
    """Memory (MB) of a job holding `copies` float64 images of one frame's size."""
    return plan.image_mb(frame_size(dataset)[1], copies)


def stacks_mb(dataset, n_fovs, copies=2):
    """Memory (MB) of a job holding whole float32 stacks of `n_fovs` FOVs at once."""
    frames, px = frame_size(dataset)
    return plan.stacks_mb(frames, px, n_fovs, copies)


def per_fov(pattern, dataset):
    return expand(pattern, dataset=dataset, fov=fov_ids(dataset))


def preprocess_targets():
    out = []
    for dataset in DATASETS:
        out.append(f"results/validated/{dataset}.json")
        out += per_fov("results/normalised/{dataset}/{fov}/rapid.tif", dataset)
        out += per_fov("results/dcfi/{dataset}/{fov}/dcfi.tif", dataset)
    return out


# --- split and distortion -----------------------------------------------------------
from stemdlf.workflow.split import explicit_split, split_fovs

if explicit_split_lists():
    SPLIT = explicit_split(
        fov_ids("multi"),
        config["split"].get("train_fovs"),
        config["split"].get("test_fovs"),
    )
else:
    SPLIT = split_fovs(
        fov_ids("multi"),
        config["split"]["n_train"],
        config["split"]["n_test"],
        config["split"]["seed"],
    )
ESTIMATOR_SCOPES = ["reference", "global"]
ESTIMATOR_METHODS = list(DISTORTION_METHODS)


def fixed_reference():
    """The configured reference FOV id, or None for auto/global."""
    ref = config["distortion"]["reference"]
    plan.check_reference(ref, fov_ids("multi"))
    return None if ref in ("auto", "global") else ref


def selected_estimator():
    scope = "global" if config["distortion"]["reference"] == "global" else "reference"
    return f"{config['distortion']['method']}-{scope}"


def estimators():
    if config["distortion"]["compare"]:
        return [f"{m}-{s}" for m in ESTIMATOR_METHODS for s in ESTIMATOR_SCOPES]
    return [selected_estimator()]


def train_files(pattern):
    return expand(pattern, dataset="multi", fov=SPLIT["train"])


def distortion_settings():
    """The estimator settings (method and scope come from the {estimator} wildcard, the reference from reference.json)."""
    return canonical(
        {
            k: v
            for k, v in config["distortion"].items()
            if k not in DISTORTION_WORKFLOW_KEYS
        }
    )


def truth_files(wildcards=None):
    if not is_synthetic("multi"):
        return {}
    base = f"results/data/multi/truth/{SPLIT['train'][0]}"
    return {"profile_truth": f"{base}/distortion.csv", "facts": f"{base}/fov.yaml"}


def all_fov_pairs():
    """(dataset, fov) of every FOV of every dataset."""
    return [(dataset, fov) for dataset in DATASETS for fov in fov_ids(dataset)]


def all_fov_keys():
    """Every FOV of every dataset as "dataset/fov" (the rows of results/distortion/fovs.csv)."""
    return [f"{dataset}/{fov}" for dataset, fov in all_fov_pairs()]


def all_fov_files(pattern):
    return [
        pattern.format(dataset=dataset, fov=fov) for dataset, fov in all_fov_pairs()
    ]


def synthetic_fov_pairs():
    return [(dataset, fov) for dataset, fov in all_fov_pairs() if is_synthetic(dataset)]


def synthetic_fov_keys():
    return [f"{dataset}/{fov}" for dataset, fov in synthetic_fov_pairs()]


def registration_truth(wildcards=None):
    """The simulator's true geometry of every simulated FOV, to report each FOV's registration error."""
    pairs = synthetic_fov_pairs()
    return {
        "truth_profiles": [
            f"results/data/{d}/truth/{f}/distortion.csv" for d, f in pairs
        ],
        "truth_facts": [f"results/data/{d}/truth/{f}/fov.yaml" for d, f in pairs],
    }


def registration_settings():
    """The phase-correlation settings of the per-FOV registration: DCFI's, without its I/O key."""
    return {k: v for k, v in config["dcfi"].items() if k != "chunk_frames"}


def train_truth_profiles(wildcards=None):
    """The simulator's true profile of every training FOV (each includes its own stage offset)."""
    if not is_synthetic("multi"):
        return {}
    return {
        "profile_truth": train_files(
            "results/data/{dataset}/truth/{fov}/distortion.csv"
        )
    }


def distortion_targets():
    out = [
        "results/split.yaml",
        "results/distortion/profile.csv",
        "results/distortion/fovs.csv",
        "results/distortion/diagnostic.png",
    ]
    if config["distortion"]["compare"]:
        out.append("results/distortion/comparison.csv")
    for dataset in DATASETS:
        out += per_fov("results/corrected/{dataset}/{fov}/rapid.tif", dataset)
    return out


# --- training variants and denoising ------------------------------------------------
from stemdlf.config.load import variant_settings


def variant(name):
    return variant_settings(config, name)


def frames_per_fov(dataset):
    """Rapid frames per FOV (the fewest over FOVs for real data)."""
    if is_synthetic(dataset):
        return config["datasets"][dataset]["simulate"]["n_frames"]
    return min(f.n_frames for f in dataset_info(dataset).fovs)


def variant_fovs(name):
    """Training FOVs of a variant: the split's training FOVs, or every FOV of the single-FOV dataset."""
    dataset = variant(name)["dataset"]
    return SPLIT["train"] if dataset == "multi" else fov_ids(dataset)


def image_shape(dataset):
    """Height and width of a dataset's frames."""
    if is_synthetic(dataset):
        acq = acquisition_params(config, dataset)
        return (acq.height, acq.width)
    return tuple(dataset_info(dataset).fovs[0].shape)


for _name in VARIANTS:
    _v = variant(_name)
    plan.check_variant_frames(
        _name, _v["frames"], _v["dataset"], frames_per_fov(_v["dataset"])
    )
    check_training_fits(_name, _v["training"], image_shape(_v["dataset"]))


def rapid_file(dataset, fov, corrected):
    stage = "corrected" if corrected else "normalised"
    return f"results/{stage}/{dataset}/{fov}/rapid.tif"


def target_file(dataset, fov, target, corrected):
    if corrected:
        return f"results/corrected/{dataset}/{fov}/{target}.tif"
    return (
        f"results/normalised/{dataset}/{fov}/slow.tif"
        if target == "slow"
        else f"results/dcfi/{dataset}/{fov}/dcfi.tif"
    )


def training_inputs(wildcards):
    return variant_training_inputs(wildcards.variant)


INIT_FROM = plan.check_init_from(config, VARIANTS)


def variant_training_inputs(name):
    v, fovs = variant(name), variant_fovs(name)
    inputs = {
        "rapid": [rapid_file(v["dataset"], fov, v["corrected"]) for fov in fovs],
        "target": [
            target_file(v["dataset"], fov, v["target"], v["corrected"]) for fov in fovs
        ],
    }
    if (
        name in INIT_FROM
    ):  # fine-tuning: the weights it starts from (a variant's, or shipped ones)
        source = INIT_FROM[name]
        inputs["initial"] = (
            str(pretrained.weights_path(source))
            if pretrained.is_pretrained(source)
            else f"results/models/{source}/model.keras"
        )
    return inputs


def training_params(wildcards):
    return variant_training_params(wildcards.variant)


def variant_training_params(name):
    """Exactly what one variant's training uses: its merged settings and its FOVs."""
    return canonical({**variant(name), "fovs": variant_fovs(name)})


def training_mb(wildcards):
    """Memory (MB) of one variant's training (stemdlf.workflow.plan.training_mb)."""
    v = variant(wildcards.variant)
    pixels = frame_size(v["dataset"])[1]
    return plan.training_mb(pixels, len(variant_fovs(wildcards.variant)), v["training"])


def denoise_inputs(wildcards):
    v = variant(wildcards.variant)
    return {
        "model": f"results/models/{wildcards.variant}/model.keras",
        "card": f"results/models/{wildcards.variant}/model.json",
        "rapid": [rapid_file("multi", fov, v["corrected"]) for fov in SPLIT["test"]],
        "view": "results/distortion/view.json",
    }


def training_targets():
    out = []
    for name in VARIANTS:
        out += [
            f"results/models/{name}/model.keras",
            f"results/models/{name}/learning_curve.png",
        ]
        out += expand(
            "results/denoised/{variant}/{fov}.tif", variant=name, fov=SPLIT["test"]
        )
    return out


# --- evaluation ---------------------------------------------------------------------
BASELINES = list(config["evaluate"]["baselines"])
# Baselines tuned per FOV by rule baseline_fov; CARE is trained (rules train_care, denoise_care).
TUNED_BASELINES = [b for b in BASELINES if b != "CARE"]
METHODS = ["rapid", "DCFI"] + VARIANTS + BASELINES
plan.check_variant_names(VARIANTS)


def care_variant():
    """The variant whose training pairs and budget CARE gets (stemdlf.workflow.plan.care_variant)."""
    return plan.care_variant(config, VARIANTS)


if "CARE" in BASELINES:
    care_variant()


def care_inputs(wildcards):
    inputs = variant_training_inputs(care_variant())
    if (
        config["evaluate"]["care"]["budget"] == "seconds"
    ):  # CARE gets the variant's measured training time
        inputs["like_summary"] = f"results/models/{care_variant()}/training.json"
    return inputs


def care_params(wildcards):
    """What CARE takes from its variant (stemdlf.workflow.plan.care_settings)."""
    return plan.care_settings(
        care_variant(),
        variant_training_params(care_variant()),
        config["evaluate"]["care"]["budget"],
    )


def care_mb():
    """Memory (MB) of CARE's training (stemdlf.workflow.plan.care_mb)."""
    t = variant(care_variant())["training"]
    return plan.care_mb(t, config["evaluate"]["care"]["max_patches"])


def eval_frames():
    """First N frames of each test FOV that are evaluated (None: all)."""
    n = config["evaluate"]["frames"]
    return None if n == "all" else int(n)


def bm3d_profile(wildcards):
    """The bm3d package's profile for a BM3D baseline (None for the other baselines, so that
    changing it reruns only the BM3D jobs)."""
    if wildcards.baseline.startswith("BM3D"):
        return config["evaluate"]["bm3d_profile"]
    return None


def noise_fovs():
    return SPLIT["train"][: config["evaluate"]["noise_fovs"]]


def method_files(method):
    """Per test FOV, the images of one method in slow-scan geometry."""
    if method == "rapid":
        pattern = "results/corrected/multi/{fov}/rapid.tif"
    elif method == "DCFI":
        pattern = "results/corrected/multi/{fov}/dcfi.tif"
    elif method == "slow":
        pattern = "results/corrected/multi/{fov}/slow.tif"
    elif method in VARIANTS:
        pattern = f"results/denoised/{method}/{{fov}}.tif"
    else:
        pattern = f"results/baselines/{method}/{{fov}}.tif"
    return expand(pattern, fov=SPLIT["test"])


def metrics_inputs(wildcards):
    inputs = {
        "images": method_files(wildcards.method),
        "slow": expand("results/corrected/multi/{fov}/slow.tif", fov=SPLIT["test"]),
        "normalisation": expand(
            "results/normalised/multi/{fov}/normalisation.json", fov=SPLIT["test"]
        ),
        "view": "results/distortion/view.json",
        "validated": "results/validated/multi.json",
    }
    if is_synthetic("multi"):
        inputs["truth"] = expand(
            "results/data/multi/truth/{fov}/slow_clean.tif", fov=SPLIT["test"]
        )
    return inputs


def evaluated_methods():
    """Methods in the tables: the references, every variant, every baseline, and (with ground
    truth) the slow scan itself, whose only metrics are against the truth."""
    return METHODS + (["slow"] if is_synthetic("multi") else [])


def single_fov_variants():
    """Single-FOV variants trained from scratch, by increasing number of training frames
    (DLF-100 ... DLF-2500): Fig. 4 and the claim on frames (fine-tuned ones are compared in the tables).
    """
    single = [
        v for v in VARIANTS if variant(v)["dataset"] == "single" and v not in INIT_FROM
    ]
    return sorted(
        single, key=lambda v: variant(v)["frames"] or frames_per_fov("single")
    )


def _test_image(method, fov):
    return method_files(method)[SPLIT["test"].index(fov)]


def role(name):
    """The variant filling a role (evaluate.roles: paper, paper_dcfi, recommended)."""
    return config["evaluate"]["roles"][name]


def figure_labels(wildcards):
    """What a figure shows: the methods of its images, in panel order (stemdlf.workflow.plan.figure_panels)."""
    return plan.figure_panels(
        wildcards.fig, METHODS, config["evaluate"]["roles"], single_fov_variants()
    )


def figure_inputs(wildcards):
    """Only the images and tables a figure shows, so a change regenerates only the figures showing it."""
    fov = SPLIT["test"][0]
    slow = f"results/corrected/multi/{fov}/slow.tif"
    images = [_test_image(m, fov) for m in figure_labels(wildcards)]
    inputs = {"images": images, "validated": "results/validated/multi.json"}
    if wildcards.fig == "fig1":
        inputs.update(
            dcfi_raw=f"results/dcfi/multi/{fov}/dcfi.tif",
            slow_raw=f"results/normalised/multi/{fov}/slow.tif",
            slow=slow,
            view="results/distortion/view.json",
        )
    if wildcards.fig == "fig3":
        inputs["summary"] = "results/tables/summary.csv"
    if wildcards.fig == "stats":
        inputs["metrics"] = "results/tables/metrics.csv"
    if wildcards.fig == "crops" and is_synthetic("multi"):
        inputs.update(
            truth=f"results/data/multi/truth/{fov}/slow_clean.tif",
            view="results/distortion/view.json",
            normalisation=f"results/normalised/multi/{fov}/normalisation.json",
        )
    if wildcards.fig == "fig5":
        inputs.update(
            profile="results/distortion/profile.csv",
            view="results/distortion/view.json",
            **(
                {"truth": truth_files()["profile_truth"]}
                if is_synthetic("multi")
                else {}
            ),
        )
    return inputs


def care_models():
    """["CARE"] when CARE is evaluated (its model folder holds a training.json like the variants')."""
    return ["CARE"] if "CARE" in BASELINES else []


def figures():
    """The figures of this run (stemdlf.workflow.plan.figures)."""
    return plan.figures(single_fov_variants())


def evaluation_targets():
    return (
        [
            "results/tables/summary.md",
            "results/claims.md",
            "results/readme_results.md",
        ]
        + expand("results/figures/{fig}.png", fig=figures())
        + (["results/tables/ablation.md"] if ABLATION else [])
        + expand("results/models/{variant}/model.metrics.json", variant=VARIANTS)
        + expand("results/models/{model}/learning_curve.png", model=care_models())
    )


def learning_curve_inputs(wildcards):
    """A variant's history.csv and training.json; CARE's history is in its training.json."""
    training = f"results/models/{wildcards.variant}/training.json"
    if wildcards.variant == "CARE":
        return {"training": training}
    return {
        "history": f"results/models/{wildcards.variant}/history.csv",
        "training": training,
    }


def all_targets():
    return (
        preprocess_targets()
        + distortion_targets()
        + training_targets()
        + evaluation_targets()
    )


def config_file_names(wildcards):
    """The config files of this run in the order they apply: the Snakefile's default, then those
    given with --configfile (paths relative to the working directory)."""
    default = "config/config.yaml"
    given = [os.path.relpath(f) for f in workflow.configfiles]
    return [default] + [f for f in given if f != default]
