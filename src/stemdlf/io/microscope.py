"""Microscope files in: Velox EMD, Gatan DM3/DM4 and TIA SER through RosettaSciIO.

Microscopes save their own formats; the workflow reads the data contract's TIFFs
(:mod:`stemdlf.io.dataset`). :func:`read_microscope` reads one image or frame series with its
calibration (pixel size, dwell time) from the file's metadata, and :func:`convert_fov` writes a
rapid series and its slow scan as one FOV of a dataset, calibrated, with ``dataset.yaml``.

RosettaSciIO (``pip install "stemdlf[io]"``) is the HyperSpy project's reader library; it is
imported only when a microscope file is read. Series are read lazily (``lazy=True``: a dask array
over the file) and written in chunks of :data:`CHUNK_FRAMES` frames, so a long 4k series never has
to fit in memory.
"""

from __future__ import annotations

import functools
import importlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from stemdlf.errors import DataError
from stemdlf.io.atomic import atomic_path
from stemdlf.io.dataset import FOV_ID_PATTERN, SCAN_DIRECTIONS
from stemdlf.io.tiff import write_tiff

__all__ = ["FORMATS", "CHUNK_FRAMES", "MicroscopeImage", "read_microscope", "find_dcfi", "to_uint16",
           "write_frames", "convert_fov"]

log = logging.getLogger(__name__)

#: File suffix -> RosettaSciIO plugin that reads it.
FORMATS = {".emd": "rsciio.emd", ".dm3": "rsciio.digitalmicrograph", ".dm4": "rsciio.digitalmicrograph",
           ".ser": "rsciio.tia"}

#: Frames read from a lazily read series and written at a time.
CHUNK_FRAMES = 64


@dataclass(frozen=True)
class MicroscopeImage:
    """One image or frame series read from a microscope file.

    Attributes
    ----------
    frames : numpy.ndarray or dask.array.Array
        ``(n, H, W)``, as stored (a single image has ``n == 1``); a dask array over the file when
        read with ``lazy=True``.
    pixel_size_nm : float or None
        From the file's calibration; None where the file has none.
    dwell_time_us : float or None
        Per-pixel dwell time where the file records it (Velox ``Scan.DwellTime``, DigiScan
        ``Sample Time``).
    detector : str
        The detector or signal title (e.g. ``HAADF``), empty if the file names none.
    """

    frames: np.ndarray | Any
    pixel_size_nm: float | None
    dwell_time_us: float | None
    detector: str


def _plugin(path: Path):
    module = FORMATS.get(path.suffix.lower())
    if module is None:
        raise DataError(path, f"not a microscope file this reads ({', '.join(FORMATS)})")
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise DataError(path, f'reading {path.suffix} files needs RosettaSciIO: pip install "stemdlf[io]"') from err


@functools.cache
def _unit_registry():
    import pint

    return pint.UnitRegistry()  # building one takes a good fraction of a second: once per process


def _nm(scale: float, units: str | None) -> float | None:
    """``scale`` in ``units`` as nm; None for an uncalibrated axis (no unit, or not a length)."""
    units = (units or "").strip()
    if not units or units in ("<undefined>", "px", "pixel", "pixels") or not np.isfinite(scale) or scale <= 0:
        return None
    import pint

    ureg = _unit_registry()
    try:
        return float((scale * ureg(units.replace("µ", "u").replace("Å", "angstrom"))).to("nm").magnitude)
    except (pint.errors.PintError, AttributeError, ValueError):
        return None


def _dwell_us(original: dict) -> float | None:
    """The per-pixel dwell time in microseconds from Velox or DigitalMicrograph metadata."""
    try:  # Velox: seconds, as a string
        return float(original["Scan"]["DwellTime"]) * 1e6
    except (KeyError, TypeError, ValueError):
        pass
    try:  # DigitalMicrograph DigiScan: microseconds
        tags = original["ImageList"]["TagGroup0"]["ImageTags"]["DigiScan"]
        return float(tags["Sample Time"])
    except (KeyError, TypeError, ValueError):
        return None


def _signals(path: Path, lazy: bool = False) -> list[dict]:
    """The images and frame series of a file (each a RosettaSciIO signal dict); dask arrays if ``lazy``."""
    if not path.is_file():
        raise DataError(path, "no such file")
    plugin = _plugin(path)
    try:
        return [s for s in plugin.file_reader(str(path), lazy=lazy) if np.ndim(s["data"]) in (2, 3)]
    except DataError:
        raise
    except Exception as err:  # a reader's own error on a damaged or foreign file
        raise DataError(path, f"cannot be read as {path.suffix} ({type(err).__name__}: {err})") from err


def read_microscope(path: str | Path, detector: str | None = None, *, lazy: bool = False) -> MicroscopeImage:
    """Read an image or frame series from a Velox EMD, DM3/DM4 or TIA SER file.

    Parameters
    ----------
    path : str or Path
        The file.
    detector : str, optional
        Which image of a file that holds several (Velox saves one per detector: ``HAADF``,
        ``BF``, ...). Required when there are several; case-insensitive.
    lazy : bool
        Leave the frames in the file (a dask array read as it is used) instead of reading them all.

    Returns
    -------
    MicroscopeImage

    Raises
    ------
    DataError
        Unreadable file, no image in it, or several images and no (or an unknown) ``detector``;
        the message names the file and the detectors it holds.
    """
    path = Path(path)
    return _pick(path, _signals(path, lazy), detector)


def _title(signal: dict) -> str:
    return str(signal.get("metadata", {}).get("General", {}).get("title", ""))


def _pick(path: Path, signals: list[dict], detector: str | None) -> MicroscopeImage:
    """The image ``detector`` names (or the only one) among a file's signals."""
    titles = [_title(s) for s in signals]
    if not signals:
        raise DataError(path, "holds no image or frame series")
    if detector is not None:
        chosen = [i for i, t in enumerate(titles) if t.lower() == detector.lower()]
        if not chosen:
            raise DataError(path, f"no image from detector {detector!r}; it holds: {', '.join(titles)}")
        index = chosen[0]
    elif len(signals) > 1:
        raise DataError(path, f"holds {len(signals)} images ({', '.join(titles)}); choose one with --detector")
    else:
        index = 0
    signal = signals[index]
    data = signal["data"] if _is_lazy(signal["data"]) else np.asarray(signal["data"])
    frames = data[None] if data.ndim == 2 else data
    axes = {a.get("name"): a for a in signal.get("axes", [])}
    x = axes.get("x") or signal["axes"][-1]
    y = axes.get("y") or signal["axes"][-2]
    size_x, size_y = _nm(float(x.get("scale", 1.0)), x.get("units")), _nm(float(y.get("scale", 1.0)), y.get("units"))
    if size_x is not None and size_y is not None and abs(size_x - size_y) > 0.01 * size_x:
        raise DataError(path, f"pixels are not square ({size_x:.4g} x {size_y:.4g} nm); resample it first")
    return MicroscopeImage(frames, size_x, _dwell_us(signal.get("original_metadata", {})), titles[index])


def find_dcfi(path: str | Path) -> np.ndarray | None:
    """The DCFI image Velox stored in a file (an image titled ``DCFI``), or None if it holds none."""
    return _dcfi_of(_signals(Path(path)))


def _dcfi_of(signals: list[dict]) -> np.ndarray | None:
    for signal in signals:
        if _title(signal).upper() == "DCFI":
            data = np.asarray(signal["data"])  # one image: read it
            return data if data.ndim == 2 else data[0]
    return None


def _is_lazy(data: Any) -> bool:
    """Whether ``data`` is a dask array (a lazily read signal)."""
    return type(data).__module__.startswith("dask")


def to_uint16(frames: np.ndarray | Any, what: str) -> np.ndarray | Any:
    """Frames as uint16, the data contract's type.

    Integer data inside 0..65535 is kept as it is; anything else (signed or wider integers,
    floats) is mapped linearly from its own range onto 0..65535, and the log says so (the
    workflow's normalisation is a linear map of each stack's range anyway). A dask array stays
    lazy: its range is computed in one pass over the file, and the mapping is applied as it is
    written (:func:`write_frames`).
    """
    if _is_lazy(frames):
        import dask
        import dask.array as da

        finite, lo, hi = dask.compute(da.isfinite(frames).all(), frames.min(), frames.max())
    else:
        frames = np.asarray(frames)
        finite, lo, hi = np.all(np.isfinite(frames)), frames.min(), frames.max()
    if not finite:
        raise DataError(what, "holds NaN or infinite values")
    lo, hi = float(lo), float(hi)
    if np.issubdtype(frames.dtype, np.integer) and lo >= 0 and hi <= 65535:
        return frames.astype(np.uint16)
    if hi <= lo:
        raise DataError(what, f"every pixel has the same value ({lo:g})")
    log.info("%s: %s values %g..%g mapped linearly onto 0..65535", what, frames.dtype, lo, hi)
    return ((frames.astype(np.float64) - lo) * (65535.0 / (hi - lo))).round().astype(np.uint16)


def _chunks(frames: np.ndarray | Any) -> Iterator[np.ndarray]:
    """``(n, H, W)`` frames as numpy chunks of at most :data:`CHUNK_FRAMES` frames."""
    for start in range(0, len(frames), CHUNK_FRAMES):
        yield np.asarray(frames[start:start + CHUNK_FRAMES])


def write_frames(path: str | Path, frames: np.ndarray | Any, pixel_size_nm: float | None,
                 metadata: dict | None = None) -> Path:
    """Write ``(n, H, W)`` frames (numpy or dask) as a calibrated TIFF, chunk by chunk; one frame as an image."""
    if len(frames) == 1:
        return write_tiff(path, np.asarray(frames[0]), pixel_size_nm, metadata=metadata)
    return write_tiff(path, _chunks(frames), pixel_size_nm, shape=tuple(frames.shape), dtype=frames.dtype,
                      metadata=metadata)


def convert_fov(dataset: str | Path, fov: str, rapid: str | Path, slow: str | Path, *,
                detector: str | None = None, pixel_size_nm: float | None = None,
                name: str | None = None, dcfi: str | Path | None = None) -> Path:
    """Write a rapid frame series and its slow scan from microscope files as one FOV of a dataset.

    Writes ``<dataset>/fovs/<fov>/rapid.tif`` and ``slow.tif`` (uint16, calibrated), ``dcfi.tif``
    where the microscope made one (the image titled ``DCFI`` in the rapid file or in ``dcfi``),
    and, for the first FOV, ``<dataset>/dataset.yaml`` with the pixel size and both dwell times from the
    files' metadata. Nothing is overwritten: an existing FOV is refused, and an existing
    ``dataset.yaml`` must agree with these files' pixel size (within 1%).

    Parameters
    ----------
    dataset : str or Path
        The dataset folder (created if absent).
    fov : str
        The FOV id (its folder name).
    rapid, slow : str or Path
        The rapid-scan frame series (two or more frames) and the slow scan (one frame).
    detector : str, optional
        Which detector's images, where the files hold several.
    pixel_size_nm : float, optional
        The pixel size where the files carry no calibration (or to correct a wrong one).
    name : str, optional
        The dataset's name in a new ``dataset.yaml`` (default: the folder's name).
    dcfi : str or Path, optional
        A file with the microscope's DCFI of this series (its DCFI image, or its only image);
        by default the rapid file's own DCFI image, if Velox stored one there.

    Returns
    -------
    Path
        The FOV's folder.
    """
    if not re.fullmatch(FOV_ID_PATTERN, fov):
        raise DataError(None, f"FOV id {fov!r}: use letters, digits, '_', '-' or '.' (e.g. fov000)")
    dataset, rapid, slow = Path(dataset), Path(rapid), Path(slow)
    folder = dataset / "fovs" / fov
    if folder.exists() and any(folder.iterdir()):
        raise DataError(folder, "the FOV exists already; choose another --fov or remove it")
    rapid_signals = _signals(rapid, lazy=True)  # opened once: the series and, where Velox stored one, its DCFI
    r, s = _pick(rapid, rapid_signals, detector), read_microscope(slow, detector)
    if len(r.frames) < 2:
        raise DataError(rapid, "holds one frame; the rapid scan needs a frame series")
    if len(s.frames) != 1:
        raise DataError(slow, f"holds {len(s.frames)} frames; the slow scan is one frame")
    if r.frames.shape[1:] != s.frames.shape[1:]:
        raise DataError(slow, f"{s.frames.shape[1]}x{s.frames.shape[2]} px, but the rapid frames of {rapid} are "
                        f"{r.frames.shape[1]}x{r.frames.shape[2]}: the data contract needs the same view and size")
    size = pixel_size_nm
    if size is None:
        sizes = [v for v in (r.pixel_size_nm, s.pixel_size_nm) if v is not None]
        if not sizes:
            raise DataError(rapid, "carries no pixel size; give it with --pixel-size-nm")
        if len(sizes) == 2 and abs(sizes[0] - sizes[1]) > 0.01 * sizes[0]:
            raise DataError(slow, f"{sizes[1]:.4g} nm per pixel, but {rapid} has {sizes[0]:.4g}: "
                            "rapid and slow scans must share one magnification")
        size = sizes[0]
    meta_path = dataset / "dataset.yaml"
    if meta_path.exists():
        meta = yaml.safe_load(meta_path.read_text()) or {}
        known = meta.get("pixel_size_nm")
        if isinstance(known, int | float) and abs(known - size) > 0.01 * known:
            raise DataError(meta_path, f"pixel_size_nm is {known:g}, but {rapid} has {size:.4g} nm per pixel")
    else:
        meta = {"name": name or dataset.resolve().name, "pixel_size_nm": round(size, 6),
                "scan_direction": SCAN_DIRECTIONS[0]}
        if r.dwell_time_us is not None:
            meta["rapid_dwell_ns"] = round(r.dwell_time_us * 1e3, 3)
        if s.dwell_time_us is not None:
            meta["slow_dwell_us"] = round(s.dwell_time_us, 6)
        meta["description"] = f"converted by stemdlf convert from {r.detector or 'microscope'} images"
    if dcfi is not None:
        dcfi_image = find_dcfi(dcfi)
        dcfi_image = read_microscope(dcfi, detector).frames[0] if dcfi_image is None else dcfi_image
    else:
        dcfi_image = _dcfi_of(rapid_signals)
    if dcfi_image is not None and dcfi_image.shape != s.frames.shape[1:]:
        raise DataError(dcfi or rapid, f"the DCFI image is {dcfi_image.shape[0]}x{dcfi_image.shape[1]} px, "
                        f"the frames {s.frames.shape[1]}x{s.frames.shape[2]}")
    rapid16 = to_uint16(r.frames, str(rapid))
    slow16 = np.asarray(to_uint16(s.frames[0], str(slow)))
    folder.mkdir(parents=True, exist_ok=True)
    write_frames(folder / "rapid.tif", rapid16, size, metadata={"source": rapid.name})
    write_tiff(folder / "slow.tif", slow16, size, metadata={"source": slow.name})
    if dcfi_image is not None:
        write_tiff(folder / "dcfi.tif", to_uint16(dcfi_image, f"{dcfi or rapid} (DCFI)"), size,
                   metadata={"source": Path(dcfi or rapid).name})
    if not meta_path.exists():
        with atomic_path(meta_path) as tmp:
            tmp.write_text(yaml.safe_dump(meta, sort_keys=False))
    log.info("%s: %d rapid frames and the slow scan (%dx%d px, %.4g nm per pixel) from %s and %s", folder,
             len(rapid16), *slow16.shape, size, rapid.name, slow.name)
    return folder
