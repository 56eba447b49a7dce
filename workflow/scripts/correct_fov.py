"""Resample one FOV into slow-scan geometry with the distortion profile (rule correct_fov)."""
import json

from stemdlf.distortion import Distortion
from stemdlf.fov import correct_fov
from stemdlf.logs import log_to

with log_to(snakemake.log[0]) as log:
    meta = json.loads(open(snakemake.input.validated).read())["meta"]
    distortion = Distortion.load(snakemake.input.profile, snakemake.input.view)
    roi = correct_fov(distortion, snakemake.input.rapid, snakemake.input.dcfi, snakemake.input.slow,
                      snakemake.input.shifts if snakemake.params.align_frames else None,
                      snakemake.output.rapid, snakemake.output.dcfi, snakemake.output.slow,
                      meta["pixel_size_nm"], chunk=snakemake.params.chunk_frames)
    log.info("slow_roi %s", roi)
