"""Metrics against known answers: PSNR of a known MSE, band masks, SSIM, spectral cutoff."""

import numpy as np
import pytest
from scipy import ndimage

from stemdlf.evaluate.metrics import (
    MAX_I,
    frame_metrics,
    horizontal_spectrum,
    noise_floor,
    psnr,
    psnr_in_band,
    spectral_cutoff,
    ssim,
)


def test_psnr_of_a_known_mse_is_exact():
    ref = np.full((10, 10), 30000.0)
    image = ref + 100.0  # MSE = 1e4
    assert psnr(image, ref) == pytest.approx(10 * np.log10(MAX_I**2 / 1e4), abs=1e-12)
    assert psnr(ref, ref) == float("inf")


def test_band_psnr_uses_only_the_reference_pixels_in_the_band():
    ref = np.array([[10000.0, 30000.0], [30000.0, 50000.0]])
    image = ref + np.array([[300.0, 100.0], [100.0, 300.0]])
    inside, outside = psnr_in_band(image, ref)
    assert inside == pytest.approx(10 * np.log10(MAX_I**2 / 100.0**2))
    assert outside == pytest.approx(10 * np.log10(MAX_I**2 / 300.0**2))


def test_ssim_is_one_for_identical_images_and_lower_with_noise():
    rng = np.random.default_rng(0)
    ref = ndimage.gaussian_filter(rng.random((64, 64)), 2) * MAX_I
    assert ssim(ref, ref) == pytest.approx(1.0)
    assert ssim(ref + rng.normal(0, 3000, ref.shape), ref) < 0.9


def test_horizontal_spectrum_finds_a_known_period():
    x = np.arange(128)
    image = np.tile(np.sin(2 * np.pi * x / 8.0), (16, 1)) * 1000 + 30000
    freq, log_power = horizontal_spectrum(image)
    assert freq[np.argmax(log_power)] == pytest.approx(1 / 8.0)


def test_spectral_cutoff_of_a_horizontally_blurred_image_follows_the_blur():
    rng = np.random.default_rng(1)
    sharp = rng.random((128, 256)) * 20000 + 20000
    assert spectral_cutoff(sharp, sharp) == pytest.approx(2.0)  # agrees up to Nyquist
    cutoffs = [spectral_cutoff(ndimage.gaussian_filter1d(sharp, s, axis=1), sharp) for s in (0.7, 1.5, 3.0)]
    assert 2.0 < cutoffs[0] < cutoffs[1] < cutoffs[2]
    # a Gaussian of sigma s loses a factor e of power where (2 pi f s)^2 = 1: period 2 pi s
    assert cutoffs[1] == pytest.approx(2 * np.pi * 1.5, rel=0.25)
    # a contrast change does not count, only the spectral shape
    assert spectral_cutoff(0.3 * (sharp - sharp.mean()) + sharp.mean(), sharp) == pytest.approx(2.0)
    # noise added at every frequency ends the agreement where it outgrows the signal
    noisy = ndimage.gaussian_filter1d(sharp, 3.0, axis=1) + rng.normal(0, 2000, sharp.shape)
    assert spectral_cutoff(noisy, ndimage.gaussian_filter1d(sharp, 3.0, axis=1)) > 2.0


def test_frame_metrics_names():
    rng = np.random.default_rng(2)
    ref = rng.random((32, 32)) * MAX_I
    m = frame_metrics(ref + 10, ref, truth=ref, pixel_size_nm=2.0)
    assert set(m) == {"psnr", "psnr_band", "psnr_outside_band", "ssim", "spectral_cutoff_px",
                      "spectral_cutoff_per_um", "psnr_truth", "ssim_truth", "spectral_cutoff_truth_px"}
    assert m["spectral_cutoff_per_um"] == pytest.approx(1000 / (m["spectral_cutoff_px"] * 2.0))


def _specimen(shape, seed=0):
    rng = np.random.default_rng(seed)
    clean = ndimage.gaussian_filter(rng.random(shape), 1.5) * 20000
    return clean - clean.mean() + 30000


def test_noise_floor_is_the_power_of_the_images_white_noise():
    rng = np.random.default_rng(3)
    flat = np.full((256, 256), 30000.0) + rng.normal(0, 500, (256, 256))
    _, log_power = horizontal_spectrum(flat)
    assert noise_floor(flat) == pytest.approx(np.median(log_power), abs=0.15)


def test_a_noisy_reference_does_not_reward_noise_over_detail():
    clean = _specimen((256, 256))
    rng = np.random.default_rng(4)
    slow = clean + rng.normal(0, 300, clean.shape)  # a slow scan: the specimen plus white noise
    other_noise = clean + rng.normal(0, 300, clean.shape)  # keeps as much noise as the slow scan
    floor = noise_floor(slow)
    # without a floor, keeping the reference's noise level "matches" further than the clean specimen
    assert spectral_cutoff(other_noise, slow) < spectral_cutoff(clean, slow)
    # with it, both agree as far as the slow scan shows the specimen, and a blurred image loses
    limited = spectral_cutoff(clean, slow, reference_floor=floor)
    assert spectral_cutoff(other_noise, slow, reference_floor=floor) == pytest.approx(limited)
    assert spectral_cutoff(ndimage.gaussian_filter1d(clean, 2.5, axis=1), slow, reference_floor=floor) > limited
    # against the truth: the clean image agrees to Nyquist; the noise ends the agreement
    assert spectral_cutoff(clean, clean) == pytest.approx(2.0)
    assert spectral_cutoff(other_noise, clean) > 3.0
