"""Min-max normalise one FOV's rapid stack and slow scan (rule normalise_fov)."""
import json

from stemdlf.preprocess.fov import normalise_fov
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]):
    meta = json.loads(open(snakemake.input.validated).read())["meta"]
    normalise_fov(
        snakemake.input.rapid, snakemake.input.slow,
        snakemake.output.rapid, snakemake.output.slow, snakemake.output.transforms,
        meta["pixel_size_nm"], chunk=snakemake.params.chunk_frames, **snakemake.params.normalise,
    )
