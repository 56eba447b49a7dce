"""Sending a workflow job's output to its Snakemake log file."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["log_to", "native_messages_discarded"]


@contextlib.contextmanager
def _native_output_to(stream) -> Iterator[None]:
    """Point file descriptors 1 and 2 at ``stream`` too.

    Compiled libraries (TensorFlow's C++ logging, BM3D) then write into the job's log instead of
    the workflow's console.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(stream.fileno(), 1)
        os.dup2(stream.fileno(), 2)
        yield
    finally:
        stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


@contextlib.contextmanager
def native_messages_discarded() -> Iterator[None]:
    """Discard what compiled libraries write to standard error.

    TensorFlow's C++ log lines (including a CUDA "error" on machines without a GPU) are dropped,
    while Python's own ``sys.stderr`` (error messages, warnings, tracebacks, progress bars) still
    reaches the terminal.
    """
    sys.stderr.flush()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    saved = os.dup(2)
    python_stderr = sys.stderr
    try:
        try:
            on_fd2 = python_stderr.fileno() == 2
        except (AttributeError, OSError, ValueError):  # already captured (a test, a notebook)
            on_fd2 = False
        if on_fd2:
            sys.stderr = open(os.dup(saved), "w", buffering=1, encoding=python_stderr.encoding or "utf-8",
                              errors="backslashreplace")
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        if sys.stderr is not python_stderr:
            sys.stderr.close()
        sys.stderr = python_stderr
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def log_to(path: str | Path | None) -> Iterator[logging.Logger]:
    """Redirect stdout, stderr and the ``stemdlf`` logger to a log file for the block.

    Parameters
    ----------
    path : str or Path or None
        Log file (created with its folder); None leaves output where it is.

    Yields
    ------
    logging.Logger
        The ``stemdlf`` logger.
    """
    from stemdlf.io.atomic import terminate_as_exit

    logger = logging.getLogger("stemdlf")
    logger.setLevel(logging.INFO)
    if path is None:
        with terminate_as_exit():
            yield logger
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # SIGTERM (a cluster time limit, Snakemake stopping) ends the job through SystemExit, so every
    # atomic write in progress removes its temporary file
    with terminate_as_exit(), open(path, "w") as stream, _native_output_to(stream), \
            contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        try:
            yield logger
        except BaseException:
            import traceback

            traceback.print_exc(file=stream)
            raise
        finally:
            logger.removeHandler(handler)
