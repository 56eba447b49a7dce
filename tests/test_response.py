"""The detector response along x: its model, its estimate from rapid frames alone, its inverse."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import yaml
from scipy.signal import lfilter, lfilter_zi

from stemdlf.preprocess.response import (
    DetectorResponse,
    _expected_periodogram,
    difference_spectrum,
    estimate_response,
    undo_response,
)
from stemdlf.simulate import AcquisitionParams, SimulatorParams, simulate_dataset
from stemdlf.simulate.detector import time_response
from stemdlf.simulate.params import DetectorParams

RESPONSE = DetectorResponse(fast_pole=0.37, afterglow_pole=0.95, afterglow_share=0.08)


def test_the_model_is_the_simulators_time_response():
    """At a constant transmission (one afterglow share) the simulator's detector is this filter."""
    detector = DetectorParams()
    response = DetectorResponse.from_detector(detector, 0.1, 0.6)
    impulse = np.zeros((1, 1, 400))
    impulse[0, 0, 50] = 1.0
    simulated = time_response(impulse, np.full_like(impulse, 0.6), 0.1, 0.0, detector)[0, 0, 50:]
    np.testing.assert_allclose(simulated, response.impulse(350), atol=1e-6)
    assert response.impulse(5000).sum() == pytest.approx(1.0, abs=1e-9)  # the charge is kept
    assert abs(response.transfer(64)[0]) == pytest.approx(1.0)
    assert response.time_constants_px == pytest.approx((1.0, 20.0))


def test_the_expected_periodogram_is_what_filtered_white_noise_shows():
    rng = np.random.default_rng(0)
    b, a = RESPONSE.filter_coefficients()
    stream = lfilter(b, a, rng.normal(size=400 * 2000))[2000:]  # stationary, rows cut from one stream
    rows = stream[: (len(stream) // 400) * 400].reshape(-1, 400)[:, :128]
    measured = np.mean(np.abs(np.fft.rfft(rows, axis=1)) ** 2, axis=0) / 128
    expected = _expected_periodogram(RESPONSE, 128)
    # 1,990 rows: each bin's mean has about 2.2% scatter
    np.testing.assert_allclose(measured, expected, rtol=0.1)
    assert np.sqrt(np.mean((measured / expected - 1) ** 2)) < 0.03


def test_undo_response_is_the_exact_inverse():
    rng = np.random.default_rng(1)
    image = rng.uniform(1000, 60000, size=(3, 16, 200))
    b, a = RESPONSE.filter_coefficients()
    # each row starts in the steady state of its first pixel (the detector saw the flyback before it)
    blurred = lfilter(b, a, image, axis=-1, zi=lfilter_zi(b, a) * image[..., :1])[0]
    np.testing.assert_allclose(undo_response(blurred, RESPONSE), image, rtol=1e-5)


def test_the_difference_spectrum_needs_two_frames():
    with pytest.raises(ValueError, match="at least 2 frames"):
        difference_spectrum(np.zeros((1, 8, 8)))
    with pytest.raises(ValueError, match="differ in width"):
        estimate_response([np.zeros((2, 8, 8)), np.zeros((2, 8, 16))])


@pytest.fixture(scope="module")
def rapid_series(tmp_path_factory):
    """Four simulated FOVs of the default physics (16 frames of 256x256) and their mean transmission."""
    out = tmp_path_factory.mktemp("response")
    params = SimulatorParams()
    fovs = simulate_dataset(out, "multi", params, AcquisitionParams(n_fovs=4, n_frames=16, height=256, width=256,
                                                                   seed=1), progress=False)
    stacks = [tifffile.imread(out / "fovs" / f / "rapid.tif") for f in fovs]
    transmission = np.mean([yaml.safe_load((out / "truth" / f / "fov.yaml").read_text())["specimen"]
                            ["background_transmission"] for f in fovs])
    return stacks, DetectorResponse.from_detector(params.detector, params.rapid.dwell_us, float(transmission))


def test_the_response_estimated_from_rapid_frames_alone_is_the_simulators(rapid_series):
    """The noise spectrum of four FOVs' frame differences gives |H| within 2% of the simulator's."""
    stacks, truth = rapid_series
    estimate, fit = estimate_response(stacks)
    error = np.abs(np.abs(estimate.transfer(256)) / np.abs(truth.transfer(256)) - 1)
    assert error.max() < 0.02
    fast, glow = estimate.time_constants_px
    assert fast == pytest.approx(truth.time_constants_px[0], rel=0.03)
    assert glow == pytest.approx(truth.time_constants_px[1], rel=0.3)
    assert estimate.afterglow_share == pytest.approx(truth.afterglow_share, abs=0.02)
    assert fit["rms_log_residual"] < 0.05
    # a wrong response fits worse: the estimate is not the starting point
    worse = DetectorResponse(0.6, 0.95, 0.08)
    assert np.abs(np.abs(worse.transfer(256)) / np.abs(truth.transfer(256)) - 1).max() > 0.1
