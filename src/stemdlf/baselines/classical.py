"""Classical denoising baselines, each tuned per FOV for the best PSNR against the slow scan.

The paper tuned BM3D's noise level per FOV for the highest PSNR against the slow scan;
every baseline here gets the same treatment, so none is a strawman:

- ``Gaussian``: Gaussian smoothing, width tuned.
- ``NLM``: non-local means (scikit-image), filter strength tuned.
- ``BM3D``: the ``bm3d`` package with one noise sigma, tuned (the paper's baseline).
- ``BM3D-PSD``: ``bm3d`` given the noise power spectrum measured from frame differences of
  training frames (the rapid-scan noise is correlated along x by the detector response;
  BM3D is built for that case, Makinen et al. 2020), its scale tuned.
- ``BM3D-deblur``: ``bm3d_deblurring`` with the scan-direction point-spread function
  estimated from training DCFI vs slow scans, and the same measured noise spectrum.

The networks learn the rapid detector's different intensity transfer from their training
pairs; a classical filter cannot. So that the baselines are judged on denoising and not
on that calibration, their outputs are (by default) mapped through the rapid-to-slow
tone curve fitted on the training FOVs (:func:`fit_tone_curve`).

Tuning uses the FOV's first frame (a central crop of ``search_crop_px`` to bound the cost)
and searches the documented grids below coarse to fine (:func:`search_parameter`): it climbs
on every other grid value from the middle to the best one, continues past either end of the
grid while the score still rises, and then tries the values between the best one and its
neighbours. The chosen value is applied to every evaluated frame and recorded with the score of
every value tried. Images are on the 0..65535 scale; the filters work on 0..1.

The three BM3D baselines run with one of the ``bm3d`` package's profiles (``bm3d_profile``):
its normal one (``"np"``) or its low-complexity one (``"lc"``, about 3x faster), which the
workflow uses by default (``evaluate.bm3d_profile``; ``benchmarks/bm3d_profiles.py`` measures
both). Tuning runs under the profile that filters.

bm3d is licensed for non-commercial use only (see its PyPI page).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from stemdlf.evaluate.psnr import MAX_I, psnr

__all__ = ["BASELINES", "BM3D_PROFILES", "GRIDS", "Tuned", "search_parameter",
           "noise_psd", "estimate_scan_psf", "fit_tone_curve", "apply_tone_curve",
           "tune", "make_filter", "apply_baseline"]

BASELINES = ("Gaussian", "NLM", "BM3D", "BM3D-PSD", "BM3D-deblur")
#: Profiles of the ``bm3d`` package the BM3D baselines can run with (see :func:`make_filter`).
BM3D_PROFILES = ("np", "lc")

#: Coarse search grids (each geometric or nearly so). Gaussian: sigma in px. NLM: filter strength h as a multiple of the
#: estimated noise sigma. BM3D: noise sigma on the 0..1 scale. BM3D-PSD / BM3D-deblur:
#: factor on the measured noise power spectrum.
GRIDS: dict[str, list[float]] = {
    "Gaussian": [0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0],
    "NLM": [0.4, 0.6, 0.8, 1.0, 1.3, 1.7],
    "BM3D": [0.03, 0.05, 0.08, 0.12, 0.18, 0.27, 0.4],
    "BM3D-PSD": [0.25, 0.5, 1.0, 2.0, 4.0],
    "BM3D-deblur": [0.25, 0.5, 1.0, 2.0, 4.0],
}

#: How many coarse steps the search may take past either end of a grid.
EXTEND_STEPS = 3


def search_parameter(score: Callable[[float], float], grid: Sequence[float],
                     extend_steps: int = EXTEND_STEPS) -> dict[float, float]:
    """Maximise ``score`` over a positive, increasing ``grid``, coarse to fine.

    The coarse pass climbs on every other grid value (both ends kept), from the middle one to
    the better neighbour until neither neighbour is better (a tie keeps the current value); past
    an end of the grid the next value continues the end's ratio, at most ``extend_steps`` times.
    The fine pass then tries the geometric midpoints between the best value and its two coarse
    neighbours (on a geometric grid, the skipped grid values). For a score that is unimodal in
    the parameter this finds the grid's best value, or a better one past its ends, in 5-7
    evaluations whatever the grid's length.

    Parameters
    ----------
    score
        The function to maximise (e.g. PSNR of the filtered crop against the slow scan).
    grid
        At least two increasing positive values.
    extend_steps
        Coarse steps allowed past each end of the grid.

    Returns
    -------
    dict
        Every value tried (4 significant digits) and its score; the best is
        ``max(scores, key=scores.get)``.
    """
    values = [float(g) for g in grid]
    if len(values) < 2 or values[0] <= 0 or any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"the grid must hold two or more increasing positive values, got {list(grid)}")
    points = values[::2] + ([values[-1]] if len(values) % 2 == 0 else [])
    scores: dict[float, float] = {}

    def at(p: float) -> float:
        p = float(f"{p:.4g}")
        if p not in scores:
            scores[p] = float(score(p))
        return scores[p]

    below = above = 0
    i = len(points) // 2
    while True:
        if i == 0 and below < extend_steps:
            points.insert(0, points[0] ** 2 / points[1])
            below, i = below + 1, 1
        if i == len(points) - 1 and above < extend_steps:
            points.append(points[-1] ** 2 / points[-2])
            above += 1
        step = max((j for j in (i, i - 1, i + 1) if 0 <= j < len(points)), key=lambda j: at(points[j]))
        if step == i:
            break
        i = step
    for j in (i - 1, i + 1):
        if 0 <= j < len(points):
            at(float(np.sqrt(points[i] * points[j])))
    return scores


@contextlib.contextmanager
def _numpy_trapz() -> Iterator[None]:
    """bm3d's power-spectrum path (through bm4d 4.2.5) calls ``np.trapz``, removed in numpy 2.4.

    Provide it as ``np.trapezoid`` (the same function, renamed) for the duration of the call only.
    """
    if hasattr(np, "trapz"):
        yield
        return
    np.trapz = np.trapezoid
    try:
        yield
    finally:
        del np.trapz


def noise_psd(frames: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Noise power spectrum (bm3d convention) from differences of consecutive aligned frames.

    ``(f[i+1] - f[i]) / sqrt(2)`` keeps the noise of one frame and cancels the specimen;
    its mean ``|FFT|^2`` over frames (central crops of ``shape``) is the PSD that ``bm3d``
    takes as ``sigma_psd`` (mean value = noise variance x pixels), on the 0..1 scale.

    Parameters
    ----------
    frames : numpy.ndarray
        ``(n >= 2, H, W)`` registered rapid frames, 0..65535 scale.
    shape : tuple of int
        Size of the images the PSD is for (at most ``H x W``).
    """
    frames = np.asarray(frames, np.float64) / MAX_I
    if frames.ndim != 3 or len(frames) < 2:
        raise ValueError("a noise spectrum needs at least 2 frames")
    h, w = shape
    r0, c0 = (frames.shape[1] - h) // 2, (frames.shape[2] - w) // 2
    diff = (frames[1:, r0:r0 + h, c0:c0 + w] - frames[:-1, r0:r0 + h, c0:c0 + w]) / np.sqrt(2)
    diff -= diff.mean(axis=(1, 2), keepdims=True)
    return np.mean(np.abs(np.fft.fft2(diff)) ** 2, axis=0)


def estimate_scan_psf(blurred: list[np.ndarray], sharp: list[np.ndarray], half_width: int = 8) -> np.ndarray:
    """Scan-direction point-spread function: the 1-D kernel ``h`` with ``blurred ~ a (sharp * h) + b``.

    Least squares over every row of every training pair (DCFI as ``blurred``, slow scan as
    ``sharp``, both in slow-scan geometry), then clipped at 0 and normalised to sum 1.

    Returns
    -------
    numpy.ndarray
        ``(1, 2 * half_width + 1)`` kernel; the centre is zero lag, the tail of a causal
        detector response lies right of it.
    """
    cols, rhs = [], []
    k = half_width
    for b, s in zip(blurred, sharp):
        b, s = np.asarray(b, np.float64) / MAX_I, np.asarray(s, np.float64) / MAX_I
        w = s.shape[1]
        shifted = [s[:, k - j:w - k - j] for j in range(-k, k + 1)]  # sharp[x - j] for lag j
        cols.append(np.stack([x.ravel() for x in shifted] + [np.ones(shifted[0].size)], axis=1))
        rhs.append(b[:, k:w - k].ravel())
    solution, *_ = np.linalg.lstsq(np.concatenate(cols), np.concatenate(rhs), rcond=None)
    kernel = np.clip(solution[:-1], 0, None)
    if kernel.sum() <= 0:
        raise ValueError("no positive scan point-spread function fits the training pairs")
    return (kernel / kernel.sum())[np.newaxis]


def fit_tone_curve(rapid: list[np.ndarray], slow: list[np.ndarray], n_bins: int = 64,
                   smoothing_px: float = 2.0) -> np.ndarray:
    """Monotone rapid-to-slow intensity curve from training pairs.

    Both images are smoothed (Gaussian ``smoothing_px``, so noise and the scan blur matter
    little); the slow-scan median in each of ``n_bins`` quantile bins of the rapid
    intensity gives a knot, and the knots are made non-decreasing.

    Parameters
    ----------
    rapid : list of numpy.ndarray
        Noise-reduced rapid images on the rapid frames' intensity scale (e.g. the mean of
        a FOV's aligned, corrected frames), 0..65535.
    slow : list of numpy.ndarray
        The matching slow scans, same geometry.

    Returns
    -------
    numpy.ndarray
        ``(2, n_knots)``: rapid intensities and the slow intensities they map to.
    """
    x = np.concatenate([ndimage.gaussian_filter(np.asarray(r, np.float64), smoothing_px).ravel() for r in rapid])
    y = np.concatenate([ndimage.gaussian_filter(np.asarray(s, np.float64), smoothing_px).ravel() for s in slow])
    edges = np.unique(np.quantile(x, np.linspace(0, 1, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    knots_x = np.array([np.median(x[which == k]) for k in range(len(edges) - 1) if np.any(which == k)])
    knots_y = np.array([np.median(y[which == k]) for k in range(len(edges) - 1) if np.any(which == k)])
    return np.stack([knots_x, np.maximum.accumulate(knots_y)])


def apply_tone_curve(image: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """Map intensities through a tone curve (linear between knots, extrapolated linearly at both ends)."""
    x, y = curve
    out = np.interp(image, x, y)
    lo = (y[1] - y[0]) / max(x[1] - x[0], 1e-9)
    hi = (y[-1] - y[-2]) / max(x[-1] - x[-2], 1e-9)
    out = np.where(image < x[0], y[0] + lo * (image - x[0]), out)
    out = np.where(image > x[-1], y[-1] + hi * (image - x[-1]), out)
    return out


def make_filter(method: str, psd: np.ndarray | None = None, psf: np.ndarray | None = None, threads: int = 0,
                bm3d_profile: str = "np") -> Callable[[np.ndarray, float], np.ndarray]:
    """The baseline as ``f(image_0_to_1, parameter) -> image_0_to_1``.

    ``threads`` is BM3D's thread count (0: every core; the workflow gives each job one, as it
    asked the scheduler for). The other filters run on one thread. ``bm3d_profile`` is one of the
    ``bm3d`` package's profiles for the three BM3D baselines: ``"np"`` (its normal profile) or
    ``"lc"`` (its low-complexity profile: blocks every 5-6 pixels instead of every 3, a smaller
    search window; about 3x faster).
    """
    if bm3d_profile not in BM3D_PROFILES:
        raise ValueError(f"unknown BM3D profile {bm3d_profile!r}; known: {', '.join(BM3D_PROFILES)}")
    if method == "Gaussian":
        return lambda z, s: ndimage.gaussian_filter(z, s, mode="reflect")
    if method == "NLM":
        from skimage.restoration import denoise_nl_means, estimate_sigma

        def nlm(z, factor):
            sigma = float(estimate_sigma(z))
            return denoise_nl_means(z, h=factor * sigma, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True)
        return nlm
    import bm3d

    profile = bm3d.BM3DProfileLC() if bm3d_profile == "lc" else bm3d.BM3DProfile()
    profile.num_threads = int(threads)
    if method == "BM3D":
        return lambda z, s: bm3d.bm3d(z, s, profile=profile)
    if psd is None:
        raise ValueError(f"{method} needs the measured noise spectrum")
    if method == "BM3D-PSD":
        def bm3d_psd(z, factor):
            with _numpy_trapz():
                return bm3d.bm3d(z, _fit_psd(psd, z.shape) * factor, profile=profile)
        return bm3d_psd
    if method == "BM3D-deblur":
        if psf is None:
            raise ValueError("BM3D-deblur needs the scan point-spread function")

        def bm3d_deblur(z, factor):
            with _numpy_trapz():
                return bm3d.bm3d_deblurring(z, _fit_psd(psd, z.shape) * factor, psf, profile=profile)
        return bm3d_deblur
    raise ValueError(f"unknown baseline {method!r}; known: {', '.join(BASELINES)}")


def _fit_psd(psd: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The PSD for an image of ``shape`` (resampled in frequency if the sizes differ)."""
    if psd.shape == tuple(shape):
        return psd
    zoom = (shape[0] / psd.shape[0], shape[1] / psd.shape[1])
    shifted = np.fft.fftshift(psd)
    resized = ndimage.zoom(shifted, zoom, order=1, mode="nearest")
    # keep the per-pixel variance: PSD mean = variance x pixels
    resized *= (psd.mean() / psd.size) * (shape[0] * shape[1]) / resized.mean()
    return np.fft.ifftshift(resized)


@dataclass
class Tuned:
    """A baseline tuned on one FOV: the chosen parameter and the PSNR of every candidate."""

    method: str
    parameter: float
    scores: dict[float, float]


def tune(method: str, frame: np.ndarray, slow: np.ndarray, search_crop_px: int = 128,
         psd: np.ndarray | None = None, psf: np.ndarray | None = None, tone: np.ndarray | None = None,
         threads: int = 0, bm3d_profile: str = "np") -> Tuned:
    """Choose a baseline's parameter for the best PSNR against the slow scan, on a central crop.

    The output is mapped through the tone curve when one is given; the grid of ``method`` in
    :data:`GRIDS` is searched coarse to fine (:func:`search_parameter`). ``threads`` and
    ``bm3d_profile``: see :func:`make_filter`.
    """
    h, w = frame.shape
    c = min(search_crop_px, h, w)
    r0, c0 = (h - c) // 2, (w - c) // 2
    z = np.asarray(frame, np.float64)[r0:r0 + c, c0:c0 + c] / MAX_I
    ref = np.asarray(slow, np.float64)[r0:r0 + c, c0:c0 + c]
    run = make_filter(method, psd, psf, threads, bm3d_profile)
    finish = (lambda out: apply_tone_curve(out, tone)) if tone is not None else (lambda out: out)
    scores = search_parameter(lambda p: psnr(finish(np.asarray(run(z, p)) * MAX_I), ref), GRIDS[method])
    return Tuned(method, max(scores, key=scores.get), scores)


def apply_baseline(method: str, frames: np.ndarray, parameter: float, psd: np.ndarray | None = None,
                   psf: np.ndarray | None = None, tone: np.ndarray | None = None, threads: int = 0,
                   bm3d_profile: str = "np") -> np.ndarray:
    """Filter ``(n, H, W)`` frames (0..65535) with a tuned baseline (then the tone curve); float32.

    ``threads`` and ``bm3d_profile``: see :func:`make_filter`.
    """
    run = make_filter(method, psd, psf, threads, bm3d_profile)
    out = np.stack([np.asarray(run(np.asarray(f, np.float64) / MAX_I, parameter)) * MAX_I for f in frames])
    return (apply_tone_curve(out, tone) if tone is not None else out).astype(np.float32)
