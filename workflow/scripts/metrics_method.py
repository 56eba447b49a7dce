"""Metrics of one method on every test FOV (rule metrics_method)."""
import json

import pandas as pd

from stemdlf.evaluate.tables import method_metrics, slow_scan_metrics, truth_image, write_table
from stemdlf.io.tiff import read_tiff
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]):
    method, n = snakemake.wildcards.method, snakemake.params.frames
    roi = json.loads(open(snakemake.input.view).read())["slow_roi"]
    px = json.loads(open(snakemake.input.validated).read())["meta"]["pixel_size_nm"]
    truths = snakemake.input.get("truth") or [None] * len(snakemake.params.fovs)
    tables = []
    for k, fov in enumerate(snakemake.params.fovs):
        slow = read_tiff(snakemake.input.slow[k])
        truth = None
        if truths[k] is not None:
            transform = json.loads(open(snakemake.input.normalisation[k]).read())["slow"]
            truth = truth_image(read_tiff(truths[k]), transform, roi)
        if method == "slow":  # the slow scan itself: only its distance from the noise-free truth
            tables.append(slow_scan_metrics(fov, slow, truth))
            continue
        images = read_tiff(snakemake.input.images[k])
        if images.ndim == 3:
            images = images[:n]
        tables.append(method_metrics(method, fov, images, slow, truth, px))
    write_table(pd.concat(tables, ignore_index=True), snakemake.output[0])
