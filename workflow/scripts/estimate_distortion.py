"""Estimate the distortion profile with one estimator, a method on a scope (rule estimate_distortion)."""
import json

from stemdlf.config.load import distortion_options
from stemdlf.preprocess.fov import estimate_distortion_from_files
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]) as log:
    method, scope = snakemake.wildcards.estimator.split("-")  # e.g. dp-global
    fovs = dict(zip(snakemake.params.fovs, zip(snakemake.input.dcfi, snakemake.input.slow)))
    reference = None
    if scope == "reference":
        reference = json.loads(open(snakemake.input.reference).read())["reference"]
    options = distortion_options({"distortion": snakemake.params.settings})
    distortion = estimate_distortion_from_files(fovs, method, options, reference)
    distortion.save(snakemake.output.profile, snakemake.output.view)
    log.info("%s: row offset %.2f, slow_roi %s", snakemake.wildcards.estimator, distortion.row_offset,
             distortion.slow_roi)
