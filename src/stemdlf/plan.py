"""The workflow's plan: checks of a config against its data, run once when the workflow starts.

The Snakemake rules ask these functions (``workflow/rules/common.smk``); they are plain functions
of the config and the data's size, tested without Snakemake. Nothing here runs inside a job, so
it may use any part of the library.
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigError
from .unet import UNetSettings

__all__ = ["check_training_fits", "active_datasets", "run_variants", "used_datasets",
           "frames_mb", "image_mb", "stacks_mb", "training_mb", "care_mb"]


def check_training_fits(name: str, training: dict[str, Any], image_shape: tuple[int, int]) -> None:
    """Refuse, before any job runs, training settings the data cannot take.

    Parameters
    ----------
    name : str
        The variant (for the message).
    training : dict
        Its ``training`` settings (``patch_size``, ``model.depth``).
    image_shape : (int, int)
        Height and width of its dataset's frames.

    Raises
    ------
    ConfigError
        If the patch is not a multiple of ``2**depth`` or larger than the frames.
    """
    patch = int(training.get("patch_size", 64))
    depth = int((training.get("model") or {}).get("depth", UNetSettings().depth))
    if patch % 2**depth:
        raise ConfigError(f"variants.{name}: patch_size {patch} is not a multiple of 2**depth = {2**depth} "
                          f"(model.depth {depth}); use e.g. {max(2**depth, patch - patch % 2**depth)}")
    if patch > min(image_shape):
        raise ConfigError(f"variants.{name}: patch_size {patch} is larger than the {image_shape[0]}x{image_shape[1]} "
                          "frames of its dataset; lower training.patch_size")


def active_datasets(config: dict[str, Any]) -> list[str]:
    """Datasets the run uses: every ``datasets.<name>`` that is a mapping.

    ``single: null`` leaves the single-FOV experiments out, for data without a long single-FOV
    series.
    """
    return [name for name, section in (config.get("datasets") or {}).items() if isinstance(section, dict)]


def run_variants(config: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The variants that train and are evaluated, and a note for each one left out.

    ``run_variants: all`` (the default) runs every variant whose dataset is in the run;
    a list runs those variants only.

    Returns
    -------
    names : list of str
        In the order of ``variants:``.
    notes : list of str
        One line per variant left out because its dataset is not in the run.

    Raises
    ------
    ConfigError
        If the list names a variant that is not in ``variants:``, or one whose dataset is not in
        the run, or leaves nothing to train.
    """
    from .config import variant_settings

    variants = config.get("variants") or {}
    datasets = set(active_datasets(config))

    def dataset_of(name: str) -> str:
        return variant_settings(config, name)["dataset"]

    chosen = config.get("run_variants", "all")
    if chosen == "all":
        names = [n for n in variants if dataset_of(n) in datasets]
        notes = [f"variant {n} is left out: its dataset '{dataset_of(n)}' is not in this run" for n in variants
                 if n not in names]
    else:
        unknown = [n for n in chosen if n not in variants]
        if unknown:
            raise ConfigError(f"run_variants lists {unknown}, which are not in variants: ({', '.join(variants)})")
        missing = [n for n in chosen if dataset_of(n) not in datasets]
        if missing:
            raise ConfigError(f"run_variants lists {missing}, whose dataset is not in this run "
                              f"(datasets: {', '.join(sorted(datasets))})")
        names, notes = [n for n in variants if n in chosen], []
    if not names:
        raise ConfigError("no variant left to train: run_variants is empty or every variant's dataset is missing")
    return names, notes


def used_datasets(config: dict[str, Any], variants: list[str]) -> list[str]:
    """The datasets a run processes.

    The multi-FOV dataset (split, distortion, evaluation) and those of the variants that run (a
    single-FOV dataset no running variant trains on is not processed).
    """
    from .config import variant_settings

    wanted = {"multi"} | {variant_settings(config, name)["dataset"] for name in variants}
    return [name for name in active_datasets(config) if name in wanted]


# Memory estimates (MB) that the rules give the scheduler (``resources: mem_mb``); SLURM turns them
# into ``--mem``. Each is the Python process and its libraries (``BASE_MB``, or ``FRAMEWORK_MB`` with
# TensorFlow loaded) plus the arrays the job holds at once.

#: The Python process with numpy, scipy, scikit-image and stemdlf loaded (MB).
BASE_MB = 500
#: The same with TensorFlow and Keras loaded (MB).
FRAMEWORK_MB = 2000


def frames_mb(n_frames: int, pixels: int, chunk_frames: int, copies: int, bytes_per_px: int = 4) -> int:
    """A job holding ``copies`` float copies of one FOV's stack, read in chunks of ``chunk_frames`` frames.

    Parameters
    ----------
    n_frames, pixels : int
        Frames of the FOV and pixels per frame.
    chunk_frames : int
        Frames read at once (the config's ``dcfi.chunk_frames``).
    copies : int
        Float copies of a chunk held at once.
    bytes_per_px : int
        4 for float32.
    """
    return int(BASE_MB + copies * min(n_frames, chunk_frames) * pixels * bytes_per_px / 1e6)


def image_mb(pixels: int, copies: int) -> int:
    """A job holding ``copies`` float64 images of ``pixels`` pixels."""
    return int(BASE_MB + copies * pixels * 8 / 1e6)


def stacks_mb(n_frames: int, pixels: int, n_fovs: int, copies: int = 2) -> int:
    """A job holding whole float32 stacks of ``n_fovs`` FOVs at once, ``copies`` of each."""
    return int(BASE_MB + n_fovs * copies * n_frames * pixels * 4 / 1e6)


def training_mb(pixels: int, n_fovs: int, training: dict[str, Any]) -> int:
    """A training job: the framework, the targets of ``n_fovs`` FOVs in memory (float32), and patches.

    The rapid stacks are memory-mapped, not held. Patches: the validation set and ten batches of
    inputs and targets, float32.
    """
    patches = 2 * (training["validation_patches"] + training["batch_size"] * 10) * training["patch_size"] ** 2 * 4
    return int(FRAMEWORK_MB + (n_fovs * pixels * 4 + patches) / 1e6)


def care_mb(training: dict[str, Any], max_patches: int) -> int:
    """CARE's training job: the framework plus its pool of patch pairs (inputs and targets, float32, held twice).

    The pool holds the variant's training budget in patches (``epochs x steps_per_epoch x
    batch_size``), at most ``max_patches``, and the validation patches.
    """
    n = min(training["epochs"] * training["steps_per_epoch"] * training["batch_size"], max_patches)
    return int(FRAMEWORK_MB + 2 * 2 * (n + training["validation_patches"]) * training["patch_size"] ** 2 * 4 / 1e6)
