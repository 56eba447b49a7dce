"""Drift-corrected frame integration of one FOV (rule dcfi_fov)."""
import json

from stemdlf.config.load import drift_options
from stemdlf.preprocess.fov import dcfi_fov
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]) as log:
    meta = json.loads(open(snakemake.input.validated).read())["meta"]
    shifts = dcfi_fov(
        snakemake.input.rapid, snakemake.output.dcfi, snakemake.output.shifts, snakemake.output.transform,
        meta["pixel_size_nm"], options=drift_options({"dcfi": snakemake.params.dcfi}),
        supplied=snakemake.input.supplied[0] if snakemake.input.supplied else None,
        chunk=snakemake.params.dcfi["chunk_frames"], **snakemake.params.normalise,
    )
    log.info("max |shift| %.2f px", abs(shifts).max())
