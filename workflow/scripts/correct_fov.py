"""Resample one FOV into slow-scan geometry with the shared profile and its own offset (rule correct_fov)."""
import json

import pandas as pd

from stemdlf.preprocess.distortion import Distortion
from stemdlf.preprocess.fov import correct_fov
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]) as log:
    meta = json.loads(open(snakemake.input.validated).read())["meta"]
    distortion = Distortion.load(snakemake.input.profile, snakemake.input.view)
    fovs = pd.read_csv(snakemake.input.fovs).set_index("key")
    row = fovs.loc[f"{snakemake.wildcards.dataset}/{snakemake.wildcards.fov}"]
    offset = (float(row["offset_y_px"]), float(row["offset_x_px"]))
    roi = correct_fov(distortion, rapid=snakemake.input.rapid, dcfi=snakemake.input.dcfi, slow=snakemake.input.slow,
                      shifts=snakemake.input.shifts if snakemake.params.align_frames else None,
                      out_rapid=snakemake.output.rapid, out_dcfi=snakemake.output.dcfi,
                      out_slow=snakemake.output.slow, pixel_size_nm=meta["pixel_size_nm"],
                      chunk=snakemake.params.chunk_frames, offset=offset)
    log.info("slow_roi %s, offset (dy, dx) %.3f, %.3f px", roi, *offset)
