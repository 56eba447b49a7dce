"""Image filters shared by registration steps."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft

__all__ = ["bandpass", "bandpass_transfer", "parabolic_offset"]


def _gaussian_transfer(sigma: float, n: int) -> np.ndarray:
    """FFT (length ``n``) of :func:`scipy.ndimage.gaussian_filter`'s 1-D kernel, centred at index 0."""
    radius = int(4.0 * sigma + 0.5)  # gaussian_filter's truncate=4
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    line = np.zeros(n)
    line[x % n] += kernel / kernel.sum()
    return np.fft.fft(line)


def bandpass(image: np.ndarray, smoothing_px: float = 1.0, highpass_px: float = 8.0,
             dtype: type = np.float64) -> np.ndarray:
    """Gaussian band-pass: smoothing against shot noise minus a wide Gaussian background.

    Keeps dislocation-sized features and drops bend contours, thickness gradients and the
    background level, which differ between frames and between rapid and slow scans.

    Equal to ``gaussian_filter(image, smoothing_px) - gaussian_filter(image, highpass_px)``
    (:func:`scipy.ndimage.gaussian_filter`, ``mode="reflect"``), computed as one product in
    Fourier space on the image padded by the wide kernel's radius: 3-4x faster on 512x512
    frames, which DCFI band-passes twice per frame.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image.
    smoothing_px : float
        Sigma of the smoothing (px); 0: none.
    highpass_px : float
        Sigma of the subtracted background (px); 0: none.
    dtype : type
        float64 (default) or float32 (half the time, for registration that needs no more).

    Returns
    -------
    numpy.ndarray
        The filtered image, of ``dtype``.
    """
    image = np.asarray(image, dtype)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {image.shape}")
    if smoothing_px <= 0 and highpass_px <= 0:
        return image.copy()
    pad = max(int(4.0 * s + 0.5) for s in (smoothing_px, highpass_px) if s > 0)
    padded = np.pad(image, pad, mode="symmetric")  # ndimage's "reflect"
    h, w = padded.shape
    transfer = bandpass_transfer(smoothing_px, highpass_px, h, w, np.dtype(dtype).name)
    out = scipy.fft.irfft2(scipy.fft.rfft2(padded) * transfer, s=(h, w))
    return out[pad:pad + image.shape[0], pad:pad + image.shape[1]]


@lru_cache(maxsize=16)
def bandpass_transfer(smoothing_px: float, highpass_px: float, h: int, w: int, dtype: str = "float64") -> np.ndarray:
    """The band-pass of :func:`bandpass` in Fourier space, in the ``rfft2`` layout of an ``(h, w)`` image.

    Real values held as complex (complex64 for ``dtype`` float32), read-only, computed once per
    shape. Multiplying an image's ``rfft2`` by it is the band-pass with periodic edges.
    """
    transfer = np.ones((h, w // 2 + 1)) if smoothing_px <= 0 else np.outer(
        _gaussian_transfer(smoothing_px, h), _gaussian_transfer(smoothing_px, w)[: w // 2 + 1])
    if highpass_px > 0:
        transfer = transfer - np.outer(_gaussian_transfer(highpass_px, h),
                                       _gaussian_transfer(highpass_px, w)[: w // 2 + 1])
    transfer = transfer.astype(np.result_type(dtype, np.complex64))  # complex64 for float32 images
    transfer.setflags(write=False)  # shared between calls
    return transfer


def parabolic_offset(left, centre, right):
    """Sub-sample offset of a peak from the parabola through three samples around it.

    ``0.5 (left - right) / (left - 2 centre + right)`` where the curvature is negative (a
    maximum), else 0; within -0.5..0.5 when ``centre`` is the largest of the three. Works on
    scalars and arrays alike.
    """
    left, centre, right = (np.asarray(v, np.float64) for v in (left, centre, right))
    den = left - 2 * centre + right
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(den < 0, 0.5 * (left - right) / np.where(den < 0, den, -1.0), 0.0)
    return offset if offset.ndim else float(offset)
