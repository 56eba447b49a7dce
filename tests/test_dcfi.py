import numpy as np
import pandas as pd
import pytest
import tifffile
from scipy import ndimage

from stemdlf.preprocess.dcfi import DriftOptions, dcfi, estimate_drift, shift_frames
from stemdlf.simulate import AcquisitionParams, SimulatorParams, simulate_dataset


def textured(shape=(128, 128), seed=0):
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.normal(size=shape), 3) * 5000 + 20000


def test_known_subpixel_shifts_are_recovered():
    base = textured()
    true = np.array([[0, 0], [0.4, -0.7], [1.3, 0.25], [-2.1, 1.6], [0.05, -0.05]])
    frames = np.stack([ndimage.shift(base, -s, order=3, mode="nearest") for s in true])
    frames += np.random.default_rng(1).normal(0, 20, frames.shape)
    est = estimate_drift(frames, DriftOptions(temporal_window=0))
    np.testing.assert_allclose(est, true, atol=0.05)


def test_shift_frames_inverts_a_known_shift():
    base = textured()
    moved = ndimage.shift(base, (-1.5, 2.25), order=3, mode="nearest")
    back = shift_frames(moved[None], np.array([[1.5, -2.25]]))[0]
    inner = (slice(8, -8), slice(8, -8))
    assert np.abs(back[inner] - base[inner]).max() < 0.02 * base.std()


def test_dcfi_averages_noise_away():
    base = textured()
    rng = np.random.default_rng(2)
    frames = base + rng.normal(0, 200, (16, *base.shape))
    image, shifts = dcfi(frames, DriftOptions(temporal_window=0))
    assert np.abs(shifts).max() <= 0.1 + 1e-9  # two quanta of the 1/20 px peak search
    assert np.std(image - base) < 1.3 * 200 / np.sqrt(16)


def test_reference_frame_has_zero_shift():
    base = textured()
    frames = np.stack([ndimage.shift(base, (k * 0.3, 0), order=3, mode="nearest") for k in range(6)])
    shifts = estimate_drift(frames, DriftOptions(reference_frame=3, temporal_window=0))
    np.testing.assert_allclose(shifts[3], 0, atol=1e-12)
    np.testing.assert_allclose(shifts[:, 0], [(3 - k) * 0.3 for k in range(6)], atol=0.05)


def test_recovered_drift_matches_simulated_truth(tmp_path):
    """The DCFI target of issue 2: <= 0.2 px RMS against the simulator's true drift (256x256 FOVs)."""
    acq = AcquisitionParams(n_fovs=2, n_frames=16, height=256, width=256, seed=21,
                            drift_velocity_px_per_frame=(0.02, 0.04), drift_step_px=0.03)
    simulate_dataset(tmp_path, "multi", SimulatorParams(), acq, progress=False)
    for fov in ("fov000", "fov001"):
        frames = tifffile.imread(tmp_path / "fovs" / fov / "rapid.tif")
        truth = pd.read_csv(tmp_path / "truth" / fov / "drift.csv")[["shift_y_px", "shift_x_px"]].to_numpy()
        assert np.abs(truth).max() > 0.4  # there is drift to find
        err = estimate_drift(frames) - truth
        rms = np.sqrt((err**2).mean(axis=0))
        assert rms.max() <= 0.2, f"{fov}: RMS drift error (y, x) = {rms}"


def test_bad_reference_frame():
    with pytest.raises(ValueError, match="reference_frame"):
        estimate_drift(np.zeros((3, 16, 16)) + textured((16, 16)), DriftOptions(reference_frame=5))


def test_correlation_shift_is_skimages_phase_correlation():
    # the same computation as skimage's (without its error estimate): equal shifts, integer and
    # sub-pixel, on pairs of noisy frames and on odd-sized frames
    from scipy import fft
    from skimage.registration import phase_cross_correlation

    from stemdlf.preprocess.dcfi import correlation_shift

    rng = np.random.default_rng(3)
    for shape, shift in [((128, 128), (0.4, -0.7)), ((96, 130), (-5.3, 12.85)), ((127, 64), (2.0, 0.0))]:
        base = textured(shape, seed=4)
        moved = ndimage.shift(base, shift, order=3, mode="nearest") + rng.normal(0, 300, shape)
        a, b = fft.fft2(base - base.mean()), fft.fft2(moved - moved.mean())
        for upsample in (1, 20):
            expected, _, _ = phase_cross_correlation(a, b, upsample_factor=upsample, normalization=None,
                                                     space="fourier")
            np.testing.assert_array_equal(correlation_shift(a, b, upsample), expected)
        np.testing.assert_allclose(correlation_shift(a, b, 20), -np.array(shift), atol=0.5)  # no window here


def test_registration_in_threads_gives_the_same_shifts():
    from stemdlf.preprocess.dcfi import register_to_template

    base = textured((96, 96))
    rng = np.random.default_rng(5)
    frames = np.stack([ndimage.shift(base, (0.2 * k, -0.35 * k), order=3, mode="nearest") for k in range(7)])
    frames += rng.normal(0, 100, frames.shape)
    one = register_to_template(base, frames)
    np.testing.assert_array_equal(register_to_template(base, frames, workers=3), one)
    np.testing.assert_allclose(one, [(-0.2 * k, 0.35 * k) for k in range(7)], atol=0.1)
    assert register_to_template(base, frames[:0], workers=2).shape == (0, 2)


def test_chunked_dcfi_in_threads_equals_one_thread():
    from stemdlf.preprocess.dcfi import dcfi_chunked

    base = textured((96, 96))
    rng = np.random.default_rng(6)
    frames = np.stack([ndimage.shift(base, (0.3 * k, -0.2 * k), order=3, mode="nearest") for k in range(9)])
    frames += rng.normal(0, 100, frames.shape)

    def chunks():
        return iter([frames[:4], frames[4:]])

    image, shifts = dcfi_chunked(chunks)
    image3, shifts3 = dcfi_chunked(chunks, workers=3)
    np.testing.assert_array_equal(shifts3, shifts)
    np.testing.assert_array_equal(image3, image)
    np.testing.assert_allclose(shifts, [(-0.3 * k, 0.2 * k) for k in range(9)], atol=0.15)
