"""Min-max normalisation to the 16-bit range.

The paper normalises so before distortion correction and training ("the minimum and the maximum
intensity equal to 0 and 65535").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["FULL_SCALE", "INPUT_SCALINGS", "MinMax", "fit_minmax", "apply_minmax", "minmax_normalise",
           "mean_frame_scaling",
           "scale_frames"]

#: MAX_I of the paper's Eq. 1 and the top of every normalised image.
FULL_SCALE = 65535.0


@dataclass(frozen=True)
class MinMax:
    """An affine map ``(x - low) / (high - low) * 65535``, clipped to 0..65535.

    Kept beside every normalised image, so the same transform can be applied to
    other data (e.g. the noise-free ground truth of a slow scan).
    """

    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        """``{'low': ..., 'high': ...}``."""
        return asdict(self)


def fit_minmax(image: np.ndarray, low_percentile: float = 0.0, high_percentile: float = 100.0) -> MinMax:
    """Fit the min-max transform of an image or stack.

    Parameters
    ----------
    image : numpy.ndarray
        Any shape; the statistics are taken over all pixels.
    low_percentile, high_percentile : float
        0 and 100 give the paper's true min-max; e.g. 0.1 and 99.9 make it robust
        to single hot or dead pixels.

    Returns
    -------
    MinMax

    Raises
    ------
    ValueError
        If the image is constant (nothing to normalise).
    """
    if not 0.0 <= low_percentile < high_percentile <= 100.0:
        raise ValueError("need 0 <= low_percentile < high_percentile <= 100")
    data = np.asarray(image, dtype=np.float64)
    if low_percentile == 0.0 and high_percentile == 100.0:
        low, high = float(data.min()), float(data.max())
    else:
        low, high = (float(v) for v in np.percentile(data, [low_percentile, high_percentile]))
    if not high > low:
        raise ValueError(f"image is constant ({low}); cannot min-max normalise it")
    return MinMax(low, high)


def apply_minmax(image: np.ndarray, transform: MinMax, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """Apply a :class:`MinMax` transform; integer dtypes are rounded."""
    scaled = (np.asarray(image, dtype=np.float64) - transform.low) * (FULL_SCALE / (transform.high - transform.low))
    np.clip(scaled, 0.0, FULL_SCALE, out=scaled)
    if np.issubdtype(np.dtype(dtype), np.integer):
        scaled = np.rint(scaled)
    return scaled.astype(dtype)


def minmax_normalise(
    image: np.ndarray,
    low_percentile: float = 0.0,
    high_percentile: float = 100.0,
    dtype: np.dtype | type = np.float32,
) -> tuple[np.ndarray, MinMax]:
    """Fit and apply the min-max transform in one go.

    Returns
    -------
    normalised : numpy.ndarray
        On the 0..65535 scale, in ``dtype``.
    transform : MinMax
    """
    transform = fit_minmax(image, low_percentile, high_percentile)
    return apply_minmax(image, transform, dtype), transform


#: How a filter's input frames are scaled before the model (a training setting, kept in the model card).
#: ``none``: as they are (the paper: the stack's min-max normalisation only); ``mean_frame``: each
#: FOV's frames are mapped so that the min and max of their mean frame become 0 and 65535.
INPUT_SCALINGS = ("none", "mean_frame")


def mean_frame_scaling(frames) -> MinMax:
    """The input scaling of a FOV: the min and max of the mean of its frames.

    A rapid stack's min-max normalisation is set by its noisiest pixels: at 1/50 of the slow
    scan's dose, the darkest and brightest single-frame pixels are noise, and where the
    specimen's levels land in 0..65535 then varies from FOV to FOV (an offset of 5-30% of
    full scale on the default data) in a way no patch reveals. The mean frame's range is
    set by the specimen, as the slow scan's is, so a filter's input and target agree in
    scale up to the detectors' transfer, which the filter learns.

    Parameters
    ----------
    frames : array-like
        ``(n, H, W)`` aligned frames of one FOV (a memory map is read in chunks of 64 frames).

    Returns
    -------
    MinMax
        The transform to apply with :func:`scale_frames`.
    """
    n = len(frames)
    if not n:
        raise ValueError("no frames to compute the input scaling from")
    total = sum(np.asarray(frames[i:i + 64], np.float64).sum(axis=0) for i in range(0, n, 64))
    return fit_minmax(total / n)


def scale_frames(frames: np.ndarray, transform: MinMax) -> np.ndarray:
    """Apply an input scaling without clipping (single noisy pixels may fall outside 0..65535)."""
    return ((np.asarray(frames, np.float32) - np.float32(transform.low))
            * np.float32(FULL_SCALE / (transform.high - transform.low)))
