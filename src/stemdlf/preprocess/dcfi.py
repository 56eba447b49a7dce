"""Drift-corrected frame integration (DCFI).

Each rapid-scan frame is registered to a template by cross-correlation with
sub-pixel refinement (:func:`correlation_shift`, the computation of
:func:`skimage.registration.phase_cross_correlation`),
shifted onto it, and the shifted frames are averaged. This is what microscope
software (Velox) produces as "DCFI": it removes the statistical noise of single
frames but keeps the detector's scan-direction blur.

Registration of single rapid frames is shot-noise limited, so:

- frames are band-passed (Gaussian smoothing against shot noise, minus a wide
  Gaussian against bend contours and thickness gradients) and Tukey-windowed,
  which removes the bias of FFT correlation towards zero shift;
- the template is the mean of all frames, refined after each alignment pass;
- specimen drift is smooth in time, so the shift track is smoothed with a
  Savitzky-Golay filter over ``temporal_window`` frames (0: off).

Measured on simulated 256x256 FOVs (16-40 frames, default dose): RMS error of
the shifts against the true drift 0.06-0.10 px, worst FOV 0.17 px.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy.signal import savgol_filter
from skimage.filters import window

from stemdlf.config.settings import SchemaChecked, setting
from stemdlf.preprocess.filters import bandpass
from stemdlf.preprocess.resample import resample_separable
from stemdlf.runtime.parallel import map_slices

__all__ = ["DriftOptions", "register_to_template", "estimate_drift", "dcfi_chunked", "shift_frames", "dcfi"]


@dataclass(frozen=True)
class DriftOptions(SchemaChecked):
    """How frames are registered (the workflow config's ``dcfi:`` section, checked against its schema)."""

    reference_frame: int = setting(0, minimum=0)
    """Frame whose position the DCFI and the shifts are expressed in."""
    upsample_factor: int = setting(20, minimum=1)
    """Sub-pixel precision of the correlation peak, 1/upsample_factor px."""
    smoothing_px: float = setting(1.0, minimum=0)
    """Gaussian sigma against shot noise before correlation (px, 0: off)."""
    highpass_px: float = setting(8.0, minimum=0)
    """Gaussian sigma of the subtracted background, against bend contours (px, 0: off)."""
    tukey_alpha: float = setting(0.3, minimum=0, maximum=1)
    """Taper fraction of the Tukey window applied before the FFT (0: no window)."""
    iterations: int = setting(2, minimum=1)
    """Template refinement passes."""
    temporal_window: int = setting(9, minimum=0)
    """Savitzky-Golay window (frames) smoothing the shift track; 0 or 1: off."""


def _prepare(frame: np.ndarray, options: DriftOptions, win: np.ndarray | float) -> np.ndarray:
    """Band-pass, zero-mean and window one image for correlation."""
    f = bandpass(frame, options.smoothing_px, options.highpass_px)
    return (f - f.mean()) * win


def _window(shape: tuple[int, int], options: DriftOptions) -> np.ndarray | float:
    return window(("tukey", options.tukey_alpha), shape) if options.tukey_alpha > 0 else 1.0


def correlation_shift(reference_freq: np.ndarray, moving_freq: np.ndarray, upsample_factor: int) -> np.ndarray:
    """The shift that registers an image onto a reference, from their 2-D spectra.

    The same computation as :func:`skimage.registration.phase_cross_correlation` (``space="fourier"``,
    ``normalization=None``): the peak of the cross-correlation, refined to ``1 / upsample_factor``
    px by a matrix-product DFT of the region around it (Guizar-Sicairos et al., 2008); without its
    error and phase estimates, which registration does not use (a third of its time).

    Parameters
    ----------
    reference_freq, moving_freq : numpy.ndarray
        ``fft2`` of the reference and the moving image.
    upsample_factor : int
        Sub-pixel precision, ``1 / upsample_factor`` px.

    Returns
    -------
    numpy.ndarray
        ``(dy, dx)`` that moves the moving image onto the reference.
    """
    product = reference_freq * moving_freq.conj()
    correlation = scipy.fft.ifft2(product)
    shape = np.array(product.shape)
    shift = np.array(np.unravel_index(np.argmax(np.abs(correlation)), correlation.shape), np.float64)
    shift[shift > np.trunc(shape / 2)] -= shape[shift > np.trunc(shape / 2)]
    if upsample_factor <= 1:
        return shift
    shift = np.round(shift * upsample_factor) / upsample_factor
    region = np.ceil(upsample_factor * 1.5)
    centre = np.trunc(region / 2.0)
    offsets = centre - shift * upsample_factor
    # the DFT of the conjugate product, upsampled around the peak, one axis at a time
    data = product.conj()
    for n, offset in zip(product.shape[::-1], offsets[::-1]):
        kernel = np.exp(-2j * np.pi * (np.arange(region) - offset)[:, None] * scipy.fft.fftfreq(n, upsample_factor))
        data = np.tensordot(kernel.astype(data.dtype, copy=False), data, axes=(1, -1))
    peak = np.array(np.unravel_index(np.argmax(np.abs(data)), data.shape), np.float64)
    return shift + (peak - centre) / upsample_factor


def register_to_template(template: np.ndarray, frames: np.ndarray,
                         options: DriftOptions = DriftOptions(), workers: int = 1) -> np.ndarray:
    """Shifts that register each frame onto a template.

    Parameters
    ----------
    template : numpy.ndarray
        (H, W) image in the same intensity units as the frames (not yet band-passed).
    frames : numpy.ndarray
        (frames, H, W) stack.
    options : DriftOptions
    workers : int
        Frames registered at once, in threads (the FFTs release the GIL); the shifts do not
        depend on it.

    Returns
    -------
    numpy.ndarray
        (frames, 2) (dy, dx) shifts that move each frame onto the template.
    """
    win = _window(template.shape, options)
    ref = scipy.fft.fft2(_prepare(template, options, win))  # once, not once per frame

    def register(frame: np.ndarray) -> np.ndarray:
        return correlation_shift(ref, scipy.fft.fft2(_prepare(frame, options, win)), options.upsample_factor)

    if workers <= 1 or len(frames) < 2:
        return np.array([register(frame) for frame in frames], np.float64).reshape(len(frames), 2)
    with ThreadPoolExecutor(workers) as pool:
        return np.array(list(pool.map(register, frames)), np.float64).reshape(len(frames), 2)


def _smooth_track(shifts: np.ndarray, window_frames: int) -> np.ndarray:
    """Savitzky-Golay (order 2) smoothing of the shift track over time."""
    n = len(shifts)
    w = min(window_frames, n if n % 2 else n - 1)
    if w < 5:  # too few frames for a quadratic fit to smooth anything
        return shifts
    return savgol_filter(shifts, w, 2, axis=0)


def dcfi_chunked(
    chunks: Callable[[], Iterator[np.ndarray]],
    options: DriftOptions = DriftOptions(),
    integrate: bool = True,
    workers: int = 1,
) -> tuple[np.ndarray | None, np.ndarray]:
    """DCFI of a stack read in chunks, in memory bounded by one chunk.

    Parameters
    ----------
    chunks : callable
        Returns a fresh iterator over consecutive (n, H, W) chunks of the stack
        each time it is called; the stack is read ``2 * iterations + 1`` times.
    options : DriftOptions
    integrate : bool
        Whether to compute the integrated image (else only the shifts).
    workers : int
        Frames registered and shifted at once (threads, :func:`register_to_template`,
        :func:`stemdlf.runtime.parallel.map_slices`); the result does not depend on it.

    Returns
    -------
    image : numpy.ndarray or None
        float32 (H, W) mean of the registered frames, in the input's units.
    shifts : numpy.ndarray
        (frames, 2) (dy, dx) shifts relative to ``options.reference_frame``.
    """

    def mean_of_shifted(shifts: np.ndarray | None) -> np.ndarray:
        total, count = None, 0
        for chunk in chunks():
            n = len(chunk)
            part = np.zeros((n, 2)) if shifts is None else shifts[count:count + n]
            shifted = map_slices(lambda frames, k: shift_frames(frames, part[k:k + len(frames)]), chunk, workers)
            summed = shifted.sum(axis=0, dtype=np.float64)
            total = summed if total is None else total + summed
            count += n
        if count == 0:
            raise ValueError("the stack has no frames")
        return total / count

    shifts: np.ndarray | None = None
    for _ in range(max(1, options.iterations)):
        template = mean_of_shifted(shifts)
        shifts = np.concatenate([register_to_template(template, chunk, options, workers) for chunk in chunks()])
        if options.temporal_window > 1:
            shifts = _smooth_track(shifts, options.temporal_window)
    if not 0 <= options.reference_frame < len(shifts):
        raise ValueError(f"reference_frame {options.reference_frame} is outside 0..{len(shifts) - 1}")
    shifts = shifts - shifts[options.reference_frame]
    if not integrate:
        return None, shifts
    return mean_of_shifted(shifts).astype(np.float32), shifts


def estimate_drift(frames: np.ndarray, options: DriftOptions = DriftOptions()) -> np.ndarray:
    """Per-frame shifts that register each frame of an in-memory stack onto the reference frame.

    Parameters
    ----------
    frames : numpy.ndarray
        (frames, H, W) stack.
    options : DriftOptions

    Returns
    -------
    numpy.ndarray
        (frames, 2) (dy, dx) in px: shifting frame k by ``shifts[k]``
        (:func:`shift_frames`) aligns it with the reference frame.
    """
    frames = np.asarray(frames)
    if frames.ndim != 3:
        raise ValueError(f"frames must be (frames, H, W), got shape {frames.shape}")
    return dcfi_chunked(lambda: iter([frames]), options, integrate=False)[1]


def shift_frames(frames: np.ndarray, shifts: np.ndarray, order: int = 3, workers: int = 1) -> np.ndarray:
    """Shift each frame by its (dy, dx) with spline interpolation (edges: nearest).

    Equal to :func:`scipy.ndimage.shift` per frame (``mode="nearest"``), computed as two
    matrix products per frame (:func:`stemdlf.preprocess.resample.resample_separable`).

    Parameters
    ----------
    frames : numpy.ndarray
        (frames, H, W).
    shifts : numpy.ndarray
        (frames, 2) shifts in px.
    order : int
        Spline order, 3 or 1.
    workers : int
        Threads that share each frame's matrix products (for a frame at a time; see
        :func:`~stemdlf.preprocess.resample.resample_separable`).

    Returns
    -------
    numpy.ndarray
        float32 stack of the shifted frames.
    """
    frames = np.asarray(frames)
    shifts = np.asarray(shifts, np.float64)
    n, h, w = frames.shape
    out = np.empty(frames.shape, dtype=np.float32)
    moved = np.flatnonzero(~np.all(np.isclose(shifts, 0.0), axis=1))
    still = np.setdiff1d(np.arange(n), moved)
    out[still] = frames[still]
    if len(moved):
        out[moved] = resample_separable(frames[moved], np.arange(h), np.arange(w), shifts[moved], order, workers)
    return out


def dcfi(frames: np.ndarray, options: DriftOptions = DriftOptions()) -> tuple[np.ndarray, np.ndarray]:
    """Drift-corrected frame integration of an in-memory stack.

    Parameters
    ----------
    frames : numpy.ndarray
        (frames, H, W) rapid-scan stack.
    options : DriftOptions

    Returns
    -------
    image : numpy.ndarray
        float32 (H, W) mean of the registered frames, in the input's units.
    shifts : numpy.ndarray
        (frames, 2) shifts used.
    """
    frames = np.asarray(frames)
    if frames.ndim != 3:
        raise ValueError(f"frames must be (frames, H, W), got shape {frames.shape}")
    image, shifts = dcfi_chunked(lambda: iter([frames]), options)
    return image, shifts
