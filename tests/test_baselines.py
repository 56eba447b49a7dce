"""Baselines: measured noise spectrum and PSF against known answers; BM3D paths run and help."""

import numpy as np
import pytest
from scipy import ndimage

from stemdlf.baselines.classical import GRIDS, apply_baseline, estimate_scan_psf, noise_psd, tune
from stemdlf.evaluate.metrics import MAX_I, psnr


def scene(seed=0, shape=(64, 64)):
    rng = np.random.default_rng(seed)
    clean = ndimage.gaussian_filter(rng.random(shape), 2.0)
    return (clean - clean.min()) / np.ptp(clean) * 40000 + 10000


def test_noise_psd_of_white_noise_has_its_variance():
    rng = np.random.default_rng(0)
    clean = scene()
    frames = clean[None] + rng.normal(0, 0.05 * MAX_I, (20, 64, 64))
    psd = noise_psd(frames, (64, 64))
    assert psd.shape == (64, 64)
    assert psd.mean() / psd.size == pytest.approx(0.05**2, rel=0.05)  # bm3d convention: mean = var x pixels


def test_noise_psd_sees_noise_correlated_along_x():
    rng = np.random.default_rng(1)
    noise = ndimage.uniform_filter1d(rng.normal(0, 3000, (30, 64, 64)), 4, axis=2)
    psd = noise_psd(scene()[None] + noise, (64, 64))
    assert psd[0, 1:4].mean() > 5 * psd[0, 28:36].mean()  # low horizontal frequencies dominate
    assert psd[1:4, 0].mean() == pytest.approx(psd[28:36, 0].mean(), rel=0.5)  # white along y


def test_scan_psf_recovers_a_known_causal_kernel():
    true = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0.3, 0.15, 0.05, 0, 0, 0, 0, 0])  # lag 0..3 px, causal
    sharp = [scene(s, (48, 96)) for s in range(3)]
    blurred = [0.8 * ndimage.convolve1d(s, true, axis=1, mode="nearest") + 3000 for s in sharp]  # tail to +x
    psf = estimate_scan_psf(blurred, sharp, half_width=8)
    assert psf.shape == (1, 17)
    np.testing.assert_allclose(psf[0], true, atol=0.02)


def noisy_frames(seed, scene_seed, size, n):
    """A clean scene, ``n`` noisy frames of it, their noise spectrum and an identity scan PSF."""
    clean = scene(scene_seed, (size, size))
    frames = clean[None] + np.random.default_rng(seed).normal(0, 4000, (n, size, size))
    return clean, frames, noise_psd(frames, (size, size)), np.array([[0.0, 1.0, 0.0]])


@pytest.mark.parametrize("method", ["Gaussian", "NLM", "BM3D", "BM3D-PSD", "BM3D-deblur"])
def test_each_baseline_is_tuned_and_beats_the_noisy_input(method):
    clean, frames, psd, psf = noisy_frames(2, 3, 48, 3)
    tuned = tune(method, frames[0], clean, search_crop_px=48, psd=psd, psf=psf)
    assert tuned.parameter == max(tuned.scores, key=tuned.scores.get) and len(tuned.scores) >= 3
    out = apply_baseline(method, frames[1:], tuned.parameter, psd, psf)
    assert out.shape == (2, 48, 48) and out.dtype == np.float32
    assert psnr(out[0], clean) > psnr(frames[1], clean) + 3
    assert not hasattr(np, "trapz") or np.lib.NumpyVersion(np.__version__) < "2.4.0"  # shim removed after use


@pytest.mark.parametrize("method", ["BM3D", "BM3D-PSD", "BM3D-deblur"])
def test_the_low_complexity_bm3d_profile_is_another_filter_that_also_denoises(method):
    clean, frames, psd, psf = noisy_frames(4, 5, 64, 2)
    normal = apply_baseline(method, frames[:1], 1.0 if method != "BM3D" else 0.06, psd, psf)
    low = apply_baseline(method, frames[:1], 1.0 if method != "BM3D" else 0.06, psd, psf, bm3d_profile="lc")
    assert np.abs(low - normal).max() > 1  # the profile reaches bm3d: a different filter
    assert psnr(low[0], clean) > psnr(frames[0], clean) + 3


def test_an_unknown_bm3d_profile_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown BM3D profile 'fast'; known: np, lc"):
        apply_baseline("BM3D", np.zeros((1, 16, 16)), 0.1, bm3d_profile="fast")


def test_tone_curve_recovers_a_known_transfer():
    from stemdlf.baselines.classical import apply_tone_curve, fit_tone_curve

    slow = [scene(s, (64, 64)) for s in range(3)]
    transfer = lambda v: 65535 * (v / 65535) ** 1.6 + 2000  # monotone, non-linear  # noqa: E731
    rapid = [transfer(s) for s in slow]
    curve = fit_tone_curve(rapid, slow, smoothing_px=0.0)
    assert (np.diff(curve[1]) >= 0).all()
    probe = scene(7, (64, 64))
    mapped = apply_tone_curve(transfer(probe), curve)
    inside = (probe > 12000) & (probe < 48000)
    assert np.abs(mapped - probe)[inside].max() < 300  # < 0.5% of full scale


@pytest.mark.parametrize("best", [0.11, 0.03, 0.4, 1.2, 0.012])
def test_the_coarse_to_fine_search_finds_the_peak_of_a_unimodal_score_with_fewer_evaluations(best):
    from stemdlf.baselines.classical import search_parameter

    grid = GRIDS["BM3D"]  # 0.03 .. 0.4, seven values
    calls = []

    def score(p):
        calls.append(p)
        return -np.log(p / best) ** 2

    scores = search_parameter(score, grid)
    found = max(scores, key=scores.get)
    assert len(calls) == len(set(calls)) == len(scores)  # no value evaluated twice
    # the best value tried is within half a grid step (log scale) of the true peak, past the grid's ends too
    assert abs(np.log(found / best)) <= 0.5 * np.log(grid[-1] / grid[-2]) + 1e-9
    exhaustive = max(grid, key=score)
    assert scores[found] >= score(exhaustive) - 1e-6  # never worse than trying every grid value
    assert len(scores) <= len(grid) + (0 if grid[0] <= best <= grid[-1] else 2)


def test_the_search_stops_extending_a_grid_after_its_allowance():
    from stemdlf.baselines.classical import search_parameter

    scores = search_parameter(lambda p: p, [1.0, 2.0, 4.0, 8.0, 16.0], extend_steps=2)  # rises forever
    # coarse values 1, 4, 16; two steps of x4 past 16, then the midpoint below the last
    assert sorted(scores) == pytest.approx([1.0, 4.0, 16.0, 64.0, 128.0, 256.0])
    with pytest.raises(ValueError, match="increasing positive"):
        search_parameter(lambda p: p, [2.0, 1.0])
