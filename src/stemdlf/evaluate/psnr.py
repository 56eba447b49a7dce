"""The paper's Eq. 1: PSNR on the 16-bit full scale, the project's one PSNR.

A module of its own so that the distortion estimate and the baselines, which use PSNR, do not
depend on the rest of the evaluation metrics (editing an SSIM or spectral-cutoff detail then
reruns the evaluation, not the preprocessing).
"""

from __future__ import annotations

import numpy as np

from stemdlf.preprocess.normalise import FULL_SCALE

__all__ = ["MAX_I", "psnr"]

#: MAX_I of Eq. 1 (16-bit full scale): the one full-scale constant, :data:`stemdlf.preprocess.normalise.FULL_SCALE`.
MAX_I = FULL_SCALE


def psnr(image: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR of Eq. 1, ``10 log10(MAX_I**2 / MSE)`` with MAX_I = 65535, in dB.

    Parameters
    ----------
    image, reference : numpy.ndarray
        Same shape, 0..65535 scale.
    mask : numpy.ndarray of bool, optional
        Pixels over which the MSE is taken (all when None).

    Returns
    -------
    float
        dB; ``inf`` for identical images, ``nan`` for an empty mask.
    """
    diff = np.asarray(image, np.float64) - np.asarray(reference, np.float64)
    if mask is not None:
        diff = diff[mask]
    if diff.size == 0:
        return float("nan")
    mse = float(np.mean(diff**2))
    return float("inf") if mse == 0 else float(10 * np.log10(MAX_I**2 / mse))
