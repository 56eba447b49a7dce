"""Bright-field detector: electron counting, gain noise, time response, ADC.

Signal chain for one scan, in acquisition order:

1. electrons: Poisson with mean ``flux * dwell * transmission``;
2. gain: each electron gives a Gamma-distributed pulse of mean 1 and variance
   ``ENF - 1`` (the sum over N electrons is Gamma(N k, 1/k), k = 1/(ENF - 1));
3. time response, line by line in acquisition order including the flyback: a
   fast exponential component and a slow afterglow whose share grows with the
   local signal (``A = A0 + slope * transmission``); both keep the total charge;
4. ADC: ``offset + full_scale * u**gamma + read noise`` with u the signal relative
   to full transmission, clipped and rounded to uint16.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from stemdlf.simulate.params import BeamParams, DetectorParams, ScanModeParams

__all__ = ["electrons_per_us", "count_electrons", "time_response", "adc_transfer", "ELEMENTARY_CHARGE"]

ELEMENTARY_CHARGE = 1.602176634e-19


def electrons_per_us(beam: BeamParams) -> float:
    """Electrons reaching the detector per us at full transmission."""
    return beam.beam_current_pA * 1e-12 / ELEMENTARY_CHARGE * 1e-6 * beam.collection_efficiency


def count_electrons(expected: np.ndarray, excess_noise_factor: float, rng: np.random.Generator) -> np.ndarray:
    """Detected signal in electron units: Poisson arrivals times Gamma gain.

    Parameters
    ----------
    expected : numpy.ndarray
        Expected electrons per pixel.
    excess_noise_factor : float
        >= 1; 1 means a noise-free gain (pure Poisson).
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        float32 signal with mean ``expected`` and variance ``ENF * expected``.
    """
    counts = rng.poisson(expected)
    if excess_noise_factor <= 1.0:
        return counts.astype(np.float32)
    k = 1.0 / (excess_noise_factor - 1.0)
    return (rng.gamma(counts * k) / k).astype(np.float32)


def time_response(
    signal: np.ndarray,
    transmission: np.ndarray,
    dwell_us: float,
    flyback_us: float,
    detector: DetectorParams,
) -> np.ndarray:
    """Apply the detector's causal time response along the scan, in acquisition order.

    Parameters
    ----------
    signal : numpy.ndarray
        (frames, H, W) signal in acquisition order (rows top to bottom, pixels left to right).
    transmission : numpy.ndarray
        Noise-free transmission of each pixel (same shape), setting the afterglow share.
    dwell_us, flyback_us : float
        Pixel dwell and line flyback times; during the flyback the detector sees
        the line's mean signal and keeps decaying.
    detector : DetectorParams

    Returns
    -------
    numpy.ndarray
        float32 response, same shape; the total signal is conserved.
    """
    frames, h, w = signal.shape
    n_fb = int(round(flyback_us / dwell_us))
    share = np.clip(detector.afterglow_amplitude + detector.afterglow_signal_slope * transmission, 0.0, 1.0)
    line = np.asarray(signal, dtype=np.float64)
    if n_fb:
        fb = np.repeat(line.mean(axis=2, keepdims=True), n_fb, axis=2)
        fb_share = np.repeat(share.mean(axis=2, keepdims=True), n_fb, axis=2)
        line = np.concatenate([line, fb], axis=2)
        share = np.concatenate([share, fb_share], axis=2)
    # Each frame is one acquisition stream; frames are independent (the frame
    # retrace is much longer than the afterglow), so chunking does not matter.
    stream = line.reshape(frames, -1)
    share = share.reshape(frames, -1)
    out = np.zeros_like(stream)
    for tau_us, part in ((detector.fast_time_constant_ns * 1e-3, 1.0 - share),
                         (detector.afterglow_time_constant_us, share)):
        alpha = np.exp(-dwell_us / tau_us) if tau_us > 0 else 0.0
        x = stream * part
        # Start in steady state with the first pixel's input (the beam was on before).
        zi = alpha * x[:, :1]
        out += lfilter([1.0 - alpha], [1.0, -alpha], x, axis=1, zi=zi)[0]
    return out.reshape(frames, h, w + n_fb)[:, :, :w].astype(np.float32)


def adc_transfer(relative_signal: np.ndarray, mode: ScanModeParams, rng: np.random.Generator | None) -> np.ndarray:
    """Map the detector output (1 = full transmission) to ADC counts.

    Parameters
    ----------
    relative_signal : numpy.ndarray
        Detector output relative to full transmission.
    mode : ScanModeParams
        Offset, full scale, transfer gamma and read noise of this scan's signal chain.
    rng : numpy.random.Generator or None
        None gives the noise-free float32 image (for the ground truth).

    Returns
    -------
    numpy.ndarray
        uint16 counts (or float32 noise-free counts when ``rng`` is None).
    """
    u = np.asarray(relative_signal, dtype=np.float64)
    counts = mode.adc_offset + mode.adc_full_scale * np.sign(u) * np.abs(u) ** mode.transfer_gamma
    if rng is None:
        return counts.astype(np.float32)
    counts += rng.normal(0.0, mode.read_noise_adu, size=counts.shape)
    return np.rint(np.clip(counts, 0, 65535)).astype(np.uint16)


def registration_delay_px(detector: DetectorParams, dwell_us: float, transmission: float,
                          feature_fwhm_px: float) -> float:
    """Apparent shift along +x of a dislocation-like feature caused by the detector lag (px).

    The causal response delays every feature; image registration sees that delay as part
    of the geometry. This is the shift maximising the correlation between a Gaussian dip
    of ``feature_fwhm_px`` and its response, i.e. what a perfect registration would find
    on top of the scan geometry.
    """
    from skimage.registration import phase_cross_correlation

    x = np.arange(512, dtype=np.float64)
    sigma = feature_fwhm_px / (2 * np.sqrt(2 * np.log(2)))
    line = 1.0 - 0.5 * np.exp(-0.5 * ((x - 200) / sigma) ** 2)
    response = time_response(line[None, None, :], np.full((1, 1, 512), transmission), dwell_us, 0.0, detector)[0, 0]
    shift, _, _ = phase_cross_correlation(line - line.mean(), response - response.mean(), upsample_factor=200,
                                          normalization=None)
    return float(-shift[0])
