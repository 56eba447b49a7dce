"""Distortion correction: known warps are recovered; bad matches are refused with a clear message."""

import numpy as np
import pytest
from conftest import replace
from scipy import ndimage

from stemdlf.errors import DataError
from stemdlf.io.tiff import read_tiff
from stemdlf.preprocess.distortion import (
    Distortion,
    DistortionOptions,
    DistortionQualityError,
    combine_profiles,
    compare_to_truth,
    estimate_distortion,
    heterogeneity_score,
    match_view,
    noise_sigma,
    psnr_db,
)
from stemdlf.simulate import AcquisitionParams, SimulatorParams, simulate_fov
from stemdlf.simulate.scan import rapid_columns, true_distortion_profile
from stemdlf.workflow.split import split_fovs


def known_warp_pair(tmp_path, seed=5, size=160):
    """A simulated FOV without detector lag, jitter or drift: the DCFI is the slow scan seen through
    exactly the true profile, so a perfect estimator recovers it exactly."""
    params = replace(SimulatorParams(), beam={"beam_current_pA": 200.0},
                     detector={"fast_time_constant_ns": 0.0, "afterglow_amplitude": 0.0, "afterglow_signal_slope": 0.0},
                     rapid={"line_jitter_px": 0.0, "transfer_gamma": 1.0})
    acq = AcquisitionParams(n_fovs=1, n_frames=4, height=size, width=size, seed=seed,
                            drift_velocity_px_per_frame=(0, 0), drift_step_px=0.0, stage_offset_px=0.0)
    simulate_fov(tmp_path, 0, params, acq)
    frames = read_tiff(tmp_path / "fovs/fov000/rapid.tif").astype(float)
    slow = read_tiff(tmp_path / "fovs/fov000/slow.tif").astype(float)
    cols = rapid_columns(size, params.rapid.dwell_us, params.rapid.flyback_us, params.scan_distortion)
    truth = true_distortion_profile(cols, size)
    return frames.mean(axis=0), slow, truth, -params.scan_distortion.vertical_offset_px


@pytest.fixture(scope="module")
def warp_pair(tmp_path_factory):
    return known_warp_pair(tmp_path_factory.mktemp("warp"))


def test_psnr_of_a_known_mse_is_exact():
    a = np.zeros((10, 10))
    b = a + 65535 / 100  # MSE = 655.35^2
    assert psnr_db(a, b) == pytest.approx(40.0, abs=1e-12)


def test_view_matching_finds_the_row_offset_and_field_of_view(warp_pair):
    dcfi_img, slow, truth, row_offset = warp_pair
    view = match_view(dcfi_img, slow)
    # edge bands after a linear stretch only: within a pixel (dp refines it, tested below)
    assert view.row_offset == pytest.approx(row_offset, abs=1.0)
    assert view.left == pytest.approx(truth[0], abs=6)  # linear stretch only: edges roughly right
    assert view.min_zncc > 0.4  # the left template is the most distorted


def linearly_compressed_pair(left=20.0, scale=0.8, shape=(128, 256), seed=3):
    """A textured slow scan and a rapid image showing it compressed: slow column x at rapid column
    ``left + scale * x``, unrelated texture outside."""
    rng = np.random.default_rng(seed)
    slow = ndimage.gaussian_filter(rng.normal(size=shape), 1.5)
    outside = ndimage.gaussian_filter(rng.normal(size=shape), 1.5)
    src = (np.arange(shape[1]) - left) / scale
    inside = (src >= 0) & (src <= shape[1] - 1)
    rapid = outside.copy()
    rapid[:, inside] = np.stack([np.interp(src[inside], np.arange(shape[1]), row) for row in slow])
    return rapid, slow


def test_stretch_aware_view_matching_finds_compressed_edges():
    rapid, slow = linearly_compressed_pair(left=20.0, scale=0.8)
    view = match_view(rapid, slow, max_row_offset=4, max_scale_change=0.3)
    assert view.left == pytest.approx(20.0, abs=0.3)
    assert view.right == pytest.approx(20.0 + 0.8 * 255, abs=0.3)
    assert view.left_scale == pytest.approx(0.8, abs=0.02) and view.right_scale == pytest.approx(0.8, abs=0.02)
    assert view.row_offset == pytest.approx(0.0, abs=0.3)
    # The paper's plain templates match their own centre: each edge lands (scale - 1) x 25 px off.
    plain = match_view(rapid, slow, max_row_offset=4)
    assert plain.left == pytest.approx(20.0 - 0.2 * 25, abs=1.5)
    assert plain.right == pytest.approx(20.0 + 0.8 * 255 + 0.2 * 25, abs=1.5)


@pytest.mark.parametrize("method, tolerance", [("dp", 0.5), ("paper", 0.5), ("published", 1.5)])
def test_known_warp_is_recovered(warp_pair, method, tolerance):
    dcfi_img, slow, truth, row_offset = warp_pair
    d = estimate_distortion(dcfi_img, slow, method)
    acc = compare_to_truth(d, truth, row_offset)
    assert acc["rms_px"] <= tolerance, acc
    assert acc["covered_columns"] > 0.9 * len(truth)
    assert d.info["method"] == method
    if method != "published":  # as published, the row offset comes from the edge bands only
        assert abs(acc["row_offset_error_px"]) <= 0.3


def test_published_is_paper_without_the_view_matching_fixes(warp_pair):
    dcfi_img, slow, _, _ = warp_pair
    published = estimate_distortion(dcfi_img, slow, "published")  # default options: fixes on, overridden
    bare = estimate_distortion(dcfi_img, slow, "paper",
                               DistortionOptions(template_stretch_search=0.0, refine_row_offset=False))
    np.testing.assert_array_equal(published.rapid_x, bare.rapid_x)
    assert published.info["view"]["left_scale"] == 1.0 and "row_offset_view" not in published.info
    fixed = estimate_distortion(dcfi_img, slow, "paper")
    assert not np.allclose(fixed.rapid_x, bare.rapid_x, equal_nan=True)


def test_dp_estimate_is_monotone(warp_pair):
    dcfi_img, slow, _, _ = warp_pair
    d = estimate_distortion(dcfi_img, slow, "dp")
    assert np.all(np.diff(d.rapid_x[np.isfinite(d.rapid_x)]) > 0)


def test_featureless_fov_is_refused_with_advice():
    rng = np.random.default_rng(0)
    flat = rng.normal(30000, 50, (128, 128))
    other = rng.normal(30000, 50, (128, 128))
    with pytest.raises(DistortionQualityError, match=r"FOV fov042.*ZNCC.*distortion.reference: global"):
        estimate_distortion(flat, other, "dp", where="FOV fov042")


def test_poor_psnr_is_refused(warp_pair):
    dcfi_img, slow, _, _ = warp_pair
    with pytest.raises(DistortionQualityError, match="PSNR"):
        estimate_distortion(dcfi_img, slow, "dp", DistortionOptions(min_psnr_db=99.0))


def test_apply_identity_and_offset():
    img = ndimage.gaussian_filter(np.random.default_rng(1).normal(size=(40, 50)), 2)
    ident = Distortion(np.arange(50, dtype=float), 0.0, (40, 50))
    np.testing.assert_allclose(ident.apply(img), img, atol=1e-5)
    shifted = Distortion(np.arange(50, dtype=float) + 2.0, 3.0, (40, 50))
    assert shifted.slow_roi == [0, 37, 0, 48]
    np.testing.assert_allclose(shifted.apply(img), img[3:40, 2:50], atol=1e-5)
    # per-frame drift shifts are applied in the same interpolation
    moved = ndimage.shift(img, (1.0, -2.0), order=3, mode="nearest")
    back = ident.apply(moved[None], np.array([[-1.0, 2.0]]))[0]
    np.testing.assert_allclose(back[5:-5, 5:-5], img[5:-5, 5:-5], atol=1e-4)


def test_save_load_roundtrip(tmp_path):
    d = Distortion(np.linspace(2.5, 60.2, 64), -3.0, (64, 64), {"method": "dp", "reference": "fov001"})
    d.save(tmp_path / "profile.csv", tmp_path / "view.json")
    back = Distortion.load(tmp_path / "profile.csv", tmp_path / "view.json")
    np.testing.assert_allclose(back.rapid_x, d.rapid_x, atol=1e-4)
    assert back.row_offset == -3.0 and back.slow_roi == d.slow_roi and back.info["reference"] == "fov001"


def test_global_median_ignores_an_outlier_fov():
    good = [Distortion(np.arange(32.0) + 1 + 0.01 * k, -2.0, (32, 32)) for k in range(4)]
    bad = Distortion(np.arange(32.0) + 9, 5.0, (32, 32))
    combined = combine_profiles(good + [bad])
    np.testing.assert_allclose(combined.rapid_x, np.arange(32.0) + 1.02, atol=1e-9)
    assert combined.row_offset == -2.0


def test_noise_sigma_of_known_noise_on_a_ramp():
    rng = np.random.default_rng(1)
    image = rng.normal(0, 37.0, (256, 256)) + np.linspace(0, 5000, 256)[None, :]
    assert noise_sigma(image) == pytest.approx(37.0, rel=0.03)


def test_heterogeneity_prefers_landmarks_across_the_scan_line(warp_pair):
    _, slow, _, _ = warp_pair
    rng = np.random.default_rng(0)
    flat = rng.normal(30000, 300, slow.shape)
    assert heterogeneity_score(slow) > 0.0 >= heterogeneity_score(flat) - 0.05
    # Line segments in every part of the scan line, of random lengths: landmarks everywhere,
    # unevenly spread. Across the scan line they fix horizontal positions; the same segments
    # turned to run along the scan line fix none and score like a featureless FOV.
    across = flat.copy()
    for band in range(0, slow.shape[1], 16):
        col = band + rng.integers(2, 13)
        r0 = rng.integers(0, slow.shape[0] // 2)
        across[r0:r0 + rng.integers(20, slow.shape[0] // 2), col:col + 2] -= 5000
    along = flat + (across - flat).T
    assert heterogeneity_score(across) > 1.0
    assert heterogeneity_score(along) < 0.05


def test_split_is_stable_when_fovs_are_added():
    fovs = [f"fov{i:03d}" for i in range(20)]
    a = split_fovs(fovs, 12, 5, seed=3)
    assert len(a["train"]) == 12 and len(a["test"]) == 5 and not set(a["train"]) & set(a["test"])
    b = split_fovs(fovs + ["fov020", "fov021"], 12, 5, seed=3)
    moved = (set(a["test"]) - set(b["test"])) | (set(a["train"]) - set(b["train"]) - set(b["test"]))
    assert len(moved) <= 2 * 2  # at most the places taken by the two newcomers change hands
    assert split_fovs(fovs, 12, 5, seed=4) != a
    with pytest.raises(DataError, match="cannot be split"):
        split_fovs(fovs[:3], 2, 2)


def test_explicit_split_lists_take_the_rest():
    from stemdlf.workflow.split import explicit_split

    fovs = [f"fov{i:03d}" for i in range(6)]
    assert explicit_split(fovs, None, ["fov004", "fov001"]) == {
        "train": ["fov000", "fov002", "fov003", "fov005"], "test": ["fov001", "fov004"]}
    assert explicit_split(fovs, ["fov000"], ["fov001"]) == {"train": ["fov000"], "test": ["fov001"]}


def test_explicit_split_refuses_unknown_or_shared_fovs():
    from stemdlf.errors import DataError
    from stemdlf.workflow.split import explicit_split

    fovs = ["fov000", "fov001", "fov002"]
    with pytest.raises(DataError, match="does not have: fov009"):
        explicit_split(fovs, None, ["fov009"])
    with pytest.raises(DataError, match="in both"):
        explicit_split(fovs, ["fov000", "fov001"], ["fov001"])
    with pytest.raises(DataError, match="no training"):
        explicit_split(fovs, None, fovs)
