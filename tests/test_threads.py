"""The backend uses the threads a workflow job was given (stemdlf.runtime.threads)."""

import subprocess
import sys

import numpy as np
import pytest


def test_tensorflow_takes_the_thread_counts_it_was_given():
    code = ("from stemdlf.runtime.threads import limit_cpu_threads; limit_cpu_threads(1); import tensorflow as tf; "
            "print(tf.config.threading.get_intra_op_parallelism_threads(), "
            "tf.config.threading.get_inter_op_parallelism_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.stdout.split() == ["1", "1"]


def test_limiting_threads_once_tensorflow_runs_is_refused():
    code = ("import tensorflow as tf; tf.constant(1.0) + 1.0; "
            "from stemdlf.runtime.threads import limit_cpu_threads; limit_cpu_threads(1)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.returncode != 0 and "before TensorFlow runs its first operation" in out.stderr


def test_zero_threads_is_refused():
    from stemdlf.runtime.threads import limit_cpu_threads

    with pytest.raises(ValueError, match="at least 1"):
        limit_cpu_threads(0)


def test_bm3d_on_one_thread_filters_like_on_every_core():
    from stemdlf.baselines.classical import make_filter

    z = np.random.default_rng(0).random((48, 48))
    np.testing.assert_allclose(make_filter("BM3D", threads=1)(z, 0.1), make_filter("BM3D")(z, 0.1), atol=1e-5)


def test_single_threaded_blas_sets_one_thread_before_numpy_and_keeps_the_users_choice():
    import os
    import subprocess
    import sys

    code = ("import os; from stemdlf.runtime.threads import single_threaded_blas as s; ok = s(); "
            "print(ok, os.environ['OPENBLAS_NUM_THREADS'], os.environ['MKL_NUM_THREADS'])")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["True", "1", "1"]
    run = subprocess.run([sys.executable, "-c", code], env={**env, "OPENBLAS_NUM_THREADS": "3"},
                         capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["True", "3", "1"]
    late = subprocess.run([sys.executable, "-c", "import numpy; " + code], env=env, capture_output=True,
                          text=True, check=True)
    assert late.stdout.split()[0] == "False"  # numpy's BLAS pool is sized already


def test_available_cores_are_the_cores_this_process_may_use():
    import os

    from stemdlf.runtime.threads import available_cores

    assert 1 <= available_cores() <= (os.cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):
        assert available_cores() == len(os.sched_getaffinity(0))
