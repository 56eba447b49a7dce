"""View matching (paper, Fig. 5b): find where the slow scan's field of view lies in the rapid image.

Horizontally, a template of ``template_width`` columns from the left (then right) edge
of the slow scan is slid over the rapid DCFI to the position of highest zero-mean
normalised cross-correlation (ZNCC, :func:`skimage.feature.match_template`); the
rapid image between the two matches is stretched linearly to the slow width.
Vertically, a band from the top (then bottom) of the slow scan is matched the same
way and the offset with the higher ZNCC is kept; no vertical stretch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.feature import match_template

from ..filters import bandpass

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

    @property
    def min_zncc(self) -> float:
        return min(self.left_zncc, self.right_zncc, self.row_zncc)


def _peak_1d(scores: np.ndarray) -> tuple[float, float]:
    """Sub-pixel position (parabolic fit) and height of the maximum of a 1-D score curve."""
    i = int(np.argmax(scores))
    if 0 < i < len(scores) - 1:
        a, b, c = scores[i - 1], scores[i], scores[i + 1]
        den = a - 2 * b + c
        return (i + 0.5 * (a - c) / den if den < 0 else float(i)), float(b)
    return float(i), float(scores[i])


def linear_columns(width: int, left: float, right: float) -> np.ndarray:
    """Rapid columns of a linear stretch mapping slow column 0 to ``left`` and W-1 to ``right``."""
    return left + np.arange(width) * (right - left) / (width - 1)


def match_view(dcfi: np.ndarray, slow: np.ndarray, template_width: int = 50, max_row_offset: int = 16,
               highpass_px: float = 8.0) -> ViewMatch:
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
        Band-pass before matching (:func:`stemdlf.filters.bandpass`; 0: smoothing only).

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
    left_scores = match_template(dcfi, slow[rows, :template_width])  # (2m+1, W - tw + 1)
    right_scores = match_template(dcfi, slow[rows, w - template_width:])
    left_dx, left_z = _peak_1d(left_scores.max(axis=0))
    right_dx, right_z = _peak_1d(right_scores.max(axis=0))
    left, right = left_dx, right_dx + template_width - 1
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
    return ViewMatch(left, right, float(best[0]), left_z, right_z, best[1])
