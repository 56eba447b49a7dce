"""Aligning a long series for a multi-frame filter, each frame registered once (stemdlf.preprocess.series)."""

import numpy as np
import pandas as pd
import pytest
import scipy.fft
import tifffile
from scipy import ndimage
from scipy.signal import savgol_filter

from stemdlf.preprocess.dcfi import DriftOptions, _prepare, _window, correlation_shift, dcfi_chunked
from stemdlf.preprocess.series import SeriesShifts, TemplateRegistration
from stemdlf.simulate import AcquisitionParams, SimulatorParams, simulate_dataset


def texture(shape=(96, 96), seed=0):
    rng = np.random.default_rng(seed)
    image = ndimage.gaussian_filter(rng.normal(size=shape), 2.0)
    return ((image - image.min()) / np.ptp(image) * 50000 + 5000).astype(np.float32)


def fourier_shift(image, shift):
    return np.real(np.fft.ifftn(ndimage.fourier_shift(np.fft.fftn(image), shift))).astype(np.float32)


@pytest.fixture(scope="module")
def default_series(tmp_path_factory):
    """200 frames of the default config's single-FOV dataset (its acquisition, the default physics)."""
    out = tmp_path_factory.mktemp("single")
    acq = AcquisitionParams(n_fovs=1, n_frames=200, height=256, width=256, pixel_size_nm=1.68,
                            drift_velocity_px_per_frame=(0.0, 0.0), drift_step_px=0.02, seed=2)
    simulate_dataset(out, "single", SimulatorParams(), acq, progress=False)
    frames = tifffile.imread(out / "fovs" / "fov000" / "rapid.tif").astype(np.float32)
    truth = pd.read_csv(out / "truth" / "fov000" / "drift.csv")[["shift_y_px", "shift_x_px"]].to_numpy()
    return frames, truth - truth[0]


def test_the_half_spectrum_peak_is_dcfis_full_spectrum_peak():
    """The same integer peak and the same refined peak as correlation_shift (skimage's computation)."""
    options = DriftOptions()
    reference = texture()
    reg = TemplateRegistration(reference.shape, options)
    win = _window(reference.shape, options)
    rng = np.random.default_rng(1)
    for shift in [(0.0, 0.0), (0.35, -1.2), (-2.45, 3.1), (4.0, 0.05)]:
        moving = fourier_shift(reference, shift) + rng.normal(0, 500, reference.shape).astype(np.float32)
        full = correlation_shift(scipy.fft.fft2(_prepare(reference, options, win)),
                                 scipy.fft.fft2(_prepare(moving, options, win)), options.upsample_factor)
        half = reg.shift(reg.spectrum(moving), reg.spectrum(reference))
        np.testing.assert_allclose(half, full, atol=1e-9)
        np.testing.assert_allclose(half, -np.array(shift), atol=0.1)


def test_known_drift_is_recovered_with_each_frame_read_once():
    base = texture((128, 128))
    truth = np.column_stack([np.linspace(0, 2.0, 40), np.linspace(0, -3.0, 40)])
    rng = np.random.default_rng(2)
    frames = np.stack([fourier_shift(base, s) for s in truth]) + rng.normal(0, 800, (40, 128, 128)).astype(np.float32)
    read = []

    def reader(lo, hi):
        read.extend(range(lo, hi))
        return frames[lo:hi]

    shifts = SeriesShifts(reader, len(frames), warmup=8, block=5)
    got = np.concatenate([shifts(a, min(40, a + 7)) for a in range(0, 40, 7)])
    error = np.sqrt(((got + truth - truth[0]) ** 2).mean(axis=0))
    assert error.max() < 0.05, f"RMS error {error} px"
    assert sorted(read) == list(range(40))  # every frame read (and transformed) once


def test_shifts_asked_for_in_chunks_are_the_track_smoothed_at_once():
    """Each chunk's shifts are the Savitzky-Golay filter of the whole raw track, at the ends too."""
    base = texture((64, 64), seed=3)
    rng = np.random.default_rng(4)
    truth = np.cumsum(rng.normal(0, 0.2, (50, 2)), axis=0)
    frames = np.stack([fourier_shift(base, s) for s in truth]) + rng.normal(0, 1500, (50, 64, 64)).astype(np.float32)
    whole = SeriesShifts(lambda lo, hi: frames[lo:hi], 50, warmup=10)
    expected = whole(0, 50)
    smoothed = savgol_filter(whole.raw, 9, 2, axis=0)
    np.testing.assert_allclose(expected, smoothed - smoothed[0], atol=1e-12)
    for size, workers in ((1, 1), (6, 2), (17, 3)):  # the shifts do not depend on the threads either
        chunked = SeriesShifts(lambda lo, hi: frames[lo:hi], 50, warmup=10, workers=workers)
        got = np.concatenate([chunked(a, min(50, a + size)) for a in range(0, 50, size)])
        np.testing.assert_allclose(got, expected, atol=1e-12)


def test_a_series_no_longer_than_the_warmup_gets_dcfis_shifts():
    frames = np.stack([fourier_shift(texture(), (0.3 * k, -0.2 * k)) for k in range(12)])
    dcfi = dcfi_chunked(lambda: iter([frames]), DriftOptions(), integrate=False)[1]
    np.testing.assert_array_equal(SeriesShifts(lambda lo, hi: frames[lo:hi], 12, warmup=16)(0, 12), dcfi)
    with pytest.raises(ValueError, match="outside the series"):
        SeriesShifts(lambda lo, hi: frames[lo:hi], 12)(5, 13)


@pytest.mark.parametrize("device", [False, True], ids=["host", "device"])
def test_on_the_default_data_the_shifts_are_dcfis_within_its_own_error(default_series, device):
    """Registered once to a running template, against DCFI's two passes over the whole series:

    - between frames (the shifts less their common offset) within 0.02 px RMS of DCFI's;
    - between frames, as close to the simulator's true drift as DCFI (within 0.005 px RMS);
    - the common offset, which is the reference frame's own registration noise, no larger than
      DCFI's own RMS error against the truth.
    """
    frames, truth = default_series
    dcfi = dcfi_chunked(lambda: iter([frames]), DriftOptions(), integrate=False)[1]
    if device:
        pytest.importorskip("keras")
    shifts = SeriesShifts(lambda lo, hi: frames[lo:hi], len(frames), device=device)
    got = np.concatenate([shifts(a, min(len(frames), a + 64)) for a in range(0, len(frames), 64)])

    def rms(a):
        return np.sqrt((a**2).mean(axis=0))

    def between_frames(a):
        return a - a.mean(axis=0)

    relative = rms(between_frames(got - dcfi))
    assert relative.max() <= 0.02, f"between frames: RMS {relative} px from DCFI's shifts"
    error, dcfi_error = (rms(between_frames(s) - between_frames(truth)) for s in (got, dcfi))
    assert (error <= dcfi_error + 0.005).all(), f"between frames, RMS error {error} px, DCFI's {dcfi_error} px"
    offset = (got - dcfi).mean(axis=0)
    assert (np.abs(offset) <= rms(dcfi - truth)).all(), f"common offset {offset} px, DCFI's error {rms(dcfi - truth)}"


def test_band_passing_after_the_window_moves_the_default_datas_shifts_by_less_than_001_px(default_series):
    """The registration band-passes in its one transform of the windowed frame; DCFI band-passes the
    frame first (two more transforms). On the default data the shifts differ by < 0.01 px RMS, and
    by at most one step of the sub-pixel grid (1 / upsample_factor px) on any frame."""
    frames, _ = default_series
    options = DriftOptions()

    class BandPassFirst(TemplateRegistration):
        def spectrum(self, frame):
            return scipy.fft.rfft2(_prepare(frame, options, _window(frame.shape, options))).astype(np.complex64)

    def track(registration):
        shifts = SeriesShifts(lambda lo, hi: frames[lo:hi], len(frames), options)
        shifts.registration = registration(frames.shape[1:], options)  # before any frame but the warm-up
        shifts.raw[:shifts.warmup] = shifts.registration.warm_up(frames[:shifts.warmup])
        return np.concatenate([shifts(a, min(len(frames), a + 64)) for a in range(0, len(frames), 64)])

    ours, dcfis_order = track(TemplateRegistration), track(BandPassFirst)
    assert np.sqrt(((ours - dcfis_order) ** 2).mean(axis=0)).max() < 0.01
    assert np.abs(ours - dcfis_order).max() <= 1 / options.upsample_factor + 1e-6
