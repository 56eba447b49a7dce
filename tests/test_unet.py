"""The U-Net: shapes, identity start, safe save/load, backend-agnostic source."""

import ast
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from stemdlf.nn.unet import UNetSettings, build_unet, size_multiple, unet_depth  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src" / "stemdlf"


@pytest.mark.parametrize("depth, size", [(1, (8, 12)), (2, (16, 20)), (3, (24, 40))])
def test_output_has_the_input_shape(depth, size):
    model = build_unet(UNetSettings(depth=depth, base_filters=4))
    x = np.random.default_rng(0).random((2, *size, 1), dtype=np.float32)
    assert np.asarray(model(x, training=False)).shape == x.shape
    assert unet_depth(model) == depth and size_multiple(model) == 2**depth


def test_untrained_residual_model_is_the_identity():
    model = build_unet(UNetSettings(depth=2, base_filters=4, residual=True))
    x = np.random.default_rng(1).random((1, 16, 16, 1), dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(model(x, training=False)), x)


def test_plain_model_is_not_the_identity():
    model = build_unet(UNetSettings(depth=2, base_filters=4, residual=False, batch_norm=False))
    x = np.random.default_rng(1).random((1, 16, 16, 1), dtype=np.float32)
    assert np.abs(np.asarray(model(x)) - x).max() > 1e-3


def test_saved_model_loads_in_safe_mode_with_the_same_output(tmp_path):
    model = build_unet(UNetSettings(depth=2, base_filters=4, residual=False))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    x = np.random.default_rng(2).random((1, 32, 32, 1), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6, atol=1e-7)


def test_invalid_architecture_is_refused():
    with pytest.raises(ValueError, match="depth"):
        build_unet(UNetSettings(depth=0))


@pytest.mark.parametrize("module", ["nn/unet.py", "nn/train.py", "nn/denoise.py", "nn/patches.py", "nn/live.py"])
def test_model_code_uses_no_backend_specific_api(module):
    tree = ast.parse((SRC / module).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"tensorflow", "jax", "torch"}


def test_folding_batch_norm_keeps_the_function_and_removes_the_normalisations():
    import keras

    from stemdlf.nn.unet import fold_batch_norm

    model = build_unet(UNetSettings(depth=2, base_filters=4, batch_norm=True, input_frames=3))
    rng = np.random.default_rng(0)
    for layer in model.layers:  # statistics far from the identity, as after training
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.set_weights([rng.uniform(0.5, 2.0, n), rng.normal(0, 0.3, n), rng.normal(0, 0.5, n),
                               rng.uniform(0.1, 3.0, n)])
    x = rng.random((2, 32, 48, 3)).astype(np.float32)
    folded = fold_batch_norm(model)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    expected = np.asarray(model.predict_on_batch(x))
    assert np.abs(np.asarray(folded.predict_on_batch(x)) - expected).max() < 1e-4 * max(1.0, np.abs(expected).max())
    plain = build_unet(UNetSettings(depth=2, base_filters=4, batch_norm=False))
    assert fold_batch_norm(plain) is plain
