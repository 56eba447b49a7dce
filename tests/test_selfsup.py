"""DLF-Self: Noise2Noise pairs from rapid frames alone, and ``stemdlf train`` on one series."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tifffile
from scipy.ndimage import gaussian_filter
from scipy.signal import lfilter, lfilter_zi

from stemdlf.cli import main
from stemdlf.nn import pretrained
from stemdlf.nn.patches import TrainingPair, other_frames, sample_patches
from stemdlf.nn.selfsup import Calibration, _shift_x, fit_calibration, noise2noise_targets, self_supervised_pair
from stemdlf.preprocess.response import DetectorResponse

RESPONSE = DetectorResponse(fast_pole=0.37, afterglow_pole=0.95, afterglow_share=0.08)


@pytest.mark.parametrize("frame, n, count, expected", [
    (0, 16, 5, [1, 2, 3, 4, 5]),
    (8, 16, 5, [5, 6, 7, 9, 10]),  # ties go to the earlier frame
    (15, 16, 5, [10, 11, 12, 13, 14]),
    (1, 3, 5, [0, 0, 0, 2, 2]),  # fewer frames than the window: repeated, never the frame itself
    (0, 2, 1, [1]),
])
def test_other_frames(frame, n, count, expected):
    assert other_frames(frame, n, count).tolist() == expected


def test_other_frames_needs_another_frame():
    with pytest.raises(ValueError, match="at least 2 frames"):
        other_frames(0, 1, 5)


def test_a_network_never_sees_the_frame_it_must_predict():
    """Frame k holds the value k everywhere: each patch's target value is absent from its input."""
    stack = np.broadcast_to(np.arange(12, dtype=np.float32)[:, None, None] * 1000, (12, 32, 32)).copy()
    pair = TrainingPair("fov", stack, stack.copy(), (0, 32))
    x, y = sample_patches([pair], 64, 16, np.random.default_rng(0), input_frames=5)
    for inputs, target in zip(x, y):
        frame = round(float(target[0, 0, 0]) * 65535 / 1000)
        channels = np.round(inputs[0, 0] * 65535 / 1000).astype(int).tolist()
        assert frame not in channels
        assert channels == other_frames(frame, 12, 5).tolist()


def test_the_targets_undo_the_response_without_bias():
    """Blurred frames with independent noise: the mean of 300 targets is the sharp image (known answer)."""
    rng = np.random.default_rng(0)
    sharp = 20000 + 20000 * gaussian_filter(rng.normal(size=(8, 96)), 1.5)
    b, a = RESPONSE.filter_coefficients()
    noisy = sharp + rng.normal(0, 3000, size=(300, 8, 96))  # white before the detector, as electron noise is
    frames = lfilter(b, a, noisy, axis=-1, zi=lfilter_zi(b, a) * noisy[..., :1])[0]
    targets = noise2noise_targets(frames, RESPONSE)
    # 300 draws of noise amplified ~2x by the inverse: the mean's scatter is ~ 6000/sqrt(300) = 350
    error = np.abs(targets.mean(axis=0) - sharp).mean()
    assert error < 400
    blurred = lfilter(b, a, sharp, axis=-1, zi=lfilter_zi(b, a) * sharp[..., :1])[0]
    assert np.abs(blurred - sharp).mean() > 2 * error  # what the response did (about 900)


def test_the_calibration_puts_targets_on_the_references_scale_and_grid():
    rng = np.random.default_rng(1)
    reference = 30000 + 15000 * gaussian_filter(rng.normal(size=(64, 96)), 2.0)
    mean = 0.45 * _shift_x(reference.astype(np.float32), -0.6) + 5000
    calibration = fit_calibration(mean, reference)
    assert calibration.gain == pytest.approx(0.45, rel=0.01)
    assert calibration.offset == pytest.approx(5000, abs=150)
    assert calibration.shift_px == pytest.approx(0.6, abs=0.05)
    back = noise2noise_targets(mean[None], None, calibration)[0]
    assert np.abs(back - reference)[:, 4:-4].max() < 300
    with pytest.raises(ValueError, match="positive"):
        Calibration(gain=0)


def test_a_pair_without_a_reference_keeps_the_rapid_scale():
    stack = np.random.default_rng(2).uniform(1000, 50000, (4, 16, 24)).astype(np.float32)
    pair, calibration = self_supervised_pair("fov", stack, None)
    assert calibration is None and pair.target.shape == stack.shape
    np.testing.assert_array_equal(pair.target, stack)


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """One simulated FOV: 16 raw rapid frames of 128x128 and its slow scan."""
    out = tmp_path_factory.mktemp("series")
    assert main(["simulate", str(out / "data"), "--n-fovs", "1", "--n-frames", "16", "--size", "128", "--quiet"]) == 0
    return out / "data" / "fovs" / "fov000"


def _train(args):
    return main(["train", *args, "--epochs", "1", "--steps", "3", "--quiet"])


def test_stemdlf_train_reads_no_slow_scan(series, tmp_path):
    """The same series with its slow scan beside it and without: the same filter, and its card says so."""
    with_slow, without = tmp_path / "with", tmp_path / "without"
    shutil.copytree(series, with_slow)
    without.mkdir()
    shutil.copy(series / "rapid.tif", without / "rapid.tif")
    assert (with_slow / "slow.tif").is_file() and not (without / "slow.tif").exists()
    assert _train([str(with_slow / "rapid.tif"), "-o", str(tmp_path / "a.keras")]) == 0
    assert _train([str(without / "rapid.tif"), "-o", str(tmp_path / "b.keras")]) == 0
    import keras

    a = keras.models.load_model(tmp_path / "a.keras", compile=False).get_weights()
    b = keras.models.load_model(tmp_path / "b.keras", compile=False).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    start = keras.models.load_model(pretrained.weights_path("pretrained:DLF-5F"), compile=False).get_weights()
    assert not all(np.array_equal(x, y) for x, y in zip(a, start))  # it trained
    card = json.loads((tmp_path / "a.json").read_text())
    assert card["reads_slow_scans"] is False and card["target"] == "self"
    assert card["initialised_from"] == "pretrained:DLF-5F" and card["input_frames"] == 5
    assert card["geometry"].startswith("rapid-scan grid")
    # the filter then cleans the series as any other: normalised and aligned as its card says
    assert main(["denoise", str(tmp_path / "a.keras"), str(without / "rapid.tif"), "-o", str(tmp_path / "c.tif"),
                 "--quiet"]) == 0
    assert tifffile.imread(tmp_path / "c.tif").shape == (16, 128, 128)


@pytest.mark.parametrize("case, message", [
    ("few", "has 5 frame(s); a rapid-scan series needs at least 8"),
    ("averaged", "hardly change from one to the next"),
    ("unrelated", "cannot be registered"),
    ("float", "dtype is float32"),
])
def test_stemdlf_train_refuses_what_is_not_a_raw_series(series, tmp_path, capsys, case, message):
    frames = tifffile.imread(series / "rapid.tif")
    rng = np.random.default_rng(0)
    bad = {"few": frames[:5],
           "averaged": np.repeat(frames.mean(axis=0, keepdims=True).astype(np.uint16), 10, axis=0),
           "unrelated": np.stack([rng.permutation(f.ravel()).reshape(f.shape) for f in frames]),
           "float": frames.astype(np.float32)}[case]
    path = tmp_path / "bad.tif"
    tifffile.imwrite(path, bad)
    assert _train([str(path), "-o", str(tmp_path / "f.keras")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"stemdlf: error: {path}") and message in err
    assert not (tmp_path / "f.keras").exists()


def test_stemdlf_train_writes_a_keras_file_and_never_over_its_input(series, tmp_path, capsys):
    assert _train([str(series / "rapid.tif"), "-o", str(tmp_path / "f.h5")]) == 2
    assert "ending in .keras" in capsys.readouterr().err


def test_stemdlf_train_reads_a_velox_series(series, tmp_path):
    """The [io] extra's microscope files: a Velox EMD series trains as its frames do, calibration kept."""
    from velox import write_velox

    frames = tifffile.imread(series / "rapid.tif")
    emd = write_velox(tmp_path / "series.emd", {"HAADF": frames, "BF": frames[::-1].copy()}, 2.08e-9, 1e-7)
    assert _train([str(emd), "--detector", "HAADF", "-o", str(tmp_path / "f.keras")]) == 0
    card = json.loads((tmp_path / "f.json").read_text())
    assert card["trained_on"] == "series.emd" and card["pixel_size_nm"] == pytest.approx(2.08)
    assert card["frames"] == 16 and card["reads_slow_scans"] is False
