"""Training a denoising U-Net on rapid/target patch pairs, resumable after a kill.

One call of :func:`train_model` trains one variant (DLF-Slow, DLF-DCFI, DLF-100 ...):
random patches from the training pairs (one frame, or a window of aligned frames), MSE loss
(paper; MAE or Huber as options), Adam (constant or cosine learning rate), a fixed validation
set of patches from held-out FOVs (or rows), best weights by ``val_loss``.

Each epoch ends with a checkpoint in ``checkpoint_dir`` (the model with its
optimizer state, the history so far and the best weights), committed by writing
``state.json`` last. A run killed mid-training resumes from the last committed
epoch; because every epoch's patches are drawn from a generator seeded by
``(seed, epoch)``, the resumed run sees the same patches an uninterrupted run
would. The final model file is written (atomically) only when training completes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from stemdlf.config.settings import SchemaChecked, setting
from stemdlf.errors import DataError
from stemdlf.io.atomic import atomic_path
from stemdlf.nn.patches import AUGMENTATIONS, TrainingPair, sample_patches
from stemdlf.nn.unet import UNetSettings, build_unet
from stemdlf.preprocess.normalise import INPUT_SCALINGS

__all__ = ["TrainingSettings", "train_model", "start_from", "HISTORY_COLUMNS", "LOSSES", "LR_SCHEDULES",
           "model_card_path", "write_model_card", "add_to_model_card"]

HISTORY_COLUMNS = ["epoch", "loss", "val_loss", "val_psnr_db", "seconds"]
#: Identifies a model card (the JSON written beside every trained filter).
MODEL_CARD_FORMAT = "stemdlf-model-card/1"
#: Training losses (Keras built-ins, so checkpoints load with ``safe_mode=True``).
LOSSES = ("mse", "mae", "huber")
#: Learning-rate schedules.
LR_SCHEDULES = ("constant", "cosine")


def _compile(model, settings: "TrainingSettings") -> None:
    import keras

    lr = settings.lr
    if settings.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(settings.lr, decay_steps=settings.epochs * settings.steps_per_epoch)
    loss = {"mse": "mse", "mae": "mae", "huber": keras.losses.Huber(delta=0.01)}[settings.loss]
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss)


@dataclass(frozen=True)
class TrainingSettings(SchemaChecked):
    """Everything that determines a training run (its fingerprint for resuming).

    Each field is checked against its own rules when the settings are made (:mod:`stemdlf.config.settings`).

    Attributes
    ----------
    lr : float
        Adam learning rate (paper: 1e-3 multi-FOV, 1e-5 / 5e-6 single-FOV).
    epochs, steps_per_epoch : int
        Training length; each step is one batch.
    batch_size : int
        Patches per step.
    patch_size : int
        Patch height and width (paper: 64).
    validation_patches : int
        Size of the fixed validation set of patches.
    augment : str
        One of :data:`stemdlf.nn.patches.AUGMENTATIONS` (default ``vflip``).
    seed : int
        Seeds weights, patch sampling and the validation set.
    loss : str
        One of :data:`LOSSES`: ``mse`` (paper), ``mae`` (CARE's default) or ``huber`` (a smooth L1,
        like Charbonnier; delta 0.01 of full scale).
    lr_schedule : str
        ``constant`` (paper) or ``cosine`` (decays to 0 over all steps).
    input_scaling : str
        How each FOV's input frames are scaled (:data:`stemdlf.preprocess.normalise.INPUT_SCALINGS`): ``none``
        (paper) or ``mean_frame``. Recorded in the model card, so filtering applies it too.
    model : UNetSettings
        Architecture (including how many aligned frames it takes: ``input_frames``).
    """

    lr: float = setting(1e-3, exclusiveMinimum=0)
    epochs: int = setting(10, minimum=1)
    steps_per_epoch: int = setting(50, minimum=1)
    batch_size: int = setting(16, minimum=1)
    patch_size: int = setting(64, minimum=8)
    validation_patches: int = setting(256, minimum=1)
    augment: str = setting("vflip", enum=list(AUGMENTATIONS))
    seed: int = setting(0, minimum=0)
    loss: str = setting("mse", enum=list(LOSSES))
    lr_schedule: str = setting("constant", enum=list(LR_SCHEDULES))
    input_scaling: str = setting("none", enum=list(INPUT_SCALINGS))
    model: UNetSettings = field(default_factory=UNetSettings)


    def __post_init__(self) -> None:
        """Refuse settings the training cannot run."""
        super().__post_init__()
        if self.patch_size % 2 ** self.model.depth:
            raise ValueError(f"patch_size {self.patch_size} must be a multiple of 2**depth = {2 ** self.model.depth}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingSettings:
        """Settings from a config mapping."""
        values = dict(values)
        model = UNetSettings.from_dict(values.pop("model", {}))
        return cls(model=model, **values)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain mapping."""
        return asdict(self)

    def fingerprint(self) -> str:
        """A short hash of the settings (16 hex digits)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def model_card_path(model_path: str | Path) -> Path:
    """The model card beside a ``.keras`` filter: ``model.keras`` -> ``model.json``."""
    return Path(model_path).with_suffix(".json")


def write_model_card(model_path: str | Path, settings: TrainingSettings, extra: dict | None = None) -> Path:
    """Write the filter's training contract beside it (atomically): what filtering must do to its input.

    Returns
    -------
    Path
        The card's path (:func:`model_card_path`).
    """
    card = {"format": MODEL_CARD_FORMAT, "input_frames": settings.model.input_frames, "causal": settings.model.causal,
            "input_scaling": settings.input_scaling, "intensity_scale": "0..65535 (normalised)",
            "settings": settings.to_dict(), "fingerprint": settings.fingerprint(), **(extra or {})}
    path = model_card_path(model_path)
    _write_json(path, card)
    return path


def add_to_model_card(model_path: str | Path, fields: dict) -> Path:
    """Add what the training data were (pixel size, normalisation, geometry, ...) to a filter's card.

    The card is rewritten atomically; its existing entries are kept unless ``fields`` names them.

    Returns
    -------
    Path
        The card's path (:func:`model_card_path`).
    """
    path = model_card_path(model_path)
    card = json.loads(path.read_text())
    _write_json(path, {**card, **fields})
    return path


def _write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2))


def _write_history(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp:
        pd.DataFrame(rows, columns=HISTORY_COLUMNS).to_csv(tmp, index=False)


def _epoch_batch(pairs: list[TrainingPair], settings: TrainingSettings, epoch: int, index: int):
    """One training batch, seeded by (seed, epoch, batch): a resumed run draws the same patches."""
    rng = np.random.default_rng([settings.seed, epoch, index])
    return sample_patches(pairs, settings.batch_size, settings.patch_size, rng, settings.augment,
                          settings.model.input_frames, settings.model.causal)


def _validation_loss(model, val_x: np.ndarray, val_y: np.ndarray, batch_size: int) -> float:
    """Mean loss over the fixed validation patches (inference mode: batch norm uses its running statistics)."""
    losses, weights = [], []
    for start in range(0, len(val_x), batch_size):
        xb, yb = val_x[start:start + batch_size], val_y[start:start + batch_size]
        losses.append(float(np.asarray(model.test_on_batch(xb, yb))))
        weights.append(len(xb))
    return float(np.average(losses, weights=weights))


def _resume(checkpoint_dir: Path, fingerprint: str):
    """Model, next epoch, history and best val_loss from a committed checkpoint, or None."""
    import keras

    state_path = checkpoint_dir / "state.json"
    if not state_path.is_file():
        return None
    state = json.loads(state_path.read_text())
    if state.get("fingerprint") != fingerprint:
        return None  # another variant's settings: start afresh
    model = keras.models.load_model(checkpoint_dir / "checkpoint.keras", safe_mode=True)
    rows = pd.read_csv(checkpoint_dir / "history.csv").to_dict("records")
    rows = [r for r in rows if r["epoch"] <= state["epoch"]]
    return model, state["epoch"], rows, state["best_val_loss"]


def start_from(model, path: str | Path) -> None:
    """Set a freshly built U-Net's weights to those of a trained filter of the same architecture.

    Raises
    ------
    DataError
        If the file is not a Keras model, or the trained filter's layers or weight shapes
        differ (another depth, width, kernel, number of input frames or batch norm setting),
        naming the file.
    """
    import keras

    try:
        source = keras.models.load_model(path, safe_mode=True, compile=False)
    except (OSError, ValueError) as error:
        raise DataError(path, f"cannot fine-tune from this file: not a trained filter ({error})") from None
    weights = source.get_weights()
    shapes = [w.shape for w in weights]
    expected = [tuple(w.shape) for w in model.get_weights()]
    if shapes != expected:
        raise DataError(path, f"cannot fine-tune from this filter: its weights ({len(shapes)} arrays) do not fit "
                              f"the variant's U-Net ({len(expected)} arrays); give both the same model settings")
    model.set_weights(weights)


def train_model(
    train_pairs: list[TrainingPair],
    val_pairs: list[TrainingPair],
    settings: TrainingSettings,
    model_path: str | Path,
    history_path: str | Path,
    checkpoint_dir: str | Path,
    log: Callable[[str], None] = print,
    stop_after_epoch: int | None = None,
    initial_weights: str | Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Train (or resume training) one U-Net and write the final model and history.

    Parameters
    ----------
    train_pairs, val_pairs : list of TrainingPair
        Where training and validation patches come from.
    settings : TrainingSettings
        Hyper-parameters; their fingerprint guards the checkpoint.
    model_path : str or Path
        Final ``.keras`` model (best weights by ``val_loss``), written only at the end.
    history_path : str or Path
        Per-epoch CSV with :data:`HISTORY_COLUMNS` (loss in normalised units).
    checkpoint_dir : str or Path
        Per-epoch checkpoint; removed when training completes.
    log : callable
        Receives one line per epoch.
    stop_after_epoch : int, optional
        Return after committing this epoch without finishing (used to test resuming).
    initial_weights : str or Path, optional
        A trained ``.keras`` filter of the same architecture whose weights training starts
        from (fine-tuning, e.g. a single-FOV variant from the multi-FOV filter) instead of
        random ones; its content is part of the checkpoint's fingerprint.
    progress : bool
        A progress bar over the training steps (``stemdlf train``).

    Returns
    -------
    dict
        Summary: epochs, resumed_from, best_epoch, best_val_loss, seconds, parameters.
    """
    import keras

    model_path, history_path, checkpoint_dir = Path(model_path), Path(history_path), Path(checkpoint_dir)
    fingerprint = settings.fingerprint()
    if initial_weights is not None:
        digest = hashlib.sha256(Path(initial_weights).read_bytes()).hexdigest()
        fingerprint = hashlib.sha256(f"{fingerprint}:{digest}".encode()).hexdigest()[:16]
    val_x, val_y = sample_patches(val_pairs, settings.validation_patches, settings.patch_size,
                                  np.random.default_rng([settings.seed, 2**31]), "none", settings.model.input_frames,
                                  settings.model.causal)
    resumed = _resume(checkpoint_dir, fingerprint)
    if resumed is None:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
        keras.utils.set_random_seed(settings.seed)
        model = build_unet(settings.model)
        if initial_weights is not None:
            start_from(model, initial_weights)
            log(f"starting from the weights of {initial_weights}")
        _compile(model, settings)
        start, rows, best = 0, [], float("inf")
    else:
        model, start, rows, best = resumed
        log(f"resuming from the checkpoint after epoch {start} (best val_loss {best:.3g})")
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    from tqdm import tqdm

    bar = tqdm(total=settings.epochs * settings.steps_per_epoch, initial=start * settings.steps_per_epoch,
               desc="training", unit="step", disable=not progress, leave=False)
    for epoch in range(start, settings.epochs):
        t0 = time.perf_counter()
        # One compiled step per batch (train_on_batch): Keras's fit() around a per-epoch dataset
        # cost 4-6x the step itself on CPU (benchmarks/speed.py); batches are random already.
        losses = []
        for i in range(settings.steps_per_epoch):
            losses.append(float(np.asarray(model.train_on_batch(*_epoch_batch(train_pairs, settings, epoch, i)))))
            bar.update()
        loss = float(np.mean(losses))
        val_loss = _validation_loss(model, val_x, val_y, settings.batch_size)
        rows.append({"epoch": epoch + 1, "loss": loss, "val_loss": val_loss,
                     "val_psnr_db": 10 * np.log10(1.0 / max(val_loss, 1e-12)),
                     "seconds": time.perf_counter() - t0})
        if val_loss < best:
            best = val_loss
            with atomic_path(checkpoint_dir / "best.weights.h5", suffix=".part.weights.h5") as tmp:
                model.save_weights(tmp)
        _write_history(checkpoint_dir / "history.csv", rows)
        with atomic_path(checkpoint_dir / "checkpoint.keras", suffix=".part.keras") as tmp:
            model.save(tmp)
        _write_json(checkpoint_dir / "state.json",
                    {"epoch": epoch + 1, "best_val_loss": best, "fingerprint": fingerprint})
        log(f"epoch {epoch + 1}/{settings.epochs}: loss {loss:.3g}, val_loss {val_loss:.3g} "
            f"({rows[-1]['val_psnr_db']:.2f} dB), {rows[-1]['seconds']:.1f} s")
        if stop_after_epoch is not None and epoch + 1 >= stop_after_epoch and epoch + 1 < settings.epochs:
            bar.close()
            return {"stopped_after_epoch": epoch + 1}
    bar.close()
    model.load_weights(checkpoint_dir / "best.weights.h5")
    best_row = min(rows, key=lambda r: r["val_loss"])
    _write_history(history_path, rows)
    with atomic_path(model_path, suffix=".part.keras") as tmp:
        model.save(tmp)
    write_model_card(model_path, settings, {"train_fovs": [p.name for p in train_pairs],
                                            "validation_fovs": [p.name for p in val_pairs],
                                            "best_val_loss": float(best)})
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return {
        "epochs": settings.epochs,
        "resumed_from_epoch": start,
        "best_epoch": int(best_row["epoch"]),
        "best_val_loss": float(best_row["val_loss"]),
        "seconds_this_run": time.perf_counter() - t_start,
        "seconds_training": float(sum(r["seconds"] for r in rows)),
        "parameters": int(model.count_params()),
        "train_fovs": [p.name for p in train_pairs],
        "validation_fovs": [p.name for p in val_pairs],
        "settings": settings.to_dict(),
        "fingerprint": fingerprint,
    }
