"""CARE (CSBDeep) as a baseline: the standard tool a microscopist would otherwise reach for.

CARE is trained on the same training pairs as a DLF variant (same FOVs, same
validation FOVs or rows) with the same budget (epochs x steps x batch of
``patch_size`` patches) but otherwise with its own defaults: percentile
normalisation of every image pair (``norm_percentiles``), its patch sampling
(``create_patches`` with ``no_background_patches``), its depth-2 U-Net with 5x5
kernels and 32 first-level filters, MAE loss and learning rate 4e-4.

CARE predicts the target in its normalised units (0 and 1 at the target's low and
high percentiles). :func:`care_denoise` maps that back to the 0..65535 scale with the
median percentiles of the training targets (:func:`target_range`), the inverse of
the normalisation CARE was trained with.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from stemdlf.io.atomic import atomic_path
from stemdlf.nn.patches import TrainingPair

__all__ = ["PERCENTILES", "care_patches", "target_range", "train_care", "load_care", "care_denoise"]

#: Percentiles CARE's prediction normalises with (its ``PercentileNormalizer`` defaults);
#: training samples them around these (1..3 and 99.5..99.9).
PERCENTILES = (2.0, 99.8)

#: Files of a trained CARE model folder (read by ``CARE(None, name, basedir)``).
MODEL_FILES = ("config.json", "weights_best.h5")


def _raw_data(pairs: list[TrainingPair]):
    """CSBDeep ``RawData`` that yields every rapid frame of every pair with its target, within the pair's rows."""
    from csbdeep.data import RawData

    def generator():
        for pair in pairs:
            r0, r1 = pair.rows
            target = np.asarray(pair.target[r0:r1], np.float32)
            for frame in range(pair.n_frames):
                yield np.asarray(pair.rapid[frame, r0:r1], np.float32), target, "YX", None

    n_images = sum(p.n_frames for p in pairs)
    return RawData(generator, n_images, "rapid frames -> target, " + ", ".join(p.name for p in pairs))


def care_patches(pairs: list[TrainingPair], patch_size: int, n_patches: int, seed: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """CARE's own training patches from training pairs.

    Parameters
    ----------
    pairs : list of TrainingPair
        FOVs (rapid frames and target) to cut patches from.
    patch_size : int
        Side of the square patches.
    n_patches : int
        Patches wanted; ``ceil(n_patches / frames)`` are cut per frame and the first
        ``n_patches`` after CSBDeep's shuffle are kept.
    seed : int
        Seeds numpy's global generator, which CSBDeep samples with.

    Returns
    -------
    (x, y) : numpy.ndarray
        ``(n, patch_size, patch_size, 1)`` float32 each, percentile-normalised by CSBDeep.
    """
    from csbdeep.data import create_patches

    raw = _raw_data(pairs)
    per_image = max(1, math.ceil(n_patches / raw.size))
    np.random.seed(seed)
    x, y, axes = create_patches(raw, (patch_size, patch_size), per_image, save_file=None, verbose=False)
    if axes != "SCYX":
        raise RuntimeError(f"CSBDeep returned patch axes {axes!r}, expected 'SCYX'")
    x, y = np.moveaxis(x, 1, -1)[:n_patches], np.moveaxis(y, 1, -1)[:n_patches]
    return x.astype(np.float32), y.astype(np.float32)


def target_range(pairs: list[TrainingPair], percentiles: tuple[float, float] = PERCENTILES) -> tuple[float, float]:
    """Median over the training targets of their low and high percentiles (0..65535 scale)."""
    values = np.array([np.percentile(p.target[p.rows[0]:p.rows[1]], percentiles) for p in pairs])
    low, high = np.median(values, axis=0)
    return float(low), float(high)


def train_care(train: list[TrainingPair], validation: list[TrainingPair], *, patch_size: int, batch_size: int,
               epochs: int, steps_per_epoch: int, validation_patches: int, max_patches: int, seed: int,
               model_dir: str | Path, work_dir: str | Path, log: Callable[[str], None] = print,
               max_seconds: float | None = None) -> dict:
    """Train CARE with its defaults and a given budget; write the model folder atomically.

    Parameters
    ----------
    train, validation : list of TrainingPair
        The pairs a DLF variant trains and validates on.
    patch_size, batch_size, epochs, steps_per_epoch : int
        The training budget (the DLF variant's).
    validation_patches : int
        Patches cut from the validation pairs.
    max_patches : int
        Cap on the pool of training patches held in memory (CARE cycles through the
        pool; the budget is ``epochs * steps_per_epoch * batch_size`` samples).
    seed : int
        Seeds patch sampling and the weights.
    model_dir : path
        Output folder; gets :data:`MODEL_FILES` once training has finished.
    work_dir : path
        Scratch folder CSBDeep trains in (its logs and per-epoch weights).
    log : callable
        Receives progress messages.
    max_seconds : float, optional
        Wall-clock budget: training stops after the step that passes it (the DLF variant's
        own training time, for a comparison at equal compute on the same machine).

    Returns
    -------
    dict
        Summary: the budget, patch counts, training time, steps run and the CARE config.
    """
    import time

    import keras
    from csbdeep.models import CARE, Config

    budget = epochs * steps_per_epoch * batch_size
    x, y = care_patches(train, patch_size, min(budget, max_patches), seed)
    x_val, y_val = care_patches(validation, patch_size, validation_patches, seed + 1)
    log(f"CARE: {len(x)} training / {len(x_val)} validation patches of {patch_size} px; "
        f"{epochs} epochs x {steps_per_epoch} steps x batch {batch_size} = {budget} samples")
    keras.utils.set_random_seed(seed)
    config = Config("YXC", n_channel_in=1, n_channel_out=1, train_epochs=epochs,
                    train_steps_per_epoch=steps_per_epoch, train_batch_size=batch_size, train_tensorboard=False)
    work_dir = Path(work_dir)
    if work_dir.exists():
        shutil.rmtree(work_dir)
    model = CARE(config, work_dir.name, basedir=str(work_dir.parent))
    model.prepare_for_training()
    steps = keras.callbacks.Callback()
    steps.count = 0

    def count(batch, logs=None):
        steps.count += 1
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            steps.model.stop_training = True

    steps.on_train_batch_end = count
    model.callbacks.append(steps)
    start = time.perf_counter()
    history = model.train(x, y, validation_data=(x_val, y_val))
    seconds = time.perf_counter() - start
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        with atomic_path(model_dir / name, suffix=".part" + Path(name).suffix) as tmp:
            shutil.copyfile(work_dir / name, tmp)
    shutil.rmtree(work_dir)
    rows = [{"epoch": i + 1, "loss": history.history["loss"][i], "val_loss": history.history["val_loss"][i]}
            for i in range(len(history.history["loss"]))]
    return {"budget_samples": budget, "training_patches": len(x), "validation_patches": len(x_val),
            "seconds": round(seconds, 1), "max_seconds": max_seconds, "steps_run": steps.count, "history": rows,
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(config).items()}}


def load_care(model_dir: str | Path):
    """Load a CARE model folder written by :func:`train_care`."""
    from csbdeep.models import CARE

    model_dir = Path(model_dir)
    missing = [name for name in MODEL_FILES if not (model_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{model_dir}: not a CARE model folder, missing {', '.join(missing)}")
    return CARE(None, model_dir.name, basedir=str(model_dir.parent))


def care_denoise(model, frames: np.ndarray, target: tuple[float, float],
                 percentiles: tuple[float, float] = PERCENTILES) -> np.ndarray:
    """Restore rapid frames with CARE and put the result on the target's 0..65535 scale.

    Parameters
    ----------
    model : csbdeep.models.CARE
        A trained model (:func:`load_care`).
    frames : numpy.ndarray
        ``(frames, H, W)`` or ``(H, W)`` rapid frames.
    target : tuple of float
        The training targets' intensities at ``percentiles`` (:func:`target_range`).
    percentiles : tuple of float
        Input normalisation percentiles.

    Returns
    -------
    numpy.ndarray
        float32, same shape as ``frames``.
    """
    from csbdeep.data import PadAndCropResizer, PercentileNormalizer

    stack = np.asarray(frames, np.float32)
    single = stack.ndim == 2
    stack = stack[np.newaxis] if single else stack
    normalizer = PercentileNormalizer(*percentiles, do_after=False)
    low, high = target
    out = np.empty_like(stack)
    for i, frame in enumerate(stack):
        restored = model.predict(frame, "YX", normalizer=normalizer, resizer=PadAndCropResizer())
        out[i] = low + restored * (high - low)
    return out[0] if single else out
