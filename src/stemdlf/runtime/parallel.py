"""Frame-by-frame work on every core: a stack cut into consecutive slices, one thread each.

numpy's matrix products and scipy's FFTs release the GIL, so threads over slices of a stack run
frame-wise preparation (resampling, min-max, shifts) on every core without copying the stack to
other processes. Kept apart from :mod:`stemdlf.runtime.threads` (the deep-learning backend's threads),
which the workflow's data rules do not need.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["map_slices"]


def map_slices(fn: Callable[[np.ndarray, int], np.ndarray], frames: np.ndarray, workers: int) -> np.ndarray:
    """``fn`` on consecutive slices of a stack in ``workers`` threads, the results stacked in order.

    For a frame-by-frame ``fn`` whose work releases the GIL (numpy's matrix products, scipy's FFTs)
    this is ``fn(frames, 0)`` on every core: each frame is computed exactly as in one call.

    Parameters
    ----------
    fn : callable
        ``fn(part, offset)`` for ``part = frames[offset:offset + m]``; returns ``(m, ...)``.
    frames : numpy.ndarray
        ``(n, ...)`` stack.
    workers : int
        Threads (and slices); 1 calls ``fn(frames, 0)`` directly.

    Returns
    -------
    numpy.ndarray
        The slices' results, concatenated along the first axis.
    """
    n = len(frames)
    workers = max(1, min(int(workers), n))
    if workers == 1:
        return fn(frames, 0)
    bounds = np.linspace(0, n, workers + 1).round().astype(int)
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(lambda a, b: fn(frames[a:b], int(a)), bounds[:-1], bounds[1:]))
    return np.concatenate(parts)
