import shutil

import numpy as np
import pytest
import tifffile
import yaml
from conftest import write_fov

from stemdlf.errors import DataError
from stemdlf.io.dataset import discover_fovs, read_dataset_meta, validate_dataset


def make_dataset(root, n=2, **fov_arrays):
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset.yaml").write_text(yaml.safe_dump({"name": "t", "pixel_size_nm": 2.0}))
    for i in range(n):
        write_fov(root / "fovs" / f"f{i}", **(fov_arrays if i == n - 1 else {}))
    return root


def test_valid_dataset_and_sorted_discovery(tmp_path):
    root = make_dataset(tmp_path / "d", n=3)
    info = validate_dataset(root, min_fovs=3)
    assert info.fov_ids == ["f0", "f1", "f2"] == discover_fovs(root)
    assert info.fovs[0].n_frames == 3 and info.fovs[0].shape == (32, 32)


def test_simulated_dataset_follows_the_contract(small_dataset):
    info = validate_dataset(small_dataset, min_fovs=3)
    assert info.fov_ids == ["fov000", "fov001", "fov002"]
    assert info.meta["synthetic"] is True and info.meta["rapid_dwell_ns"] == 100.0


@pytest.mark.parametrize(
    "arrays, culprit, problem",
    [
        ({"rapid": np.zeros((3, 32, 32), np.float32)}, "rapid.tif", "dtype is float32"),
        ({"rapid": np.zeros((32, 32), np.uint16)}, "rapid.tif", "2 dimensions"),
        ({"slow": np.zeros((2, 32, 32), np.uint16)}, "slow.tif", "3 dimensions"),
        ({"slow": np.zeros((32, 40), np.uint16)}, "rapid.tif", "same pixel grid"),
        ({"slow": np.zeros((32, 32), np.uint8)}, "slow.tif", "dtype is uint8"),
    ],
)
def test_bad_fov_files_are_named(tmp_path, arrays, culprit, problem):
    root = make_dataset(tmp_path / "d", **arrays)
    with pytest.raises(DataError, match=problem) as err:
        validate_dataset(root)
    assert err.value.path == root / "fovs" / "f1" / culprit


def test_missing_slow_scan(tmp_path):
    root = make_dataset(tmp_path / "d")
    (root / "fovs" / "f0" / "slow.tif").unlink()
    with pytest.raises(DataError, match="missing") as err:
        validate_dataset(root)
    assert err.value.path.name == "slow.tif"


def test_empty_and_corrupt_tiff(tmp_path):
    root = make_dataset(tmp_path / "d")
    (root / "fovs" / "f0" / "rapid.tif").write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        validate_dataset(root)
    (root / "fovs" / "f0" / "rapid.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(DataError, match="not a readable TIFF"):
        validate_dataset(root)


@pytest.mark.parametrize("name", ["bad id!", "f1\n"])  # "f1\n": a regex "$" would let a trailing newline pass
def test_invalid_fov_ids(tmp_path, name):
    root = make_dataset(tmp_path / "d")
    shutil.copytree(root / "fovs" / "f0", root / "fovs" / name)
    with pytest.raises(DataError, match="invalid FOV ids"):
        validate_dataset(root)


def test_too_few_fovs_for_the_split(tmp_path):
    root = make_dataset(tmp_path / "d", n=2)
    with pytest.raises(DataError, match="has 2 FOVs but at least 66"):
        validate_dataset(root, min_fovs=66)


def test_fovs_of_different_sizes(tmp_path):
    root = make_dataset(tmp_path / "d", n=2)
    write_fov(root / "fovs" / "f1", rapid=np.zeros((3, 48, 48), np.uint16), slow=np.zeros((48, 48), np.uint16))
    with pytest.raises(DataError, match="share one size"):
        validate_dataset(root)


def test_fovs_too_small_for_the_distortion_estimate_are_refused(tmp_path):
    root = make_dataset(tmp_path / "d", n=2)
    write_fov(root / "fovs" / "f1", rapid=np.zeros((3, 8, 8), np.uint16), slow=np.zeros((8, 8), np.uint16))
    with pytest.raises(DataError, match=r"rapid.tif: images are 8x8 px; a FOV needs at least 32x32"):
        validate_dataset(root)


def test_dataset_yaml_is_checked(tmp_path):
    root = make_dataset(tmp_path / "d")
    (root / "dataset.yaml").write_text(yaml.safe_dump({"name": "t", "pixel_size_nm": 2.0, "pixle_size": 1}))
    with pytest.raises(DataError, match="unknown keys"):
        read_dataset_meta(root)
    (root / "dataset.yaml").write_text(yaml.safe_dump({"name": "t"}))
    with pytest.raises(DataError, match="pixel_size_nm"):
        read_dataset_meta(root)
    (root / "dataset.yaml").unlink()
    with pytest.raises(DataError, match="dataset.yaml"):
        validate_dataset(root)


def test_supplied_dcfi_is_checked(tmp_path):
    root = make_dataset(tmp_path / "d")
    tifffile.imwrite(root / "fovs" / "f0" / "dcfi.tif", np.zeros((16, 16), np.uint16))
    with pytest.raises(DataError, match="dcfi.tif"):
        validate_dataset(root)


@pytest.mark.parametrize("value", [".nan", ".inf", "-2.0", "0"])
def test_non_finite_or_non_positive_calibration_is_refused(tmp_path, value):
    root = make_dataset(tmp_path / "d")
    (root / "dataset.yaml").write_text(f"name: t\npixel_size_nm: {value}\n")
    with pytest.raises(DataError, match="pixel_size_nm must be a finite number > 0"):
        validate_dataset(root)


@pytest.mark.parametrize("direction, ok",
                         [("left-to-right", True), ("x", True), ("y", False), ("right-to-left", False)])
def test_scan_direction_values(tmp_path, direction, ok):
    root = make_dataset(tmp_path / "d")
    (root / "dataset.yaml").write_text(yaml.safe_dump({"name": "t", "pixel_size_nm": 2.0, "scan_direction": direction}))
    if ok:
        assert read_dataset_meta(root)["scan_direction"] == direction
    else:
        with pytest.raises(DataError, match="supported: left-to-right, x"):
            read_dataset_meta(root)
