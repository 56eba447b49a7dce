"""Estimating the non-linear distortion profile from a DCFI and its slow scan.

Two estimators, both starting from :func:`~stemdlf.preprocess.distortion.view.match_view`:

``paper`` (Methods, Fig. 5c): greedy strip search. From the left, a strip of
``width`` columns of the view-matched DCFI is stretched by -50%..+100% and
compared (PSNR) with the slow-scan strip of the matching width; the best stretch
is kept, both strips are removed, and the search continues to the right edge.
Repeated for every initial width; the width whose final image has the best PSNR
wins. The knots are joined by a cubic spline. All stretches of a strip are
evaluated at once (one matrix product per strip).

``dp``: a smooth, monotone estimate of the whole profile at once. Column-window
similarities (ZNCC of band-passed columns) between the slow scan and the
view-matched DCFI form a matrix; dynamic programming finds the monotone path of
highest total similarity with a bounded slope (no left-to-right accumulation of
error as in the greedy search); the path is refined to sub-pixel by parabolic
fits and smoothed by a penalised spline (GCV-chosen smoothing).

Two fixes to the paper's view matching, on by default, off to run the paper's
method exactly as published: ``template_stretch_search`` (``paper`` only: the
edge templates are also matched stretched, so the greedy search starts at the
true edge) and ``refine_row_offset`` (the row offset is re-measured on the
non-linearly corrected DCFI and the profile re-estimated until it settles).
``published`` is ``paper`` with both fixes off, whatever the options say.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage
from scipy.interpolate import CubicSpline, make_smoothing_spline

from stemdlf.config.settings import SchemaChecked, setting
from stemdlf.preprocess.distortion.profile import Distortion, psnr_db, zncc
from stemdlf.preprocess.distortion.view import ViewMatch, linear_columns, match_view
from stemdlf.preprocess.filters import bandpass, parabolic_offset

__all__ = ["METHODS", "DistortionOptions", "estimate_distortion", "strip_search", "dp_profile", "heterogeneity_score",
           "combine_profiles", "DistortionQualityError", "noise_sigma"]


#: The estimators: the paper's method exactly as published, with the view-matching fixes, and
#: dynamic programming (the workflow's comparison lists them in this order).
METHODS = ("published", "paper", "dp")


class DistortionQualityError(ValueError):
    """The match between rapid and slow scans is too poor to trust the profile."""


@dataclass(frozen=True)
class DistortionOptions(SchemaChecked):
    """Settings of the distortion estimate (the config's ``distortion:`` section)."""

    template_width_px: int = setting(50, minimum=5)
    """Width of the edge templates of view matching (px; paper: 50); at most a third of the image width is used."""
    template_stretch_search: float = setting(0.3, minimum=0, maximum=0.9)
    """paper method only: also match the edge templates stretched by up to +-this fraction (the paper: 0)."""
    max_row_offset_px: int = setting(16, minimum=0)
    """Largest vertical offset between the scans searched (px)."""
    refine_row_offset: bool = True
    """Refine the row offset on the corrected DCFI and re-estimate the profile until it settles (the paper: false)."""
    stretch_range: tuple[float, float] = (-0.5, 1.0)
    """Relative stretch searched for each strip (paper: -50% to +100%)."""
    strip_widths: tuple[int, int, int] = setting((10, 100, 10), items={"minimum": 2})
    """Initial strip widths the paper method tries: start, stop, step (px; paper: 10..100)."""
    dp_window_px: int = setting(4, minimum=0)
    """Half-width of the column windows the dp method compares (px)."""
    dp_max_slope: float = setting(2.0, minimum=1)
    """Largest local slope d(rapid column)/d(slow column) the dp method allows."""
    highpass_px: float = setting(8.0, minimum=0)
    """Band-pass (Gaussian sigma 1 px minus this sigma) before matching, so only the dislocations are compared (px)."""
    min_zncc: float = setting(0.3, minimum=-1, maximum=1)
    """View matching below this ZNCC stops the workflow with the FOV named (a featureless or mismatched FOV)."""
    min_psnr_db: float = 10.0
    """A corrected DCFI below this PSNR against its slow scan stops the workflow likewise (dB)."""


def _resample_columns(image: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Linear interpolation of every row at fractional columns."""
    w = image.shape[1]
    c = np.clip(cols, 0, w - 1)
    i0 = np.clip(np.floor(c).astype(int), 0, w - 2)
    f = (c - i0)[None, :]
    return image[:, i0] * (1 - f) + image[:, i0 + 1] * f


def _aligned_rows(rapid: np.ndarray, slow: np.ndarray, row_offset: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows of rapid and slow that image the same specimen rows (integer part of the offset)."""
    h = slow.shape[0]
    o = int(round(row_offset))
    s0, s1 = max(0, -o), min(h, h - o)
    return rapid[s0 + o:s1 + o], slow[s0:s1]


def strip_search(view_matched: np.ndarray, slow: np.ndarray, width: int,
                 stretch_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The paper's greedy strip search for one initial strip width.

    Parameters
    ----------
    view_matched : numpy.ndarray
        (rows, W) DCFI, linearly stretched onto the slow columns and row-aligned.
    slow : numpy.ndarray
        (rows, W) slow scan.
    width : int
        Strip width on the DCFI side (px).
    stretch_range : tuple of float
        Smallest and largest relative stretch (paper: -0.5, 1.0).

    Returns
    -------
    knots_slow, knots_dcfi : numpy.ndarray
        Cutting positions: slow column ``knots_slow[i]`` images the same point as
        view-matched column ``knots_dcfi[i]``.
    """
    rows, w = slow.shape
    lengths = np.arange(max(2, int(np.ceil(width * (1 + stretch_range[0])))),
                        int(np.floor(width * (1 + stretch_range[1]))) + 1)
    # Interpolation matrix: view-matched columns p..p+width -> each candidate's slow-side samples.
    blocks = []
    for n in lengths:
        pos = np.arange(n) * (width / n)
        m = np.zeros((width + 1, n))
        i0 = np.floor(pos).astype(int)
        f = pos - i0
        m[i0, np.arange(n)] = 1 - f
        m[np.minimum(i0 + 1, width), np.arange(n)] += f
        blocks.append(m)
    matrix = np.concatenate(blocks, axis=1)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    p_d, p_s = 0, 0
    knots_s, knots_d = [0.0], [0.0]
    while p_d + width <= w - 1:
        samples = view_matched[:, p_d:p_d + width + 1] @ matrix
        best, best_err = None, np.inf
        for k, n in enumerate(lengths):
            if p_s + n > w:
                break
            err = np.mean((samples[:, starts[k]:starts[k + 1]] - slow[:, p_s:p_s + n]) ** 2)
            if err < best_err:
                best, best_err = n, err
        if best is None:
            break
        p_d += width
        p_s += int(best)
        knots_s.append(float(p_s))
        knots_d.append(float(p_d))
    # The remainder, narrower than a strip, ends where view matching put the right edge.
    if knots_s[-1] < w - 1 and knots_d[-1] < w - 1:
        knots_s.append(float(w - 1))
        knots_d.append(float(w - 1))
    return np.asarray(knots_s), np.asarray(knots_d)


def _profile_from_knots(knots_s: np.ndarray, knots_d: np.ndarray, width: int) -> np.ndarray:
    """View-matched column for every slow column: cubic spline through the knots, NaN outside them."""
    x = np.arange(width, dtype=np.float64)
    if len(knots_s) < 2:
        return np.full(width, np.nan)
    spline = CubicSpline(knots_s, knots_d) if len(knots_s) > 2 else (lambda t: np.interp(t, knots_s, knots_d))
    out = spline(x)
    out[(x < knots_s[0]) | (x > knots_s[-1])] = np.nan
    return out


def dp_profile(view_matched: np.ndarray, slow: np.ndarray, window: int = 4, max_slope: float = 2.0,
               highpass_px: float = 8.0) -> np.ndarray:
    """Monotone profile of the whole image at once by dynamic programming.

    Parameters
    ----------
    view_matched, slow : numpy.ndarray
        (rows, W) row-aligned images (view-matched DCFI and slow scan).
    window : int
        Half-width of the column windows compared (px).
    max_slope : float
        Largest local slope d(view-matched column)/d(slow column); steps 0..max_slope.
    highpass_px : float
        Band-pass applied first, so backgrounds (which differ between scans) do not count.

    Returns
    -------
    numpy.ndarray
        (W,) view-matched column for every slow column.
    """
    a = bandpass(slow, highpass_px=highpass_px)
    b = bandpass(view_matched, highpass_px=highpass_px)
    a = (a - a.mean(axis=0)) / (a.std(axis=0) + 1e-9)
    b = (b - b.mean(axis=0)) / (b.std(axis=0) + 1e-9)
    c1 = a.T @ b / a.shape[0]  # (W_slow, W_rapid) column ZNCC
    # Sum along diagonals over +-window: similarity of column windows.
    kernel = np.eye(2 * window + 1) / (2 * window + 1)
    sim = ndimage.convolve(c1, kernel, mode="constant")
    w_s, w_r = sim.shape
    steps = np.arange(0, int(np.floor(max_slope)) + 1)
    score = np.full((w_s, w_r), -np.inf)
    back = np.zeros((w_s, w_r), dtype=np.int16)
    score[0] = sim[0]
    for x in range(1, w_s):
        best = np.full(w_r, -np.inf)
        arg = np.zeros(w_r, dtype=np.int16)
        for s in steps:
            prev = np.full(w_r, -np.inf)
            prev[s:] = score[x - 1, :w_r - s] if s else score[x - 1]
            better = prev > best
            best[better] = prev[better]
            arg[better] = s
        score[x] = best + sim[x]
        back[x] = arg
    path = np.zeros(w_s, dtype=int)
    path[-1] = int(np.argmax(score[-1]))
    for x in range(w_s - 1, 0, -1):
        path[x - 1] = path[x] - back[x, path[x]]
    # Sub-pixel refinement by a parabola through the similarity around the path.
    y = path.astype(np.float64)
    inner = (path > 0) & (path < w_r - 1)
    xs = np.flatnonzero(inner)
    y[xs] += np.clip(parabolic_offset(sim[xs, path[xs] - 1], sim[xs, path[xs]], sim[xs, path[xs] + 1]), -0.5, 0.5)
    # Smooth, GCV-chosen penalised spline; weights favour confident matches.
    conf = np.clip(sim[np.arange(w_s), path], 1e-3, None)
    x = np.arange(w_s, dtype=np.float64)
    spline = make_smoothing_spline(x, y, w=conf / conf.mean())
    return spline(x)


def refine_row_offset(dcfi: np.ndarray, slow: np.ndarray, rapid_x: np.ndarray, max_offset: int,
                      highpass_px: float = 8.0) -> float:
    """Row offset (rapid row = slow row + offset) maximising the ZNCC of the column-corrected DCFI.

    Integer search over +-max_offset on the whole band-passed image, parabolic sub-pixel peak.
    """
    h, w = slow.shape
    ok = np.isfinite(rapid_x) & (rapid_x >= 0) & (rapid_x <= w - 1)
    corrected = bandpass(_resample_columns(np.asarray(dcfi, np.float64), rapid_x[ok]), highpass_px=highpass_px)
    ref = bandpass(slow, highpass_px=highpass_px)[:, ok]
    m = max_offset
    scores = []
    for o in range(-m, m + 1):
        a = corrected[m + o:h - m + o]
        b = ref[m:h - m]
        scores.append(zncc(a, b))
    scores = np.asarray(scores)
    i = int(np.argmax(scores))
    if 0 < i < len(scores) - 1:
        return float(i - m + parabolic_offset(*scores[i - 1:i + 2]))
    return float(i - m)


def noise_sigma(image: np.ndarray) -> float:
    """Standard deviation of white noise in an image (Immerkaer's Laplacian-difference mask, MAD-robust).

    The 3x3 mask ``[[1,-2,1],[-2,4,-2],[1,-2,1]]`` cancels locally linear structure;
    its output on white noise of sigma s has sigma 6 s, and the median absolute
    value keeps edges (dislocations) from inflating the estimate.
    """
    mask = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])
    response = ndimage.convolve(np.asarray(image, np.float64), mask, mode="reflect")[1:-1, 1:-1]
    return float(np.median(np.abs(response)) / 0.6745 / 6.0)


def heterogeneity_score(slow: np.ndarray, block: int = 32, highpass_px: float = 8.0) -> float:
    """How well a FOV suits distortion estimation (higher is better; the ``auto`` reference).

    The paper picks a FOV whose dislocations are "entirely distributed but
    heterogeneous": landmarks in every part of the scan line, unevenly spread so
    that matches are unambiguous. Only landmarks that fix a horizontal position
    count (a dislocation running along the scan line does not), and only above the
    noise. So the landmark signal is the squared horizontal gradient (Sobel) of the
    band-passed slow scan, expressed as signal-to-noise ratio (noise power from
    :func:`noise_sigma` times the filter's gain on white noise) and

    score = (10th percentile over ``block/2``-px column bands of the landmark SNR)
    x (coefficient of variation of the landmark energy over ``block`` x ``block`` blocks).

    A FOV with a band of scan line free of crossing dislocations scores <= 0.
    """
    def landmarks(image: np.ndarray) -> np.ndarray:
        return ndimage.sobel(bandpass(image, highpass_px=highpass_px), axis=1) ** 2

    slow = np.asarray(slow, np.float64)
    h, w = slow.shape
    energy = landmarks(slow)
    gain = landmarks(np.random.default_rng(0).standard_normal((h, w))).mean()
    noise = noise_sigma(slow) ** 2 * gain + 1e-12
    band = max(1, block // 2)
    per_column = energy.mean(axis=0) / noise - 1.0
    bands = per_column[:w // band * band].reshape(-1, band).mean(axis=1)
    nb_y, nb_x = max(1, h // block), max(1, w // block)
    blocks = energy[:nb_y * block, :nb_x * block].reshape(nb_y, block, nb_x, block).mean(axis=(1, 3))
    cv = blocks.std() / (blocks.mean() + 1e-12)
    return float(np.percentile(bands, 10) * cv)


def estimate_distortion(dcfi: np.ndarray, slow: np.ndarray, method: str = "dp",
                        options: DistortionOptions = DistortionOptions(), where: str = "") -> Distortion:
    """Estimate the distortion of a rapid scan from its DCFI and slow scan.

    Parameters
    ----------
    dcfi, slow : numpy.ndarray
        (H, W) normalised images of one FOV.
    method : {"paper", "dp", "published"}
        ``published`` runs ``paper`` with ``template_stretch_search=0`` and
        ``refine_row_offset=False``: the method exactly as the paper describes it.
    options : DistortionOptions
    where : str
        Name of the FOV, for messages.

    Returns
    -------
    Distortion

    Raises
    ------
    DistortionQualityError
        If view matching scores below ``min_zncc`` or the corrected DCFI scores
        below ``min_psnr_db`` against the slow scan.
    """
    if method not in METHODS:
        raise ValueError(f"unknown distortion method {method!r}; use one of {', '.join(METHODS)}")
    estimator = method
    if method == "published":
        method, options = "paper", replace(options, template_stretch_search=0.0, refine_row_offset=False)
    t0 = time.perf_counter()
    h, w = slow.shape
    slow = np.asarray(slow, np.float64)
    # dp finds the edges itself (its path may start and end anywhere); the greedy search
    # starts at the view-matched edge, so `paper` needs the stretch-aware edge match.
    stretch_search = options.template_stretch_search if method == "paper" else 0.0
    view: ViewMatch = match_view(dcfi, slow, options.template_width_px, options.max_row_offset_px,
                                 options.highpass_px, stretch_search)
    if view.min_zncc < options.min_zncc:
        raise DistortionQualityError(
            f"{where or 'reference FOV'}: view matching is poor (ZNCC left {view.left_zncc:.2f}, right "
            f"{view.right_zncc:.2f}, rows {view.row_zncc:.2f}; minimum distortion.min_zncc = {options.min_zncc}). "
            "The FOV may be featureless or not the same area as its slow scan: choose another "
            "distortion.reference FOV, or use distortion.reference: global.")
    lin = linear_columns(w, view.left, view.right)
    stretched = _resample_columns(np.asarray(dcfi, np.float64), lin)
    info: dict = {"method": estimator, "view": view.__dict__ | {"min_zncc": view.min_zncc}}
    matched = _matched_profile(method, stretched, slow, view.row_offset, dcfi, lin, options, info)
    if options.refine_row_offset:
        # The row offset from edge bands is only as good as the linear stretch (a diagonal
        # dislocation shifted sideways looks shifted vertically); refine it on the
        # non-linearly corrected image and re-estimate the profile with the refined rows,
        # until the offset settles. The profile sees whole rows only (_aligned_rows), so it
        # is re-estimated only when the rounded offset changes.
        info["row_offset_view"] = view.row_offset
        for _ in range(3):
            row_offset = refine_row_offset(dcfi, slow, np.interp(matched, np.arange(w), lin),
                                           options.max_row_offset_px, options.highpass_px)
            settled = abs(row_offset - view.row_offset) < 0.5
            rows_changed = round(row_offset) != round(view.row_offset)
            view = replace(view, row_offset=row_offset)
            if rows_changed:
                matched = _matched_profile(method, stretched, slow, view.row_offset, dcfi, lin, options, info)
            if settled:
                break
    rapid_x = np.interp(matched, np.arange(w), lin, left=np.nan, right=np.nan)
    rapid_x[np.isnan(matched)] = np.nan
    distortion = Distortion(rapid_x, view.row_offset, (h, w), info)
    corrected_psnr = _final_psnr(dcfi, slow, matched, lin, view.row_offset)
    info.update(psnr_db=corrected_psnr, seconds=time.perf_counter() - t0)
    if not corrected_psnr >= options.min_psnr_db:
        raise DistortionQualityError(
            f"{where or 'reference FOV'}: the corrected DCFI matches the slow scan poorly (PSNR "
            f"{corrected_psnr:.1f} dB < distortion.min_psnr_db = {options.min_psnr_db}). Choose another "
            "distortion.reference FOV, or use distortion.reference: global.")
    return distortion


def _matched_profile(method: str, stretched: np.ndarray, slow: np.ndarray, row_offset: float, dcfi: np.ndarray,
                     lin: np.ndarray, options: DistortionOptions, info: dict) -> np.ndarray:
    """View-matched column for every slow column, by the paper's strip search or by DP."""
    w = slow.shape[1]
    rapid_rows, slow_rows = _aligned_rows(stretched, slow, row_offset)
    if method == "dp":
        return dp_profile(rapid_rows, slow_rows, options.dp_window_px, options.dp_max_slope, options.highpass_px)
    # PSNR of the strips is computed on band-passed images: rapid and slow backgrounds
    # differ (detector transfer), and on raw intensities the greedy search can prefer a
    # wrong stretch that matches the background better than the dislocations.
    bp_rows = bandpass(rapid_rows, highpass_px=options.highpass_px)
    bp_slow = bandpass(slow_rows, highpass_px=options.highpass_px)
    lo, hi, step = options.strip_widths
    best = None
    for width in range(lo, hi + 1, step):
        knots_s, knots_d = strip_search(bp_rows, bp_slow, width, options.stretch_range)
        matched = _profile_from_knots(knots_s, knots_d, w)
        score = _final_psnr(dcfi, slow, matched, lin, row_offset)
        if best is None or score > best[0]:
            best = (score, width, matched, knots_s, knots_d)
    _, width, matched, knots_s, knots_d = best
    info.update(strip_width_px=width, knots_slow=knots_s.tolist(), knots_dcfi=knots_d.tolist())
    return matched


def _final_psnr(dcfi: np.ndarray, slow: np.ndarray, matched: np.ndarray, lin: np.ndarray, row_offset: float) -> float:
    """PSNR of the DCFI corrected through a view-matched profile against the slow scan."""
    h, w = slow.shape
    rapid_x = np.interp(matched, np.arange(w), lin, left=np.nan, right=np.nan)
    ok = np.isfinite(rapid_x) & (rapid_x >= 0) & (rapid_x <= w - 1)
    if ok.sum() < 2:
        return -np.inf
    corrected = _resample_columns(np.asarray(dcfi, np.float64), rapid_x[ok])
    r, s = _aligned_rows(corrected, np.asarray(slow, np.float64)[:, ok], row_offset)
    return psnr_db(r, s)


def combine_profiles(profiles: list[Distortion]) -> Distortion:
    """Robust global estimate: the per-column median of several FOVs' profiles.

    Each FOV's slow scan may sit a few pixels from its rapid series (the stage drifts
    between the two), which adds a constant to its profile. The profiles are first
    brought onto a common constant (each one's median difference from the plain
    per-column median), so the median combines their shapes; the constant of the result
    is the median constant. The row offset is the median too; columns that fewer than
    half the FOVs cover are left out (NaN).
    """
    if not profiles:
        raise ValueError("no profiles to combine")
    stack = np.stack([p.rapid_x for p in profiles])
    covered = np.isfinite(stack).sum(axis=0)
    with np.errstate(all="ignore"):
        first = np.nanmedian(stack, axis=0)
        constants = np.array([np.nanmedian(row - first) if np.isfinite(row - first).any() else 0.0 for row in stack])
        stack = stack - (constants - np.median(constants))[:, None]
        rapid_x = np.nanmedian(stack, axis=0)
    rapid_x[covered < max(1, len(profiles) / 2)] = np.nan
    info = {"method": profiles[0].info.get("method"), "combined_fovs": len(profiles),
            "spread_px": float(np.nanmedian(np.nanstd(stack, axis=0))),
            "constant_spread_px": float(np.std(constants))}
    return Distortion(rapid_x, float(np.median([p.row_offset for p in profiles])), profiles[0].rapid_shape, info)
