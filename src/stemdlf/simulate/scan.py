"""Scan geometry: where each pixel of the rapid and slow scans lands on the specimen.

Positions are in slow-scan pixel coordinates: slow pixel (r, c) images the
specimen point (r, c). The rapid scan is distorted horizontally by scan-coil
hysteresis (:class:`~stemdlf.simulate.params.ScanDistortionParams`), offset
vertically, jittered line by line and drifts from frame to frame.
"""

from __future__ import annotations

import numpy as np

from stemdlf.simulate.params import ScanDistortionParams

__all__ = ["rapid_columns", "true_distortion_profile", "mean_rapid_pitch", "sample_drift"]


def rapid_columns(width: int, dwell_us: float, flyback_us: float, distortion: ScanDistortionParams) -> np.ndarray:
    """Specimen x (slow-scan px) imaged by each rapid-scan column, without jitter or drift.

    ``x_i = c + (1 + broadening) * i - a * exp(-(flyback + i * dwell) / tau)``, with
    ``c`` chosen so the rapid line is centred on the slow line.

    Parameters
    ----------
    width : int
        Pixels per line (the same for both scans).
    dwell_us, flyback_us : float
        Rapid-scan dwell and flyback times (us).
    distortion : ScanDistortionParams

    Returns
    -------
    numpy.ndarray
        (width,) strictly increasing positions.
    """
    i = np.arange(width, dtype=np.float64)
    t = flyback_us + i * dwell_us
    lag = distortion.hysteresis_amplitude_px * np.exp(-t / distortion.hysteresis_time_constant_us)
    x = (1.0 + distortion.fov_broadening) * i - lag
    return x - x.mean() + (width - 1) / 2.0


def true_distortion_profile(columns: np.ndarray, width: int, offset_x: float = 0.0) -> np.ndarray:
    """The fractional rapid column imaging each slow-scan column (NaN where not imaged).

    Parameters
    ----------
    columns : numpy.ndarray
        Output of :func:`rapid_columns` (specimen x of each rapid column).
    width : int
        Slow-scan width.
    offset_x : float
        Stage offset of the slow scan (slow column c images specimen x = c + offset_x).

    Returns
    -------
    numpy.ndarray
        (width,) ``rapid_x`` for ``slow_x = 0 .. width - 1``.
    """
    if np.any(np.diff(columns) <= 0):
        raise ValueError("rapid-scan positions are not strictly increasing: hysteresis too strong")
    slow_x = np.arange(width, dtype=np.float64) + offset_x
    rapid_x = np.interp(slow_x, columns, np.arange(len(columns), dtype=np.float64), left=np.nan, right=np.nan)
    return rapid_x


def mean_rapid_pitch(columns: np.ndarray) -> float:
    """Specimen px per rapid px, averaged over the line (converts drift to rapid-frame px)."""
    return float(np.mean(np.diff(columns)))


def sample_drift(n_frames: int, velocity_px: tuple[float, float], step_px: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Specimen drift per frame: constant velocity plus a random walk, zero at frame 0.

    Returns
    -------
    numpy.ndarray
        (n_frames, 2) (dy, dx) displacement of the specimen, slow-scan px.
    """
    steps = rng.normal(0.0, step_px, size=(n_frames, 2)) + np.asarray(velocity_px, dtype=np.float64)
    steps[0] = 0.0
    return np.cumsum(steps, axis=0)
