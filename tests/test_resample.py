"""Separable spline resampling and the Fourier band-pass equal scipy.ndimage's filters."""

import numpy as np
import pytest
from scipy import ndimage

from stemdlf.preprocess.dcfi import shift_frames
from stemdlf.preprocess.resample import resample_separable, spline_matrix


@pytest.mark.parametrize("order", [1, 3])
def test_spline_matrix_equals_map_coordinates_inside_and_far_outside(order):
    rng = np.random.default_rng(0)
    signal = rng.random(37)
    # inside, near the edges, inside the 12-px padding, and far beyond it
    positions = np.concatenate([rng.uniform(0, 36, 50), [-0.5, -3.2, 36.4, 40.0, -30.0, 90.0, 0.0, 36.0]])
    expected = ndimage.map_coordinates(signal, [positions], order=order, mode="nearest")
    assert np.abs(spline_matrix(positions, 37, order) @ signal - expected).max() < 1e-6


@pytest.mark.parametrize("order", [1, 3])
def test_resample_separable_equals_map_coordinates_on_a_tensor_grid(order):
    rng = np.random.default_rng(1)
    frames = (rng.random((3, 40, 52)) * 65535).astype(np.float32)
    rows = np.arange(38) + 0.37
    cols = 2.0 + 0.9 * np.arange(50) + 5.0 * np.exp(-np.arange(50) / 9.0)  # a hysteresis-like profile
    shifts = rng.normal(0.0, 2.0, (3, 2))
    out = resample_separable(frames, rows, cols, shifts, order)
    for frame, shift, got in zip(frames, shifts, out):
        grid = np.meshgrid(rows - shift[0], cols - shift[1], indexing="ij")
        expected = ndimage.map_coordinates(frame, grid, order=order, mode="nearest")
        assert np.abs(got - expected).max() < 1e-6 * 65535
    # without shifts: the same matrices for every frame
    still = resample_separable(frames, rows, cols, order=order)
    grid = np.meshgrid(rows, cols, indexing="ij")
    assert np.abs(still[2] - ndimage.map_coordinates(frames[2], grid, order=order, mode="nearest")).max() < 1e-6 * 65535


def test_shift_frames_equals_ndimage_shift_and_keeps_unshifted_frames_exact():
    rng = np.random.default_rng(2)
    frames = (rng.random((3, 33, 30)) * 65535).astype(np.float32)
    shifts = np.array([[0.0, 0.0], [1.3, -2.7], [-14.2, 0.4]])
    out = shift_frames(frames, shifts)
    assert np.array_equal(out[0], frames[0])
    for k in (1, 2):
        expected = ndimage.shift(frames[k], shifts[k], order=3, mode="nearest")
        assert np.abs(out[k] - expected).max() < 1e-6 * 65535


def test_spline_matrix_refuses_other_orders():
    with pytest.raises(ValueError, match="order"):
        spline_matrix(np.arange(3.0), 5, order=2)


@pytest.mark.parametrize("shape", [(64, 64), (8, 8), (5, 40), (31, 57)])
@pytest.mark.parametrize("sigmas", [(1.0, 8.0), (0.0, 8.0), (1.0, 0.0), (2.5, 20.0)])
def test_fourier_bandpass_equals_the_difference_of_ndimage_gaussians(shape, sigmas):
    from stemdlf.preprocess.filters import bandpass

    image = np.random.default_rng(3).random(shape) * 65535
    smoothing, background = sigmas
    expected = ndimage.gaussian_filter(image, smoothing) if smoothing > 0 else image
    if background > 0:
        expected = expected - ndimage.gaussian_filter(image, background)
    assert np.abs(bandpass(image, smoothing, background) - expected).max() < 1e-9 * 65535


def test_parabolic_offset_finds_the_vertex_of_a_parabola():
    from stemdlf.preprocess.filters import parabolic_offset

    vertex = 0.3  # samples of -(x - 0.3)^2 at x = -1, 0, 1
    left, centre, right = (-((x - vertex) ** 2) for x in (-1, 0, 1))
    assert parabolic_offset(left, centre, right) == pytest.approx(vertex)
    assert parabolic_offset(1.0, 0.0, 1.0) == 0.0  # a minimum: no offset
    np.testing.assert_allclose(parabolic_offset(np.array([left, 1.0]), np.array([centre, 0.0]),
                                                np.array([right, 1.0])), [vertex, 0.0])


@pytest.mark.parametrize("shifts", [None, np.array([[0.3, -1.7]])])
def test_a_frame_shared_by_threads_is_resampled_as_by_one(shifts):
    rng = np.random.default_rng(3)
    frame = rng.uniform(0, 65535, (1, 37, 53)).astype(np.float32)
    rows, cols = np.linspace(0.5, 35.2, 31), np.linspace(1.0, 50.5, 47)
    one = resample_separable(frame, rows, cols, shifts)
    for workers in (2, 3, 64):  # more workers than rows: each gets a row or none
        shared = resample_separable(frame, rows, cols, shifts, workers=workers)
        np.testing.assert_allclose(shared, one, rtol=0, atol=1e-6 * 65535)
