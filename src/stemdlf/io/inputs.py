"""Checks of input image files, run before any work starts.

:func:`stemdlf.io.tiff.tiff_info` reads a TIFF's header only. A file cut short by a failed copy, or
written with a compression no installed codec reads, passes it and fails later inside a job.
These checks read what the header promises: every page's data lies inside the file, the first
page decodes, frames are single-channel, and floating-point frames are finite.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import tifffile

from stemdlf.errors import DataError
from stemdlf.io.tiff import iter_frames, tiff_info

__all__ = ["check_readable", "check_stack", "value_range"]


def check_readable(path: str | Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a TIFF whose every page lies inside the file and whose first page decodes.

    Raises
    ------
    DataError
        Naming the file: missing, empty, not a TIFF, cut short (a page's data ends past the end
        of the file), a compression no installed codec decodes, or colour (RGB) pages.
    """
    path = Path(path)
    quiet = logging.getLogger("tifffile")  # its own warnings about the damage this reports
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        shape, dtype = tiff_info(path)
        return _check_pages(path, shape, dtype)
    finally:
        quiet.setLevel(level)


def _check_pages(path: Path, shape: tuple[int, ...], dtype: np.dtype) -> tuple[tuple[int, ...], np.dtype]:
    with tifffile.TiffFile(path) as tif:
        size = tif.filehandle.size
        series = tif.series[0]
        if series.dataoffset is not None and series.dataoffset + series.nbytes > size:  # contiguous (ImageJ)
            raise DataError(path, f"is cut short: its pixel data need {series.dataoffset + series.nbytes} bytes but "
                            f"the file has {size} (an interrupted copy or write?)")
        for k, page in enumerate(series.pages):
            if page is None:
                continue
            ends = [o + n for o, n in zip(page.dataoffsets, page.databytecounts) if n]
            if ends and max(ends) > size:
                raise DataError(path, f"is cut short: page {k} needs {max(ends)} bytes but the file has {size} "
                                "(an interrupted copy or write?)")
        first = series.pages[0]
        if getattr(first, "samplesperpixel", 1) > 1:
            raise DataError(path, f"has {first.samplesperpixel} samples per pixel (colour); "
                            "STEM frames are single-channel: convert to greyscale first")
        try:
            first.asarray()
        except Exception as exc:  # noqa: BLE001 - codecs raise many types
            raise DataError(path, f"cannot decode its pixel data ({type(exc).__name__}: {exc})") from exc
    return shape, dtype


def value_range(path: str | Path, chunk: int = 64) -> tuple[float, float, int]:
    """(min, max, count of non-finite pixels) of a stack, read in chunks of ``chunk`` frames."""
    low, high, bad = np.inf, -np.inf, 0
    for frames in iter_frames(path, chunk):
        finite = np.isfinite(frames) if frames.dtype.kind == "f" else None
        if finite is not None and not finite.all():
            bad += int((~finite).sum())
            frames = frames[finite]
        if frames.size:
            low, high = min(low, float(frames.min())), max(high, float(frames.max()))
    return low, high, bad


def check_stack(path: str | Path, what: str = "rapid-scan stack", ndims: tuple[int, ...] = (3,),
                min_frames: int = 1, min_size: int = 8) -> tuple[tuple[int, ...], np.dtype]:
    """Check a stack of frames a command is about to process.

    Parameters
    ----------
    path : str or Path
        TIFF file.
    what : str
        What the file should be, for the message.
    ndims : tuple of int
        Accepted numbers of dimensions: 3 for ``(frames, H, W)``, 2 for one ``(H, W)`` frame.
    min_frames : int
        Fewest frames (DCFI needs two).
    min_size : int
        Smallest height and width.

    Returns
    -------
    shape, dtype

    Raises
    ------
    DataError
        Naming the file and the problem (see :func:`check_readable`), and for: the wrong number
        of dimensions, too few frames, frames smaller than ``min_size``, a dtype that is not
        integer or floating point, and non-finite (NaN, inf) pixels.
    """
    shape, dtype = check_readable(path)
    if len(shape) not in ndims:
        expected = " or ".join({3: "(frames, H, W)", 2: "(H, W)"}[n] for n in ndims)
        raise DataError(path, f"has shape {shape} ({len(shape)} dimensions), expected a {what} {expected}")
    frames = shape[0] if len(shape) == 3 else 1
    if frames < min_frames:
        raise DataError(path, f"has {frames} frame(s); a {what} needs at least {min_frames}")
    if min(shape[-2:]) < min_size:
        raise DataError(path, f"frames are {shape[-2]}x{shape[-1]}; at least {min_size}x{min_size} px are needed")
    if dtype.kind not in "uif":
        raise DataError(path, f"dtype is {dtype}; expected integer or floating-point pixels")
    if dtype.kind == "f":
        _, _, bad = value_range(path)
        if bad:
            raise DataError(path, f"has {bad} non-finite (NaN or inf) pixels; replace them before filtering")
    return shape, dtype
