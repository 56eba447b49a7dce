"""How much memory each job asks the scheduler for (``resources: mem_mb``; SLURM turns it into ``--mem``).

Each estimate is the Python process and its libraries (``BASE_MB``, or ``FRAMEWORK_MB`` with
TensorFlow loaded) plus the arrays the job holds at once. Tested against hand-computed answers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BASE_MB", "FRAMEWORK_MB", "frames_mb", "image_mb", "stacks_mb", "training_mb", "care_mb",
           "TORCH_MB", "PEER_TRAINING_MB", "peer_mb"]

#: The Python process with numpy, scipy, scikit-image and stemdlf loaded (MB).
BASE_MB = 500
#: The same with TensorFlow and Keras loaded (MB).
FRAMEWORK_MB = 2000
#: The same with PyTorch, Lightning and CAREamics loaded, predicting (MB; 1.65 GB peak RSS measured).
TORCH_MB = 1700
#: What a Lightning training run adds to that: optimiser state, data loader, checkpointing (MB; N2V2 and
#: N2N peaked at 2.8 and 2.9 GB on the default data).
PEER_TRAINING_MB = 1300


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


def peer_mb(n_frames: int, pixels: int, n_fovs: int) -> int:
    """A CAREamics peer's training: PyTorch, Lightning's training, and three float32 copies of ``n_fovs`` stacks.

    The copies: the input, CAREamics' copy of it, and its patches.
    """
    return int(TORCH_MB + PEER_TRAINING_MB + n_fovs * 3 * n_frames * pixels * 4 / 1e6)
