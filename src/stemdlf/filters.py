"""Image filters shared by registration steps."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["bandpass"]


def bandpass(image: np.ndarray, smoothing_px: float = 1.0, highpass_px: float = 8.0) -> np.ndarray:
    """Gaussian band-pass: smoothing against shot noise minus a wide Gaussian background.

    Keeps dislocation-sized features and drops bend contours, thickness gradients and the
    background level, which differ between frames and between rapid and slow scans.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image.
    smoothing_px : float
        Sigma of the smoothing (px); 0: none.
    highpass_px : float
        Sigma of the subtracted background (px); 0: none.

    Returns
    -------
    numpy.ndarray
        float64 filtered image.
    """
    image = np.asarray(image, np.float64)
    out = ndimage.gaussian_filter(image, smoothing_px) if smoothing_px > 0 else image
    return out - ndimage.gaussian_filter(image, highpass_px) if highpass_px > 0 else out
