"""Per-FOV registration to the slow scan, on top of the shared distortion profile.

The scan-coil hysteresis is a property of the microscope: one profile's *shape* serves
every FOV. Where each FOV's slow scan sits is not: in a real session the slow scan is
taken after the rapid series and the stage drifts in between, so every FOV's slow scan
is a few pixels away from its rapid frames, differently for every FOV. The paper's view
matching is likewise per image pair. So, after the shared profile is applied, each FOV's
corrected DCFI is registered to its own slow scan by phase correlation of band-passed,
windowed images (the same registration as DCFI, :func:`stemdlf.preprocess.dcfi.register_to_template`),
which does not depend on the edges holding features. The shift is refined until it settles
and then applied to the rapid frames in the same single interpolation as the profile
(:meth:`Distortion.apply` with ``offset``).

The quality that matters for training is the residual: the shift between the corrected
DCFI (with its offset) and the slow scan, re-measured after registration, over the whole
image and in three column bands (left, centre, right), which also shows where the shared
profile does not fit a FOV.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from stemdlf.preprocess.dcfi import DriftOptions, register_to_template
from stemdlf.preprocess.distortion.profile import Distortion, zncc
from stemdlf.preprocess.filters import bandpass

__all__ = ["FOVRegistration", "register_fov", "common_roi", "RegistrationError", "check_registrations", "truth_error"]


class RegistrationError(ValueError):
    """A FOV's corrected images could not be aligned with its slow scan well enough."""


@dataclass
class FOVRegistration:
    """Where one FOV's slow scan sits relative to its profile-corrected rapid images.

    Attributes
    ----------
    offset_y_px, offset_x_px : float
        Offset (slow-scan px) passed to :meth:`Distortion.apply`: slow pixel (r, c) takes
        the corrected image at (r + offset_y, c + offset_x).
    zncc_before, zncc_after : float
        ZNCC of the band-passed corrected DCFI and slow scan without and with the offset.
    residual_y_px, residual_x_px : float
        Shift still measured between the corrected DCFI (with the offset) and the slow scan.
    band_residual_x_px : list of float
        The same, x only, in the left, centre and right third of the columns.
    iterations : int
        Registration passes until the shift settled (< 0.02 px).
    """

    offset_y_px: float
    offset_x_px: float
    zncc_before: float
    zncc_after: float
    residual_y_px: float
    residual_x_px: float
    band_residual_x_px: list[float] = field(default_factory=list)
    iterations: int = 0

    @property
    def offset(self) -> tuple[float, float]:
        """(y, x) offset in px."""
        return (self.offset_y_px, self.offset_x_px)

    @property
    def residual_px(self) -> float:
        """Magnitude of the re-measured whole-image shift."""
        return float(np.hypot(self.residual_y_px, self.residual_x_px))

    def to_dict(self) -> dict:
        """The fields as a JSON-ready mapping."""
        out = asdict(self)
        out["residual_px"] = self.residual_px
        return out


def _finite(reference: np.ndarray, moving: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both images cut to the rows and columns where ``moving`` is defined.

    An offset can move the edge columns off the profile.
    """
    ok = np.isfinite(moving)
    cols = np.flatnonzero(ok.mean(axis=0) > 0.5)  # a column off the profile is NaN in (nearly) every row
    rows = np.flatnonzero(ok[:, cols].all(axis=1)) if len(cols) else cols
    if len(rows) < 8 or len(cols) < 8:
        raise RegistrationError("the offset moved the FOV off the distortion profile")
    region = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    return reference[region], moving[region]


def _shift(reference: np.ndarray, moving: np.ndarray, options: DriftOptions) -> np.ndarray:
    """(dy, dx) that moves ``moving`` onto ``reference`` (sub-pixel)."""
    reference, moving = _finite(reference, moving)
    return register_to_template(reference, moving[np.newaxis], options)[0]


def _bp_zncc(reference: np.ndarray, moving: np.ndarray, options: DriftOptions) -> float:
    reference, moving = _finite(reference, moving)
    return zncc(bandpass(reference, options.smoothing_px, options.highpass_px),
                bandpass(moving, options.smoothing_px, options.highpass_px))


def register_fov(distortion: Distortion, dcfi: np.ndarray, slow: np.ndarray,
                 options: DriftOptions = DriftOptions(), max_iterations: int = 4,
                 max_offset_px: float = 16.0) -> FOVRegistration:
    """Register one FOV's profile-corrected DCFI to its own slow scan.

    Parameters
    ----------
    distortion : Distortion
        The shared profile (its ``slow_roi`` is the region compared).
    dcfi : numpy.ndarray
        (H, W) DCFI in rapid geometry, normalised.
    slow : numpy.ndarray
        (H, W) slow scan, normalised, full grid.
    options : DriftOptions
        Band-pass, window and sub-pixel precision of the phase correlation.
    max_iterations : int
        Registration passes at most (each re-resamples the DCFI with the offset so far).
    max_offset_px : float
        Largest offset accepted (also at most a quarter of the image): a pass that goes further
        found a wrong peak, and the best offset so far is kept.

    Returns
    -------
    FOVRegistration
    """
    dcfi = np.asarray(dcfi, np.float32)
    target = distortion.crop_slow(np.asarray(slow, np.float64))
    corrected = distortion.apply(dcfi)
    before = _bp_zncc(target, corrected, options)
    offset = np.zeros(2)
    # the offset with the best ZNCC is kept (a pass that lands on a wrong peak of a small or
    # featureless image does not replace a better one)
    best = (before, offset.copy(), corrected)
    iterations = 0
    limit = min(max_offset_px, min(target.shape) / 4)
    for iterations in range(1, max_iterations + 1):
        step = _shift(target, corrected, options)  # moves corrected onto the slow scan
        offset = offset - step  # slow (r, c) <- corrected (r - step)
        if np.abs(offset).max() > limit:  # a wrong peak (small or featureless image): keep the best so far
            break
        corrected = distortion.apply(dcfi, offset=tuple(offset))
        try:
            score = _bp_zncc(target, corrected, options)
        except RegistrationError:
            break
        if score > best[0]:
            best = (score, offset.copy(), corrected)
        if np.hypot(*step) < 0.02:
            break
    after, offset, corrected = best
    residual = _shift(target, corrected, options)
    w = target.shape[1]
    bands = [slice(0, w // 3), slice(w // 3, 2 * w // 3), slice(2 * w // 3, w)]
    band_x = []
    for band in bands:
        try:
            band_x.append(float(-_shift(target[:, band], corrected[:, band], options)[1]))
        except RegistrationError:  # a band moved off the profile
            band_x.append(float("nan"))
    return FOVRegistration(float(offset[0]), float(offset[1]), before, after,
                           float(-residual[0]), float(-residual[1]), band_x, iterations)


def common_roi(distortion: Distortion, offsets: list[tuple[float, float]]) -> list[int]:
    """The slow-scan region that every FOV's corrected images cover with its own offset.

    Raises
    ------
    RegistrationError
        If the offsets leave no common region.
    """
    rois = np.array([distortion.covered_roi(o) for o in [(0.0, 0.0), *offsets]])
    roi = [int(rois[:, 0].max()), int(rois[:, 1].min()), int(rois[:, 2].max()), int(rois[:, 3].min())]
    if roi[1] - roi[0] < 8 or roi[3] - roi[2] < 8:
        raise RegistrationError(f"the FOVs' offsets leave no common region of the slow-scan grid (rows "
                                f"{roi[0]}..{roi[1]}, columns {roi[2]}..{roi[3]})")
    return roi


def check_registrations(registrations: dict[str, FOVRegistration], max_residual_px: float,
                        min_zncc: float) -> dict[str, str]:
    """The FOVs that fail the quality gate, each with the reason.

    A FOV fails when its re-measured residual shift exceeds ``max_residual_px`` or its
    registered ZNCC is below ``min_zncc`` (nothing to register on).
    """
    problems = {}
    for fov, reg in registrations.items():
        if not np.isfinite(reg.residual_px) or reg.residual_px > max_residual_px:
            problems[fov] = (f"residual shift {reg.residual_px:.2f} px after registration "
                             f"(distortion.max_residual_px = {max_residual_px})")
        elif reg.zncc_after < min_zncc:
            problems[fov] = (f"its corrected DCFI matches its slow scan poorly (ZNCC {reg.zncc_after:.2f} < "
                             f"distortion.min_zncc = {min_zncc}): featureless, or not the same area")
    return problems


def truth_error(distortion: Distortion, registration: FOVRegistration, true_rapid_x: np.ndarray,
                true_row_offset: float, detector_delay_px: float = 0.0) -> dict[str, float]:
    """How far one FOV's corrected geometry (shared profile + its offset) is from the truth.

    Parameters
    ----------
    distortion : Distortion
        The shared profile; its ``slow_roi`` columns are compared.
    registration : FOVRegistration
    true_rapid_x : numpy.ndarray
        (W,) the FOV's true rapid column of every slow column (simulator's ``distortion.csv``).
    true_row_offset : float
        The FOV's true rapid row minus slow row.
    detector_delay_px : float
        Lag of features along +x that registration sees as geometry (removed, not fitted).

    Returns
    -------
    dict
        ``truth_x_rms_px`` (columns of ``slow_roi``), ``truth_x_mean_px``, ``truth_y_px``.
    """
    _, _, c0, c1 = distortion.slow_roi
    cols = np.arange(c0, c1)
    est = distortion.rapid_x_at(cols + registration.offset_x_px)
    err = est - np.asarray(true_rapid_x, np.float64)[cols] - detector_delay_px
    err = err[np.isfinite(err)]
    return {"truth_x_rms_px": float(np.sqrt(np.mean(err**2))), "truth_x_mean_px": float(np.mean(err)),
            "truth_y_px": float(distortion.row_offset + registration.offset_y_px - true_row_offset)}
