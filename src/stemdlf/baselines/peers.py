"""CAREamics' N2V2 and Noise2Noise: the peers a microscopist without clean targets would reach for.

Both train on the rapid frames alone, as DLF-Self does, with CAREamics' own U-Net, loss and
defaults (Hoeck et al. 2022 for N2V2; Lehtinen et al. 2018 for Noise2Noise). They run on PyTorch,
installed with the ``[peers]`` extra; this module imports neither until a function is called.

- ``N2V2``: Noise2Void with N2V2's changes, on each frame alone. Its blind spot assumes noise
  independent from pixel to pixel, which the rapid scan's detector afterglow breaks.
- ``N2N``: Noise2Noise on consecutive registered frames: frame k in, frame k+1 as the target.

Frames are given and returned on the workflow's 0..65535 scale; the networks see them divided by
65535. Flips are along y only, since the afterglow trails along +x.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from stemdlf.baselines import PEERS
from stemdlf.config.settings import SchemaChecked, setting

__all__ = ["PEERS", "PeerTraining", "train_peer", "save_peer", "load_peer", "peer_denoise"]

_FULL_SCALE = 65535.0


@dataclass(frozen=True)
class PeerTraining(SchemaChecked):
    """How a peer trains: CAREamics' defaults but for the patch, the batch and the time it gets."""

    seconds: float = setting(60.0, exclusiveMinimum=0)
    """Wall-clock training time (s); the workflow gives the self-supervised filter's own."""
    patch_size: int = setting(64, minimum=16, multipleOf=8)
    """Side of the square training patches (px)."""
    batch_size: int = setting(16, minimum=1)
    """Patches per step."""
    seed: int = setting(0, minimum=0)
    """Seed of the patches, the validation split and the initial weights."""
    threads: int = setting(1, minimum=1)
    """CPU threads PyTorch may use."""


def _scaled(stacks: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(s, np.float32) / _FULL_SCALE for s in stacks]


def train_peer(name: str, stacks: Sequence[np.ndarray], options: PeerTraining, work_dir: str | Path,
               log: Callable[[str], Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """Train one peer on registered rapid stacks for ``options.seconds``.

    Parameters
    ----------
    name : {"N2V2", "N2N"}
        The peer.
    stacks : sequence of ndarray
        ``(n_frames, H, W)`` rapid stacks of the training FOVs, registered and distortion-corrected,
        on the 0..65535 scale; N2N needs at least two frames in each.
    options : PeerTraining
        Time, patches and seed.
    work_dir : path
        CAREamics' scratch folder (its logs and checkpoints).
    log : callable, optional
        Receives one line of progress.

    Returns
    -------
    careamist : careamics.CAREamist
        The trained peer.
    summary : dict
        ``seconds`` trained, ``steps`` taken, the final ``train_loss``, the settings and versions.
    """
    import careamics
    import torch
    from careamics import CAREamist
    from careamics.config import create_n2n_config, create_n2v_config
    from lightning.pytorch import seed_everything
    from lightning.pytorch.callbacks import Timer

    if name not in PEERS:
        raise ValueError(f"unknown peer {name!r}; the peers are {', '.join(PEERS)}")
    small = min(min(s.shape[1:]) for s in stacks)
    if small < 2 * options.patch_size:  # CAREamics' validation split fails on frames of one patch
        raise ValueError(f"{name} takes frames of at least twice its patch size ({options.patch_size} px): "
                         f"these have {small} px; lower the patch size")
    torch.set_num_threads(options.threads)
    seed_everything(options.seed, verbose=False)
    frames = _scaled(stacks)
    # flips upside down only, as stemdlf's own training: a left-right flip would turn the afterglow,
    # which trails each pixel along the scan line, into one that leads it
    common = dict(experiment_name=name, data_type="array", axes="SYX",
                  patch_size=[options.patch_size, options.patch_size], batch_size=options.batch_size,
                  num_epochs=1_000_000, num_steps=50, augmentations=["y_flip"])
    if name == "N2V2":
        config = create_n2v_config(**common, use_n2v2=True)
        data = {"train_data": np.concatenate(frames)}
    else:
        if any(len(f) < 2 for f in frames):
            raise ValueError("N2N pairs consecutive frames: every stack needs two frames at least")
        config = create_n2n_config(**common)
        data = {"train_data": np.concatenate([f[:-1] for f in frames]),
                "train_data_target": np.concatenate([f[1:] for f in frames])}
    config.data_config.seed = options.seed + 1  # the patches and the validation split (CAREamics counts from 1)
    timer = Timer(duration=timedelta(seconds=float(options.seconds)))
    careamist = CAREamist(config, work_dir=str(work_dir), enable_progress_bar=False, callbacks=[timer])
    careamist.train(**data)
    seconds = timer.time_elapsed("train")
    metrics = {k: float(v) for k, v in careamist.trainer.callback_metrics.items()}
    summary = {"method": name, "seconds_training": seconds, "steps": int(careamist.trainer.global_step),
               "train_loss": metrics.get("train_loss_epoch", metrics.get("train_loss")),
               "val_loss": metrics.get("val_loss"), "careamics": careamics.__version__,
               "torch": torch.__version__, "patch_size": options.patch_size, "batch_size": options.batch_size,
               "seed": options.seed, "threads": options.threads}
    if log is not None:
        log(f"{name}: {summary['steps']} steps in {seconds:.1f} s (CAREamics {careamics.__version__})")
    return careamist, summary


def save_peer(careamist: Any, path: str | Path) -> None:
    """Write a trained peer as one Lightning checkpoint (its weights and CAREamics configuration), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".ckpt.partial", delete=False) as tmp:
        partial = Path(tmp.name)
    try:
        careamist.trainer.save_checkpoint(partial)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def load_peer(path: str | Path, work_dir: str | Path) -> Any:
    """A peer written by :func:`save_peer`, ready to filter."""
    from careamics import CAREamist

    return CAREamist(checkpoint_path=str(path), work_dir=str(work_dir), enable_progress_bar=False)


def peer_denoise(careamist: Any, frames: np.ndarray, tile_px: int = 128) -> np.ndarray:
    """``(n, H, W)`` frames filtered one by one, in tiles, on the 0..65535 scale.

    CAREamics takes square tiles whose side is a multiple of 4 (its U-Net's depth); they overlap by
    48 px (less in small frames) and CAREamics stitches them. A peer read by :func:`load_peer`
    filters with the weights of its file; one just trained, with its last checkpoint (CAREamics'
    choice for N2V and N2N).
    """
    frames = np.asarray(frames)
    side = min(tile_px, *frames.shape[1:])
    side -= side % 4
    overlap = min(48, side // 4 * 2)
    prediction, _ = careamist.predict(_scaled([frames])[0], axes="SYX", data_type="array",
                                      tile_size=(side, side), tile_overlap=(overlap, overlap),
                                      checkpoint=careamist.checkpoint_path)
    if isinstance(prediction, list):
        prediction = np.stack([np.squeeze(p) for p in prediction])
    return np.asarray(prediction, np.float32).reshape(frames.shape) * _FULL_SCALE
