"""Min-max normalisation to the 16-bit range, as the paper does before distortion
correction and training ("the minimum and the maximum intensity equal to 0 and 65535").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["FULL_SCALE", "MinMax", "fit_minmax", "apply_minmax", "minmax_normalise"]

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
