"""Validate a dataset folder from its TIFF headers (rule validate_dataset)."""
import dataclasses

from stemdlf.io.atomic import write_json
from stemdlf.io.dataset import validate_dataset
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]) as log:
    info = validate_dataset(snakemake.params.path, snakemake.params.min_fovs)
    write_json(snakemake.output[0], {
        "path": str(info.path),
        "meta": info.meta,
        "fovs": [dataclasses.asdict(f) for f in info.fovs],
    })
    log.info("%s: %d FOVs valid", info.path, len(info.fovs))
