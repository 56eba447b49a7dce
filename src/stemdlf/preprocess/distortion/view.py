"""View matching (paper, Fig. 5b): find where the slow scan's field of view lies in the rapid image.

Horizontally, a template of ``template_width`` columns from the left (then right) edge
of the slow scan is slid over the rapid DCFI to the position of highest zero-mean
normalised cross-correlation (ZNCC, :func:`skimage.feature.match_template`); the
rapid image between the two matches is stretched linearly to the slow width.
Vertically, a band from the top (then bottom) of the slow scan is matched the same
way and the offset with the higher ZNCC is kept; no vertical stretch.

The paper matches the templates as they are. Under hysteresis the rapid scan is
locally compressed or stretched within the template (most at the left edge, where
the scan coils are still settling), and an unscaled template matches its own
centre: the edge lands ``(stretch - 1) x template_width / 2`` px off (about 5 px for
a 0.8 stretch and 50-px templates), which the strip search then carries into its
first knot. With ``max_scale_change > 0`` each edge template is also resampled to
stretches ``1 +- max_scale_change`` (anchored at the image edge) and the best
(position, stretch) pair by ZNCC is kept, which removes that bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.feature import match_template

from stemdlf.preprocess.filters import bandpass, parabolic_offset

__all__ = ["ViewMatch", "match_view", "linear_columns"]


@dataclass(frozen=True)
class ViewMatch:
    """Result of view matching.

    ``left``/``right``: rapid columns matching slow columns 0 and W-1;
    ``row_offset``: rapid row = slow row + row_offset; scores are ZNCC.
    """

    left: float
    right: float
    row_offset: float
    left_zncc: float
    right_zncc: float
    row_zncc: float
    left_scale: float = 1.0
    right_scale: float = 1.0

    @property
    def min_zncc(self) -> float:
        """The weakest of the three matches' ZNCC."""
        return min(self.left_zncc, self.right_zncc, self.row_zncc)


def _peak_1d(scores: np.ndarray) -> tuple[float, float]:
    """Sub-pixel position (parabolic fit) and height of the maximum of a 1-D score curve."""
    i = int(np.argmax(scores))
    if 0 < i < len(scores) - 1:
        return i + parabolic_offset(scores[i - 1], scores[i], scores[i + 1]), float(scores[i])
    return float(i), float(scores[i])


def _match_edge(dcfi: np.ndarray, template: np.ndarray, side: str, scales: np.ndarray) -> tuple[float, float, float]:
    """Best match of an edge template over positions and stretches.

    The template is resampled so that slow-scan column ``c`` (counted from the image
    edge given by ``side``) falls on rapid column ``c * scale``; scale 1 is the plain
    template.

    Returns
    -------
    edge, zncc, scale : float
        Rapid column of the image edge (slow column 0 for ``"left"``, W-1 for
        ``"right"``), its ZNCC and the stretch (rapid px per slow px) at that edge.
    """
    tw = template.shape[1]
    best = None
    for scale in scales:
        n = int(np.floor((tw - 1) * scale)) + 1
        if n < 3 or n > dcfi.shape[1]:
            continue
        offsets = np.arange(n) / scale  # slow columns from the edge, for each rapid column from the edge
        src = offsets if side == "left" else (tw - 1) - offsets[::-1]
        resampled = np.stack([np.interp(src, np.arange(tw), row) for row in template]).astype(np.float32)
        pos, z = _peak_1d(match_template(dcfi, resampled).max(axis=0))
        if best is None or z > best[1]:
            best = (pos if side == "left" else pos + n - 1, z, float(scale))
    return best


def linear_columns(width: int, left: float, right: float) -> np.ndarray:
    """Rapid columns of a linear stretch mapping slow column 0 to ``left`` and W-1 to ``right``."""
    return left + np.arange(width) * (right - left) / (width - 1)


def match_view(dcfi: np.ndarray, slow: np.ndarray, template_width: int = 50, max_row_offset: int = 16,
               highpass_px: float = 8.0, max_scale_change: float = 0.0, scale_step: float = 0.01) -> ViewMatch:
    """Match the slow-scan field of view in a rapid DCFI (both normalised, same shape).

    Parameters
    ----------
    dcfi, slow : numpy.ndarray
        (H, W) images.
    template_width : int
        Width of the edge templates (px); the paper uses 50. At most a third of the width is used.
    max_row_offset : int
        Largest vertical offset searched (px).
    highpass_px : float
        Band-pass before matching (:func:`stemdlf.preprocess.filters.bandpass`; 0: smoothing only).
    max_scale_change : float
        Also match the edge templates stretched by up to this fraction (0: the paper's
        plain templates; 0.3: stretches 0.7..1.3).
    scale_step : float
        Step of the stretches searched.

    Returns
    -------
    ViewMatch
    """
    h, w = slow.shape
    template_width = min(template_width, w // 3)  # small frames: keep the edge templates at the edges
    m = min(max_row_offset, h // 4)
    rows = slice(m, h - m)
    dcfi = bandpass(dcfi, highpass_px=highpass_px).astype(np.float32)
    slow = bandpass(slow, highpass_px=highpass_px).astype(np.float32)
    # Horizontal: edge templates (central rows, so any vertical offset within m still overlaps).
    k = int(round(max_scale_change / scale_step)) if max_scale_change > 0 else 0
    scales = 1.0 + scale_step * np.arange(-k, k + 1)
    left, left_z, left_scale = _match_edge(dcfi, slow[rows, :template_width], "left", scales)
    right, right_z, right_scale = _match_edge(dcfi, slow[rows, w - template_width:], "right", scales)
    # Vertical: stretch the DCFI linearly onto the slow columns, then match top and bottom bands.
    cols = linear_columns(w, left, right)
    stretched = np.stack([np.interp(cols, np.arange(w), row) for row in dcfi])
    band = min(template_width, h // 3)
    inner = slice(w // 10, w - w // 10)
    best = None
    for top, template in ((True, slow[m:m + band, inner]), (False, slow[h - m - band:h - m, inner])):
        scores = match_template(stretched[:, inner], template)[:, 0]  # vertical positions
        pos, z = _peak_1d(scores)
        offset = pos - m if top else pos - (h - m - band)
        if best is None or z > best[1]:
            best = (offset, z)
    return ViewMatch(float(left), float(right), float(best[0]), left_z, right_z, best[1], left_scale, right_scale)
