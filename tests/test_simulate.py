"""Each physical effect of the simulator is present, and of the size its knob says."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import tifffile
import yaml
from conftest import replace
from scipy import ndimage
from skimage.registration import phase_cross_correlation

import stemdlf.simulate as sim
from stemdlf.errors import ConfigError
from stemdlf.simulate import AcquisitionParams, SimulatorParams, simulate_fov
from stemdlf.simulate.detector import adc_transfer, count_electrons, electrons_per_us, time_response
from stemdlf.simulate.params import BeamParams, DetectorParams, ScanDistortionParams, ScanModeParams, from_dict
from stemdlf.simulate.scan import rapid_columns, sample_drift, true_distortion_profile
from stemdlf.simulate.specimen import render_specimen

P = SimulatorParams()


# --- electron counting -------------------------------------------------------------

def test_dose_follows_dwell_time():
    flux = electrons_per_us(BeamParams(beam_current_pA=10.0, collection_efficiency=1.0))
    assert flux == pytest.approx(62.415, rel=1e-4)  # 10 pA = 6.2415e7 e/s
    assert (flux * P.rapid.dwell_us) / (flux * P.slow.dwell_us) == pytest.approx(1 / 50)


@pytest.mark.parametrize("enf", [1.0, 1.3, 2.0])
def test_counting_noise_is_poisson_times_excess_noise_factor(enf):
    rng = np.random.default_rng(0)
    signal = count_electrons(np.full(400_000, 7.5), enf, rng)
    assert signal.mean() == pytest.approx(7.5, rel=0.01)
    assert signal.var() / signal.mean() == pytest.approx(enf, rel=0.02)


# --- detector time response ---------------------------------------------------------

def impulse_response(detector, transmission=0.5, dwell=0.1, width=200):
    sig = np.zeros((1, 1, width))
    sig[0, 0, 20] = 1.0
    return time_response(sig, np.full_like(sig, transmission), dwell, 0.0, detector)[0, 0]


def test_time_response_is_causal_and_conserves_signal():
    h = impulse_response(P.detector)
    assert np.all(h[:20] == 0)
    assert h.sum() == pytest.approx(1.0, abs=1e-3)


def test_fast_component_decays_with_its_time_constant():
    det = DetectorParams(fast_time_constant_ns=100.0, afterglow_amplitude=0.0, afterglow_signal_slope=0.0)
    h = impulse_response(det)
    assert h[22] / h[21] == pytest.approx(np.exp(-0.1 / 0.1), rel=1e-6)


def test_afterglow_share_and_time_constant():
    det = DetectorParams(afterglow_amplitude=0.04, afterglow_signal_slope=0.0, afterglow_time_constant_us=2.0)
    h = impulse_response(det)
    tail = h[20 + 10:]  # 1 us after the pixel: the fast part has decayed by e^-10
    alpha = np.exp(-0.1 / 2.0)
    assert h[40] / h[39] == pytest.approx(alpha, rel=1e-3)
    # afterglow weight left after 10 px: A * alpha^10
    assert tail.sum() == pytest.approx(0.04 * alpha**10, rel=0.01)


def test_afterglow_grows_with_signal():
    det = DetectorParams(afterglow_amplitude=0.02, afterglow_signal_slope=0.08)
    dim = impulse_response(det, transmission=0.1)[35:].sum()
    bright = impulse_response(det, transmission=0.9)[35:].sum()
    assert bright / dim == pytest.approx((0.02 + 0.08 * 0.9) / (0.02 + 0.08 * 0.1), rel=1e-4)


def test_slow_scan_is_barely_blurred():
    h = impulse_response(P.detector, dwell=P.slow.dwell_us)
    assert h[20] > 0.9 and h[20] > 0.9 * impulse_response(P.detector, dwell=P.rapid.dwell_us)[20:].sum()


# --- ADC transfer -------------------------------------------------------------------

def test_adc_transfer_offset_scale_gamma():
    mode = ScanModeParams(dwell_us=0.1, adc_offset=5000, adc_full_scale=30000, transfer_gamma=0.8)
    out = adc_transfer(np.array([0.0, 0.25, 1.0]), mode, None)
    np.testing.assert_allclose(out, [5000, 5000 + 30000 * 0.25**0.8, 35000], rtol=1e-6)


def test_read_noise_and_clipping():
    mode = ScanModeParams(dwell_us=1, adc_offset=1000, adc_full_scale=1000, read_noise_adu=50.0)
    out = adc_transfer(np.full(100_000, 0.5), mode, np.random.default_rng(0)).astype(float)
    assert out.std() == pytest.approx(50.0, rel=0.02) and out.mean() == pytest.approx(1500, abs=1)
    assert adc_transfer(np.array([100.0]), mode, np.random.default_rng(0))[0] == 65535


def test_rapid_and_slow_transfers_differ():
    """Backgrounds differ between the scans (paper Fig. 3b): same transmission, other counts."""
    u = np.array([0.3, 0.6])
    rapid, slow = adc_transfer(u, P.rapid, None), adc_transfer(u, P.slow, None)
    assert not np.allclose(rapid / rapid[1], slow / slow[1], rtol=0.02)


# --- scan geometry ------------------------------------------------------------------

def test_hysteresis_follows_mullarkey_formula():
    d = ScanDistortionParams(fov_broadening=0.1, hysteresis_amplitude_px=20, hysteresis_time_constant_us=5)
    x = rapid_columns(256, 0.1, 2.0, d)
    i = np.arange(256)
    expected = 1.1 * i - 20 * np.exp(-(2.0 + 0.1 * i) / 5)
    np.testing.assert_allclose(np.diff(x), np.diff(expected))
    pitch = np.diff(x)
    assert pitch[0] > pitch[-1] > 1.09  # strongest at line start, broader FOV
    assert x[0] < 0 and x[-1] > 255  # the rapid FOV extends beyond the slow one


def test_true_profile_inverts_the_scan():
    x = rapid_columns(128, 0.1, 2.0, ScanDistortionParams())
    profile = true_distortion_profile(x, 128)
    ok = ~np.isnan(profile)
    np.testing.assert_allclose(np.interp(profile[ok], np.arange(128), x), np.arange(128)[ok], atol=1e-9)


def test_drift_velocity_and_random_walk():
    drift = sample_drift(20001, (0.01, -0.02), 0.05, np.random.default_rng(0))
    steps = np.diff(drift, axis=0)
    assert np.all(drift[0] == 0)
    np.testing.assert_allclose(steps.mean(axis=0), [0.01, -0.02], atol=0.002)
    np.testing.assert_allclose(steps.std(axis=0), 0.05, rtol=0.03)


# --- specimen -----------------------------------------------------------------------

def test_specimen_varies_across_fovs_and_lines_can_follow_the_scan():
    spec = P.specimen
    densities = [render_specimen(spec, (0, 100, 0, 100), 2.08, np.random.default_rng(s)).summary["line_density_per_um"]
                 for s in range(12)]
    assert min(densities) >= spec.line_density_per_um[0] and max(densities) <= spec.line_density_per_um[1]
    assert max(densities) / min(densities) > 2
    horizontal = replace(P, specimen={"horizontal_fov_fraction": 1.0, "bend_contours": (0, 0),
                                      "thickness_variation": 0.0, "loop_density_per_um2": (0, 0),
                                      "tangle_probability": 0.0}).specimen
    t = render_specimen(horizontal, (0, 200, 0, 200), 2.08, np.random.default_rng(1)).transmission
    gy, gx = np.gradient(t)
    assert (gy**2).sum() > 3 * (gx**2).sum()  # lines along x: intensity changes across y


def test_line_contrast_is_the_drawn_depth():
    """A single isolated line on a flat background: its core is darker by exactly line_contrast."""
    spec = replace(P, specimen={"line_density_per_um": (0.01, 0.01), "line_contrast": (0.5, 0.5),
                                "side_lobe_fraction": 0.0, "oscillation_fraction": 0.0, "bend_contours": (0, 0),
                                "thickness_variation": 0.0, "tangle_probability": 0.0, "pileup_probability": 0.0,
                                "loop_density_per_um2": (0, 0), "background_transmission": (0.8, 0.8),
                                "probe_fwhm_nm": 0.0, "line_curvature_per_um": 0.0}).specimen
    grid = render_specimen(spec, (0, 300, 0, 300), 2.08, np.random.default_rng(3))
    assert grid.summary["free_lines"] == 1
    t = grid.transmission
    assert np.median(t) == pytest.approx(0.8, rel=1e-3)
    assert t.min() == pytest.approx(0.8 * 0.5, rel=0.03)


# --- whole FOVs ----------------------------------------------------------------------

def test_simulation_is_deterministic_and_fovs_differ(tmp_path, small_dataset):
    acq = AcquisitionParams(n_fovs=3, n_frames=6, height=64, width=64, seed=3)
    simulate_fov(tmp_path, 1, SimulatorParams(), acq)
    again = tifffile.imread(tmp_path / "fovs" / "fov001" / "rapid.tif")
    np.testing.assert_array_equal(again, tifffile.imread(small_dataset / "fovs" / "fov001" / "rapid.tif"))
    assert not np.array_equal(again, tifffile.imread(small_dataset / "fovs" / "fov000" / "rapid.tif"))


def test_streaming_in_chunks_does_not_change_the_data(tmp_path, monkeypatch):
    acq = AcquisitionParams(n_fovs=1, n_frames=7, height=48, width=48, seed=5)
    simulate_fov(tmp_path / "a", 0, P, acq)
    monkeypatch.setattr(sim, "CHUNK_FRAMES", 3)
    simulate_fov(tmp_path / "b", 0, P, acq)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "a/fovs/fov000/rapid.tif"),
                                  tifffile.imread(tmp_path / "b/fovs/fov000/rapid.tif"))


def test_ground_truth_is_written(small_dataset):
    truth = small_dataset / "truth" / "fov000"
    clean = tifffile.imread(truth / "slow_clean.tif")
    slow = tifffile.imread(small_dataset / "fovs" / "fov000" / "slow.tif").astype(float)
    assert clean.dtype == np.float32 and clean.shape == slow.shape
    assert abs((slow - clean).mean()) < 0.02 * clean.mean()  # noise is zero-mean around the truth
    profile = pd.read_csv(truth / "distortion.csv")
    assert list(profile.columns) == ["slow_x", "rapid_x"] and len(profile) == 64
    assert len(pd.read_csv(truth / "drift.csv")) == 6
    assert "line_density_per_um" in yaml.safe_load((truth / "fov.yaml").read_text())["specimen"]


def _high_dose(params, current_pA=3000.0):
    return replace(params, beam={"beam_current_pA": current_pA}, rapid={"read_noise_adu": 0.0},
                   slow={"read_noise_adu": 0.0})


def test_rapid_scan_is_distorted_as_the_true_profile_says(tmp_path):
    """Resampling the slow scan through the true profile reproduces the rapid DCFI geometry."""
    params = _high_dose(P)
    acq = AcquisitionParams(n_fovs=1, n_frames=4, height=128, width=128, seed=8,
                            drift_velocity_px_per_frame=(0, 0), drift_step_px=0.0, stage_offset_px=0.0)
    simulate_fov(tmp_path, 0, params, acq)
    rapid = tifffile.imread(tmp_path / "fovs/fov000/rapid.tif").astype(float).mean(axis=0)
    clean = tifffile.imread(tmp_path / "truth/fov000/slow_clean.tif")
    x = rapid_columns(128, params.rapid.dwell_us, params.rapid.flyback_us, params.scan_distortion)
    inside = (x >= 0) & (x <= 127)
    v = params.scan_distortion.vertical_offset_px
    rows = np.arange(128)[:, None] + v + 0 * x[None, :]
    warped = ndimage.map_coordinates(clean, [rows, np.broadcast_to(x, rows.shape)], order=1)

    def corr(a, b):
        a, b = a - a.mean(), b - b.mean()
        return (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())

    sel = (slice(10, 118), inside)
    assert corr(rapid[sel], warped[sel]) > 0.9
    assert corr(rapid[sel], warped[sel]) > corr(rapid[sel], clean[sel]) + 0.1


def test_vertical_offset_between_rapid_and_slow(tmp_path):
    params = replace(_high_dose(P), scan_distortion={"vertical_offset_px": 4.0})
    acq = AcquisitionParams(n_fovs=1, n_frames=4, height=128, width=128, seed=9,
                            drift_velocity_px_per_frame=(0, 0), drift_step_px=0.0, stage_offset_px=0.0)
    simulate_fov(tmp_path, 0, params, acq)
    rapid = tifffile.imread(tmp_path / "fovs/fov000/rapid.tif").astype(float).mean(axis=0)
    slow = tifffile.imread(tmp_path / "fovs/fov000/slow.tif").astype(float)
    shift, _, _ = phase_cross_correlation(slow[:, 40:100], rapid[:, 40:100], upsample_factor=10, normalization=None)
    assert shift[0] == pytest.approx(4.0, abs=0.3)


def test_line_jitter_has_the_configured_size(tmp_path):
    """Same seed with and without jitter: the per-line shift between the two has the knob's RMS."""
    acq = AcquisitionParams(n_fovs=1, n_frames=2, height=128, width=256, seed=4,
                            drift_velocity_px_per_frame=(0, 0), drift_step_px=0.0)
    frames = {}
    for jitter in (0.0, 0.5):
        # Shot noise differs between the two runs (the Poisson sampler's draws depend on
        # the signal), so make it negligible: this test is about geometry.
        params = replace(_high_dose(P, current_pA=1e6), rapid={"line_jitter_px": jitter})
        simulate_fov(tmp_path / str(jitter), 0, params, acq)
        frames[jitter] = tifffile.imread(tmp_path / str(jitter) / "fovs/fov000/rapid.tif")[0].astype(float)
    x = rapid_columns(256, P.rapid.dwell_us, P.rapid.flyback_us, P.scan_distortion)
    pitch = np.diff(x)[100:250].mean()
    candidates = np.arange(-2.5, 2.5, 0.01)
    cols = np.arange(256, dtype=float)
    shifts = []
    for row in range(128):
        ref, jittered = frames[0.0][row], frames[0.5][row]
        if ref[100:250].std() < 1000:
            continue  # featureless line
        # least-squares sub-pixel shift of the row (content moves by -jitter / pitch)
        sse = [((np.interp(cols[100:250] + d, cols, ref) - jittered[100:250]) ** 2).sum() for d in candidates]
        shifts.append(candidates[int(np.argmin(sse))])
    shifts = np.asarray(shifts)
    assert len(shifts) > 60
    robust_sd = 1.4826 * np.median(np.abs(shifts - np.median(shifts)))
    assert robust_sd * pitch == pytest.approx(0.5, rel=0.2)


def test_rapid_scan_blur_is_along_the_fast_scan_direction(tmp_path):
    """Same seed with and without the detector lag: the lag removes gradient energy along x only."""
    acq = AcquisitionParams(n_fovs=1, n_frames=2, height=128, width=128, seed=6)
    no_lag = {"fast_time_constant_ns": 0.0, "afterglow_amplitude": 0.0, "afterglow_signal_slope": 0.0}
    frames = {}
    for name, detector in (("lag", {}), ("none", no_lag)):
        simulate_fov(tmp_path / name, 0, replace(_high_dose(P, current_pA=1e6), detector=detector), acq)
        frames[name] = tifffile.imread(tmp_path / name / "fovs/fov000/rapid.tif")[0].astype(float)

    gy_lag, gx_lag = np.gradient(frames["lag"])
    gy_none, gx_none = np.gradient(frames["none"])
    x_kept = (gx_lag**2).mean() / (gx_none**2).mean()
    y_kept = (gy_lag**2).mean() / (gy_none**2).mean()
    # blurring along x also smooths the y-gradients of non-horizontal features, but less
    assert x_kept < 0.8 and x_kept < y_kept - 0.05, (x_kept, y_kept)


def test_unknown_parameter_is_rejected():
    with pytest.raises(ConfigError, match="beam_curent_pA"):
        from_dict(SimulatorParams, {"beam": {"beam_curent_pA": 3}}, "simulator")


def test_each_fov_slow_scan_sits_at_its_recorded_stage_offset(tmp_path):
    """The stage drifts between the rapid series and the slow scan: the slow scan is offset by the
    (oy, ox) recorded in fov.yaml, and the recorded true profile includes ox."""
    params = replace(_high_dose(P), scan_distortion={"vertical_offset_px": 0.0, "fov_broadening": 0.0,
                                                     "hysteresis_amplitude_px": 0.0})
    acq = AcquisitionParams(n_fovs=1, n_frames=4, height=128, width=128, seed=10,
                            drift_velocity_px_per_frame=(0, 0), drift_step_px=0.0, stage_offset_px=3.0)
    simulate_fov(tmp_path, 0, params, acq)
    facts = yaml.safe_load((tmp_path / "truth/fov000/fov.yaml").read_text())
    oy, ox = facts["stage_offset_px"]
    assert max(abs(oy), abs(ox)) > 0.5  # drawn, not zero
    assert facts["vertical_offset_px"] == pytest.approx(-oy)
    rapid = tifffile.imread(tmp_path / "fovs/fov000/rapid.tif").astype(float).mean(axis=0)
    slow = tifffile.imread(tmp_path / "fovs/fov000/slow.tif").astype(float)
    shift, _, _ = phase_cross_correlation(slow[16:112, 16:112], rapid[16:112, 16:112], upsample_factor=20,
                                          normalization=None)
    # slow pixel (r, c) images specimen (r + oy, c + ox), which rapid pixel (r + oy, c + ox) images
    assert shift[0] == pytest.approx(-oy, abs=0.3)
    assert shift[1] == pytest.approx(-ox, abs=0.5)  # the detector lag adds a fraction of a pixel along x
    profile = pd.read_csv(tmp_path / "truth/fov000/distortion.csv")["rapid_x"].to_numpy()
    assert np.nanmedian(profile - np.arange(128)) == pytest.approx(ox, abs=0.05)


def test_vary_physics_draws_each_fov_its_own_physics_within_the_ranges():
    from stemdlf.simulate.params import vary_physics

    ranges = {"detector.afterglow_time_constant_us": (1.0, 5.0), "beam.beam_current_pA": (6.0, 24.0),
              "rapid.adc_offset": (2000.0, 10000.0)}
    base = SimulatorParams()
    draws = [vary_physics(base, ranges, np.random.default_rng(k)) for k in range(20)]
    taus = [d.detector.afterglow_time_constant_us for d in draws]
    assert all(1.0 <= t <= 5.0 for t in taus) and len(set(taus)) == 20
    assert all(6.0 <= d.beam.beam_current_pA <= 24.0 and 2000 <= d.rapid.adc_offset <= 10000 for d in draws)
    # the other physics is untouched, and the same stream draws the same physics
    assert all(d.detector.afterglow_amplitude == base.detector.afterglow_amplitude for d in draws)
    assert draws[3] == vary_physics(base, ranges, np.random.default_rng(3))
    assert vary_physics(base, {}, np.random.default_rng(0)) == base
    with pytest.raises(ConfigError, match="'specimen.line_contrast' names no number"):
        vary_physics(base, {"specimen.line_contrast": (0.1, 0.2)}, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="'detector.gain' names no number"):
        vary_physics(base, {"detector.gain": (1, 2)}, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="low 5 above high 1"):
        vary_physics(base, {"beam.beam_current_pA": (5, 1)}, np.random.default_rng(0))


def test_a_dataset_of_varied_physics_keeps_its_fovs_reproducible_and_the_rest_as_before(tmp_path):
    plain = AcquisitionParams(n_fovs=2, n_frames=2, height=48, width=48, seed=4)
    varied = dataclasses.replace(plain, vary_physics={"beam.beam_current_pA": (4.0, 30.0)})
    for name, acq in (("a", plain), ("b", varied), ("c", varied)):
        for k in range(2):
            simulate_fov(tmp_path / name, k, SimulatorParams(), acq)
    read = lambda name, fov: tifffile.imread(tmp_path / name / "fovs" / fov / "rapid.tif")  # noqa: E731
    assert np.array_equal(read("b", "fov001"), read("c", "fov001"))  # reproducible
    assert not np.array_equal(read("a", "fov001"), read("b", "fov001"))  # another dose
    # the truth's geometry (specimen, drift, stage) is drawn from the same streams as without variation
    clean = lambda name: tifffile.imread(tmp_path / name / "truth" / "fov000" / "slow_clean.tif")  # noqa: E731
    assert np.corrcoef(clean("a").ravel(), clean("b").ravel())[0, 1] > 0.99
    with pytest.raises(ConfigError, match="vary_physics"):
        AcquisitionParams(vary_physics={"specimen.line_contrast": (0.1, 0.2)})
