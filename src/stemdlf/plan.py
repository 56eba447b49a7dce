"""The workflow's plan: checks of a config against its data, run once when the workflow starts.

The Snakemake rules ask these functions (``workflow/rules/common.smk``); they are plain functions
of the config and the data's size, tested without Snakemake. Nothing here runs inside a job, so
it may use any part of the library.
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigError
from .unet import UNetSettings

__all__ = ["check_training_fits", "active_datasets", "run_variants", "used_datasets"]


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
