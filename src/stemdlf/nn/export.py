"""Portable filters out: a trained filter as an ONNX file, for runtimes other than Keras.

ONNX Runtime, OpenVINO, TensorRT, deepImageJ and most acquisition-software plug-ins run ONNX
models. :func:`export_onnx` writes the network ``stemdlf denoise`` runs (batch normalisation
folded into the convolutions) with a dynamic batch, height and width, and a card beside it
(``<name>.json``) that says what a caller must do to the frames: the filter's training contract
(:func:`stemdlf.nn.train.write_model_card`) plus the tensor layout and the size multiple.

Needs the ``[export]`` extra (``tf2onnx``, ``onnx``; ``onnxruntime`` to check the file).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from stemdlf.errors import DataError
from stemdlf.io.atomic import atomic_path, write_json

__all__ = ["export_onnx"]


def export_onnx(model_path: str | Path, out_path: str | Path) -> Path:
    """Write a trained filter (``.keras``) as ONNX, with its card beside it.

    The ONNX model takes ``float32`` frames of shape ``(batch, H, W, input_frames)`` on the
    0..1 scale (the 0..65535 frames, prepared as the card says - normalisation, scaling,
    aligned frames - divided by 65535), with H and W multiples of the card's ``size_multiple``
    (pad with edge values first), and returns ``(batch, H, W, 1)`` on the same scale: what
    :class:`stemdlf.nn.denoise.Denoiser` computes, before it multiplies by 65535.

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
    from stemdlf.nn.denoise import Denoiser

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


#: BioImage Model Zoo model description format written by :func:`export_bioimageio`.
BIOIMAGEIO_FORMAT = "0.5.4"


def _test_window(frames: int, size: int, seed: int = 0) -> np.ndarray:
    """A synthetic test input, (1, size, size, frames) on 0..1.

    ``frames`` noisy views of one specimen: a smooth background crossed by thin dark lines (as
    dislocations look in bright field), blurred along x as a rapid scan's detector blurs it.
    """
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    specimen = 0.6 + 0.2 * ndimage.gaussian_filter(rng.standard_normal((size, size)), size / 8) * size / 8
    for _ in range(4):
        angle, offset, bend = rng.uniform(0, np.pi), rng.uniform(0.2, 0.8) * size, rng.uniform(-0.3, 0.3)
        distance = np.cos(angle) * x + np.sin(angle) * y - offset - bend * size * np.sin(x / size * np.pi)
        specimen -= 0.25 * np.exp(-0.5 * (distance / 1.2) ** 2)
    specimen = ndimage.uniform_filter1d(specimen, 3, axis=1)
    window = specimen[..., np.newaxis] + rng.normal(0, 0.1, (size, size, frames))
    return np.clip(window, 0, 1)[np.newaxis].astype(np.float32)


def _bioimageio_documentation(card: dict, size_multiple: int) -> str:
    """The package's README: what the filter is and what a caller must do to the frames."""
    k = int(card.get("input_frames", 1))
    prepare = ["Frames on the 0..65535 scale"]
    if card.get("normalisation"):
        prepare.append(f"normalised as in training ({card['normalisation']})")
    if card.get("input_scaling") == "mean_frame":
        prepare.append("scaled so that the mean frame of the stack spans 0..65535 "
                       "(`stemdlf.preprocess.normalise.mean_frame_scaling`)")
    window = (f"the {k} aligned frames around the frame to filter (causal: it and the {k - 1} before it)"
              if k > 1 else "one frame")
    return "\n".join([
        f"# {card.get('variant', 'stemdlf filter')}: rapid-scan STEM noise filter",
        "",
        "A U-Net trained by stemdlf (deep-learning noise filtering for rapid-scan STEM) to map rapid-scan frames "
        "onto the slow scan of the same field of view: it removes the noise and the detector's scan-direction blur.",
        "",
        "## Input",
        "",
        f"`raw`: (batch, y, x, {k}) float32 - {window}. {'; '.join(prepare)}. The package's preprocessing divides "
        f"by 65535. Height and width must be multiples of {size_multiple} (pad with edge values).",
        "",
        "## Output",
        "",
        "`denoised`: (batch, y, x, 1), multiplied back to the 0..65535 scale by the postprocessing.",
        "",
        "## Training contract",
        "",
        "```json",
        json.dumps({k_: v for k_, v in card.items() if k_ != "settings"}, indent=2, default=str),
        "```",
        "",
        "`stemdlf denoise` prepares frames as above from a raw stack; see the stemdlf README.",
        "",
        "## Validation",
        "",
        "The stemdlf workflow scores every filter on held-out test fields of view against the slow scan and, on "
        "simulated data, against the noise-free specimen (PSNR, SSIM, scan-direction spectral cutoff; "
        "`results/tables/summary.csv` of the run that trained it). The test tensors of this package are the "
        "exported weights' own output for a synthetic input: they check a runtime, not the filter's quality.",
        "",
        *_scores(card.get("test_metrics")),
    ])


def _scores(test_metrics: dict | None) -> list[str]:
    """The filter's scores on its test FOVs as README lines (none when the workflow recorded none)."""
    if not test_metrics:
        return []
    names = {"psnr": "PSNR vs slow scan (dB)", "ssim": "SSIM vs slow scan", "psnr_truth": "PSNR vs truth (dB)",
             "ssim_truth": "SSIM vs truth", "spectral_cutoff_truth_px": "spectral cutoff vs truth (px)"}
    means = test_metrics.get("means", {})
    rows = [f"| {label} | {means[key]:.3f} |" for key, label in names.items() if key in means]
    return [f"Scores on {len(test_metrics.get('test_fovs', []))} test FOVs ({test_metrics.get('frames')} frames):",
            "", "| metric | mean |", "|---|---|", *rows, ""]


def project_people(field: str) -> list[str]:
    """The package's authors (``field="Author"``) or maintainers, from its installed metadata."""
    from email.utils import getaddresses
    from importlib import metadata

    try:
        meta = metadata.metadata("stemdlf")
    except metadata.PackageNotFoundError:
        return ["The stemdlf developers"]
    names = [n for key in (field, f"{field}-email") for v in meta.get_all(key) or []
             for n, _ in getaddresses([v]) if n] or [v for v in meta.get_all(field) or [] if v]
    return names or ["The stemdlf developers"]


def export_bioimageio(model_path: str | Path, out_path: str | Path, *, name: str | None = None,
                      authors: list[str] | None = None) -> Path:
    """Write a trained filter as a BioImage Model Zoo package (``.zip``), validated when possible.

    The package holds ``rdf.yaml`` (model description format :data:`BIOIMAGEIO_FORMAT`), the
    ONNX weights of :func:`export_onnx`, a test input and the output the weights give for it,
    a cover image and a README that says how frames are prepared. The preprocessing is a fixed
    ``scale_linear`` (frames on 0..65535 divided by 65535) and the postprocessing its inverse,
    so the package takes and returns the scale ``stemdlf`` uses. When ``bioimageio.spec`` is
    installed the package is validated (its own checks, the test tensors included) and a
    failed validation raises :class:`stemdlf.errors.DataError`.

    Parameters
    ----------
    model_path : str or Path
        The trained filter (``.keras``, with its ``.json`` card when present).
    out_path : str or Path
        The ``.zip`` to write.
    name : str, optional
        The model's name in the zoo (default: the card's variant).
    authors : list of str, optional
        Author names (default: the package's authors, from its metadata).

    Returns
    -------
    Path
        The package.
    """
    import tempfile
    import zipfile

    import tifffile
    import yaml

    out_path = Path(out_path)
    if out_path.suffix.lower() != ".zip":
        raise DataError(out_path, "the BioImage Model Zoo package's name must end in .zip")
    try:
        import onnxruntime
    except ImportError as err:
        raise DataError(out_path, 'writing a BioImage Model Zoo package needs: pip install "stemdlf[export]"') from err
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        export_onnx(model_path, tmp / "weights.onnx")
        card = json.loads((tmp / "weights.json").read_text())
        k, m = int(card["input_frames"]), int(card["size_multiple"])
        size = max(128, 4 * m)
        test_input = _test_window(k, size)
        session = onnxruntime.InferenceSession(str(tmp / "weights.onnx"), providers=["CPUExecutionProvider"])
        test_output = session.run(None, {session.get_inputs()[0].name: test_input})[0].astype(np.float32)
        np.save(tmp / "test_input.npy", test_input * 65535.0)
        np.save(tmp / "test_output.npy", test_output * 65535.0)
        tifffile.imwrite(tmp / "sample_input.tif", np.moveaxis(test_input[0] * 65535.0, -1, 0).astype(np.float32),
                         photometric="minisblack")
        tifffile.imwrite(tmp / "sample_output.tif", (test_output[0, ..., 0] * 65535.0).astype(np.float32))
        current = k - 1 if card.get("causal") else (k - 1) // 2  # the frame the filter filters
        _write_cover(tmp / "cover.png", test_input[0, ..., current], test_output[0, ..., 0])
        (tmp / "README.md").write_text(_bioimageio_documentation(card, m))
        (tmp / "stemdlf_card.json").write_text(json.dumps(card, indent=2, default=str))
        variant = str(card.get("variant") or Path(model_path).parent.name or "filter")
        space = [{"type": "space", "id": axis, "size": {"min": m, "step": m}} for axis in ("y", "x")]
        rdf = {
            "type": "model",
            "format_version": BIOIMAGEIO_FORMAT,
            "name": name or f"stemdlf {variant} rapid-scan STEM noise filter",
            "description": ("U-Net that filters rapid-scan STEM frames to the slow scan: noise and the detector's "
                            "scan-direction blur removed (stemdlf)."),
            "authors": [{"name": a} for a in (authors or project_people("Author"))],
            "cite": [{"text": "Ihara, Saito, Yoshinaga, Murayama: Deep learning-based noise filtering toward "
                              "millisecond order imaging by using scanning transmission electron microscopy (2022)",
                      "doi": "10.21203/rs.3.rs-1482132/v1"}],
            "license": "MIT",
            "documentation": "README.md",
            "covers": ["cover.png"],
            "tags": ["denoising", "electron-microscopy", "stem", "2d", "unet", "onnx"],
            "attachments": [{"source": "stemdlf_card.json"}],
            "inputs": [{
                "id": "raw",
                "description": f"{k} aligned rapid-scan frame(s) on the 0..65535 scale, prepared as README.md says",
                "axes": [{"type": "batch"}, *space,
                         {"type": "channel", "channel_names": [f"frame{i}" for i in range(k)]}],
                "test_tensor": {"source": "test_input.npy"},
                "sample_tensor": {"source": "sample_input.tif"},
                "data": {"type": "float32"},
                "preprocessing": [{"id": "scale_linear", "kwargs": {"gain": 1.0 / 65535.0, "offset": 0.0}}],
            }],
            "outputs": [{
                "id": "denoised",
                "description": "the filtered frame on the 0..65535 scale",
                "axes": [{"type": "batch"},
                         *[{"type": "space", "id": axis, "size": {"tensor_id": "raw", "axis_id": axis}}
                           for axis in ("y", "x")],
                         {"type": "channel", "channel_names": ["denoised"]}],
                "test_tensor": {"source": "test_output.npy"},
                "sample_tensor": {"source": "sample_output.tif"},
                "data": {"type": "float32"},
                "postprocessing": [{"id": "scale_linear", "kwargs": {"gain": 65535.0, "offset": 0.0}}],
            }],
            "weights": {"onnx": {"source": "weights.onnx", "opset_version": _opset(tmp / "weights.onnx")}},
        }
        (tmp / "rdf.yaml").write_text(yaml.safe_dump(rdf, sort_keys=False))
        _validate_bioimageio(tmp / "rdf.yaml", out_path)
        with atomic_path(out_path, suffix=".part.zip") as part, zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as z:
            for f in ("rdf.yaml", "weights.onnx", "test_input.npy", "test_output.npy", "sample_input.tif",
                      "sample_output.tif", "cover.png", "README.md", "stemdlf_card.json"):
                z.write(tmp / f, f)
    return out_path


def _opset(path: Path) -> int:
    """The default-domain opset of an ONNX file."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return int(next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")))


def _write_cover(path: Path, before: np.ndarray, after: np.ndarray) -> None:
    """A cover image: the test input's frame and the filtered frame side by side (8-bit PNG)."""
    from skimage import io

    def to8(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, np.float64)
        return (255 * (a - a.min()) / max(np.ptp(a), 1e-12)).astype(np.uint8)

    gap = np.full((before.shape[0], 4), 255, np.uint8)
    cover = np.hstack([to8(before), gap, to8(after)])
    zoom = max(1, -(-256 // cover.shape[0]))  # at least 256 px high, pixels kept sharp
    io.imsave(str(path), np.kron(cover, np.ones((zoom, zoom), np.uint8)), check_contrast=False)


def _validate_bioimageio(rdf: Path, out_path: Path) -> None:
    """Validate with bioimageio.spec when it is installed; raise DataError naming the package on failure."""
    try:
        from bioimageio.spec import load_description
        from bioimageio.spec.common import InvalidDescr
    except ImportError:
        return
    described = load_description(rdf, perform_io_checks=True)
    if isinstance(described, InvalidDescr):
        raise DataError(out_path, f"the BioImage Model Zoo description does not validate: "
                                  f"{described.validation_summary.format()[:2000]}")
