"""Training pairs from rapid frames alone: Noise2Noise across the frames of a FOV (DLF-Self).

Two aligned rapid frames of one FOV share their signal but not their noise, so a network
trained to predict one frame from the others learns the signal (Lehtinen et al. 2018,
Noise2Noise): the expected target is the noise-free frame, whatever the noise. A target frame is
the rapid frame with the detector's response undone (:func:`stemdlf.preprocess.response.undo_response`,
the response estimated from the frames' own noise), so the network learns the signal before the
detector blurred it. Both steps are linear, which keeps the target's expectation exact.

Two things a rapid frame cannot tell are taken from a reference image when one is given: the
intensity scale (the slow scan's detector chain differs from the rapid scan's) and where the
undelayed features lie along x. The reference is the filter the training starts from (the
shipped ``pretrained:DLF-5F``) applied to the same frames: the mean of the targets is fitted to it
by one gain, one offset and one shift along x. No slow scan is read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stemdlf.errors import DataError
from stemdlf.io.tiff import open_stack
from stemdlf.nn.patches import TrainingPair, split_validation_fovs, split_validation_rows
from stemdlf.preprocess.normalise import INPUT_SCALINGS, mean_frame_scaling
from stemdlf.preprocess.response import DetectorResponse, undo_response

__all__ = ["Calibration", "fit_calibration", "noise2noise_targets", "self_supervised_pair", "self_supervised_pairs"]


class Calibration:
    """Gain, offset and shift along x that put a FOV's targets on the reference's scale and grid.

    ``target = (deblurred(shifted by shift_px) - offset) / gain``.
    """

    def __init__(self, gain: float = 1.0, offset: float = 0.0, shift_px: float = 0.0) -> None:
        if not gain > 0:
            raise ValueError(f"the target's gain must be positive, got {gain}")
        self.gain, self.offset, self.shift_px = float(gain), float(offset), float(shift_px)

    def to_dict(self) -> dict[str, float]:
        """The three numbers."""
        return {"gain": self.gain, "offset": self.offset, "shift_px": self.shift_px}


def _shift_x(frames: np.ndarray, shift_px: float) -> np.ndarray:
    """Move content by ``shift_px`` along +x (Fourier shift of each row; linear, so the noise stays zero-mean)."""
    if shift_px == 0:
        return frames
    w = frames.shape[-1]
    phase = np.exp(-2j * np.pi * np.fft.rfftfreq(w) * shift_px)
    return np.fft.irfft(np.fft.rfft(frames, axis=-1) * phase, n=w, axis=-1).astype(np.float32)


def fit_calibration(deblurred_mean: np.ndarray, reference: np.ndarray) -> Calibration:
    """Fit ``deblurred_mean`` (shifted) ``= gain * reference + offset``; the shift by phase correlation.

    The reference is nearly noise-free and the mean of the deblurred frames is noisy, so the
    mean is regressed on the reference (its noise does not bias the fit).
    """
    from skimage.registration import phase_cross_correlation

    ref = np.asarray(reference, np.float64)
    mean = np.asarray(deblurred_mean, np.float64)
    shift, _, _ = phase_cross_correlation(ref - ref.mean(), mean - mean.mean(), upsample_factor=50,
                                          normalization=None)
    shift_px = float(shift[1])  # rows: the frames and the reference share the grid
    moved = _shift_x(mean, shift_px)
    margin = int(np.ceil(abs(shift_px))) + 2
    x, y = ref[:, margin:-margin].ravel(), moved[:, margin:-margin].ravel()
    gain, offset = np.polyfit(x, y, 1)
    return Calibration(gain, offset, shift_px)


def noise2noise_targets(rapid: np.ndarray, response: DetectorResponse | None,
                        calibration: Calibration | None = None) -> np.ndarray:
    """Each frame with the detector response undone, then moved and scaled by the calibration.

    Parameters
    ----------
    rapid : numpy.ndarray
        ``(frames, H, W)`` aligned rapid frames, 0..65535 scale.
    response : DetectorResponse or None
        The response to undo (None: the frames as they are).
    calibration : Calibration, optional

    Returns
    -------
    numpy.ndarray
        ``(frames, H, W)`` float32 targets.
    """
    targets = np.asarray(rapid, np.float32) if response is None else undo_response(rapid, response)
    if calibration is not None:
        targets = (_shift_x(targets, calibration.shift_px) - calibration.offset) / calibration.gain
    return targets.astype(np.float32)


def self_supervised_pair(name: str, stack: np.ndarray, response: DetectorResponse | None,
                         reference: np.ndarray | None = None, input_scaling: str = "none"
                         ) -> tuple[TrainingPair, Calibration | None]:
    """One FOV's Noise2Noise pair: its aligned frames, and as targets the same frames deblurred and calibrated.

    Parameters
    ----------
    name : str
        FOV id.
    stack : numpy.ndarray
        ``(frames >= 2, H, W)`` aligned rapid frames, 0..65535 scale.
    response : DetectorResponse or None
        The detector response to undo in the targets.
    reference : numpy.ndarray, optional
        The image the targets are calibrated to (:func:`fit_calibration`).
    input_scaling : str
        As for :func:`stemdlf.nn.patches.training_pairs`.

    Returns
    -------
    (pair, calibration) : TrainingPair (all rows) and its Calibration (None without a reference)
    """
    targets = noise2noise_targets(stack, response)
    calibration = None
    if reference is not None:
        calibration = fit_calibration(targets.mean(axis=0), reference)
        targets = noise2noise_targets(stack, response, calibration)
    pair = TrainingPair(name, stack, targets, (0, stack.shape[1]))
    if input_scaling == "mean_frame":
        pair.scaling = mean_frame_scaling(stack)
    return pair, calibration


def self_supervised_pairs(rapid: list[str | Path], fovs: list[str], response: DetectorResponse | None,
                          validation_fraction: float, patch_size: int, seed: int, input_scaling: str = "none",
                          references: list[np.ndarray] | None = None, frames: int | None = None,
                          log=lambda message: None) -> tuple[list[TrainingPair], list[TrainingPair], list[dict]]:
    """Training and validation pairs whose targets are the FOVs' own rapid frames (Noise2Noise).

    As :func:`stemdlf.nn.patches.training_pairs`, but a pair's ``target`` is a stack: the target of
    frame ``k`` is frame ``k`` with the response undone, and its input is the other frames
    (:func:`stemdlf.nn.patches.other_frames`), so :func:`stemdlf.nn.patches.sample_patches` never shows a network the
    frame it must predict.

    Parameters
    ----------
    rapid : list of path
        Each FOV's aligned rapid frames (TIFF), in the order of ``fovs``.
    fovs : list of str
    response : DetectorResponse or None
        The detector response to undo in the targets.
    validation_fraction, patch_size, seed, input_scaling
        As for :func:`stemdlf.nn.patches.training_pairs`.
    references : list of numpy.ndarray, optional
        Per FOV, the image the targets are calibrated to (:func:`fit_calibration`).
    frames : int, optional
        The first N frames of each FOV.
    log : callable
        Receives one line per FOV.

    Returns
    -------
    (train, validation, calibrations) : lists of TrainingPair, and each FOV's calibration as a dict
    """
    if input_scaling not in INPUT_SCALINGS:
        raise ValueError(f"input_scaling must be one of {INPUT_SCALINGS}, got {input_scaling!r}")
    if len(rapid) != len(fovs) or not fovs or (references is not None and len(references) != len(fovs)):
        raise ValueError(f"need one rapid file (and reference) per FOV, got {len(rapid)} for {len(fovs)} FOVs")
    pairs, calibrations = {}, []
    for k, (fov, path) in enumerate(zip(fovs, rapid)):
        stack = open_stack(Path(path))
        if frames is not None:
            stack = stack[:frames]
        if len(stack) < 2:
            raise DataError(path, f"has {len(stack)} frame; learning from the rapid frames alone needs at least 2")
        pair, calibration = self_supervised_pair(fov, stack, response, None if references is None else references[k],
                                                 input_scaling)
        if calibration is not None:
            calibrations.append({"fov": fov, **calibration.to_dict()})
            log(f"{fov}: targets = (deblurred - {calibration.offset:.0f}) / {calibration.gain:.3f}, "
                f"moved {calibration.shift_px:+.2f} px along x")
        pairs[fov] = pair
    if len(fovs) == 1:
        pair = pairs[fovs[0]]
        try:
            train_rows, val_rows = split_validation_rows(pair.rapid.shape[1], validation_fraction, patch_size)
        except ValueError as err:
            raise DataError(rapid[0], str(err)) from err
        val = TrainingPair(pair.name, pair.rapid, pair.target, val_rows, pair.scaling)
        pair.rows = train_rows
        return [pair], [val], calibrations
    train, val = split_validation_fovs(fovs, validation_fraction, seed)
    return [pairs[f] for f in train], [pairs[f] for f in val], calibrations
