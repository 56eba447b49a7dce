"""Reading and atomically writing TIFF images with pixel-size calibration.

Every TIFF written here is an ImageJ hyperstack whose resolution tags carry the
pixel size, so Fiji/ImageJ opens it calibrated. Writes go through
:func:`stemdlf.io.atomic.atomic_path`, so an interrupted job never leaves a
half-written image behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import tifffile

from stemdlf.errors import DataError
from stemdlf.io.atomic import atomic_path

__all__ = [
    "tiff_info",
    "read_tiff",
    "open_stack",
    "read_frames",
    "iter_frames",
    "write_tiff",
    "pixel_size_nm",
]


def tiff_info(path: str | Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of the first image series of a TIFF, without reading pixels.

    Parameters
    ----------
    path : str or Path
        TIFF file.

    Returns
    -------
    shape : tuple of int
    dtype : numpy.dtype

    Raises
    ------
    DataError
        If the file is missing, empty, or not a readable TIFF.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    if path.stat().st_size == 0:
        raise DataError(path, "file is empty (0 bytes)")
    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise DataError(path, "not a readable TIFF: no image found (corrupt header or image directory)")
            series = tif.series[0]
            if len(tif.series) > 1:
                shapes = ", ".join(f"{'x'.join(map(str, s.shape))} {s.dtype}" for s in tif.series[:4])
                raise DataError(path, f"holds {len(tif.series)} image series ({shapes}); stemdlf reads one stack "
                                "per file: save the stack alone (e.g. without its thumbnail or overview)")
            _check_imagej_count(path, tif)
            return tuple(int(s) for s in series.shape), np.dtype(series.dtype)
    except DataError:
        raise
    except Exception as exc:  # tifffile raises several types for corrupt files
        raise DataError(path, f"not a readable TIFF ({type(exc).__name__}: {exc})") from exc


def _check_imagej_count(path: Path, tif: tifffile.TiffFile) -> None:
    """Refuse an ImageJ header whose image count disagrees with the pages the file holds.

    tifffile reads as many frames as the header's ``images=`` says, so a header that under-counts
    would silently drop frames and one that over-counts would read past them.
    """
    images = (tif.imagej_metadata or {}).get("images") if tif.is_imagej else None
    if images is None:
        return
    pages = len(tif.pages)
    if pages > 1 and int(images) != pages:  # one page only: ImageJ's contiguous big stacks (>4 GB) are so
        raise DataError(path, f"its ImageJ header says images={images} but the file holds {pages} pages "
                        "(a stack edited or cut by another program?); resave it, e.g. in Fiji")


def read_tiff(path: str | Path) -> np.ndarray:
    """Read the first image series of a TIFF.

    Raises
    ------
    DataError
        If the file is missing, empty or corrupt (truncated pixel data included).
    """
    tiff_info(path)
    try:
        return tifffile.imread(path, series=0)
    except Exception as exc:
        raise DataError(path, f"cannot read pixel data ({type(exc).__name__}: {exc})") from exc


def open_stack(path: str | Path) -> np.ndarray:
    """A TIFF stack as ``(frames, H, W)``, memory-mapped where its pixels are contiguous, else read once.

    A single image is returned as a stack of one frame. A memory-mapped stack is read-only and
    costs no memory until its frames are used (training draws patches from it).

    Raises
    ------
    DataError
        If the file is missing, empty or corrupt (:func:`tiff_info`, :func:`read_tiff`).
    """
    tiff_info(path)
    try:
        stack = tifffile.memmap(path, mode="r")
    except ValueError:  # compressed or tiled: no contiguous pixels to map
        stack = read_tiff(path)
    return stack[np.newaxis] if stack.ndim == 2 else stack


def iter_frames(path: str | Path, chunk: int = 64) -> Iterator[np.ndarray]:
    """Yield consecutive chunks of frames of a (frames, H, W) or (H, W) TIFF.

    Memory stays bounded by ``chunk`` frames whatever the stack length.

    Parameters
    ----------
    path : str or Path
        TIFF stack.
    chunk : int
        Frames per yielded array.

    Yields
    ------
    numpy.ndarray
        Array of shape (n, H, W) with n <= chunk.
    """
    shape, _ = tiff_info(path)
    try:
        with tifffile.TiffFile(path) as tif:
            pages = tif.series[0].pages
            if len(shape) == 2:
                yield tif.series[0].asarray()[np.newaxis]
                return
            n = shape[0]
            for start in range(0, n, chunk):
                stop = min(start + chunk, n)
                if len(pages) == n:
                    yield np.stack([pages[i].asarray() for i in range(start, stop)])
                else:  # one page holding the whole stack (e.g. a contiguous series)
                    yield tif.series[0].asarray()[start:stop]
    except DataError:
        raise
    except Exception as exc:
        raise DataError(path, f"cannot read pixel data ({type(exc).__name__}: {exc})") from exc


def read_frames(path: str | Path, start: int, stop: int) -> np.ndarray:
    """Frames ``start .. stop - 1`` of a (frames, H, W) TIFF (a (H, W) TIFF is one frame).

    Raises
    ------
    DataError
        If the range is outside the stack or the pixel data cannot be read.
    """
    shape, _ = tiff_info(path)
    n = 1 if len(shape) == 2 else shape[0]
    if not 0 <= start < stop <= n:
        raise DataError(path, f"frames {start}..{stop - 1} requested but the stack has {n}")
    try:
        with tifffile.TiffFile(path) as tif:
            pages = tif.series[0].pages
            if len(shape) == 2:
                return tif.series[0].asarray()[np.newaxis]
            if len(pages) == n:
                return np.stack([pages[i].asarray() for i in range(start, stop)])
            return tif.series[0].asarray()[start:stop]
    except DataError:
        raise
    except Exception as exc:
        raise DataError(path, f"cannot read pixel data ({type(exc).__name__}: {exc})") from exc


#: Length units (ImageJ's ``unit`` and spellings microscope software writes) in nm.
_UNIT_NM = {"nm": 1.0, "nanometer": 1.0, "nanometre": 1.0, "um": 1e3, "\u00b5m": 1e3, "\u03bcm": 1e3,
            "\\u00b5m": 1e3, "micron": 1e3, "microns": 1e3, "micrometer": 1e3, "micrometre": 1e3, "pm": 1e-3,
            "a": 0.1, "\u00e5": 0.1, "\\u00c5": 0.1, "angstrom": 0.1, "mm": 1e6, "cm": 1e7, "m": 1e9}
#: TIFF ResolutionUnit: 2 inch, 3 centimetre, in nm (1: no absolute unit).
_RESOLUTION_UNIT_NM = {2: 2.54e7, 3: 1e7}


def pixel_size_nm(path: str | Path) -> float | None:
    """Pixel size in nm recorded in a TIFF's calibration, or None when it records none.

    The ImageJ ``unit`` (nm, um, pm, Å, mm, ...) takes precedence; otherwise the TIFF
    ``ResolutionUnit`` (inch or centimetre) gives the length. A file with resolution tags but
    no length unit (``ResolutionUnit`` NONE, tifffile's and many writers' default) is
    uncalibrated: None, never a made-up 1 nm.

    Raises
    ------
    DataError
        If the file is missing, empty or not a TIFF.
    """
    tiff_info(path)
    with tifffile.TiffFile(path) as tif:
        ij = tif.imagej_metadata or {}
        page = tif.pages[0]
        tag = page.tags.get("XResolution")
        if tag is None:
            return None
        num, den = tag.value
        if num == 0 or den == 0:
            return None
        per_unit = den / num  # pixel size in the file's length unit
        unit = str(ij.get("unit", "")).strip().lower()
        if unit in _UNIT_NM:
            return per_unit * _UNIT_NM[unit]
        unit_tag = page.tags.get("ResolutionUnit")
        scale = _RESOLUTION_UNIT_NM.get(int(unit_tag.value) if unit_tag is not None else 2)  # TIFF default: inch
        return per_unit * scale if scale is not None else None


def write_tiff(
    path: str | Path,
    data: np.ndarray | Iterable[np.ndarray],
    pixel_size_nm: float | None = None,
    *,
    shape: tuple[int, ...] | None = None,
    dtype: np.dtype | type | None = None,
    metadata: dict | None = None,
) -> Path:
    """Write an image or stack atomically as a calibrated ImageJ TIFF.

    Parameters
    ----------
    path : str or Path
        Destination.
    data : numpy.ndarray or iterable of numpy.ndarray
        (H, W) image or (frames, H, W) stack; or an iterable yielding frames or
        chunks of frames, for streaming long stacks in bounded memory (then
        ``shape`` and ``dtype`` are required).
    pixel_size_nm : float, optional
        Pixel size in nm, written as ImageJ's ``micron`` unit with the resolution in pixels per
        micron: the one unit Fiji, tifffile, :func:`pixel_size_nm` and RosettaSciIO (HyperSpy's
        reader) all read as a length.
    shape, dtype : optional
        Full shape and dtype when ``data`` is an iterable.
    metadata : dict, optional
        Extra ImageJ metadata (strings and numbers), e.g. the covered region.

    Returns
    -------
    Path
        The written path.
    """
    path = Path(path)
    md: dict = {"unit": "micron"} if pixel_size_nm else {}
    if metadata:
        md.update({k: v for k, v in metadata.items()})
    if isinstance(data, np.ndarray):
        shape, dtype = data.shape, data.dtype
        payload: np.ndarray | Iterator[np.ndarray] = data
    else:
        if shape is None or dtype is None:
            raise ValueError("shape and dtype are required when data is an iterable")
        payload = _pages(data)
    md["axes"] = "TYX" if len(shape) == 3 else "YX"
    kwargs = {}
    if pixel_size_nm:
        per_micron = 1e3 / pixel_size_nm
        kwargs["resolution"] = (per_micron, per_micron)
    with atomic_path(path) as tmp:
        tifffile.imwrite(
            tmp, payload, shape=shape, dtype=dtype, imagej=True, metadata=md, **kwargs
        )
    return path


def _pages(chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Flatten an iterable of frames or frame chunks into single 2-D pages."""
    for chunk in chunks:
        chunk = np.asarray(chunk)
        if chunk.ndim == 2:
            yield chunk
        else:
            yield from chunk
