"""Learning-curve figure of one variant (rule learning_curve)."""
import pandas as pd

from stemdlf.figures import learning_curve, save_figure
from stemdlf.logs import log_to

with log_to(snakemake.log[0]):
    fig = learning_curve(pd.read_csv(snakemake.input[0]), snakemake.wildcards.variant)
    save_figure(fig, snakemake.output.png, snakemake.output.pdf)
