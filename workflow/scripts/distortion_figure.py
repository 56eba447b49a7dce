"""Diagnostic figure of the distortion correction (rule distortion_figure)."""
import json

import pandas as pd

from stemdlf.io.tiff import read_tiff
from stemdlf.preprocess.distortion import Distortion
from stemdlf.runtime.logs import log_to
from stemdlf.workflow.figures import distortion_diagnostic, save_figure

with log_to(snakemake.log[0]):
    distortion = Distortion.load(snakemake.input.profile, snakemake.input.view)
    fov = json.loads(open(snakemake.input.reference).read())["reference"]
    i = list(snakemake.params.fovs).index(fov)
    truth = None
    if "profile_truth" in snakemake.input.keys():  # the plotted FOV's own true profile
        truth = pd.read_csv(snakemake.input.profile_truth[i])["rapid_x"].to_numpy()
    fig = distortion_diagnostic(distortion, read_tiff(snakemake.input.dcfi[i]).astype(float),
                                read_tiff(snakemake.input.slow[i]).astype(float), fov, truth,
                                pd.read_csv(snakemake.input.fovs))
    save_figure(fig, snakemake.output.png, snakemake.output.pdf)
