"""Whether the Keras backend computes on an accelerator (a GPU), and which.

On a CPU the network already keeps every core busy, so work beside it in another thread only
oversubscribes the cores (measured on 2 cores: a file 4% slower, ``--follow`` 25% slower, with the
backend's threads spinning while they wait); with an accelerator the host's cores are free for it.
:func:`stemdlf.nn.denoise.denoise_stack` and ``stemdlf denoise --follow`` overlap the preparation
of the next frames with the model only there.
"""

from __future__ import annotations

import functools
import importlib
import os

__all__ = ["accelerator", "on_accelerator"]


@functools.cache
def accelerator() -> str:
    """The GPU the Keras backend computes on (``-`` for none): its device name.

    Asks the backend Keras runs on (``KERAS_BACKEND``: TensorFlow, JAX or PyTorch), which is
    imported by name: only the one in use need be installed.
    """
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    try:
        module = importlib.import_module(backend)
        if backend == "jax":
            gpus = [d for d in module.devices() if d.platform == "gpu"]
            return gpus[0].device_kind if gpus else "-"
        if backend == "torch":
            return module.cuda.get_device_name(0) if module.cuda.is_available() else "-"
        gpus = module.config.list_physical_devices("GPU")
        return module.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else "-"
    except (ImportError, RuntimeError):
        return "-"


def on_accelerator() -> bool:
    """Whether the backend computes on a GPU."""
    return accelerator() != "-"
