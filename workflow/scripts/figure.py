"""One of the paper's figures 1-5, the crops figure or the per-frame statistics (rule figure).

Drawn from the images and tables it shows.
"""
import json

import numpy as np
import pandas as pd

from stemdlf.io.tiff import read_tiff
from stemdlf.runtime.logs import log_to
from stemdlf.workflow import paper_figures
from stemdlf.workflow.figures import save_figure


def first_frame(path):
    """The first frame of a TIFF stack (a single image as it is), float32."""
    image = read_tiff(path)
    return (image[0] if image.ndim == 3 else image).astype(np.float32)


with log_to(snakemake.log[0]):
    fig_id, fov, labels = snakemake.wildcards.fig, snakemake.params.fov, snakemake.params.labels
    images = {label: first_frame(path) for label, path in zip(labels, snakemake.input.images)}
    px = json.loads(open(snakemake.input.validated).read())["meta"]["pixel_size_nm"]
    if fig_id == "fig1":
        view = json.loads(open(snakemake.input.view).read())
        images["slow"] = first_frame(snakemake.input.slow)
        fig = paper_figures.fig1(first_frame(snakemake.input.dcfi_raw), first_frame(snakemake.input.slow_raw),
                                 view["row_offset"], view["slow_roi"], images, fov, pixel_size_nm=px)
    elif fig_id == "fig2":
        fig = paper_figures.fig2(images, fov, px)
    elif fig_id == "fig3":
        fig = paper_figures.fig3(pd.read_csv(snakemake.input.summary), images, px, fov, snakemake.params.recommended,
                                 snakemake.params.variants)
    elif fig_id == "fig4":
        fig = paper_figures.fig4(images, px, fov)
    elif fig_id == "stats":
        from stemdlf.workflow.stats_figure import stats_figure

        metrics = pd.read_csv(snakemake.input.metrics)
        # the methods in the tables' order (not a param: a reordered config must not redraw figures)
        fig = stats_figure(metrics, list(dict.fromkeys(metrics["method"].astype(str))), snakemake.params.recommended,
                           snakemake.params.variants)
    elif fig_id == "crops":
        reference = "slow"
        if "truth" in snakemake.input.keys():
            from stemdlf.evaluate.tables import truth_image

            slow_t = json.loads(open(snakemake.input.normalisation).read())["slow"]
            roi = json.loads(open(snakemake.input.view).read())["slow_roi"]
            images["truth"] = truth_image(read_tiff(snakemake.input.truth), slow_t, roi)
            reference = "truth"
        fig = paper_figures.crops(images, reference, px, fov)
    else:
        profile = pd.read_csv(snakemake.input.profile)
        truth = pd.read_csv(snakemake.input.truth)["rapid_x"].to_numpy() if "truth" in snakemake.input.keys() else None
        view = json.loads(open(snakemake.input.view).read())
        fig = paper_figures.fig5(profile["slow_x"].to_numpy(), profile["rapid_x"].to_numpy(), truth,
                                 f"{view.get('method', '')} {view.get('reference', '')}".strip())
    save_figure(fig, snakemake.output.png, snakemake.output.pdf)
