import json

import numpy as np
import pytest
import tifffile

from stemdlf.errors import DataError
from stemdlf.preprocess.fov import normalise_fov, stack_minmax
from stemdlf.preprocess.normalise import FULL_SCALE, MinMax, apply_minmax, fit_minmax, minmax_normalise


def test_minmax_maps_extremes_to_0_and_65535():
    image = np.array([[100.0, 300.0], [200.0, 500.0]])
    out, t = minmax_normalise(image)
    assert t == MinMax(100.0, 500.0)
    np.testing.assert_allclose(out, [[0, 0.5 * FULL_SCALE], [0.25 * FULL_SCALE, FULL_SCALE]], rtol=1e-6)


def test_percentiles_clip_outliers():
    image = np.concatenate([np.linspace(0, 1, 1000), [1e6]])
    out, t = minmax_normalise(image, 0, 99)
    assert t.high < 2 and out.max() == FULL_SCALE


def test_integer_output_is_rounded_and_clipped():
    out = apply_minmax(np.array([-5.0, 0.0, 1.0, 2.0]), MinMax(0.0, 1.0), np.uint16)
    assert out.dtype == np.uint16 and out.tolist() == [0, 0, 65535, 65535]


def test_constant_image_is_an_error():
    with pytest.raises(ValueError, match="constant"):
        fit_minmax(np.full((4, 4), 7.0))


def test_stack_percentiles_are_exact(tmp_path):
    rng = np.random.default_rng(1)
    stack = rng.integers(1000, 9000, size=(5, 20, 20), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "s.tif", stack, photometric="minisblack")
    assert stack_minmax(tmp_path / "s.tif", chunk=2) == MinMax(float(stack.min()), float(stack.max()))
    t = stack_minmax(tmp_path / "s.tif", low_percentile=1.0, high_percentile=99.0, chunk=2)
    lo, hi = np.percentile(stack, [1.0, 99.0], method="inverted_cdf")
    assert (t.low, t.high) == (lo, hi)


def test_normalise_fov_writes_all_outputs(tmp_path):
    rng = np.random.default_rng(2)
    tifffile.imwrite(tmp_path / "rapid.tif", rng.integers(500, 3000, (4, 16, 16), dtype=np.uint16),
                     photometric="minisblack")
    tifffile.imwrite(tmp_path / "slow.tif", rng.integers(100, 60000, (16, 16), dtype=np.uint16))
    out = tmp_path / "out"
    normalise_fov(tmp_path / "rapid.tif", tmp_path / "slow.tif", out / "r.tif", out / "s.tif", out / "n.json", 2.0)
    rapid = tifffile.imread(out / "r.tif")
    assert rapid.dtype == np.uint16 and rapid.min() == 0 and rapid.max() == 65535
    transforms = json.loads((out / "n.json").read_text())
    assert set(transforms) == {"rapid", "slow"}
    with tifffile.TiffFile(out / "s.tif") as tif:
        assert tif.imagej_metadata["slow_roi"] == "0,16,0,16"


def test_blank_acquisition_is_reported(tmp_path):
    tifffile.imwrite(tmp_path / "rapid.tif", np.full((3, 8, 8), 5, np.uint16), photometric="minisblack")
    with pytest.raises(DataError, match="nothing to normalise"):
        stack_minmax(tmp_path / "rapid.tif")


def test_mean_frame_scaling_is_the_range_of_the_mean_frame_not_of_single_noisy_pixels():
    from stemdlf.preprocess.normalise import mean_frame_scaling, scale_frames

    rng = np.random.default_rng(0)
    specimen = np.linspace(10000.0, 30000.0, 32 * 32).reshape(32, 32)
    frames = specimen + rng.normal(0, 8000, (100, 32, 32))  # 100 frames: read in chunks of 64
    t = mean_frame_scaling(frames)
    mean = frames.mean(axis=0)
    assert (t.low, t.high) == pytest.approx((mean.min(), mean.max()))
    assert t.high - t.low < 0.5 * (frames.max() - frames.min())  # the stack's min-max is set by noise
    scaled = scale_frames(frames, t)
    assert scaled.mean(axis=0).min() == pytest.approx(0, abs=0.5)
    assert scaled.mean(axis=0).max() == pytest.approx(65535, rel=1e-4)
    assert scaled.min() < 0  # no clipping: single pixels may fall outside 0..65535
