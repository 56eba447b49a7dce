"""Atomic writes: every output appears whole or not at all.

A writer writes to a temporary file beside the destination and moves it into place with
:func:`os.replace`; an exception, Ctrl-C or SIGTERM (within :func:`terminate_as_exit`) removes the
temporary file, and a writer killed outright leaves one that the next write to the same
destination sweeps. Used for every file the library writes: TIFF, CSV, JSON, YAML, npz, Keras.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "write_json", "terminate_as_exit"]


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    """The process's umask, read once when first needed.

    Not at import: setting it to read it changes it for every thread for a moment. Linux reports
    it in /proc; elsewhere it is read by setting and restoring it.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def glob_escape(text: str) -> str:
    """``text`` with glob's special characters taken literally."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


@contextlib.contextmanager
def terminate_as_exit() -> Iterator[None]:
    """Within the block, SIGTERM raises SystemExit.

    SIGTERM is what SLURM and Snakemake send at a time limit; as SystemExit, ``finally`` clauses
    run and :func:`atomic_path` removes its temporary file.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = ".part") -> Iterator[Path]:
    """Yield a temporary path beside ``path`` and move it into place on success.

    Parameters
    ----------
    path : str or Path
        Final destination. Its parent folder is created if needed.
    suffix : str
        Ending of the temporary name (writers that insist on an extension,
        such as Keras's ``.keras``, get e.g. ``".part.keras"``).

    Yields
    ------
    Path
        Temporary file to write to. Removed if the block raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a writer killed outright (SIGKILL, a node lost) leaves its temporary file: sweep this
    # destination's leftovers (one writer per destination, so none is in use)
    for stale in path.parent.glob(f".{glob_escape(path.name)}.*{glob_escape(suffix)}"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_json(path: str | Path, data: dict) -> Path:
    """Write a JSON file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
    return Path(path)
