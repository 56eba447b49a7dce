"""The workflow's plan: checks of a config against its data, run once when the workflow starts.

The Snakemake rules ask these functions (``workflow/rules/common.smk``); they are plain functions
of the config and the data's size, tested without Snakemake. Nothing here runs inside a job, so
it may use any part of the library.
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigError
from .unet import UNetSettings

__all__ = ["check_training_fits"]


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
