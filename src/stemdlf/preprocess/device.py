"""The preparation of a chunk of frames on the Keras backend's device (``keras.ops``).

On a GPU the network filters a frame in a few milliseconds, and the work around it on the CPU
(normalisation, registration, resampling) would hold it back. This module does that work with
``keras.ops``, so it runs wherever the backend runs (a GPU under JAX or PyTorch, the CPU under any
backend), batched over the frames of a chunk, and equals the CPU functions to float32 precision
(tested on the CPU):

- :class:`DevicePreparation`: the min-max normalisation (:func:`~stemdlf.preprocess.normalise.apply_minmax`)
  and the separable spline resampling of the alignment shift and the distortion correction
  (:func:`~stemdlf.preprocess.resample.resample_separable`, two batched matrix products; the
  matrices are built on the host, a few hundred kB per frame);
- :class:`DeviceRegistration`: the shifts of a chunk's frames onto a template, as
  :class:`~stemdlf.preprocess.series.TemplateRegistration` computes them (band-pass, window,
  FFT, the correlation's integer peak, then the peak refined by a matrix-product DFT).

Results come back to the host as numpy arrays: a frame is a megabyte, a few tens of microseconds
over PCIe, far below what computing it on the host costs.
"""

from __future__ import annotations

import numpy as np

from stemdlf.preprocess.dcfi import DriftOptions, _window
from stemdlf.preprocess.filters import bandpass_transfer
from stemdlf.preprocess.normalise import FULL_SCALE, MinMax
from stemdlf.preprocess.resample import spline_matrix

__all__ = ["DevicePreparation", "DeviceRegistration"]


def _complex_matmul(a, b):
    """(ar + i ai) @ (br + i bi) for complex matrices held as (real, imaginary) pairs of tensors."""
    from keras import ops

    (ar, ai), (br, bi) = a, b
    return ops.matmul(ar, br) - ops.matmul(ai, bi), ops.matmul(ar, bi) + ops.matmul(ai, br)


class DevicePreparation:
    """Normalise, align and resample a chunk of rapid frames on the device.

    Parameters
    ----------
    frame_shape : tuple of int
        ``(H, W)`` of the raw frames.
    transform : MinMax, optional
        The stack's min-max normalisation (none: the frames as they are).
    distortion : Distortion, optional
        Resample into slow-scan geometry, cropped to its ``slow_roi``; else only the shifts apply.
    order : int
        Spline order, 3 or 1.
    """

    def __init__(self, frame_shape: tuple[int, int], transform: MinMax | None = None, distortion=None,
                 order: int = 3) -> None:
        self.h, self.w = int(frame_shape[0]), int(frame_shape[1])
        self.transform, self.order = transform, order
        if distortion is not None:
            r0, r1, c0, c1 = distortion.slow_roi
            self.rows = np.arange(r0, r1, dtype=np.float64) + distortion.row_offset
            self.cols = np.asarray(distortion.rapid_x[c0:c1], np.float64)
        else:
            self.rows, self.cols = np.arange(self.h, dtype=np.float64), np.arange(self.w, dtype=np.float64)

    def __call__(self, frames: np.ndarray, shifts: np.ndarray | None = None) -> np.ndarray:
        """``(n, R, C)`` float32: the frames normalised, shifted by ``shifts`` (n, 2) and resampled."""
        from keras import ops

        frames = np.asarray(frames)
        n = len(frames)
        x = ops.convert_to_tensor(frames.astype(np.float32, copy=False))
        if self.transform is not None:
            low, high = self.transform.low, self.transform.high
            x = ops.clip((x - np.float32(low)) * np.float32(FULL_SCALE / (high - low)), 0.0, FULL_SCALE)
        shifts = np.zeros((n, 2)) if shifts is None else np.asarray(shifts, np.float64)
        a_rows = np.stack([spline_matrix(self.rows - dy, self.h, self.order) for dy in shifts[:, 0]])
        a_cols_t = np.stack([spline_matrix(self.cols - dx, self.w, self.order).T for dx in shifts[:, 1]])
        out = ops.matmul(ops.convert_to_tensor(a_rows), ops.matmul(x, ops.convert_to_tensor(a_cols_t)))
        return np.asarray(ops.convert_to_numpy(out), np.float32)


class DeviceRegistration:
    """The shifts of a chunk of frames onto a template, on the device.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)`` of the frames.
    options : DriftOptions
        Band-pass, window and sub-pixel precision, as for DCFI.
    """

    def __init__(self, shape: tuple[int, int], options: DriftOptions = DriftOptions()) -> None:
        from keras import ops

        self.shape, self.options = (int(shape[0]), int(shape[1])), options
        h, w = self.shape
        if options.smoothing_px > 0 or options.highpass_px > 0:
            # the host's band-pass transfer function (rfft2 layout), completed to the full spectrum
            half = bandpass_transfer(options.smoothing_px, options.highpass_px, h, w, "float32").real
            full = np.concatenate([half, half[:, 1:(w + 1) // 2][:, ::-1]], axis=1)
            self.transfer = ops.convert_to_tensor(full.astype(np.float32))
        else:
            self.transfer = None
        self.window = ops.convert_to_tensor(np.broadcast_to(np.float32(_window(self.shape, options)), self.shape))
        self.fy = np.fft.fftfreq(h)
        self.fx = np.fft.fftfreq(w)

    def spectra(self, frames: np.ndarray):
        """The windowed, band-passed frames' spectra, ``(real, imaginary)`` tensors of ``(n, H, W)``."""
        from keras import ops

        x = ops.convert_to_tensor(np.asarray(frames, np.float32))
        x = (x - ops.mean(x, axis=(1, 2), keepdims=True)) * self.window
        re, im = ops.fft2((x, ops.zeros_like(x)))
        if self.transfer is None:
            return re, im
        return re * self.transfer, im * self.transfer

    def _phase(self, shifts: np.ndarray):
        """The phase ramps that move spectra by ``shifts`` (n, 2), as (real, imaginary) ``(n, H, W)``."""
        from keras import ops

        shifts = np.asarray(shifts, np.float32)
        angle = ops.convert_to_tensor((-2 * np.pi * shifts[:, :1] * self.fy).astype(np.float32))[:, :, None] + \
            ops.convert_to_tensor((-2 * np.pi * shifts[:, 1:] * self.fx).astype(np.float32))[:, None, :]
        return ops.cos(angle), ops.sin(angle)

    def _moved(self, spectra, shifts: np.ndarray):
        (sr, si), (cr, ci) = spectra, self._phase(shifts)
        return sr * cr - si * ci, sr * ci + si * cr

    def warm_up(self, frames: np.ndarray) -> np.ndarray:
        """The first template, as :meth:`TemplateRegistration.warm_up` makes it; the frames' shifts."""
        from keras import ops

        spectra = self.spectra(frames)
        shifts = np.zeros((len(frames), 2))
        for _ in range(max(1, self.options.iterations)):
            mr, mi = self._moved(spectra, shifts)
            total = ops.sum(mr, axis=0), ops.sum(mi, axis=0)
            shifts = self._shifts_of((total[0] - mr, total[1] - mi), spectra)  # each to all the others
        self.template = tuple(ops.sum(part, axis=0) for part in self._moved(spectra, shifts))
        self._warm = (spectra, shifts)
        return shifts

    def settle(self) -> np.ndarray:
        """The warm-up frames registered again, each to the template of all frames so far but itself."""
        spectra, shifts = self._warm
        mr, mi = self._moved(spectra, shifts)
        return self._shifts_of((self.template[0] - mr, self.template[1] - mi), spectra)

    def register_block(self, frames: np.ndarray) -> np.ndarray:
        """The shifts of a block of frames onto the running template, which they then join.

        Each frame of the block is registered to the template as it stood before the block.
        """
        from keras import ops

        spectra = self.spectra(frames)
        shifts = self._shifts_of(self.template, spectra)
        mr, mi = self._moved(spectra, shifts)
        self.template = self.template[0] + ops.sum(mr, axis=0), self.template[1] + ops.sum(mi, axis=0)
        return shifts

    def shifts(self, template, frames: np.ndarray) -> np.ndarray:
        """``(n, 2)`` (dy, dx) that move each frame onto the template (a ``(real, imaginary)`` spectrum pair)."""
        return self._shifts_of(template, self.spectra(frames))

    def _shifts_of(self, template, spectra) -> np.ndarray:
        """The shifts of frames given by their spectra onto ``template`` (``(H, W)`` or one per frame)."""
        from keras import ops

        h, w = self.shape
        mr, mi = spectra
        n = int(mr.shape[0])
        tr, ti = template
        pr, pi = tr * mr + ti * mi, ti * mr - tr * mi  # template * conj(frame)
        correlation, _ = ops.ifft2((pr, pi))
        flat = ops.convert_to_numpy(ops.argmax(ops.reshape(correlation, (n, -1)), axis=1))
        peak = np.stack([flat // w, flat % w], axis=1).astype(np.float64)
        size = np.array(self.shape)
        peak = np.where(peak > np.trunc(size / 2), peak - size, peak)
        up = self.options.upsample_factor
        if up <= 1:
            return peak
        peak = np.round(peak * up) / up
        region = int(np.ceil(up * 1.5))
        centre = np.trunc(region / 2.0)
        offsets = (np.arange(region) - centre) / up
        # the correlation at peak + (j - centre) / up for each frame: exp(2 pi i f x) on both axes
        ky = np.exp(2j * np.pi * (peak[:, :1] + offsets)[:, :, None] * self.fy)  # (n, region, H)
        kx = np.exp(2j * np.pi * self.fx[:, None] * (peak[:, 1:] + offsets)[:, None, :])  # (n, W, region)

        def pair(a):
            return ops.convert_to_tensor(a.real.astype(np.float32)), ops.convert_to_tensor(a.imag.astype(np.float32))

        upsampled, _ = _complex_matmul(pair(ky), _complex_matmul((pr, pi), pair(kx)))
        best = ops.convert_to_numpy(ops.argmax(ops.reshape(upsampled, (n, -1)), axis=1))
        fine = np.stack([best // region, best % region], axis=1).astype(np.float64)
        return peak + (fine - centre) / up
