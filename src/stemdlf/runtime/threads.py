"""CPU threads of the deep-learning backend: as many as the job was given, no more.

TensorFlow sizes its thread pools by the machine's cores, whatever a scheduler gave the job.
On a small machine that is the wrong trade: the default U-Net's small convolutions gain little
from a second thread (``benchmarks/threads.py`` measures it), so two one-thread
trainings side by side finish much sooner than the same two trainings one after the other on
two threads each, and a job that takes more threads than it asked for slows the job beside it.
The workflow's scripts call :func:`limit_cpu_threads` with ``snakemake.threads`` before Keras is
imported; numpy's BLAS is limited by Snakemake itself (``OMP_NUM_THREADS`` and friends).
"""

from __future__ import annotations

import os

__all__ = ["limit_cpu_threads", "available_cores", "single_threaded_blas"]


def limit_cpu_threads(n: int) -> None:
    """Make the Keras backend use at most ``n`` CPU threads.

    Call it before the backend runs its first operation: TensorFlow sizes its pools once.

    Parameters
    ----------
    n : int
        Threads for the backend's operations: TensorFlow's intra- and inter-op pools;
        ``OMP_NUM_THREADS``, which PyTorch reads when it is imported; JAX/XLA runs its CPU
        kernels on one thread when ``n`` is 1.
    """
    if n < 1:
        raise ValueError(f"threads must be at least 1, got {n}")
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ[name] = str(n)
    if n == 1 and "--xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(n)
        except RuntimeError as err:  # the runtime is running: its pools are sized already
            raise RuntimeError("limit_cpu_threads() must be called before TensorFlow runs its first operation"
                               ) from err


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, e.g. a SLURM job's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


#: Environment variables that size numpy's BLAS thread pool (OpenBLAS in numpy's wheels, MKL elsewhere).
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def single_threaded_blas() -> bool:
    """One BLAS thread for numpy's matrix products, where the caller runs its own threads.

    ``stemdlf denoise`` registers frames in threads, prepares the next chunk in a thread and runs
    the backend in its own pool; a BLAS pool of every core behind each of them oversubscribes the
    cores (measured: 38 against 31 s for 200 frames through DLF-5F on 2 cores). Takes effect only
    before numpy is imported, and leaves a variable the user set alone.

    Returns
    -------
    bool
        Whether it could take effect (numpy was not imported yet).
    """
    import sys

    for name in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    return "numpy" not in sys.modules
