"""Bright-field STEM contrast of dislocations in a thick foil, rendered on a grid.

The specimen is a transmission map (fraction of the incident beam reaching the
bright-field detector) on an oversampled grid in slow-scan pixel coordinates.
The scans sample it at their own (distorted, drifting) positions.

Contrast model, per FOV::

    T = background * prod(1 - bend contours) * exp(-core + lobes)

- background: mean transmission times (1 + low-frequency thickness variation);
- bend contours: broad dark bands along level lines of a smooth random field;
- dislocations: smooth curves splatted on the grid and blurred with a Gaussian
  (dark core) and optionally a wider Gaussian (bright side lobes); inclined lines
  carry dotted (oscillating) contrast; tangles, pile-ups and small loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from stemdlf.simulate.params import SpecimenParams

__all__ = ["SpecimenGrid", "render_specimen", "smooth_field"]

FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


@dataclass
class SpecimenGrid:
    """A rendered transmission map and where it lies in slow-scan pixel coordinates.

    Grid index (gy, gx) is at slow-scan position (y0 + gy / oversample, x0 + gx / oversample).
    """

    transmission: np.ndarray
    y0: float
    x0: float
    oversample: int
    summary: dict

    def sample(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Bilinear samples of the transmission at slow-scan positions (y, x)."""
        coords = np.stack([(np.asarray(y) - self.y0) * self.oversample,
                           (np.asarray(x) - self.x0) * self.oversample])
        return ndimage.map_coordinates(self.transmission, coords, order=1, mode="nearest").astype(np.float32)


def smooth_field(shape: tuple[int, int], sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian-correlated random field of zero mean and unit RMS (FFT filtering).

    Parameters
    ----------
    shape : tuple of int
        Grid shape.
    sigma_px : float
        Correlation length (Gaussian sigma) in grid px.
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        float64 field.
    """
    noise = rng.standard_normal(shape)
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    transfer = np.exp(-2.0 * (np.pi * sigma_px) ** 2 * (ky**2 + kx**2))
    out = np.fft.irfft2(np.fft.rfft2(noise) * transfer, s=shape)
    out -= out.mean()
    return out / (out.std() + 1e-12)


def _curve(rng: np.random.Generator, centre: np.ndarray, angle: float, length_px: float,
           curvature_per_px: float, step_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Points (y, x) and arc length of a smooth random curve centred on ``centre``."""
    n = max(2, int(length_px / step_px))
    s = (np.arange(n) - (n - 1) / 2.0) * step_px
    k0 = rng.normal(0.0, curvature_per_px)
    k1 = rng.normal(0.0, curvature_per_px)
    wavelength = rng.uniform(0.5, 2.0) * max(length_px, 1.0)
    phase = rng.uniform(0, 2 * np.pi)
    theta = angle + k0 * s + k1 * wavelength / (2 * np.pi) * np.sin(2 * np.pi * s / wavelength + phase)
    dy, dx = np.sin(theta) * step_px, np.cos(theta) * step_px
    y = np.cumsum(dy) - np.cumsum(dy)[n // 2] + centre[0]
    x = np.cumsum(dx) - np.cumsum(dx)[n // 2] + centre[1]
    return np.stack([y, x], axis=1), s


def _splat(grid: np.ndarray, points: np.ndarray, weights: np.ndarray) -> None:
    """Add weights at sub-pixel points (grid px) with bilinear splatting."""
    y, x = points[:, 0], points[:, 1]
    iy, ix = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = y - iy, x - ix
    h, w = grid.shape
    for oy, ox, wt in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx),
                       (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        yy, xx = iy + oy, ix + ox
        ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        np.add.at(grid, (yy[ok], xx[ok]), weights[ok] * wt[ok])


def render_specimen(
    params: SpecimenParams,
    region: tuple[float, float, float, float],
    pixel_size_nm: float,
    rng: np.random.Generator,
    oversample: int = 2,
) -> SpecimenGrid:
    """Render one FOV's bright-field transmission over a region of the specimen.

    Parameters
    ----------
    params : SpecimenParams
    region : tuple of float
        (y0, y1, x0, x1) in slow-scan px; must cover everything either scan samples.
    pixel_size_nm : float
        Slow-scan pixel size, converting the nm-valued parameters to px.
    rng : numpy.random.Generator
    oversample : int
        Grid samples per slow-scan pixel.

    Returns
    -------
    SpecimenGrid
        With a ``summary`` of the FOV's drawn parameters (for the ground truth).
    """
    y0, y1, x0, x1 = region
    q = oversample
    shape = (int(np.ceil((y1 - y0) * q)) + 1, int(np.ceil((x1 - x0) * q)) + 1)
    nm = 1.0 / pixel_size_nm  # px per nm
    area_um2 = (y1 - y0) * (x1 - x0) * (pixel_size_nm * 1e-3) ** 2

    density = float(np.exp(rng.uniform(*np.log(params.line_density_per_um))))
    horizontal = bool(rng.uniform() < params.horizontal_fov_fraction)
    dominant = 0.0 if horizontal else float(rng.uniform(0, np.pi))
    spread = np.deg2rad(10.0 if horizontal else params.orientation_spread_deg)
    clustering = float(rng.uniform(*params.clustering))
    cluster_centre = np.array([rng.uniform(y0, y1), rng.uniform(x0, x1)])
    cluster_sigma = 0.15 * min(y1 - y0, x1 - x0)

    step = 0.5  # slow px between curve points
    sigma_core = params.core_width_nm * FWHM_TO_SIGMA * nm * q  # grid px
    sigma_lobe = 2.5 * sigma_core
    core = np.zeros(shape)
    lobe = np.zeros(shape)
    length_px_mean = params.line_length_nm * nm
    curvature = params.line_curvature_per_um * pixel_size_nm * 1e-3  # rad per px

    def add_line(points: np.ndarray, s: np.ndarray, oscillate: bool | None = None) -> None:
        contrast = rng.uniform(*params.line_contrast)
        depth = -np.log(1.0 - contrast)
        weight = np.full(len(points), depth)
        if oscillate if oscillate is not None else rng.uniform() < params.oscillation_fraction:
            period = rng.uniform(*params.oscillation_period_nm) * nm
            mod = 0.5 + 0.5 * np.cos(2 * np.pi * s / period + rng.uniform(0, 2 * np.pi))
            weight = weight * (1.0 - params.oscillation_depth * mod)
        lobes = params.side_lobe_amplitude if rng.uniform() < params.side_lobe_fraction else 0.0
        grid_pts = np.stack([(points[:, 0] - y0) * q, (points[:, 1] - x0) * q], axis=1)
        spacing = step * q
        _splat(core, grid_pts, weight * (1.0 + lobes) * np.sqrt(2 * np.pi) * sigma_core * spacing)
        if lobes:
            _splat(lobe, grid_pts, weight * lobes * np.sqrt(2 * np.pi) * sigma_lobe * spacing)

    # Free dislocation lines until the drawn line length per area is reached.
    total, n_lines = 0.0, 0
    target_px = density * area_um2 / (pixel_size_nm * 1e-3)
    while total < target_px:
        if rng.uniform() < clustering:
            centre = rng.normal(cluster_centre, cluster_sigma)
        else:
            centre = np.array([rng.uniform(y0, y1), rng.uniform(x0, x1)])
        length = float(np.clip(rng.exponential(length_px_mean), 0.2 * length_px_mean, 3 * length_px_mean))
        angle = dominant + rng.normal(0.0, spread)
        pts, s = _curve(rng, centre, angle, length, curvature, step)
        add_line(pts, s)
        total += length
        n_lines += 1

    n_tangle = 0
    if rng.uniform() < params.tangle_probability:
        centre = np.array([rng.uniform(y0, y1), rng.uniform(x0, x1)])
        radius = params.tangle_radius_nm * nm
        n_tangle = int(rng.integers(params.tangle_lines[0], params.tangle_lines[1] + 1))
        for _ in range(n_tangle):
            c = centre + rng.normal(0, radius / 2, size=2)
            pts, s = _curve(rng, c, rng.uniform(0, np.pi), rng.uniform(0.8, 2.0) * radius, 4 * curvature, step)
            add_line(pts, s)

    n_pileup = 0
    if rng.uniform() < params.pileup_probability:
        n_pileup = int(rng.integers(params.pileup_lines[0], params.pileup_lines[1] + 1))
        angle = dominant + rng.normal(0, spread / 2)
        normal = np.array([np.cos(angle), -np.sin(angle)])  # (y, x) perpendicular to the lines
        centre = np.array([rng.uniform(y0, y1), rng.uniform(x0, x1)])
        spacing_px = params.pileup_spacing_nm * nm
        length = 1.5 * length_px_mean
        for j in range(n_pileup):
            # Spacing shrinks towards the head of the pile-up, as for a real pile-up.
            offset = spacing_px * (j + 0.15 * j * j)
            pts, s = _curve(rng, centre + offset * normal, angle, length, 0.3 * curvature, step)
            add_line(pts, s, oscillate=False)

    n_loops = int(rng.poisson(rng.uniform(*params.loop_density_per_um2) * area_um2))
    for _ in range(n_loops):
        radius = rng.uniform(*params.loop_radius_nm) * nm
        aspect, rot = rng.uniform(0.4, 1.0), rng.uniform(0, np.pi)
        n = max(8, int(2 * np.pi * radius / step))
        t = np.linspace(0, 2 * np.pi, n, endpoint=False)
        ly, lx = radius * aspect * np.sin(t), radius * np.cos(t)
        c = np.array([rng.uniform(y0, y1), rng.uniform(x0, x1)])
        pts = np.stack([c[0] + ly * np.cos(rot) + lx * np.sin(rot), c[1] - ly * np.sin(rot) + lx * np.cos(rot)], 1)
        add_line(pts, t * radius, oscillate=False)

    contrast = (ndimage.gaussian_filter(lobe, sigma_lobe, mode="constant")
                - ndimage.gaussian_filter(core, sigma_core, mode="constant"))

    # Low-frequency thickness background and bend contours.
    length_grid = params.thickness_length_nm * nm * q
    mean_t = float(rng.uniform(*params.background_transmission))
    background = mean_t * (1.0 + params.thickness_variation * smooth_field(shape, length_grid, rng))
    bend = np.ones(shape)
    n_bend = int(rng.integers(params.bend_contours[0], params.bend_contours[1] + 1))
    for _ in range(n_bend):
        f = smooth_field(shape, length_grid, rng)
        gy, gx = np.gradient(f)
        slope = max(float(np.median(np.hypot(gy, gx))), 1e-6)  # field units per grid px
        width = rng.uniform(*params.bend_contour_width_nm) * nm * q * FWHM_TO_SIGMA * slope
        level = rng.uniform(-1.0, 1.0)
        bend *= 1.0 - rng.uniform(*params.bend_contour_depth) * np.exp(-0.5 * ((f - level) / width) ** 2)

    transmission = background * bend * np.exp(contrast)
    probe_sigma = params.probe_fwhm_nm * FWHM_TO_SIGMA * nm * q
    if probe_sigma > 0:
        transmission = ndimage.gaussian_filter(transmission, probe_sigma)
    transmission = np.clip(transmission, 0.005, 1.0).astype(np.float32)
    summary = {
        "line_density_per_um": density,
        "lines_along_scan_direction": horizontal,
        "dominant_orientation_deg": float(np.rad2deg(dominant)),
        "clustering": clustering,
        "free_lines": n_lines,
        "tangle_lines": n_tangle,
        "pileup_lines": n_pileup,
        "loops": n_loops,
        "bend_contours": n_bend,
        "background_transmission": mean_t,
    }
    return SpecimenGrid(transmission, y0, x0, q, summary)
