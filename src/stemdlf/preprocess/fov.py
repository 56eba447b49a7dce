"""Per-FOV file-to-file steps of the workflow: normalisation and DCFI.

Each function reads a FOV's TIFFs in bounded memory (chunks of frames), calls
the numerical modules, and writes its outputs atomically. The workflow scripts
only pass paths and parameters to these, so every step can be run and tested
without Snakemake.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from stemdlf.errors import DataError
from stemdlf.io.atomic import atomic_path, write_json
from stemdlf.io.tiff import iter_frames, read_tiff, tiff_info, write_tiff
from stemdlf.preprocess.dcfi import DriftOptions, dcfi_chunked
from stemdlf.preprocess.normalise import MinMax, apply_minmax, fit_minmax

if TYPE_CHECKING:
    from stemdlf.preprocess.distortion import Distortion, DistortionOptions

__all__ = ["full_roi", "stack_minmax", "normalise_fov", "dcfi_fov", "estimate_distortion_from_files",
           "register_fovs_from_files", "correct_fov"]


def full_roi(shape: tuple[int, ...]) -> list[int]:
    """``slow_roi`` [row0, row1, col0, col1] covering a whole (.., H, W) slow-scan grid."""
    return [0, int(shape[-2]), 0, int(shape[-1])]


def stack_minmax(path: str | Path, *, low_percentile: float = 0.0, high_percentile: float = 100.0,
                  chunk: int = 64) -> MinMax:
    """Min-max transform of a whole uint16 stack, read in chunks.

    Percentiles are exact: uint16 data is summarised by its 65536-bin histogram.
    """
    counts = np.zeros(65536, dtype=np.int64)
    for frames in iter_frames(path, chunk):
        counts += np.bincount(frames.ravel(), minlength=65536)
    cdf = np.cumsum(counts) / counts.sum()
    values = np.arange(65536)
    present = values[counts > 0]
    low = values[np.searchsorted(cdf, low_percentile / 100.0, side="left")] if low_percentile > 0 else present[0]
    high = (values[min(np.searchsorted(cdf, high_percentile / 100.0, side="left"), 65535)] if high_percentile < 100
            else present[-1])
    if not high > low:
        raise DataError(path, f"all pixels are {low}: nothing to normalise (blank or saturated acquisition?)")
    return MinMax(float(low), float(high))


def normalise_fov(
    rapid: str | Path, slow: str | Path, out_rapid: str | Path, out_slow: str | Path, out_json: str | Path,
    pixel_size_nm: float | None, *, low_percentile: float = 0.0, high_percentile: float = 100.0, chunk: int = 64,
) -> dict:
    """Min-max normalise a FOV's rapid stack (one transform for the whole stack) and slow scan.

    One transform per stack keeps the frames of a FOV on the same intensity scale,
    as one min-max over "all the images" of the FOV; the slow scan gets its own.
    Outputs are uint16 on 0..65535, like the paper's 16-bit images.

    Returns
    -------
    dict
        The transforms written to ``out_json``: ``{"rapid": {low, high}, "slow": {low, high}}``.
    """
    shape, _ = tiff_info(rapid)
    rapid_t = stack_minmax(rapid, low_percentile=low_percentile, high_percentile=high_percentile, chunk=chunk)
    write_tiff(out_rapid, (apply_minmax(c, rapid_t, np.uint16) for c in iter_frames(rapid, chunk)),
               pixel_size_nm, shape=shape, dtype=np.uint16, metadata={"geometry": "rapid"})
    slow_img = read_tiff(slow)
    try:
        slow_t = fit_minmax(slow_img, low_percentile, high_percentile)
    except ValueError as exc:
        raise DataError(slow, str(exc)) from exc
    write_tiff(out_slow, apply_minmax(slow_img, slow_t, np.uint16), pixel_size_nm,
               metadata={"geometry": "slow", "slow_roi": ",".join(map(str, full_roi(slow_img.shape)))})
    transforms = {"rapid": rapid_t.to_dict(), "slow": slow_t.to_dict()}
    write_json(out_json, transforms)
    return transforms


def dcfi_fov(
    rapid: str | Path, out_dcfi: str | Path, out_shifts: str | Path, out_json: str | Path,
    pixel_size_nm: float | None, *, options: DriftOptions = DriftOptions(), supplied: str | Path | None = None,
    low_percentile: float = 0.0, high_percentile: float = 100.0, chunk: int = 64, progress: bool = False,
) -> np.ndarray:
    """DCFI of one FOV, min-max normalised to uint16, plus its per-frame shifts.

    Parameters
    ----------
    rapid : path
        Raw rapid-scan stack.
    out_dcfi, out_shifts, out_json : path
        DCFI image, per-frame shifts CSV (frame, shift_y_px, shift_x_px), normalisation.
    pixel_size_nm : float or None
        Calibration written to the TIFF.
    options : DriftOptions
    supplied : path, optional
        The dataset's own dcfi.tif: then it is normalised and used, and only the
        shifts are estimated.
    low_percentile, high_percentile : float
        Normalisation percentiles.
    chunk : int
        Frames read at a time.
    progress : bool
        Show a progress bar over the passes through the stack (tqdm).

    Returns
    -------
    numpy.ndarray
        The (frames, 2) shifts.
    """
    from tqdm import tqdm

    n = tiff_info(rapid)[0][0]
    if options.reference_frame >= n:
        raise DataError(rapid, f"has {n} frames; dcfi.reference_frame {options.reference_frame} does not exist")
    passes = 2 * max(1, options.iterations) + (supplied is None)  # templates and registrations, the final mean
    with tqdm(total=passes * n, unit="frame", desc="DCFI", disable=not progress) as bar:

        def chunks():
            for frames in iter_frames(rapid, chunk):
                yield frames
                bar.update(len(frames))

        image, shifts = dcfi_chunked(chunks, options, integrate=supplied is None)
    if supplied is not None:
        image = read_tiff(supplied).astype(np.float32)
    try:
        transform = fit_minmax(image, low_percentile, high_percentile)
    except ValueError as exc:
        raise DataError(supplied or rapid, f"DCFI is constant: {exc}") from exc
    write_tiff(out_dcfi, apply_minmax(image, transform, np.uint16), pixel_size_nm,
               metadata={"geometry": "rapid", "source": "supplied" if supplied else "computed"})
    table = pd.DataFrame({"frame": np.arange(n), "shift_y_px": shifts[:, 0], "shift_x_px": shifts[:, 1]})
    with atomic_path(out_shifts) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    write_json(out_json, {"dcfi": transform.to_dict(), "source": "supplied" if supplied else "computed"})
    return shifts


def estimate_distortion_from_files(
    fovs: dict[str, tuple[str | Path, str | Path]], method: str, options: "DistortionOptions",
    reference: str | None,
) -> "Distortion":
    """Estimate a distortion profile from FOV files.

    Parameters
    ----------
    fovs : dict
        FOV id -> (normalised DCFI path, normalised slow path), the candidate FOVs.
    method : {"paper", "dp", "published"}
    options : DistortionOptions
    reference : str or None
        Estimate on this FOV alone; None combines every FOV robustly (per-column
        median), skipping FOVs whose match is too poor as long as half remain.

    Returns
    -------
    Distortion
    """
    from stemdlf.preprocess.distortion import DistortionQualityError, combine_profiles, estimate_distortion

    log = logging.getLogger("stemdlf")

    def estimate(fov: str) -> "Distortion":
        dcfi_path, slow_path = fovs[fov]
        return estimate_distortion(read_tiff(dcfi_path).astype(np.float64), read_tiff(slow_path).astype(np.float64),
                                   method, options, where=f"FOV {fov}")

    if reference is not None:
        d = estimate(reference)
        d.info["reference"] = reference
        return d
    profiles, skipped = [], {}
    for fov in fovs:
        try:
            profiles.append(estimate(fov))
        except DistortionQualityError as exc:
            skipped[fov] = str(exc)
            log.warning("skipping %s", exc)
    if len(profiles) < max(1, len(fovs) / 2):
        raise DistortionQualityError(
            f"only {len(profiles)} of {len(fovs)} FOVs gave a trustworthy distortion estimate; "
            f"first problem: {next(iter(skipped.values()), '')}")
    combined = combine_profiles(profiles)
    combined.info.update(reference="global", fovs=sorted(set(fovs) - set(skipped)), skipped=skipped,
                         seconds=float(sum(p.info["seconds"] for p in profiles)))
    return combined


def correct_fov(
    distortion: "Distortion", *, rapid: str | Path, dcfi: str | Path, slow: str | Path, shifts: str | Path | None,
    out_rapid: str | Path, out_dcfi: str | Path, out_slow: str | Path, pixel_size_nm: float | None,
    chunk: int = 64, offset: tuple[float, float] = (0.0, 0.0),
) -> list[int]:
    """Resample a FOV's normalised rapid frames and DCFI into slow-scan geometry.

    Frames are also registered onto the DCFI's reference frame with their DCFI
    shifts, and the whole FOV onto its own slow scan with its ``offset``
    (:func:`register_fovs_from_files`), in one interpolation, so every training pair
    is aligned. Outputs are float32 on the 0..65535 scale, cropped to ``slow_roi``,
    which is recorded in the TIFF metadata; the slow scan is cropped to the same region.

    Returns
    -------
    list of int
        ``slow_roi``.
    """
    roi = distortion.slow_roi
    md = {"geometry": "slow", "slow_roi": ",".join(map(str, roi)),
          "fov_offset_px": ",".join(f"{v:.4f}" for v in offset)}
    all_shifts = None if shifts is None else pd.read_csv(shifts)[["shift_y_px", "shift_x_px"]].to_numpy()
    n, h, w = tiff_info(rapid)[0]
    if (h, w) != tuple(distortion.rapid_shape):
        raise DataError(rapid, f"frames are {h}x{w} but the distortion profile is for "
                        f"{distortion.rapid_shape[0]}x{distortion.rapid_shape[1]} frames")

    def chunks():
        start = 0
        for frames in iter_frames(rapid, chunk):
            part = None if all_shifts is None else all_shifts[start:start + len(frames)]
            yield distortion.apply(frames, part, offset=offset)
            start += len(frames)

    shape = (n, roi[1] - roi[0], roi[3] - roi[2])
    write_tiff(out_rapid, chunks(), pixel_size_nm, shape=shape, dtype=np.float32, metadata=md)
    write_tiff(out_dcfi, distortion.apply(read_tiff(dcfi).astype(np.float32), offset=offset), pixel_size_nm,
               metadata=md)
    write_tiff(out_slow, distortion.crop_slow(read_tiff(slow)).astype(np.float32), pixel_size_nm, metadata=md)
    return roi


def register_fovs_from_files(
    distortion: "Distortion", fovs: dict[str, tuple[str | Path, str | Path]], *,
    options: DriftOptions = DriftOptions(), register: bool = True,
    truth: dict[str, tuple[str | Path, str | Path]] | None = None,
) -> tuple["Distortion", dict, pd.DataFrame]:
    """Register every FOV to its own slow scan on top of the shared profile.

    Parameters
    ----------
    distortion : Distortion
        The shared profile.
    fovs : dict
        Key (e.g. ``"multi/fov003"``) -> (normalised DCFI path, normalised slow path).
    options : DriftOptions
        Phase-correlation settings (the config's ``dcfi:`` section).
    register : bool
        False: every offset is zero (the residuals are still measured and reported).
    truth : dict, optional
        Key -> (true ``distortion.csv``, ``fov.yaml``) of simulated FOVs: adds the error of
        each FOV's corrected geometry against the truth.

    Returns
    -------
    (Distortion, dict, pandas.DataFrame)
        The profile with ``slow_roi`` narrowed to the region every FOV covers with its
        offset, each FOV's :class:`~stemdlf.preprocess.distortion.FOVRegistration` by key, and one row per
        FOV (``key``, offsets, ZNCCs, residuals, truth errors).
    """
    import yaml

    from stemdlf.preprocess.distortion import common_roi, register_fov, truth_error

    images = {key: (read_tiff(d).astype(np.float32), read_tiff(s).astype(np.float64)) for key, (d, s) in fovs.items()}
    passes = 4 if register else 0  # 0: offsets stay zero, the residuals are still measured
    regs = {key: register_fov(distortion, dcfi, slow, options, max_iterations=passes)
            for key, (dcfi, slow) in images.items()}
    cropped = distortion.with_crop(common_roi(distortion, [r.offset for r in regs.values()]))
    rows = []
    for key, reg in regs.items():
        row = {"key": key, **reg.to_dict()}
        row["band_residual_x_px"] = ";".join(f"{v:.3f}" for v in reg.band_residual_x_px)
        if truth is not None and key in truth:
            profile_csv, facts_yaml = truth[key]
            facts = yaml.safe_load(Path(facts_yaml).read_text())
            row.update(truth_error(cropped, reg, pd.read_csv(profile_csv)["rapid_x"].to_numpy(float),
                                   -facts["vertical_offset_px"], facts["detector_delay_px"]))
        rows.append(row)
    return cropped, regs, pd.DataFrame(rows)
