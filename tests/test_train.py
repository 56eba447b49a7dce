"""Training: it learns, its history is complete, and a killed run resumes exactly."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

pytest.importorskip("keras")

from stemdlf.nn.patches import TrainingPair  # noqa: E402
from stemdlf.nn.train import HISTORY_COLUMNS, TrainingSettings, train_model  # noqa: E402
from stemdlf.nn.unet import UNetSettings  # noqa: E402

NOISE = 8000.0


def noisy_pair(name, seed, size=64, frames=6):
    rng = np.random.default_rng(seed)
    clean = ndimage.gaussian_filter(rng.random((size, size)), 2.0)
    clean = (clean - clean.min()) / np.ptp(clean) * 40000 + 10000
    rapid = clean[None] + rng.normal(0, NOISE, (frames, size, size))
    return TrainingPair(name, rapid.astype(np.float32), clean.astype(np.float32), (0, size))


@pytest.fixture(scope="module")
def pairs():
    return [noisy_pair("a", 0), noisy_pair("b", 1)], [noisy_pair("c", 2)]


def settings(**kw):
    base = dict(lr=3e-3, epochs=4, steps_per_epoch=15, batch_size=8, patch_size=32, validation_patches=32,
                seed=3, model=UNetSettings(depth=2, base_filters=8))
    return TrainingSettings(**{**base, **kw})


def run(tmp_path, pairs, s, **kw):
    return train_model(*pairs, s, tmp_path / "model.keras", tmp_path / "history.csv", tmp_path / "ckpt",
                       log=lambda line: None, **kw)


def test_training_learns_to_denoise(tmp_path, pairs):
    summary = run(tmp_path, pairs, settings())
    identity_mse = (NOISE / 65535.0) ** 2  # an untrained residual net passes the noise through
    assert summary["best_val_loss"] < 0.5 * identity_mse
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history.columns) == HISTORY_COLUMNS and list(history["epoch"]) == [1, 2, 3, 4]
    assert summary["best_val_loss"] == pytest.approx(history["val_loss"].min())
    assert (tmp_path / "model.keras").is_file() and not (tmp_path / "ckpt").exists()


def test_killed_training_resumes_from_its_last_epoch(tmp_path, pairs):
    s = settings(epochs=3)
    run(tmp_path / "full", pairs, s)
    first = run(tmp_path / "resumed", pairs, s, stop_after_epoch=1)
    assert first == {"stopped_after_epoch": 1}
    assert not (tmp_path / "resumed/model.keras").exists()  # no final model until training completes
    assert json.loads((tmp_path / "resumed/ckpt/state.json").read_text())["epoch"] == 1
    resumed = run(tmp_path / "resumed", pairs, s)
    assert resumed["resumed_from_epoch"] == 1
    a = pd.read_csv(tmp_path / "full/history.csv")
    b = pd.read_csv(tmp_path / "resumed/history.csv")
    assert list(b["epoch"]) == [1, 2, 3]
    # the same patches in the same order and the restored optimizer state give the losses of the
    # uninterrupted run (up to float rounding)
    np.testing.assert_allclose(b["loss"], a["loss"], rtol=1e-4)
    np.testing.assert_allclose(b["val_loss"], a["val_loss"], rtol=1e-4)


def test_each_epoch_draws_its_own_reproducible_patches(pairs):
    from stemdlf.nn.train import _epoch_batch

    s = settings()
    first, again, second = (_epoch_batch(pairs[0], s, e, 3)[0] for e in (1, 1, 2))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)


def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path, pairs):
    run(tmp_path, pairs, settings(epochs=2), stop_after_epoch=1)
    summary = run(tmp_path, pairs, settings(epochs=2, lr=1e-3))
    assert summary["resumed_from_epoch"] == 0


def test_settings_are_checked():
    with pytest.raises(ValueError, match="augment"):
        settings(augment="rot90")
    with pytest.raises(ValueError, match="multiple of 2\\*\\*depth"):
        settings(patch_size=30)
    assert settings().fingerprint() != settings(lr=1e-4).fingerprint()
    assert TrainingSettings.from_dict(settings().to_dict()) == settings()


def test_fine_tuning_starts_from_the_given_filter_and_guards_its_checkpoint(tmp_path, pairs):
    import keras

    from stemdlf.errors import DataError
    from stemdlf.nn.train import start_from
    from stemdlf.nn.unet import build_unet

    run(tmp_path / "base", pairs, settings(epochs=2))
    base = tmp_path / "base/model.keras"
    fresh = build_unet(settings().model)
    start_from(fresh, base)
    trained = keras.models.load_model(base, compile=False)
    for a, b in zip(fresh.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(DataError, match="model.keras: cannot fine-tune from this filter"):
        start_from(build_unet(UNetSettings(depth=2, base_filters=16)), base)
    (tmp_path / "broken.keras").write_bytes(b"not a model")
    with pytest.raises(DataError, match="broken.keras: cannot fine-tune from this file: not a trained filter"):
        start_from(fresh, tmp_path / "broken.keras")
    # one epoch of fine-tuning starts where the base ended: its first loss is far below a fresh start's
    tuned = run(tmp_path / "tuned", pairs, settings(epochs=1, lr=1e-4), initial_weights=base)
    scratch = run(tmp_path / "scratch", pairs, settings(epochs=1, lr=1e-4))
    assert tuned["best_val_loss"] < 0.5 * scratch["best_val_loss"]
    # a checkpoint left by a run from other weights is not resumed
    run(tmp_path / "guard", pairs, settings(epochs=2), stop_after_epoch=1)
    assert run(tmp_path / "guard", pairs, settings(epochs=2), initial_weights=base)["resumed_from_epoch"] == 0
