"""The data contract: a dataset folder of fields of view (FOVs).

::

    <dataset>/dataset.yaml            name, pixel_size_nm, rapid_dwell_ns, slow_dwell_us, scan_direction
    <dataset>/fovs/<fov>/rapid.tif    uint16, (frames, H, W), acquisition order
    <dataset>/fovs/<fov>/slow.tif     uint16, (H, W)
    <dataset>/fovs/<fov>/dcfi.tif     optional, (H, W); computed when absent
    <dataset>/truth/<fov>/...         optional ground truth (synthetic data only)

Real and synthetic data look the same. :func:`validate_dataset` checks every
FOV's headers (no pixel data is read) so that a problem is reported, with the
file named, before any heavy work starts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from stemdlf.errors import DataError
from stemdlf.io.inputs import check_readable

__all__ = [
    "FOV_ID_PATTERN",
    "DatasetInfo",
    "FovInfo",
    "read_dataset_meta",
    "discover_fovs",
    "validate_fov",
    "validate_dataset",
]

#: FOV ids are folder names: a letter or digit, then letters, digits, '_', '-' or '.'.
FOV_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
_FOV_RE = re.compile(FOV_ID_PATTERN)

#: Keys of dataset.yaml, with their types. ``name`` and ``pixel_size_nm`` are required.
META_KEYS = {
    "name": str,
    "pixel_size_nm": (int, float),
    "rapid_dwell_ns": (int, float),
    "slow_dwell_us": (int, float),
    "scan_direction": str,
    "synthetic": bool,
    "description": str,
}
REQUIRED_META = ("name", "pixel_size_nm")
#: Fast-scan directions the data contract takes ("x": the fast-scan axis is x, scanned left to right).
SCAN_DIRECTIONS = ("left-to-right", "x")


@dataclass(frozen=True)
class FovInfo:
    """Header facts of one FOV, as found on disk."""

    fov: str
    n_frames: int
    shape: tuple[int, int]
    has_dcfi: bool


@dataclass(frozen=True)
class DatasetInfo:
    """A validated dataset: its metadata and every FOV."""

    path: Path
    meta: dict
    fovs: tuple[FovInfo, ...]

    @property
    def fov_ids(self) -> list[str]:
        """The FOV identifiers, in order."""
        return [f.fov for f in self.fovs]


def read_dataset_meta(path: str | Path) -> dict:
    """Read and check ``<dataset>/dataset.yaml``.

    Raises
    ------
    DataError
        If the file is missing, not YAML, has unknown keys or wrong types.
    """
    meta_path = Path(path) / "dataset.yaml"
    if not meta_path.is_file():
        raise DataError(meta_path, "missing; every dataset folder needs a dataset.yaml "
                        "(name, pixel_size_nm, rapid_dwell_ns, slow_dwell_us, scan_direction)")
    try:
        meta = yaml.safe_load(meta_path.read_text())
    except yaml.YAMLError as exc:
        raise DataError(meta_path, f"not valid YAML ({exc})") from exc
    if not isinstance(meta, dict):
        raise DataError(meta_path, "must be a mapping of keys to values")
    unknown = sorted(set(meta) - set(META_KEYS))
    if unknown:
        raise DataError(meta_path, f"unknown keys {unknown}; allowed: {sorted(META_KEYS)}")
    for key in REQUIRED_META:
        if key not in meta:
            raise DataError(meta_path, f"required key '{key}' is missing")
    for key, value in meta.items():
        expected = META_KEYS[key]
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            raise DataError(meta_path, f"key '{key}' has the wrong type ({type(value).__name__})")
    for key in ("pixel_size_nm", "rapid_dwell_ns", "slow_dwell_us"):
        if key in meta and not (math.isfinite(meta[key]) and meta[key] > 0):
            raise DataError(meta_path, f"{key} must be a finite number > 0, got {meta[key]}")
    direction = meta.get("scan_direction", "left-to-right")
    if direction not in SCAN_DIRECTIONS:
        raise DataError(meta_path, f"scan_direction '{direction}' is not supported (supported: "
                        f"{', '.join(SCAN_DIRECTIONS)}); rotate or flip the frames so the fast scan runs left to right")
    return meta


def discover_fovs(path: str | Path) -> list[str]:
    """FOV ids of a dataset: the sorted folder names under ``<dataset>/fovs``.

    Raises
    ------
    DataError
        If ``fovs/`` is missing or empty, or a folder name is not a valid FOV id.
    """
    fovs_dir = Path(path) / "fovs"
    if not fovs_dir.is_dir():
        raise DataError(fovs_dir, "folder not found; FOVs go in <dataset>/fovs/<fov>/")
    names = sorted(p.name for p in fovs_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise DataError(fovs_dir, "contains no FOV folders")
    bad = [n for n in names if not _FOV_RE.fullmatch(n)]  # fullmatch: "$" would let a trailing newline pass
    if bad:
        raise DataError(fovs_dir, f"invalid FOV ids {bad}: use letters, digits, '_', '-' "
                        "or '.', starting with a letter or digit")
    folded: dict[str, str] = {}
    for name in names:  # the results hold a folder per FOV: on a case-insensitive disk these would be one
        if name.lower() in folded:
            raise DataError(fovs_dir, f"FOV ids {folded[name.lower()]!r} and {name!r} differ only in case, and "
                            "would be one folder on a case-insensitive disk (macOS, Windows): rename one")
        folded[name.lower()] = name
    return names


def validate_fov(fov_dir: str | Path) -> FovInfo:
    """Check one FOV folder's TIFF headers against the data contract.

    Raises
    ------
    DataError
        Naming the file, for: missing rapid.tif or slow.tif; empty or corrupt TIFF;
        dtype other than uint16; rapid not (frames, H, W); slow or dcfi not (H, W);
        rapid and slow (or dcfi) of different H x W.
    """
    fov_dir = Path(fov_dir)
    rapid, slow, dcfi = fov_dir / "rapid.tif", fov_dir / "slow.tif", fov_dir / "dcfi.tif"
    for required in (rapid, slow):
        if not required.is_file():
            raise DataError(required, "missing; each FOV needs rapid.tif and slow.tif")
    r_shape = _check_tiff(rapid, ndim=3, what="rapid-scan stack (frames, H, W)")
    s_shape = _check_tiff(slow, ndim=2, what="slow-scan image (H, W)")
    if r_shape[1:] != s_shape:
        raise DataError(rapid, f"rapid frames are {r_shape[1]}x{r_shape[2]} but {slow.name} is "
                        f"{s_shape[0]}x{s_shape[1]}; rapid and slow scans must have the same pixel grid size")
    has_dcfi = dcfi.is_file()
    if has_dcfi:
        d_shape = _check_tiff(dcfi, ndim=2, what="DCFI image (H, W)")
        if d_shape != s_shape:
            raise DataError(dcfi, f"is {d_shape[0]}x{d_shape[1]} but {slow.name} is {s_shape[0]}x{s_shape[1]}")
    return FovInfo(fov=fov_dir.name, n_frames=r_shape[0], shape=s_shape, has_dcfi=has_dcfi)


#: Smallest FOV (px): the distortion estimate's templates and a depth-2 U-Net's patches need room.
MIN_FOV_PX = 32


def _check_tiff(path: Path, ndim: int, what: str) -> tuple[int, ...]:
    shape, dtype = check_readable(path)  # the header, and every page's data inside the file
    if dtype != np.uint16:
        raise DataError(path, f"dtype is {dtype}, expected uint16 for a {what}")
    if len(shape) != ndim:
        raise DataError(path, f"has shape {shape} ({len(shape)} dimensions), expected a {what}")
    if min(shape) < 1:
        raise DataError(path, f"has an empty dimension, shape {shape}")
    if min(shape[-2:]) < MIN_FOV_PX:
        raise DataError(path, f"images are {shape[-2]}x{shape[-1]} px; a FOV needs at least {MIN_FOV_PX}x{MIN_FOV_PX}")
    return shape


def validate_dataset(path: str | Path, min_fovs: int = 1) -> DatasetInfo:
    """Validate a whole dataset folder from its headers.

    Parameters
    ----------
    path : str or Path
        Dataset folder in the data-contract layout.
    min_fovs : int
        Fewest FOVs the caller needs (e.g. train + test of the split).

    Returns
    -------
    DatasetInfo

    Raises
    ------
    DataError
        Naming the file and the problem; also when FOVs differ in image size or
        there are fewer than ``min_fovs``.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataError(path, "dataset folder not found")
    meta = read_dataset_meta(path)
    ids = discover_fovs(path)
    if len(ids) < min_fovs:
        raise DataError(path / "fovs", f"has {len(ids)} FOVs but at least {min_fovs} are needed "
                        "(the train/test split in the config); lower split.n_train/n_test or add FOVs")
    fovs = tuple(validate_fov(path / "fovs" / fov) for fov in ids)
    first = fovs[0]
    for f in fovs[1:]:
        if f.shape != first.shape:
            raise DataError(path / "fovs" / f.fov / "slow.tif",
                            f"is {f.shape[0]}x{f.shape[1]} but FOV {first.fov} is "
                            f"{first.shape[0]}x{first.shape[1]}; all FOVs of a dataset share one size")
    return DatasetInfo(path=path, meta=meta, fovs=fovs)
