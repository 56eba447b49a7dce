"""Filtering frames as the microscope acquires them.

:func:`filter_stream` takes frames one at a time from any iterable (a camera callback's queue,
:func:`watch_folder` on the folder the acquisition software writes to) and yields each filtered
frame as soon as the frames its window needs have arrived: at once for single-frame and causal
filters, ``(k - 1) / 2`` frames later for a centred window of ``k`` frames. Each result carries
its latency, so a session can see whether the filter keeps up. The output equals
:class:`~stemdlf.nn.denoise.Denoiser` on the whole stack (tested), except that a filter with
``input_scaling: mean_frame`` takes its scaling from the first ``warmup`` frames.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Queue
from threading import Thread

import numpy as np
import tifffile

from stemdlf.nn.denoise import Denoiser
from stemdlf.nn.patches import frame_window
from stemdlf.preprocess.normalise import MinMax

__all__ = ["same_size", "LiveFrame", "filter_stream", "watch_folder"]

#: A window index far beyond any stream: mid-stream windows are never mirrored at its end.
_OPEN_END = 2**40


@dataclass
class LiveFrame:
    """One filtered frame of a stream."""

    index: int
    """Its position in the stream (0-based)."""
    image: np.ndarray
    """(H, W) float32 on the 0..65535 scale."""
    latency_s: float
    """Seconds from the arrival of the last frame its window needs to this result."""
    name: str = ""
    """The source's name for the frame (its file name with :func:`watch_folder`)."""


def _prepared(frames: Iterable, prepare: Callable | None, ahead: int) -> Iterator[tuple[str, np.ndarray, float]]:
    """``(name, prepared frame, arrival time)`` of each frame.

    With ``ahead`` > 0 the frames are read and prepared in a thread, up to ``ahead`` frames before
    the model asks for them; an error there is raised here.
    """

    def items() -> Iterator[tuple[str, np.ndarray, float]]:
        for n, item in enumerate(frames):
            name, frame = item if isinstance(item, tuple) else (f"{n:06d}", item)
            arrived = time.perf_counter()
            frame = np.asarray(frame)
            if frame.ndim != 2:
                raise ValueError(f"frame {n} ({name}) has shape {frame.shape}; a stream takes (H, W) frames")
            yield name, np.asarray(prepare(frame, n) if prepare else frame, np.float32), arrived

    if ahead <= 0:
        yield from items()
        return
    done = object()
    queue: Queue = Queue(maxsize=ahead)

    def produce() -> None:
        try:
            for item in items():
                queue.put(item)
            queue.put(done)
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, which raises it
            queue.put(err)

    Thread(target=produce, daemon=True, name="stemdlf-prepare").start()
    while (item := queue.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


def filter_stream(denoiser: Denoiser, frames: Iterable[np.ndarray | tuple[str, np.ndarray]], *,
                  prepare: Callable[[np.ndarray, int], np.ndarray] | None = None,
                  scaling: MinMax | None = None, warmup: int = 8, ahead: int = 0) -> Iterator[LiveFrame]:
    """Filter a stream of frames, yielding each result as soon as it can be computed.

    Parameters
    ----------
    denoiser : Denoiser
        The filter.
    frames : iterable
        ``(H, W)`` frames in acquisition order, or ``(name, frame)`` pairs.
    prepare : callable, optional
        ``prepare(frame, index) -> frame``: brings a raw frame to what the filter was trained on
        (normalisation, alignment, distortion correction), one frame at a time.
    scaling : MinMax, optional
        For a filter trained with ``input_scaling: mean_frame``: the scaling; by default the
        range of the mean of the first ``warmup`` prepared frames (their results wait for it).
    warmup : int
        Frames that set the scaling when it is not given.
    ahead : int
        Frames read and prepared ahead in a thread while the model filters (0: in line). The
        results are the same; a frame's latency still counts from its arrival.

    Yields
    ------
    LiveFrame
    """
    k, causal = denoiser.input_frames, denoiser.causal

    def window(i: int, n_total: int = _OPEN_END) -> np.ndarray:
        return frame_window(i, n_total, k, causal)

    needs_scaling = denoiser.input_scaling != "none" and scaling is None
    buffer: list[np.ndarray] = []  # prepared frames lo .. n-1
    names: list[str] = []
    arrival: list[float] = []
    lo, n, done = 0, 0, 0  # first buffered frame, frames received, frames yielded

    def filtered(i: int, n_total: int) -> LiveFrame:
        stack = np.stack(buffer)
        image = denoiser(stack, i - lo, i - lo + 1, n_total=n_total, offset=lo, scaling=scaling)[0]
        last = min(int(window(i).max()), n - 1)
        return LiveFrame(i, image, time.perf_counter() - arrival[last - lo], names[i - lo])

    for name, frame, arrived in _prepared(frames, prepare, ahead):
        arrival.append(arrived)
        buffer.append(frame)
        names.append(name)
        n += 1
        if needs_scaling:
            if n < warmup:
                continue
            scaling, needs_scaling = denoiser.scaling_of(np.stack(buffer)), False
        while window(done).max() < n:  # every frame whose window has arrived (a causal window is
            yield filtered(done, _OPEN_END)  # mirrored at the start of the stream, as for a whole stack)
            done += 1
            drop = max(0, int(window(done).min()) - lo)  # frames no later window needs
            del buffer[:drop], names[:drop], arrival[:drop]
            lo += drop
    if n == 0:
        return
    if needs_scaling:  # a stream shorter than the warm-up
        scaling = denoiser.scaling_of(np.stack(buffer))
    while done < n:  # the last frames: windows mirrored at the stream's true end
        yield filtered(done, n)
        done += 1


def watch_folder(folder: str | Path, pattern: str = "*.tif", poll_s: float = 0.1, idle_timeout_s: float = 10.0,
                 log: Callable[[str], None] | None = None, max_tries: int = 30,
                 warn: Callable[[str], None] | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """Frames from a folder the acquisition software writes one TIFF per frame into, as they appear.

    Files are taken in name order once they read completely (a file still being written is
    retried at the next poll). A file that still cannot be read after ``max_tries`` polls is
    skipped with a line to ``warn``, and the frames after it go on. The stream ends (a line to
    ``log``) when no new file has appeared for ``idle_timeout_s`` seconds.

    Yields
    ------
    (str, numpy.ndarray)
        The file name and its ``(H, W)`` frame.
    """
    folder = Path(folder)
    seen: set[str] = set()
    tries: dict[str, int] = {}
    last_new = time.monotonic()
    quiet = logging.getLogger("tifffile")
    while True:
        fresh = sorted(p for p in folder.glob(pattern) if p.name not in seen and not p.name.startswith("."))
        got = pending = False
        for path in fresh:
            level = quiet.level
            quiet.setLevel(logging.CRITICAL)
            try:
                frame = tifffile.imread(path)
            except Exception as err:  # noqa: BLE001 - not completely written yet: the next poll retries it
                tries[path.name] = tries.get(path.name, 0) + 1
                if tries[path.name] < max_tries:
                    pending = True  # the stream waits for it (or gives up on it) before it may end
                    break
                seen.add(path.name)  # given up on: the frames after it go on
                got = True
                if warn:
                    warn(f"{path}: skipped, not a readable TIFF after {max_tries} tries ({type(err).__name__})")
                continue
            finally:
                quiet.setLevel(level)
            seen.add(path.name)
            got = True
            frames = frame if frame.ndim == 3 else frame[np.newaxis]
            for k, single in enumerate(frames):
                yield (path.name if len(frames) == 1 else f"{path.stem}_{k:04d}{path.suffix}"), single
        if got:
            last_new = time.monotonic()
            continue
        if not pending and time.monotonic() - last_new > idle_timeout_s:
            if log:
                log(f"no new frame in {folder} for {idle_timeout_s:g} s: done")
            return
        time.sleep(poll_s)


def same_size(frames: Iterator[tuple[str, np.ndarray]], shape: tuple[int, ...],
              log: Callable[[str], None] | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """The frames of a stream that have ``shape``; each other frame is skipped with a warning to ``log``."""
    for name, frame in frames:
        if tuple(np.shape(frame)) != tuple(shape):
            if log:
                log(f"{name}: skipped, {'x'.join(map(str, np.shape(frame)))} px where the stream's frames are "
                    f"{'x'.join(map(str, shape))}")
            continue
        yield name, frame
