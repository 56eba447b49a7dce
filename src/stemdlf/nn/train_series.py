"""Train the self-supervised filter (DLF-Self) on one rapid series: ``stemdlf train``.

For a specimen that cannot take a slow scan: the series' frames are min-max normalised as the
filter it starts from was trained, registered to each other (each frame once, to a running
template, :class:`stemdlf.preprocess.series.SeriesShifts`), optionally resampled into a calibrated
slow-scan grid (the workflow's distortion profile), and the shipped DLF-5F is adapted to them by
Noise2Noise (:mod:`stemdlf.nn.selfsup`), its targets with the detector response undone
(:mod:`stemdlf.preprocess.response`, estimated from the series' own noise). Nothing but the series
is read. The filter and its card are written as the workflow writes them, so ``stemdlf denoise``
cleans the same series (or the rest of the session, live) afterwards.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from stemdlf.errors import DataError

__all__ = ["MIN_FRAMES", "SeriesTraining", "check_series", "train_on_series"]

#: Fewest frames a series needs: a 5-frame window of other frames, and frames to spare.
MIN_FRAMES = 8
#: Below this correlation between the means of the even and the odd aligned frames (smoothed), the
#: frames do not show one specimen: they cannot be registered.
MIN_HALF_CORRELATION = 0.2
#: Below this ratio of frame-to-frame change to the frames' own spread, the stack is averaged already.
MIN_NOISE_RATIO = 0.02


class SeriesTraining:
    """How a series is trained on (the ``stemdlf train`` options), each with its default.

    Attributes
    ----------
    start_from : str
        The filter whose weights training starts from and whose output sets the intensity scale
        (``pretrained:DLF-5F``, or a trained ``.keras`` filter of the same U-Net).
    epochs, steps_per_epoch : int
        Training length (one step: one batch of patches).
    lr : float
        Adam learning rate (cosine decay over all steps).
    frames : int or None
        The first N frames of the series, or all.
    seed : int
    """

    def __init__(self, start_from: str = "pretrained:DLF-5F", epochs: int = 4, steps_per_epoch: int = 150,
                 lr: float = 1e-3, frames: int | None = None, seed: int = 0) -> None:
        if epochs < 1 or steps_per_epoch < 1 or not lr > 0:
            raise ValueError(f"epochs and steps_per_epoch must be >= 1 and lr > 0, got {epochs}, "
                             f"{steps_per_epoch}, {lr}")
        self.start_from, self.epochs, self.steps_per_epoch = start_from, int(epochs), int(steps_per_epoch)
        self.lr, self.frames, self.seed = float(lr), frames, int(seed)


def check_series(frames: np.ndarray, path: str | Path) -> None:
    """Refuse a stack that is not a raw rapid series of one specimen, naming the file.

    Raises
    ------
    DataError
        Fewer than :data:`MIN_FRAMES` frames; frames that do not change from one to the next (an
        averaged stack, a DCFI repeated); frames that do not show one specimen.
    """
    n = len(frames)
    if n < MIN_FRAMES:
        raise DataError(path, f"holds {n} frame(s); training on a rapid series needs at least {MIN_FRAMES}")
    sample = np.asarray(frames[: min(n, 16)], np.float64)
    change = np.std(np.diff(sample, axis=0))
    spread = np.std(sample)
    if spread == 0 or change < MIN_NOISE_RATIO * spread:
        raise DataError(path, f"its frames hardly change from one to the next (frame-to-frame change "
                        f"{change / max(spread, 1e-30):.3g} of their spread): an averaged stack (a DCFI, a "
                        "repeated frame), not a raw rapid series with independent noise")


def _check_registered(aligned: np.ndarray, path: str | Path) -> float:
    """The correlation of the even and odd aligned frames' means (smoothed); a DataError when too low."""
    from scipy.ndimage import gaussian_filter

    even = gaussian_filter(aligned[0::2].mean(axis=0, dtype=np.float64), 2.0)
    odd = gaussian_filter(aligned[1::2].mean(axis=0, dtype=np.float64), 2.0)
    m = 8  # away from the edges the shifts fill
    r = float(np.corrcoef(even[m:-m, m:-m].ravel(), odd[m:-m, m:-m].ravel())[0, 1])
    if not r >= MIN_HALF_CORRELATION:
        raise DataError(path, f"its frames cannot be registered to one another (the aligned even and odd "
                        f"frames correlate at {r:.2f}, below {MIN_HALF_CORRELATION}): not one specimen's series")
    return r


def train_on_series(series: str | Path, output: str | Path, options: SeriesTraining = SeriesTraining(),
                    distortion: str | Path | None = None, progress: bool = True,
                    log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train DLF-Self on one rapid series and write ``output`` (``.keras``) with its model card.

    Parameters
    ----------
    series : str or Path
        ``(frames, H, W)`` raw rapid frames (uint8/uint16 TIFF) in acquisition order.
    output : str or Path
        The filter to write (``.keras``); its card is written beside it (``.json``).
    options : SeriesTraining
    distortion : str or Path, optional
        The workflow's ``results/distortion`` folder of this microscope: the frames are then
        resampled into its calibrated slow-scan grid, as the filter it starts from was trained.
    progress : bool
        A progress bar over the training steps.
    log : callable
        Receives what is done, a line at a time.

    Returns
    -------
    dict
        The training summary (:func:`stemdlf.nn.train.train_model`) with the estimated response.

    Raises
    ------
    DataError
        For a stack that is not a raw series (:func:`check_series`), cannot be registered, or does
        not fit the distortion profile; for a filter to start from that cannot be fine-tuned.
    """
    from stemdlf.io.inputs import check_stack
    from stemdlf.io.tiff import pixel_size_nm, read_frames
    from stemdlf.nn import pretrained
    from stemdlf.nn.denoise import Denoiser, read_model_card
    from stemdlf.nn.patches import TrainingPair, split_validation_rows
    from stemdlf.nn.selfsup import self_supervised_pair
    from stemdlf.nn.train import TrainingSettings, add_to_model_card, train_model
    from stemdlf.preprocess.dcfi import shift_frames
    from stemdlf.preprocess.fov import stack_minmax
    from stemdlf.preprocess.normalise import apply_minmax
    from stemdlf.preprocess.response import estimate_response
    from stemdlf.preprocess.series import SeriesShifts

    series, output = Path(series), Path(output)
    shape, dtype = check_stack(series, "rapid-scan series", ndims=(3,), min_frames=MIN_FRAMES)
    if dtype.kind != "u" or dtype.itemsize > 2:
        raise DataError(series, f"dtype is {dtype}: training reads raw uint8/uint16 rapid frames, which it "
                        "normalises as the filter it starts from was trained")
    n = shape[0] if options.frames is None else min(shape[0], int(options.frames))
    initial = pretrained.weights_path(options.start_from) if pretrained.is_pretrained(options.start_from) \
        else Path(options.start_from)
    card = read_model_card(initial)
    if not card:
        raise DataError(initial, "has no model card beside it: training needs the settings it was trained with")
    raw = read_frames(series, 0, n)
    check_series(raw, series)
    norm = card.get("normalisation") or {}
    transform = stack_minmax(series, low_percentile=float(norm.get("low_percentile", 0.0)),
                             high_percentile=float(norm.get("high_percentile", 100.0)))
    frames = apply_minmax(raw, transform)
    del raw
    log(f"{series.name}: {n} frames of {shape[1]}x{shape[2]}, min-max {transform.low:g}..{transform.high:g}")
    # the response is measured on the frames as acquired: resampling would filter their noise
    response, fit = estimate_response(frames)
    fast, glow = response.time_constants_px
    log(f"detector response from the frames' noise: fast {fast:.2f} px, afterglow {glow:.1f} px "
        f"({100 * response.afterglow_share:.1f}%)")
    shifts = SeriesShifts(lambda lo, hi: frames[lo:hi], n)(0, n)
    if distortion is not None:
        from stemdlf.preprocess.distortion import Distortion

        aligned = Distortion.from_folder(distortion, shape).apply(frames, shifts)
        geometry = "slow-scan grid (distortion-corrected)"
    else:
        aligned = shift_frames(frames, shifts)
        geometry = "rapid-scan grid (frames aligned, no distortion correction)"
    agreement = _check_registered(aligned, series)
    log(f"registered: drift up to {np.abs(shifts).max():.2f} px; aligned halves correlate at {agreement:.2f}")

    values = {**card["settings"], "lr": options.lr, "epochs": options.epochs,
              "steps_per_epoch": options.steps_per_epoch, "loss": "mse", "lr_schedule": "cosine",
              "seed": options.seed}
    settings = TrainingSettings.from_dict(values)
    reference = Denoiser(initial)(aligned).mean(axis=0)
    pair, calibration = self_supervised_pair(series.stem, aligned, response, reference, settings.input_scaling)
    try:
        train_rows, val_rows = split_validation_rows(aligned.shape[1], 0.2, settings.patch_size)
    except ValueError as err:
        raise DataError(series, str(err)) from err
    val = TrainingPair(pair.name, pair.rapid, pair.target, val_rows, pair.scaling)
    pair.rows = train_rows
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stemdlf-train-", dir=output.parent) as tmp:
        summary = train_model([pair], [val], settings, output, Path(tmp) / "history.csv", Path(tmp) / "checkpoint",
                              log=log, initial_weights=initial, progress=progress)
    add_to_model_card(output, {
        "variant": "DLF-Self", "target": "self", "reads_slow_scans": False, "trained_on": series.name,
        "frames": n, "pixel_size_nm": pixel_size_nm(series), "initialised_from": options.start_from,
        "geometry": geometry, "detector_response": response.to_dict(), "calibration": [calibration.to_dict()],
        "registration": "the series' own frames (each registered once to a running template)",
        "normalisation": {"method": "min-max of each stack (stemdlf denoise --normalise)",
                          "low_percentile": float(norm.get("low_percentile", 0.0)),
                          "high_percentile": float(norm.get("high_percentile", 100.0))}})
    return {**summary, "detector_response": response.to_dict(), "response_fit": fit}
