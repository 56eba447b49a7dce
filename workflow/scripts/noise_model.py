"""The baselines' noise model from training FOVs (rule noise_model).

Noise power spectrum, scan-direction PSF and rapid-to-slow tone curve.
"""
import numpy as np

from stemdlf.baselines.classical import estimate_scan_psf, fit_tone_curve, noise_psd
from stemdlf.io.atomic import atomic_path
from stemdlf.io.tiff import read_tiff
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]) as log:
    stacks = [read_tiff(path).astype(np.float32) for path in snakemake.input.rapid]
    shape = stacks[0].shape[1:]
    psd = np.mean([noise_psd(stack, shape) for stack in stacks], axis=0)
    psf = estimate_scan_psf([read_tiff(p) for p in snakemake.input.dcfi], [read_tiff(p) for p in snakemake.input.slow])
    slow = [read_tiff(p) for p in snakemake.input.slow]
    tone = fit_tone_curve([stack.mean(axis=0) for stack in stacks], slow)
    log.info("tone curve rapid -> slow: %s", np.round(tone[:, ::8]).astype(int).tolist())
    log.info("noise sigma (0..1 scale) %.4f from FOVs %s; scan PSF %s", np.sqrt(psd.mean() / psd.size),
             snakemake.params.fovs, np.round(psf[0], 3).tolist())
    with atomic_path(snakemake.output[0], suffix=".part.npz") as tmp:
        np.savez(tmp, psd=psd, psf=psf, tone=tone)
