"""stemdlf: deep-learning noise filtering for rapid-scan STEM.

The library behind the Snakemake workflow, usable without it from a notebook or an acquisition
computer. Its subpackages are its architecture:

- :mod:`stemdlf.io`          TIFF and microscope files, the data contract, input checks
- :mod:`stemdlf.preprocess`  normalisation, DCFI, the distortion profile, registration
- :mod:`stemdlf.nn`          the U-Net, training, :class:`Denoiser`, live filtering, export
- :mod:`stemdlf.baselines`   classical filters and CARE
- :mod:`stemdlf.evaluate`    metrics, tables and the paper's claims
- :mod:`stemdlf.simulate`    the rapid/slow-scan dislocation dataset simulator
- :mod:`stemdlf.config`      every setting's definition (the schema) and config loading
- :mod:`stemdlf.runtime`     threads and native log output
- :mod:`stemdlf.workflow`    what only the Snakemake workflow uses (never imported by the rest)

The names most users need are importable from here directly (``from stemdlf import Denoiser``).
They load on first use, so ``import stemdlf`` stays cheap and pulls in no backend.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

#: Public names and the module each one lives in (imported on first access).
_PUBLIC = {
    "Denoiser": "stemdlf.nn.denoise",
    "denoise_stack": "stemdlf.nn.denoise",
    "read_model_card": "stemdlf.nn.denoise",
    "filter_stream": "stemdlf.nn.live",
    "watch_folder": "stemdlf.nn.live",
    "build_unet": "stemdlf.nn.unet",
    "UNetSettings": "stemdlf.nn.unet",
    "TrainingSettings": "stemdlf.nn.train",
    "train_model": "stemdlf.nn.train",
    "export_onnx": "stemdlf.nn.export",
    "export_bioimageio": "stemdlf.nn.export",
    "dcfi": "stemdlf.preprocess.dcfi",
    "DriftOptions": "stemdlf.preprocess.dcfi",
    "estimate_drift": "stemdlf.preprocess.dcfi",
    "Distortion": "stemdlf.preprocess.distortion",
    "MinMax": "stemdlf.preprocess.normalise",
    "fit_minmax": "stemdlf.preprocess.normalise",
    "apply_minmax": "stemdlf.preprocess.normalise",
    "read_tiff": "stemdlf.io.tiff",
    "write_tiff": "stemdlf.io.tiff",
    "validate_dataset": "stemdlf.io.dataset",
    "simulate_dataset": "stemdlf.simulate",
    "simulate_fov": "stemdlf.simulate",
    "SimulatorParams": "stemdlf.simulate",
    "AcquisitionParams": "stemdlf.simulate",
    "psnr": "stemdlf.evaluate.psnr",
    "ssim": "stemdlf.evaluate.metrics",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access (PEP 562)."""
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'stemdlf' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names, for tab completion."""
    return sorted([*globals(), *_PUBLIC])
