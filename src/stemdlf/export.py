"""Portable filters out: a trained filter as an ONNX file, for runtimes other than Keras.

ONNX Runtime, OpenVINO, TensorRT, deepImageJ and most acquisition-software plug-ins run ONNX
models. :func:`export_onnx` writes the network ``stemdlf denoise`` runs (batch normalisation
folded into the convolutions) with a dynamic batch, height and width, and a card beside it
(``<name>.json``) that says what a caller must do to the frames: the filter's training contract
(:func:`stemdlf.train.write_model_card`) plus the tensor layout and the size multiple.

Needs the ``[export]`` extra (``tf2onnx``, ``onnx``; ``onnxruntime`` to check the file).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .atomic import atomic_path, write_json
from .errors import DataError

__all__ = ["export_onnx"]


def export_onnx(model_path: str | Path, out_path: str | Path) -> Path:
    """Write a trained filter (``.keras``) as ONNX, with its card beside it.

    The ONNX model takes ``float32`` frames of shape ``(batch, H, W, input_frames)`` on the
    0..1 scale (the 0..65535 frames, prepared as the card says - normalisation, scaling,
    aligned frames - divided by 65535), with H and W multiples of the card's ``size_multiple``
    (pad with edge values first), and returns ``(batch, H, W, 1)`` on the same scale: what
    :class:`stemdlf.denoise.Denoiser` computes, before it multiplies by 65535.

    Parameters
    ----------
    model_path : str or Path
        The trained filter, e.g. ``results/models/DLF-5F/model.keras`` (its ``model.json``
        card is read when present).
    out_path : str or Path
        The ``.onnx`` file to write; the card goes to the same name with ``.json``.

    Returns
    -------
    Path
        The ONNX file.
    """
    from .denoise import Denoiser

    out_path = Path(out_path)
    if out_path.suffix.lower() != ".onnx":
        raise DataError(out_path, "the ONNX file's name must end in .onnx")
    try:
        import onnx  # noqa: F401  (Keras's exporter needs it, with tf2onnx)
        import tf2onnx  # noqa: F401
    except ImportError as err:
        raise DataError(out_path, 'writing ONNX needs the export extra: pip install "stemdlf[export]"') from err
    denoiser = Denoiser(model_path)
    network, m = denoiser.network, denoiser.multiple
    network.predict_on_batch(np.zeros((1, 2 * m, 2 * m, denoiser.input_frames), np.float32))  # build the graph
    with atomic_path(out_path, suffix=".part.onnx") as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "In the future `np.object`", FutureWarning)  # Keras's tf2onnx shim probes it
        network.export(str(tmp), format="onnx", verbose=False)
    card = {**denoiser.card, "exported_from": Path(model_path).name, "onnx": out_path.name,
            "input_layout": "NHWC: (batch, height, width, input_frames), float32, frames on 0..65535 divided by 65535",
            "output_layout": "NHWC: (batch, height, width, 1), float32, times 65535 for the 0..65535 scale",
            "input_frames": denoiser.input_frames, "size_multiple": m,
            "input_scaling": denoiser.input_scaling}
    write_json(out_path.with_suffix(".json"), card)
    return out_path
