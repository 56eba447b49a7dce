"""Applying a trained filter to frames and to whole TIFF stacks in bounded memory.

Frames of any size go through the model: they are padded (reflect) to a multiple
of ``2**depth`` and cropped back. Batches go through the model's compiled
prediction step (``predict_on_batch``), which on CPU is 2-3x faster per frame
than ``model.predict`` and works alike under TensorFlow, JAX and PyTorch, with
batch normalisation folded into the convolutions (:func:`stemdlf.nn.unet.fold_batch_norm`).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from stemdlf.errors import DataError
from stemdlf.io.tiff import iter_frames, pixel_size_nm, read_frames, tiff_info, write_tiff
from stemdlf.nn.patches import frame_window
from stemdlf.nn.precision import PRECISIONS, with_precision
from stemdlf.nn.unet import fold_batch_norm, input_window, receptive_radius, size_multiple
from stemdlf.preprocess.normalise import FULL_SCALE, INPUT_SCALINGS, MinMax, mean_frame_scaling, scale_frames
from stemdlf.runtime.accelerator import on_accelerator

__all__ = ["load_model", "read_model_card", "Denoiser", "denoise_stack"]


def read_model_card(model_path: str | Path) -> dict:
    """The training contract written beside a filter (:func:`stemdlf.nn.train.write_model_card`), or {}.

    Where the workflow scored the filter on its test FOVs (``model.metrics.json`` beside it, rule
    ``model_metrics``), those scores are the card's ``test_metrics``.

    Raises
    ------
    DataError
        If the card exists but is not readable JSON, is not a stemdlf model card, or a field
        filtering reads has the wrong type (:func:`check_model_card`).
    """
    path = Path(model_path).with_suffix(".json")
    if not path.is_file():
        return {}
    try:
        card = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(path, f"the model card is not readable JSON ({err})") from err
    check_model_card(card, path)
    scores = Path(model_path).with_suffix(".metrics.json")
    if scores.is_file():
        try:
            card["test_metrics"] = json.loads(scores.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise DataError(scores, f"the filter's test scores are not readable JSON ({err})") from err
    return card


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


#: The card fields filtering reads: a check of each value, and what it should be (for the message).
_CARD_FIELDS = {
    "input_frames": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1"),
    "causal": (lambda v: isinstance(v, bool), "true or false"),
    "input_scaling": (lambda v: v in INPUT_SCALINGS, f"one of {', '.join(INPUT_SCALINGS)}"),
    "normalisation": (lambda v: v is None or isinstance(v, dict), "an object with low_percentile and high_percentile"),
    "pixel_size_nm": (lambda v: v is None or (_is_number(v) and v > 0), "a number of nm > 0"),
    "geometry": (lambda v: isinstance(v, str), "a string"),
}


def check_model_card(card, path: str | Path) -> None:
    """Refuse a model card that is not a stemdlf card, or whose fields filtering reads are of the wrong type.

    Raises
    ------
    DataError
        Naming the card, the field and what it should be.
    """
    if not isinstance(card, dict):
        raise DataError(path, f"is not a model card: a JSON {type(card).__name__}, expected an object with "
                        '"format": "stemdlf-model-card/1"')
    fmt = card.get("format")
    if not (isinstance(fmt, str) and fmt.startswith("stemdlf-model-card")):
        found = "has no" if fmt is None else f"has {json.dumps(fmt)} as its"
        raise DataError(path, f"{found} \"format\"; a stemdlf model card says \"format\": \"stemdlf-model-card/1\" "
                        "(is this the card of another tool? move it away to filter without a card)")
    for field, (ok, expected) in _CARD_FIELDS.items():
        if field in card and not ok(card[field]):
            raise DataError(path, f"field {field!r} is {json.dumps(card[field])}; expected {expected}")
    for key in ("low_percentile", "high_percentile"):
        value = (card.get("normalisation") or {}).get(key, 0.0 if key.startswith("low") else 100.0)
        if not (_is_number(value) and 0 <= value <= 100):
            raise DataError(path, f"field normalisation.{key} is {json.dumps(value)}; expected a number 0..100")


def load_model(path: str | Path):
    """Load a trained ``.keras`` filter with ``safe_mode=True`` (no code is executed).

    Raises
    ------
    DataError
        If the file is missing, is not a Keras archive, or is not a single-channel image model.
    """
    import keras

    path = Path(path)
    if not path.is_file():
        raise DataError(path, "model file not found")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise DataError(path, "not a Keras 3 model archive (.keras); train one with the workflow")
    try:
        model = keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as err:  # noqa: BLE001 - keras raises many types for a bad archive
        raise DataError(path, f"cannot be loaded as a Keras model: {err}") from err
    shape = tuple(model.input_shape)
    if len(shape) != 4 or tuple(model.output_shape)[-1] != 1:
        raise DataError(path, f"expected an image model (batch, H, W, frames) -> (batch, H, W, 1), got input {shape}")
    return model


class Denoiser:
    """A trained filter as a function of frames on the 0..65535 scale.

    A filter trained on a window of aligned frames (``input_frames > 1``) takes, for each
    frame, its neighbours in the stack it is given (:func:`stemdlf.nn.patches.frame_window`):
    the frames must be aligned (as the workflow's corrected stacks are).

    Parameters
    ----------
    model : keras.Model or str or Path
        The model or its ``.keras`` file.
    batch_size : int
        Frames per compiled call.
    input_scaling : str, optional
        Overrides the model card's ``input_scaling``.
    tile : int, optional
        Filter frames larger than this (px) in overlapping tiles of about this size, one at a
        time: memory bounded for 4k frames or a small GPU, equal to whole-frame filtering (the
        tiles overlap by the network's receptive field, :func:`stemdlf.nn.unet.receptive_radius`).
    precision : str
        ``"float32"`` (default: as trained) or ``"bfloat16"``, the opt-in fast path
        (:func:`stemdlf.nn.precision.with_precision`): convolutions on bfloat16 activations, float32
        input and output; about 1.7x faster on CPUs with AVX512-BF16 or AMX units. Its quality
        against float32 is measured by ``benchmarks/precision.py`` on the default run's test FOVs.

    Examples
    --------
    >>> denoise = Denoiser("results/models/DLF-Slow/model.keras")   # doctest: +SKIP
    >>> clean = denoise(frames)                                      # doctest: +SKIP
    """

    def __init__(self, model, batch_size: int = 8, input_scaling: str | None = None,
                 tile: int | None = None, precision: str = "float32") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        card, model_path = {}, None
        if isinstance(model, (str, Path)):
            card, model_path = read_model_card(model), model
            model = load_model(model)
        self.model = model
        # the network the frames go through: batch normalisation folded into the convolutions
        # (the same function, a third less time per frame for the paper's DLF-Slow on a CPU)
        self.network = with_precision(fold_batch_norm(model), precision)
        self.precision = precision
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.multiple = size_multiple(self.model)
        m = self.multiple
        self.margin = -(-receptive_radius(self.model) // m) * m  # the receptive field, on the pooling grid
        if tile is not None and int(tile) < 2 * self.margin + m:
            raise ValueError(f"tile must be at least {2 * self.margin + m} px for this network, got {tile}")
        self.tile = None if tile is None else int(tile)
        self.input_frames, current = input_window(self.model)
        self.causal = self.input_frames > 1 and current == self.input_frames - 1
        if card and (card.get("input_frames", 1), card.get("causal", False)) != (self.input_frames, self.causal):
            raise DataError(Path(model_path).with_suffix(".json"),
                            f"says input_frames {card.get('input_frames', 1)}, causal "
                            f"{str(card.get('causal', False)).lower()}, but {Path(model_path).name} takes "
                            f"{self.input_frames} frame(s), causal {str(self.causal).lower()}: the card belongs "
                            "to another filter")
        self.input_scaling = input_scaling or card.get("input_scaling", "none")
        if self.input_scaling not in INPUT_SCALINGS:
            raise ValueError(f"input_scaling must be one of {INPUT_SCALINGS}, got {self.input_scaling!r}")
        self.card = card

    def scaling_of(self, frames) -> MinMax | None:
        """The input scaling this filter applies to a stack (None when it takes frames as they are)."""
        return mean_frame_scaling(frames) if self.input_scaling == "mean_frame" else None

    @property
    def context(self) -> tuple[int, int]:
        """Frames before and after a filtered frame that its window needs."""
        k = self.input_frames
        return (k - 1, 0) if self.causal else ((k - 1) // 2, k - 1 - (k - 1) // 2)

    def __call__(self, frames: np.ndarray, start: int = 0, stop: int | None = None,
                 n_total: int | None = None, offset: int = 0, scaling: MinMax | None = None) -> np.ndarray:
        """Denoise one frame ``(H, W)`` or frames ``start..stop`` of a stack ``(n, H, W)``; float32.

        Parameters
        ----------
        frames : numpy.ndarray
            ``(H, W)`` or ``(n, H, W)``; for a multi-frame filter, also the neighbours of the
            frames filtered.
        start, stop : int
            Frames of ``frames`` to filter (default: all).
        n_total, offset : int, optional
            When ``frames`` is a part of a longer stack: that stack's length and the index of
            ``frames[0]`` in it, so windows are mirrored only at the true ends of the stack.
        scaling : MinMax, optional
            For a filter trained with ``input_scaling: mean_frame``: the stack's scaling
            (:meth:`scaling_of` of the whole stack); by default it is taken from ``frames``.
        """
        frames = np.asarray(frames)
        single = frames.ndim == 2
        stack = frames[np.newaxis] if single else frames
        if stack.ndim != 3:
            raise ValueError(f"expected (H, W) or (frames, H, W), got shape {frames.shape}")
        if self.input_scaling != "none":
            stack = scale_frames(stack, scaling or self.scaling_of(stack))
        n, h, w = stack.shape
        stop = n if stop is None else stop
        n_total = n if n_total is None else n_total
        ph, pw = -h % self.multiple, -w % self.multiple
        out = np.empty((stop - start, h, w), np.float32)
        for b0 in range(start, stop, self.batch_size):
            idx = np.arange(b0, min(b0 + self.batch_size, stop))
            if self.input_frames == 1:
                batch = stack[idx].astype(np.float32)[..., np.newaxis]
            else:
                windows = np.stack([frame_window(offset + i, n_total, self.input_frames, self.causal) - offset
                                    for i in idx])
                if windows.min() < 0 or windows.max() >= n:
                    raise ValueError("the frames given do not hold the window of every frame filtered")
                batch = np.moveaxis(stack[windows].astype(np.float32), 1, -1)
            batch /= FULL_SCALE
            if ph or pw:
                batch = np.pad(batch, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="reflect" if min(h, w) > 1 else "edge")
            pred = self._predict(batch)
            out[idx - start] = pred[:, :h, :w, 0] * FULL_SCALE
        return out[0] if single else out


    def _predict(self, batch: np.ndarray) -> np.ndarray:
        """The network on a padded batch, whole or in overlapping tiles."""
        _, hp, wp, _ = batch.shape
        if self.tile is None or max(hp, wp) <= self.tile:
            return np.asarray(self.network.predict_on_batch(batch))
        m, margin = self.multiple, self.margin
        step = max(m, (self.tile - 2 * margin) // m * m)  # the core each tile keeps, on the pooling grid
        out = np.empty(batch.shape[:3] + (1,), np.float32)
        for y0 in range(0, hp, step):
            for x0 in range(0, wp, step):
                # the window: the core and a margin of the receptive field, clipped to the frame (where
                # the network pads as it does for the whole frame)
                wy0, wx0 = max(0, y0 - margin), max(0, x0 - margin)
                wy1, wx1 = min(hp, y0 + step + margin), min(wp, x0 + step + margin)
                pred = np.asarray(self.network.predict_on_batch(batch[:, wy0:wy1, wx0:wx1]))
                y1, x1 = min(hp, y0 + step), min(wp, x0 + step)
                out[:, y0:y1, x0:x1] = pred[:, y0 - wy0:y1 - wy0, x0 - wx0:x1 - wx0]
        return out


class _Done:
    """A finished result with the interface of a future."""

    def __init__(self, value) -> None:
        self.value = value

    def result(self):
        return self.value


def _at_once(fn, *args) -> _Done:
    return _Done(fn(*args))


def denoise_stack(
    model: str | Path | Denoiser,
    input_path: str | Path,
    output_path: str | Path,
    batch_size: int = 8,
    chunk_frames: int = 64,
    prepare: Callable[[np.ndarray], np.ndarray] | None = None,
    crop: list[int] | None = None,
    metadata: dict | None = None,
    progress: bool = False,
    calibration_nm: float | None = None,
    tile: int | None = None,
    overlap: bool | None = None,
) -> Path:
    """Denoise every frame of a TIFF stack, reading and writing in chunks.

    Parameters
    ----------
    model : str or Path or Denoiser
        Trained ``.keras`` filter (or a :class:`Denoiser` to reuse over several stacks).
    input_path : str or Path
        ``(frames, H, W)`` or ``(H, W)`` TIFF.
    output_path : str or Path
        float32 TIFF on the 0..65535 scale, written atomically, with the input's pixel size.
    batch_size, chunk_frames : int
        Frames per model call; frames held in memory at once.
    prepare : callable, optional
        ``prepare(frames, start)``: applied to each ``(n, H, W)`` chunk (whose first frame is
        frame ``start`` of the stack) before the model, to bring raw frames to what the model
        was trained on (min-max normalisation, frame alignment, distortion correction).
        Without it the input must already be normalised and in slow-scan geometry.
    crop : list of int, optional
        ``[row0, row1, col0, col1]`` of the (prepared) frames to keep.
    metadata : dict, optional
        Extra TIFF metadata (e.g. the covered region).
    progress : bool
        Show a progress bar (tqdm).
    calibration_nm : float, optional
        Pixel size written to the output; by default the input's (:func:`stemdlf.io.tiff.pixel_size_nm`,
        none when the input has no calibration).
    tile : int, optional
        Filter larger frames in tiles of about this size (see :class:`Denoiser`).
    overlap : bool, optional
        Read and prepare the next chunk in a thread while the model filters this one. By default
        only where the model runs on an accelerator (:mod:`stemdlf.runtime.accelerator`): on a CPU
        the network keeps every core busy, and a thread beside it slows both.

    Returns
    -------
    Path
        ``output_path``.
    """
    from tqdm import tqdm

    shape, _ = tiff_info(input_path)  # bad input is reported before the model is loaded
    denoiser = model if isinstance(model, Denoiser) else Denoiser(model, batch_size, tile=tile)
    n = 1 if len(shape) == 2 else shape[0]
    prepare = prepare or (lambda frames, start: frames)
    h, w = prepare(next(iter_frames(input_path, 1)), 0).shape[-2:]
    r0, r1, c0, c1 = crop if crop is not None else (0, h, 0, w)
    if not (0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w):
        raise DataError(input_path, f"crop {crop} is outside its {h}x{w} frames")

    before, after = denoiser.context
    starts = list(range(0, n, chunk_frames))
    ahead = on_accelerator() if overlap is None else overlap

    def load(start: int) -> tuple[np.ndarray, int]:
        """A chunk with the neighbours its frames' windows need, prepared; and its first frame's index."""
        lo, hi = max(0, start - before), min(n, start + chunk_frames + after)
        return prepare(read_frames(input_path, lo, hi), lo), lo

    def chunks() -> Iterator[np.ndarray]:
        # with an accelerator, reading and preparing the next chunk (I/O, normalisation, registration,
        # resampling) runs in a thread while the model filters this one
        with ThreadPoolExecutor(1) as pool, tqdm(total=n, unit="frame", disable=not progress) as bar:
            submit = pool.submit if ahead else _at_once
            pending = submit(load, starts[0])
            scaling = None
            for k, start in enumerate(starts):
                frames, lo = pending.result()
                if k == 0:
                    # a filter trained with input_scaling mean_frame: the mean of the first chunk's frames
                    # (all of a stack up to chunk_frames long), as a live filter would take it
                    scaling = denoiser.scaling_of(frames[:min(n, chunk_frames + after)])
                if k + 1 < len(starts):
                    pending = submit(load, starts[k + 1])
                stop = min(n, start + chunk_frames)
                yield denoiser(frames, start - lo, stop - lo, n_total=n, offset=lo, scaling=scaling)[:, r0:r1, c0:c1]
                bar.update(stop - start)

    out_shape = (n, r1 - r0, c1 - c0) if len(shape) == 3 else (r1 - r0, c1 - c0)
    calibration = calibration_nm if calibration_nm is not None else pixel_size_nm(input_path)
    return write_tiff(output_path, chunks(), calibration, shape=out_shape, dtype=np.float32,
                      metadata=metadata)
