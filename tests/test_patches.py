"""Patch sampling: aligned pairs, allowed rows, physical augmentation, validation splits."""

import numpy as np
import pytest

from stemdlf.errors import DataError
from stemdlf.io.tiff import write_tiff
from stemdlf.nn.patches import (
    TrainingPair,
    open_pair,
    sample_patches,
    split_validation_fovs,
    split_validation_rows,
    training_pairs,
)


def ramp_pair(name="a", frames=5, h=48, w=40, rows=None):
    """Target = 100*row + col (unique per pixel); frame f = target + 1000*f."""
    target = (100.0 * np.arange(h)[:, None] + np.arange(w)[None, :]).astype(np.float32)
    rapid = target[None] + 1000.0 * np.arange(frames, dtype=np.float32)[:, None, None]
    return TrainingPair(name, rapid, target, rows or (0, h))


def test_rapid_and_target_patches_are_cut_at_the_same_place():
    x, y = sample_patches([ramp_pair()], 50, 16, np.random.default_rng(0), augment="none")
    diff = (x - y) * 65535.0  # = 1000 * frame, constant over the patch
    assert np.allclose(diff, diff[:, :1, :1], atol=0.05)
    assert set(np.round(diff[:, 0, 0, 0] / 1000).astype(int)) <= set(range(5))
    # no augmentation: rows increase downwards, columns to the right
    assert (np.diff(y[..., 0], axis=1) > 0).all() and (np.diff(y[..., 0], axis=2) > 0).all()


def test_vflip_flips_rapid_and_target_together_and_never_mirrors_the_scan_direction():
    x, y = sample_patches([ramp_pair()], 200, 16, np.random.default_rng(1), augment="vflip")
    diff = (x - y) * 65535.0
    assert np.allclose(diff, diff[:, :1, :1], atol=0.05)
    flipped = np.diff(y[..., 0], axis=1)[:, 0, 0] < 0
    assert 50 < flipped.sum() < 150  # about half are upside down
    assert (np.diff(y[..., 0], axis=2) > 0).all()  # +x (fast scan) is never reversed


def test_dihedral_also_mirrors_the_scan_direction():
    _, y = sample_patches([ramp_pair()], 200, 16, np.random.default_rng(1), augment="dihedral")
    assert (np.diff(y[..., 0], axis=2) < 0).all(axis=(1, 2)).any()


def test_patches_stay_in_the_allowed_rows():
    _, y = sample_patches([ramp_pair(rows=(10, 30))], 100, 16, np.random.default_rng(2), augment="none")
    rows = np.floor(y[..., 0] * 65535.0 / 100 + 1e-6)
    assert rows.min() >= 10 and rows.max() <= 29


def test_sampling_is_reproducible_from_the_seed():
    a = sample_patches([ramp_pair()], 8, 16, np.random.default_rng(5))
    b = sample_patches([ramp_pair()], 8, 16, np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])


def test_unknown_augmentation_is_refused():
    with pytest.raises(ValueError, match="augment"):
        sample_patches([ramp_pair()], 1, 16, np.random.default_rng(0), augment="hflip")


def test_validation_fovs_are_whole_fovs():
    fovs = [f"fov{i:03d}" for i in range(15)]
    train, val = split_validation_fovs(fovs, 0.2, seed=0)
    assert len(val) == 3 and len(train) == 12 and not set(train) & set(val)
    assert sorted(train + val) == fovs
    assert split_validation_fovs(fovs, 0.2, seed=0) == (train, val)
    with pytest.raises(ValueError):
        split_validation_fovs(["fov000"], 0.2, 0)


def test_validation_rows_are_a_band_at_least_one_patch_high():
    assert split_validation_rows(500, 0.2, 64) == ((0, 400), (400, 500))
    assert split_validation_rows(220, 0.2, 64) == ((0, 156), (156, 220))
    with pytest.raises(ValueError, match="too low"):
        split_validation_rows(100, 0.2, 64)


def test_open_pair_memory_maps_and_checks_sizes(tmp_path):
    write_tiff(tmp_path / "a/rapid.tif", np.zeros((4, 32, 32), np.float32))
    write_tiff(tmp_path / "a/slow.tif", np.zeros((32, 32), np.float32))
    write_tiff(tmp_path / "b/slow.tif", np.zeros((30, 32), np.float32))
    pair = open_pair(tmp_path / "a/rapid.tif", tmp_path / "a/slow.tif", frames=3)
    assert isinstance(pair.rapid.base, np.memmap) or isinstance(pair.rapid, np.memmap)
    assert pair.n_frames == 3 and pair.name == "a"
    with pytest.raises(DataError, match="b/slow.tif is 30x32"):
        open_pair(tmp_path / "a/rapid.tif", tmp_path / "b/slow.tif")
    with pytest.raises(DataError, match="5 frames requested but the stack has 4"):
        open_pair(tmp_path / "a/rapid.tif", tmp_path / "a/slow.tif", frames=5)
    with pytest.raises(DataError, match="must be one image"):
        open_pair(tmp_path / "a/rapid.tif", tmp_path / "a/rapid.tif")


def test_single_fov_is_split_by_rows(tmp_path):
    write_tiff(tmp_path / "s/rapid.tif", np.zeros((6, 80, 40), np.float32))
    write_tiff(tmp_path / "s/slow.tif", np.zeros((80, 40), np.float32))
    train, val = training_pairs([tmp_path / "s/rapid.tif"], [tmp_path / "s/slow.tif"], ["s"], 4, 0.2, 16, 0)
    assert train[0].rows == (0, 64) and val[0].rows == (64, 80) and train[0].n_frames == 4


def test_frame_windows_are_centred_or_causal_and_mirrored_at_the_ends():
    from stemdlf.nn.patches import frame_window

    assert frame_window(5, 10, 1).tolist() == [5]
    assert frame_window(5, 10, 5).tolist() == [3, 4, 5, 6, 7]
    assert frame_window(0, 10, 5).tolist() == [2, 1, 0, 1, 2]
    assert frame_window(9, 10, 5).tolist() == [7, 8, 9, 8, 7]
    assert frame_window(5, 10, 3, causal=True).tolist() == [3, 4, 5]
    assert frame_window(0, 10, 3, causal=True).tolist() == [2, 1, 0]
    assert frame_window(0, 1, 3).tolist() == [0, 0, 0]


def test_multi_frame_patches_hold_the_aligned_window_around_the_chosen_frame():
    x, y = sample_patches([ramp_pair(frames=6)], 40, 16, np.random.default_rng(2), augment="vflip", input_frames=3)
    assert x.shape == (40, 16, 16, 3) and y.shape == (40, 16, 16, 1)
    frames = np.round((x - y) * 65535.0 / 1000.0)  # frame index of each channel, constant per patch
    assert np.allclose(frames, frames[:, :1, :1, :], atol=1e-3)
    centre = frames[:, 0, 0, 1]
    # channels are the neighbours of the centre frame, mirrored at the ends of the stack
    from stemdlf.nn.patches import frame_window
    for f, c in zip(frames[:, 0, 0, :], centre):
        assert f.tolist() == frame_window(int(c), 6, 3).tolist()
