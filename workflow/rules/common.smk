# Shared helpers: dataset locations, FOV discovery, input functions, resources.
from pathlib import Path

from stemdlf.config import SYNTHETIC, acquisition_params, simulator_dict
from stemdlf.dataset import FOV_ID_PATTERN, validate_dataset
from stemdlf.simulate import synthetic_fov_ids
from stemdlf.simulate.params import to_dict

DATASETS = list(config["datasets"])


wildcard_constraints:
    dataset="|".join(DATASETS),
    fov=FOV_ID_PATTERN,


def canonical(value):
    """Key-sorted copy of a config section: Snakemake compares params by their repr, so the
    same settings in another key order (e.g. from another config file) must not rerun jobs."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def is_synthetic(dataset):
    return config["datasets"][dataset]["path"] == SYNTHETIC


def dataset_dir(dataset):
    """Where a dataset's raw frames are: simulated under results/, or the user's folder."""
    if is_synthetic(dataset):
        return f"results/data/{dataset}"
    return config["datasets"][dataset]["path"]


def min_fovs(dataset):
    """FOVs a dataset needs: the split's train + test for the multi-FOV dataset."""
    if dataset == "multi":
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
    if n < min_fovs(dataset):
        raise ValueError(
            f"datasets.{dataset}.simulate.n_fovs is {n} but the split needs "
            f"{min_fovs(dataset)} FOVs (split.n_train + split.n_test)"
        )
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


def frames_mb(dataset, bytes_per_px=4, copies=3):
    """Memory estimate (MB) for a job holding `copies` float copies of one FOV's stack or a DCFI chunk."""
    if is_synthetic(dataset):
        sim = config["datasets"][dataset]["simulate"]
        frames, px = sim["n_frames"], sim["height"] * sim["width"]
    else:
        info = dataset_info(dataset).fovs[0]
        frames, px = info.n_frames, info.shape[0] * info.shape[1]
    frames = min(frames, config["dcfi"]["chunk_frames"])
    return int(500 + copies * frames * px * bytes_per_px / 1e6)


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
from stemdlf.split import split_fovs

SPLIT = split_fovs(fov_ids("multi"), config["split"]["n_train"], config["split"]["n_test"], config["split"]["seed"])
ESTIMATOR_SCOPES = ["reference", "global"]
ESTIMATOR_METHODS = ["paper", "dp"]


def fixed_reference():
    """The configured reference FOV id, or None for auto/global."""
    ref = config["distortion"]["reference"]
    if ref in ("auto", "global"):
        return None
    if ref not in fov_ids("multi"):
        raise ValueError(f"distortion.reference '{ref}' is not a FOV of the multi dataset "
                         f"(FOVs: {', '.join(fov_ids('multi')[:10])}...); use a FOV id, auto or global")
    return ref


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
    """The estimator settings (method and scope come from the wildcards, the reference from reference.json)."""
    skip = ("method", "reference", "compare", "align_frames")
    return canonical({k: v for k, v in config["distortion"].items() if k not in skip})


def truth_files(wildcards=None):
    if not is_synthetic("multi"):
        return {}
    base = f"results/data/multi/truth/{SPLIT['train'][0]}"
    return {"profile_truth": f"{base}/distortion.csv", "facts": f"{base}/fov.yaml"}


def distortion_targets():
    out = ["results/split.yaml", "results/distortion/profile.csv", "results/distortion/diagnostic.png"]
    if config["distortion"]["compare"]:
        out.append("results/distortion/comparison.csv")
    for dataset in DATASETS:
        out += per_fov("results/corrected/{dataset}/{fov}/rapid.tif", dataset)
    return out


def all_targets():
    return preprocess_targets() + distortion_targets()
