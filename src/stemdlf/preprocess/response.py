"""The detector's response along the scan line, measured from the rapid frames alone, and undone.

A rapid scan's pixels are read in acquisition order, and the detector answers each electron with
a causal response: a fast exponential (about one pixel at 100 ns/pixel) and a slow afterglow.
That response blurs the signal along x, and it shapes the noise the same way: the electron and
gain noise is white before the detector, so the noise power spectrum along x of the difference
of two frames of one FOV is ``c |H(f)|^2 + b`` (``b``: the white read noise added after it).
Fitting that spectrum gives ``H`` without a slow scan (:func:`estimate_response`), and its
exact causal inverse undoes the blur (:func:`undo_response`).

The model is the simulator's (:mod:`stemdlf.simulate.detector`) taken at one afterglow share:
``h[n] = (1 - a) (1 - p) p^n + a (1 - q) q^n`` per pixel, ``p`` and ``q`` the fast and afterglow
poles (``exp(-dwell / tau)``), ``a`` the afterglow share; ``sum(h) = 1``, the charge is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import lfilter, lfilter_zi

__all__ = ["DetectorResponse", "difference_spectrum", "estimate_response", "undo_response"]


@dataclass(frozen=True)
class DetectorResponse:
    """A causal two-exponential detector response along the scan, per rapid-scan pixel.

    Attributes
    ----------
    fast_pole : float
        ``exp(-dwell / tau_fast)`` of the fast component, in [0, 1).
    afterglow_pole : float
        ``exp(-dwell / tau_afterglow)`` of the afterglow, in [0, 1).
    afterglow_share : float
        The share of the signal in the afterglow, in [0, 1).
    """

    fast_pole: float
    afterglow_pole: float
    afterglow_share: float

    def __post_init__(self) -> None:
        """Refuse poles or a share outside [0, 1): the response would not decay or keep the charge."""
        for name in ("fast_pole", "afterglow_pole", "afterglow_share"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must lie in [0, 1), got {getattr(self, name)}")

    @classmethod
    def from_detector(cls, detector, dwell_us: float, transmission: float) -> DetectorResponse:
        """The simulator's response at one transmission (its afterglow share grows with the signal).

        Parameters
        ----------
        detector : stemdlf.simulate.params.DetectorParams
        dwell_us : float
            Pixel dwell time of the scan (us).
        transmission : float
            The transmission the afterglow share is taken at (0..1), e.g. the specimen's mean.
        """
        def pole(tau_us: float) -> float:
            return float(np.exp(-dwell_us / tau_us)) if tau_us > 0 else 0.0

        share = float(np.clip(detector.afterglow_amplitude + detector.afterglow_signal_slope * transmission, 0, 0.999))
        return cls(pole(detector.fast_time_constant_ns * 1e-3), pole(detector.afterglow_time_constant_us), share)

    @property
    def time_constants_px(self) -> tuple[float, float]:
        """The fast and afterglow time constants in pixels (``-1 / ln(pole)``; 0 for a pole of 0)."""
        return tuple(float(-1.0 / np.log(p)) if p > 0 else 0.0 for p in (self.fast_pole, self.afterglow_pole))

    def filter_coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        """``(b, a)`` of ``H(z) = b(z) / a(z)`` for :func:`scipy.signal.lfilter`; ``H(1) = 1``."""
        p, q, s = self.fast_pole, self.afterglow_pole, self.afterglow_share
        wf, wg = (1 - s) * (1 - p), s * (1 - q)
        return np.array([wf + wg, -(wf * q + wg * p)]), np.array([1.0, -(p + q), p * q])

    def transfer(self, n: int) -> np.ndarray:
        """``H(f)`` at the frequencies of a real FFT of ``n`` pixels (``numpy.fft.rfftfreq(n)``)."""
        z = np.exp(-2j * np.pi * np.fft.rfftfreq(n))
        b, a = self.filter_coefficients()
        return (b[0] + b[1] * z) / (a[0] + a[1] * z + a[2] * z ** 2)

    def impulse(self, n: int) -> np.ndarray:
        """The first ``n`` pixels of the response to one pixel's charge."""
        b, a = self.filter_coefficients()
        x = np.zeros(n)
        x[0] = 1.0
        return lfilter(b, a, x)

    def to_dict(self) -> dict[str, float]:
        """The poles and share, with the time constants in pixels."""
        fast, glow = self.time_constants_px
        return {**asdict(self), "fast_time_constant_px": fast, "afterglow_time_constant_px": glow}


def difference_spectrum(frames: np.ndarray) -> np.ndarray:
    """Mean noise periodogram along x of consecutive frame differences, in acquisition geometry.

    ``(f[k+1] - f[k]) / sqrt(2)`` keeps one frame's noise and cancels the specimen (consecutive
    frames of a FOV drift by a small fraction of a pixel); what line jitter leaves of the
    specimen (its x gradient, times each line's shift) is fitted and taken out row by row. Each
    row's periodogram ``|rfft(row)|^2 / W`` is averaged over rows and frame pairs; the rows keep
    their mean, whose bin carries the afterglow.

    Parameters
    ----------
    frames : numpy.ndarray
        ``(n >= 2, H, W)`` rapid frames as acquired (not resampled: resampling would filter the
        noise), any intensity scale.

    Returns
    -------
    numpy.ndarray
        ``(W // 2 + 1,)`` power at ``numpy.fft.rfftfreq(W)``.
    """
    frames = np.asarray(frames)
    if frames.ndim != 3 or len(frames) < 2:
        raise ValueError(f"the noise spectrum needs a stack of at least 2 frames, got shape {frames.shape}")
    width = frames.shape[2]
    total = np.zeros(width // 2 + 1)
    # the specimen's gradient along x: a line scanned a fraction of a pixel off (line jitter) leaves
    # it in the difference, which is taken out row by row (one fitted shift per row)
    gradient = np.gradient(frames.mean(axis=0, dtype=np.float64), axis=1)
    gradient -= gradient.mean(axis=1, keepdims=True)
    norm = np.maximum((gradient ** 2).sum(axis=1, keepdims=True), 1e-30)
    for k in range(len(frames) - 1):
        diff = (frames[k + 1].astype(np.float64) - frames[k]) / np.sqrt(2)
        diff -= diff.mean()
        diff -= gradient * (diff * gradient).sum(axis=1, keepdims=True) / norm
        total += np.mean(np.abs(np.fft.rfft(diff, axis=1)) ** 2, axis=0) / width
    return total / (len(frames) - 1)


def _expected_periodogram(response: DetectorResponse, width: int) -> np.ndarray:
    """``E |rfft(row)|^2 / W`` of unit white noise through the response, seen in rows of ``width`` pixels.

    A row is a window of a stationary stream, so the expected periodogram is the response's
    power spectrum seen through the row's Fejer kernel: the Bartlett-weighted autocorrelation.
    """
    tail = int(np.ceil(-40.0 / np.log(max(response.afterglow_pole, response.fast_pole, 1e-3))))
    h = response.impulse(min(max(tail, 8), 20 * width))
    n_fft = 1 << int(np.ceil(np.log2(2 * (len(h) + width))))
    spectrum = np.abs(np.fft.rfft(h, n_fft)) ** 2
    acf = np.fft.irfft(spectrum, n_fft)  # R[m] at m = 0..n_fft-1, negative lags wrapped at the end
    lags = np.arange(width)
    weights = 1.0 - lags / width
    r = acf[:width] * weights
    # the symmetric sum over m = -(W-1)..W-1 of (1 - |m|/W) R[m] e^{-i w m}
    seq = np.concatenate([r, [0.0], r[:0:-1]])
    return np.real(np.fft.rfft(seq))[::2][: width // 2 + 1]


def estimate_response(series: np.ndarray | Sequence[np.ndarray], initial: DetectorResponse | None = None
                      ) -> tuple[DetectorResponse, dict[str, float]]:
    """Fit the detector response to the noise spectrum of rapid series (no slow scan needed).

    Parameters
    ----------
    series : numpy.ndarray or sequence of numpy.ndarray
        One FOV's rapid frames ``(n >= 2, H, W)``, or several FOVs' (same width), as acquired
        (:func:`difference_spectrum`); their spectra are averaged.
    initial : DetectorResponse, optional
        Where the fit starts (default: the best of fits from a 1-px fast component and afterglows of
        10 and 50 px holding 3, 10 and 30% of the signal).

    Returns
    -------
    (response, fit) : DetectorResponse and dict
        The fitted response, and the fit's noise level (``noise_power``, the white read noise
        ``read_noise_power``, on the frames' scale squared) and RMS log residual.

    Raises
    ------
    ValueError
        If a series has fewer than 2 frames, or the series differ in width.

    Notes
    -----
    The spectrum's row-sum bin carries the afterglow's full weight; a tail much longer than a
    row is still poorly determined (it looks like a change of the row's mean), so the fit keeps
    the afterglow under 1000 px.
    """
    stacks = [series] if isinstance(series, np.ndarray) and series.ndim == 3 else list(series)
    widths = {np.shape(s)[-1] for s in stacks}
    if len(widths) != 1:
        raise ValueError(f"the series differ in width ({sorted(widths)}): their spectra cannot be averaged")
    measured = np.mean([difference_spectrum(s) for s in stacks], axis=0)
    width = widths.pop()
    keep = slice(None)

    def unpack(theta: np.ndarray) -> tuple[DetectorResponse, float, float]:
        return DetectorResponse(*map(float, theta[:3])), float(np.exp(theta[3])), float(np.exp(theta[4]))

    def residual(theta: np.ndarray) -> np.ndarray:
        response, c, b = unpack(theta)
        model = c * _expected_periodogram(response, width) + b
        return np.log(model[keep]) - np.log(measured[keep])

    level = float(np.median(measured[keep]))
    # the fast pole below the afterglow's, which stays under 1000 px (no longer tail fits in a row)
    lower, upper = [0.0, 0.5, 0.0, -np.inf, -np.inf], [0.9, 0.999, 0.6, np.inf, np.inf]
    # the afterglow's share and length trade against each other near DC: the fit starts from a few
    # shares and lengths (or the one given) and keeps the best
    starts = [initial] if initial is not None else [DetectorResponse(0.37, q, a) for q in (0.9, 0.98)
                                                    for a in (0.03, 0.1, 0.3)]
    solution = None
    for start in starts:
        theta0 = np.clip([start.fast_pole, start.afterglow_pole, start.afterglow_share, np.log(level),
                          np.log(level * 0.05)], np.add(lower, 1e-6), np.subtract(upper, 1e-6))
        fitted = least_squares(residual, theta0, bounds=(lower, upper), x_scale=[0.1, 0.01, 0.02, 1, 1])
        if solution is None or fitted.cost < solution.cost:
            solution = fitted
    response, c, b = unpack(solution.x)
    return response, {"noise_power": c, "read_noise_power": b,
                      "rms_log_residual": float(np.sqrt(np.mean(solution.fun ** 2)))}


def undo_response(frames: np.ndarray, response: DetectorResponse) -> np.ndarray:
    """Undo the detector response along x: its exact causal inverse, row by row.

    ``H`` has one zero inside the unit circle (a sum of two decaying exponentials), so its
    inverse is a stable causal filter. Each row starts in the steady state of its first pixel
    (the detector saw the flyback before it). The noise is amplified, most at the highest
    frequencies (by ``1 / |H(0.5)|``), which a Noise2Noise target may be.

    Parameters
    ----------
    frames : numpy.ndarray
        ``(..., W)`` images in acquisition order along the last axis.
    response : DetectorResponse

    Returns
    -------
    numpy.ndarray
        float32, same shape.
    """
    b, a = response.filter_coefficients()
    x = np.asarray(frames, np.float64)
    zi = lfilter_zi(a, b)  # inverse: numerator and denominator swapped
    out, _ = lfilter(a, b, x, axis=-1, zi=zi * x[..., :1])
    return out.astype(np.float32)
