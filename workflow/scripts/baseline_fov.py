"""Tune one baseline on a test FOV for the best PSNR and apply it to the evaluated frames (rule baseline_fov)."""
import numpy as np

from stemdlf.baselines.classical import apply_baseline, tune
from stemdlf.io.atomic import write_json
from stemdlf.io.tiff import pixel_size_nm, read_tiff, write_tiff
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]) as log:
    method = snakemake.wildcards.baseline
    noise = np.load(snakemake.input.noise)
    frames = read_tiff(snakemake.input.rapid)[: snakemake.params.frames]
    slow = read_tiff(snakemake.input.slow)
    tone = noise["tone"] if snakemake.params.tone_match else None
    profile = snakemake.params.bm3d_profile or "np"  # None for the baselines that are not BM3D
    recorded = {"bm3d_profile": profile} if snakemake.params.bm3d_profile else {}
    tuned = tune(method, frames[0], slow, snakemake.params.search_crop_px, noise["psd"], noise["psf"], tone,
                 threads=snakemake.threads, bm3d_profile=profile)
    log.info("%s on %s: parameter %s (PSNR on the tuning crop: %s)", method, snakemake.wildcards.fov,
             tuned.parameter, {k: round(v, 2) for k, v in tuned.scores.items()})
    out = apply_baseline(method, frames, tuned.parameter, noise["psd"], noise["psf"], tone, threads=snakemake.threads,
                         bm3d_profile=profile)
    write_tiff(snakemake.output.image, out, pixel_size_nm(snakemake.input.rapid),
               metadata={"method": method, "parameter": tuned.parameter,
                         "tone_matched": int(bool(snakemake.params.tone_match)), **recorded})
    write_json(snakemake.output.tuning, {"method": method, "fov": snakemake.wildcards.fov,
                                         "parameter": tuned.parameter,
                                         "tone_matched": bool(snakemake.params.tone_match),
                                         **recorded,
                                         "psnr_by_parameter": {str(k): v for k, v in tuned.scores.items()}})
