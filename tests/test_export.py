"""A trained filter as ONNX (stemdlf.nn.export, `stemdlf export`): ONNX Runtime computes what Keras does."""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras")
ort = pytest.importorskip("onnxruntime", reason="ONNX Runtime is in the [export] and [test] extras")

from stemdlf.cli import main  # noqa: E402
from stemdlf.nn.denoise import load_model  # noqa: E402
from stemdlf.nn.train import MODEL_CARD_FORMAT  # noqa: E402
from stemdlf.nn.unet import UNetSettings, build_unet  # noqa: E402


@pytest.fixture(scope="module")
def trained_looking_filter(tmp_path_factory):
    """A 3-frame U-Net with batch norm whose weights and running statistics are not the initial ones
    (so that folding the batch norm into the convolutions, which the export keeps, matters), and a card."""
    rng = np.random.default_rng(0)
    model = build_unet(UNetSettings(depth=2, base_filters=4, input_frames=3, batch_norm=True, residual=False))
    for layer in model.layers:
        layer.set_weights([w + rng.normal(0, 0.2, w.shape).astype(w.dtype) if "variance" not in v.path
                           else np.abs(w + rng.normal(0, 0.2, w.shape)).astype(w.dtype) + 0.1
                           for w, v in zip(layer.get_weights(), layer.weights)])
    path = tmp_path_factory.mktemp("filter") / "model.keras"
    model.save(path)
    path.with_suffix(".json").write_text(json.dumps({"format": MODEL_CARD_FORMAT, "input_frames": 3,
                                                             "input_scaling": "mean_frame"}))
    return path


def test_the_onnx_filter_computes_what_the_keras_filter_does(trained_looking_filter, tmp_path, capsys):
    out = tmp_path / "filter.onnx"
    assert main(["export", str(trained_looking_filter), "-o", str(out)]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["input_frames"] == 3 and card["size_multiple"] == 4 and card["input_scaling"] == "mean_frame"
    session = ort.InferenceSession(str(out))
    name = session.get_inputs()[0].name
    keras_model = load_model(trained_looking_filter)
    for shape in [(1, 32, 48, 3), (3, 64, 20, 3)]:  # any batch, height and width on the size multiple
        x = np.random.default_rng(1).uniform(0, 1, shape).astype(np.float32)
        expected = np.asarray(keras_model.predict_on_batch(x))
        got = session.run(None, {name: x})[0]
        assert got.shape == expected.shape == (*shape[:3], 1)
        assert np.abs(expected).max() > 0.05  # a filter that computes something
        np.testing.assert_allclose(got, expected, atol=1e-3)  # within 1e-3 of full scale


def test_export_refuses_to_overwrite_the_filters_own_card(trained_looking_filter, capsys):
    card = trained_looking_filter.with_suffix(".json")
    before = card.read_bytes()
    assert main(["export", str(trained_looking_filter), "-o", str(trained_looking_filter.with_suffix(".onnx"))]) == 2
    assert "never overwritten" in capsys.readouterr().err and card.read_bytes() == before
    assert not trained_looking_filter.with_suffix(".onnx").exists()


@pytest.fixture(scope="module")
def residual_filter(tmp_path_factory):
    """A 3-frame residual U-Net with perturbed weights: its output stays near its input, positive as a filter's is.

    (The zoo's validator asks that the test output's maximum exceed 100x its reproducibility tolerance, which
    the arbitrary-sign output of ``trained_looking_filter`` need not.)
    """
    rng = np.random.default_rng(2)
    model = build_unet(UNetSettings(depth=2, base_filters=4, input_frames=3, residual=True))
    for layer in model.layers:
        layer.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in layer.get_weights()])
    path = tmp_path_factory.mktemp("residual") / "model.keras"
    model.save(path)
    return path


def test_the_bioimageio_package_validates_and_its_test_output_is_the_keras_filters(residual_filter, tmp_path):
    spec = pytest.importorskip("bioimageio.spec", reason="bioimageio.spec is in the [export] and [test] extras")
    import zipfile

    import yaml

    out = tmp_path / "filter.zip"
    assert main(["export", str(residual_filter), "-o", str(out)]) == 0
    described = spec.load_description(out, perform_io_checks=True)
    assert described.validation_summary.status in ("passed", "valid-format"), described.validation_summary.format()
    with zipfile.ZipFile(out) as z:
        rdf = yaml.safe_load(z.read("rdf.yaml"))
        z.extractall(tmp_path / "package")
    assert [a.get("id") for a in rdf["inputs"][0]["axes"]][1:3] == ["y", "x"]
    assert len(rdf["inputs"][0]["axes"][3]["channel_names"]) == 3  # the filter's 3-frame window
    assert rdf["inputs"][0]["preprocessing"] == [{"id": "scale_linear", "kwargs": {"gain": 1 / 65535, "offset": 0.0}}]
    # its authors are the project's (bioimageio warns of a package without them; issue 35, case 19)
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    assert rdf["authors"] == [{"name": a["name"]} for a in project["authors"]]
    # the package's test pair, through its pre- and postprocessing, is what the Keras filter computes
    test_input = np.load(tmp_path / "package/test_input.npy")
    expected = np.asarray(load_model(residual_filter).predict_on_batch(test_input / 65535)) * 65535
    np.testing.assert_allclose(np.load(tmp_path / "package/test_output.npy"), expected, atol=65535e-3)


def test_a_bioimageio_description_that_does_not_validate_is_refused(tmp_path):
    pytest.importorskip("bioimageio.spec", reason="bioimageio.spec is in the [export] and [test] extras")
    from stemdlf.errors import DataError
    from stemdlf.nn.export import _validate_bioimageio

    rdf = tmp_path / "rdf.yaml"
    rdf.write_text("type: model\nformat_version: 0.5.4\nname: x\nweights: {onnx: {source: missing.onnx}}\n")
    with pytest.raises(DataError, match="does not validate"):
        _validate_bioimageio(rdf, tmp_path / "out.zip")
