"""CARE baseline: CSBDeep's patches keep rapid and target aligned, the target scale is
restored, and a short training denoises."""
import numpy as np
import pytest
from scipy import ndimage

from stemdlf.baselines.care import care_denoise, care_patches, load_care, target_range, train_care
from stemdlf.nn.patches import TrainingPair

pytestmark = pytest.mark.filterwarnings("ignore:small number of validation images",
                                        "ignore:`shuffle=True` was passed")


def _specimen(rng, shape=(96, 96)):
    """A smooth, high-contrast image on the 0..65535 scale."""
    image = ndimage.gaussian_filter(rng.random(shape), 3)
    image = (image - image.min()) / np.ptp(image)
    return (5000 + 50000 * image).astype(np.float32)


def _pair(rng, name, n_frames=4, noise=6000.0, shape=(96, 96)):
    clean = _specimen(rng, shape)
    rapid = clean + noise * rng.standard_normal((n_frames, *shape)).astype(np.float32)
    return TrainingPair(name, rapid, clean, (0, shape[0]))


def test_patches_are_aligned_and_counted():
    rng = np.random.default_rng(0)
    target = _specimen(rng)
    pair = TrainingPair("a", np.stack([target, target]), target, (0, 96))
    x, y = care_patches([pair], 32, 10, seed=0)
    assert x.shape == y.shape == (10, 32, 32, 1)
    np.testing.assert_allclose(x, y, atol=1e-6)  # same image, same place, same normalisation
    assert x.max() > 0.9 and x.min() < 0.1      # percentile-normalised


def test_patches_respect_rows():
    rng = np.random.default_rng(1)
    target = np.zeros((96, 96), np.float32)
    target[:48] = rng.random((48, 96)) * 60000  # signal only in the allowed rows
    pair = TrainingPair("a", target[np.newaxis] + 1.0, target, (0, 48))
    x, _ = care_patches([pair], 16, 20, seed=0)
    assert np.all(np.ptp(x, axis=(1, 2, 3)) > 0)  # every patch comes from the textured rows


def test_target_range_is_median_of_percentiles():
    ramp = np.arange(10001, dtype=np.float32).reshape(1, -1).repeat(2, 0)
    pairs = [TrainingPair(str(k), ramp[np.newaxis], ramp + 1000 * k, (0, 2)) for k in range(3)]
    low, high = target_range(pairs, (2.0, 99.8))
    assert low == pytest.approx(200 + 1000) and high == pytest.approx(9980 + 1000)


def test_short_training_denoises(tmp_path):
    rng = np.random.default_rng(2)
    train = [_pair(rng, f"t{k}") for k in range(3)]
    val = [_pair(rng, "v")]
    summary = train_care(train, val, patch_size=32, batch_size=8, epochs=3, steps_per_epoch=40,
                         validation_patches=16, max_patches=400, seed=0,
                         model_dir=tmp_path / "CARE", work_dir=tmp_path / "work" / "CARE", log=lambda m: None)
    assert summary["budget_samples"] == 3 * 40 * 8 and summary["training_patches"] == 400
    assert len(summary["history"]) == 3
    model = load_care(tmp_path / "CARE")
    test = _pair(rng, "test", n_frames=2)
    restored = care_denoise(model, test.rapid, target_range(train))
    assert restored.shape == test.rapid.shape and restored.dtype == np.float32
    err_rapid = np.sqrt(np.mean((test.rapid - test.target) ** 2))
    err_care = np.sqrt(np.mean((restored - test.target) ** 2))
    assert err_care < 0.6 * err_rapid, (err_care, err_rapid)
    assert abs(np.median(restored) - np.median(test.target)) < 0.1 * np.ptp(test.target)  # target scale restored
    one = care_denoise(model, test.rapid[0], target_range(train))
    np.testing.assert_allclose(one, restored[0], atol=1e-3 * 65535)


def test_load_care_names_missing_files(tmp_path):
    (tmp_path / "CARE").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_care(tmp_path / "CARE")
