"""The distortion profile: which rapid-frame position images each slow-scan pixel.

A :class:`Distortion` maps slow-scan column ``x`` to the fractional rapid column
``rapid_x[x]`` imaging the same specimen point, and slow-scan row ``r`` to rapid
row ``r + row_offset`` (the hysteresis acts along the fast-scan direction only).
Applying it resamples rapid frames (and the DCFI) into slow-scan geometry over
``slow_roi`` = [row0, row1, col0, col1], the part of the slow grid both scans cover.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from stemdlf.errors import DataError
from stemdlf.evaluate.psnr import psnr
from stemdlf.io.atomic import atomic_path
from stemdlf.preprocess.resample import resample_separable

__all__ = ["Distortion", "compare_to_truth", "psnr_db", "zncc"]


def psnr_db(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of the paper's Eq. 1 in dB (:func:`stemdlf.evaluate.psnr.psnr`, the project's one PSNR)."""
    return psnr(a, b)


def zncc(a: np.ndarray, b: np.ndarray) -> float:
    """Zero-mean normalised cross-correlation of two equally shaped arrays (-1..1)."""
    a = np.asarray(a, np.float64) - np.mean(a)
    b = np.asarray(b, np.float64) - np.mean(b)
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else 0.0


@dataclass
class Distortion:
    """A distortion profile plus the vertical offset between the scans.

    Attributes
    ----------
    rapid_x : numpy.ndarray
        (W,) fractional rapid column for each slow column; NaN where not imaged.
    row_offset : float
        Rapid row = slow row + row_offset.
    rapid_shape : tuple of int
        (H, W) of the rapid frames it applies to.
    info : dict
        How it was estimated (method, reference, scores, crops), saved in view.json.
    crop : list of int, optional
        [row0, row1, col0, col1]: a narrower ``slow_roi`` than the profile covers, set
        when per-FOV offsets (:mod:`stemdlf.preprocess.distortion.register`) shift the sampled
        region, so that every FOV's corrected images cover the same slow-scan region.
    """

    rapid_x: np.ndarray
    row_offset: float
    rapid_shape: tuple[int, int]
    info: dict = field(default_factory=dict)
    crop: list[int] | None = None

    @property
    def slow_roi(self) -> list[int]:
        """[row0, row1, col0, col1] of the slow grid covered by the corrected images."""
        if self.crop is not None:
            return [int(v) for v in self.crop]
        return self.covered_roi()

    def covered_roi(self, offset: tuple[float, float] = (0.0, 0.0)) -> list[int]:
        """[row0, row1, col0, col1] of the slow grid whose rapid position lies inside the frames.

        Parameters
        ----------
        offset : (float, float)
            Per-FOV (dy, dx) in slow-scan px (see :meth:`apply`).
        """
        h, w = self.rapid_shape
        dy, dx = offset
        rows = np.arange(h) + self.row_offset + dy
        ok_rows = np.flatnonzero((rows >= 0) & (rows <= h - 1))
        x = self.rapid_x_at(np.arange(w) + dx)
        ok_cols = np.flatnonzero(np.isfinite(x) & (x >= 0) & (x <= w - 1))
        if len(ok_rows) == 0 or len(ok_cols) == 0:
            raise ValueError("the distortion profile covers no part of the slow-scan grid")
        return [int(ok_rows[0]), int(ok_rows[-1]) + 1, int(ok_cols[0]), int(ok_cols[-1]) + 1]

    def rapid_x_at(self, slow_x: np.ndarray) -> np.ndarray:
        """Rapid column of fractional slow columns (linear between profile samples, NaN off the profile)."""
        ok = np.flatnonzero(np.isfinite(self.rapid_x))
        if len(ok) < 2:
            return np.full(np.shape(slow_x), np.nan)
        return np.interp(slow_x, ok.astype(np.float64), self.rapid_x[ok], left=np.nan, right=np.nan)

    def with_crop(self, crop: list[int]) -> Distortion:
        """The same profile with ``slow_roi`` narrowed to ``crop`` (which must lie inside the covered region)."""
        r0, r1, c0, c1 = self.covered_roi()
        if not (r0 <= crop[0] < crop[1] <= r1 and c0 <= crop[2] < crop[3] <= c1):
            raise ValueError(f"crop {crop} is not inside the region {[r0, r1, c0, c1]} the profile covers")
        return Distortion(self.rapid_x, self.row_offset, self.rapid_shape, dict(self.info), [int(v) for v in crop])

    def apply(self, frames: np.ndarray, shifts: np.ndarray | None = None, order: int = 3,
              offset: tuple[float, float] = (0.0, 0.0), workers: int = 1) -> np.ndarray:
        """Resample rapid frames (or a DCFI) into slow-scan geometry, cropped to ``slow_roi``.

        Parameters
        ----------
        frames : numpy.ndarray
            (H, W) image or (n, H, W) stack in rapid geometry.
        shifts : numpy.ndarray, optional
            (n, 2) per-frame (dy, dx) drift shifts (from DCFI) applied in the same
            interpolation, so every frame lands on the reference frame's position.
        order : int
            Spline order of the interpolation.
        offset : (float, float)
            This FOV's (dy, dx) in slow-scan px: slow pixel (r, c) takes the corrected image
            at (r + dy, c + dx). It places the FOV's slow scan, which the stage may have
            moved after the rapid series; the profile's shape is shared by all FOVs.
        workers : int
            Threads that share each frame's matrix products (for a frame at a time, as live
            filtering prepares them; see :func:`~stemdlf.preprocess.resample.resample_separable`).

        Returns
        -------
        numpy.ndarray
            float32, (rows, cols) or (n, rows, cols) of ``slow_roi``.
        """
        single = frames.ndim == 2
        stack = frames[None] if single else frames
        r0, r1, c0, c1 = self.slow_roi
        oy, ox = offset
        rows = np.arange(r0, r1, dtype=np.float64)[:, None] + self.row_offset + oy
        cols = (self.rapid_x[c0:c1] if ox == 0 else self.rapid_x_at(np.arange(c0, c1) + ox))[None, :]
        # sampling on a tensor grid is separable: two matrix products per frame (equal to
        # ndimage.map_coordinates(..., order, mode="nearest"), see stemdlf.preprocess.resample)
        off_profile = ~np.isfinite(cols[0])  # columns an offset moved off the profile: NaN
        out = resample_separable(stack, rows[:, 0], np.where(off_profile, 0.0, cols[0]), shifts, order, workers)
        out[:, :, off_profile] = np.nan
        return out[0] if single else out

    def crop_slow(self, slow: np.ndarray) -> np.ndarray:
        """The slow-scan image cropped to ``slow_roi``."""
        r0, r1, c0, c1 = self.slow_roi
        return slow[r0:r1, c0:c1]

    def save(self, profile_csv: str | Path, view_json: str | Path) -> None:
        """Write ``profile.csv`` (slow_x, rapid_x) and ``view.json`` atomically."""
        table = pd.DataFrame({"slow_x": np.arange(len(self.rapid_x)), "rapid_x": self.rapid_x})
        with atomic_path(profile_csv) as tmp:
            table.to_csv(tmp, index=False, float_format="%.4f")
        view = {"row_offset": float(self.row_offset), "rapid_shape": list(self.rapid_shape),
                "slow_roi": self.slow_roi, **self.info}
        with atomic_path(view_json) as tmp:
            tmp.write_text(json.dumps(view, indent=2, default=float) + "\n")

    @classmethod
    def from_folder(cls, folder: str | Path, frame_shape: tuple[int, ...]) -> Distortion:
        """The workflow's distortion profile in ``folder`` (``profile.csv``, ``view.json``), checked against frames.

        Raises
        ------
        DataError
            If a file is missing, or the profile is for frames of another size.
        """
        folder = Path(folder)
        for name in ("profile.csv", "view.json"):
            if not (folder / name).is_file():
                raise DataError(folder / name, "not found; --distortion needs the workflow's results/distortion folder")
        distortion = cls.load(folder / "profile.csv", folder / "view.json")
        if tuple(frame_shape[-2:]) != tuple(distortion.rapid_shape):
            raise DataError(folder, f"the distortion profile is for {distortion.rapid_shape[0]}x"
                            f"{distortion.rapid_shape[1]} rapid frames; these are {frame_shape[-2]}x{frame_shape[-1]}")
        return distortion

    @classmethod
    def load(cls, profile_csv: str | Path, view_json: str | Path) -> Distortion:
        """Read what :meth:`save` wrote.

        Raises
        ------
        DataError
            Naming the file that is missing, unreadable or not what :meth:`save` writes.
        """
        try:
            table = pd.read_csv(profile_csv)
            rapid_x = table["rapid_x"].to_numpy(float)
        except (OSError, ValueError, KeyError, pd.errors.ParserError) as err:
            raise DataError(profile_csv, f"is not a distortion profile (slow_x, rapid_x columns): {err}") from err
        try:
            view = json.loads(Path(view_json).read_text())
            info = {k: v for k, v in view.items() if k not in ("row_offset", "rapid_shape", "slow_roi")}
            row_offset, rapid_shape, slow_roi = float(view["row_offset"]), tuple(view["rapid_shape"]), view["slow_roi"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise DataError(view_json, f"is not a distortion view (row_offset, rapid_shape, slow_roi): {err}") from err
        if len(rapid_x) != rapid_shape[1]:
            raise DataError(profile_csv, f"has {len(rapid_x)} columns but {Path(view_json).name} says the frames "
                            f"are {rapid_shape[1]} px wide")
        d = cls(rapid_x, row_offset, rapid_shape, info)
        try:
            return d if list(slow_roi) == d.covered_roi() else d.with_crop(slow_roi)
        except ValueError as err:
            raise DataError(view_json, str(err)) from err


def compare_to_truth(distortion: Distortion, true_rapid_x: np.ndarray, true_row_offset: float,
                     detector_delay_px: float = 0.0) -> dict[str, float]:
    """Accuracy of an estimated profile against the simulator's true one.

    Image registration sees features delayed by the detector lag, so besides the raw
    error the error after removing the (physically computed, not fitted) detector
    delay is reported.

    Returns
    -------
    dict
        shape_rms_px, rms_px, bias_px, rms_delay_corrected_px, max_abs_delay_corrected_px,
        row_offset_error_px, covered_columns.
    """
    ok = np.isfinite(distortion.rapid_x) & np.isfinite(true_rapid_x)
    err = distortion.rapid_x[ok] - true_rapid_x[ok]
    corrected = err - detector_delay_px
    return {
        # the shape alone: a constant offset (where a FOV's slow scan sits) removed
        "shape_rms_px": float(np.std(err)),
        "rms_px": float(np.sqrt(np.mean(err**2))),
        "bias_px": float(np.mean(err)),
        "rms_delay_corrected_px": float(np.sqrt(np.mean(corrected**2))),
        "max_abs_delay_corrected_px": float(np.max(np.abs(corrected))),
        "row_offset_error_px": float(distortion.row_offset - true_row_offset),
        "covered_columns": int(ok.sum()),
    }
