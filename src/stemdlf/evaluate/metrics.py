"""Image-quality metrics of the paper.

PSNR (Eq. 1), PSNR within an intensity band, SSIM, and the scan-direction spectral cutoff
(paper Fig. 3c).

All images are on the 0..65535 scale of the min-max normalised slow scan.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from stemdlf.evaluate.psnr import MAX_I, psnr

__all__ = ["MAX_I", "BAND", "psnr", "psnr_in_band", "ssim", "horizontal_spectrum", "noise_floor", "spectral_cutoff",
           "frame_metrics"]

#: The paper's signal-intensity band (slow-scan intensities) for ``psnr_band``.
BAND = (20000.0, 40000.0)
#: Largest departure (natural-log units of power, i.e. a factor e) of a method's horizontal
#: spectrum from the slow scan's that still counts as "agreeing" (see :func:`spectral_cutoff`).
SPECTRAL_TOLERANCE = 1.0


def psnr_in_band(image: np.ndarray, reference: np.ndarray, band: tuple[float, float] = BAND) -> tuple[float, float]:
    """PSNR over reference pixels within ``band`` (inclusive) and outside it (paper: 20,000-40,000)."""
    inside = (reference >= band[0]) & (reference <= band[1])
    return psnr(image, reference, inside), psnr(image, reference, ~inside)


def ssim(image: np.ndarray, reference: np.ndarray) -> float:
    """Structural similarity (scikit-image, Gaussian weights as Wang et al. 2004), data range 65535."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(np.asarray(image, np.float64), np.asarray(reference, np.float64),
                                       data_range=MAX_I, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


def horizontal_spectrum(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scan-direction power spectrum: ``ln |FFT|^2`` along x after a Hanning window, averaged over rows.

    The paper's Fig. 3c plots the horizontal line profile of the log power spectrum;
    averaging the row spectra gives the same profile with far less variance.

    Returns
    -------
    (frequency, log_power) : numpy.ndarray
        Frequencies in cycles/px from 1/W to 0.5 (DC excluded), and ln of the mean power.
    """
    image = np.asarray(image, np.float64)
    rows = image - image.mean(axis=1, keepdims=True)
    window = np.hanning(image.shape[1])
    power = np.mean(np.abs(np.fft.rfft(rows * window, axis=1)) ** 2, axis=0)
    freq = np.fft.rfftfreq(image.shape[1])
    return freq[1:], np.log(power[1:] + 1e-12)


def noise_floor(image: np.ndarray) -> float:
    """The horizontal log power spectrum of white noise at the image's own noise level.

    In the units of :func:`horizontal_spectrum`: where a noisy reference's spectrum comes down to
    this, it shows its noise, not the specimen.

    The noise level is Immerkaer's estimate (:func:`stemdlf.preprocess.distortion.noise_sigma`, robust to
    edges); the Hanning window's energy converts it to power per frequency bin.
    """
    from stemdlf.preprocess.distortion import noise_sigma

    sigma = noise_sigma(np.asarray(image, np.float64))
    return float(np.log(sigma**2 * np.sum(np.hanning(np.shape(image)[1]) ** 2) + 1e-12))


def spectral_cutoff(image: np.ndarray, reference: np.ndarray, tolerance: float = SPECTRAL_TOLERANCE,
                    smoothing_bins: int = 5, low_frequency: float = 0.04,
                    reference_floor: float | None = None) -> float:
    """Shortest period (px) down to which the image's horizontal spectrum agrees with the reference's.

    Both log spectra (:func:`horizontal_spectrum`) are smoothed over ``smoothing_bins``
    frequency bins and referred to their own mean below ``low_frequency`` cycles/px
    (periods of 25 px and more), so a global contrast difference (the rapid scan's
    different detector transfer) does not count, only the spectral shape. Going up
    from the lowest frequency, the cutoff is the last frequency before
    ``|ln P - ln P_ref|`` first exceeds ``tolerance`` (a factor e in power). Blur (too
    little power) and noise (too much) both end the agreement. The result is ``1 / f``
    in px: smaller is better; 2 px (Nyquist) means agreement at every frequency.

    A noisy reference (a slow scan) only says what the specimen looks like where its signal
    stands above its own noise: with ``reference_floor`` (:func:`noise_floor`) the comparison
    stops at the first frequency where the reference comes within ``tolerance`` of that floor,
    and agreement up to there returns that period (the finest the reference can vouch for).
    Otherwise a method that removes the reference's noise would be penalised for it. Against
    the noise-free truth no floor is needed.

    Returns
    -------
    float
        Period in px (``inf`` if the spectra disagree already at the lowest frequency).
    """
    freq, a = horizontal_spectrum(image)
    _, b = horizontal_spectrum(reference)
    low = max(3, int(np.searchsorted(freq, low_frequency, side="right")))
    b_raw = b
    a, b = ndimage.uniform_filter1d(a, smoothing_bins, mode="nearest"), ndimage.uniform_filter1d(b, smoothing_bins,
                                                                                               mode="nearest")
    diff = np.abs((a - a[:low].mean()) - (b - b[:low].mean()))
    last = len(freq)
    if reference_floor is not None:
        noise = np.flatnonzero(ndimage.uniform_filter1d(b_raw, smoothing_bins, mode="nearest")
                               <= reference_floor + tolerance)
        noise = noise[noise >= low]
        last = int(noise[0]) if len(noise) else last
    bad = np.flatnonzero(diff[:last] > tolerance)
    if len(bad) == 0:
        return float(1.0 / freq[last - 1])
    if bad[0] == 0:
        return float("inf")
    return float(1.0 / freq[bad[0] - 1])


def frame_metrics(image: np.ndarray, slow: np.ndarray, truth: np.ndarray | None = None,
                  pixel_size_nm: float | None = None) -> dict[str, float]:
    """Every metric of one frame against the slow scan (and the noise-free truth when given).

    Returns
    -------
    dict
        ``psnr``, ``psnr_band``, ``psnr_outside_band``, ``ssim``, ``spectral_cutoff_px`` (against
        the slow scan, only where it stands above its noise floor), ``spectral_cutoff_per_um``
        (when the pixel size is known), ``psnr_truth``, ``ssim_truth``, ``spectral_cutoff_truth_px``
        (when the truth is given).
    """
    band, outside = psnr_in_band(image, slow)
    cutoff = spectral_cutoff(image, slow, reference_floor=noise_floor(slow))
    out = {"psnr": psnr(image, slow), "psnr_band": band, "psnr_outside_band": outside, "ssim": ssim(image, slow),
           "spectral_cutoff_px": cutoff}
    if pixel_size_nm:
        out["spectral_cutoff_per_um"] = 1000.0 / (cutoff * pixel_size_nm)
    if truth is not None:
        out["psnr_truth"] = psnr(image, truth)
        out["ssim_truth"] = ssim(image, truth)
        out["spectral_cutoff_truth_px"] = spectral_cutoff(image, truth)
    return out
