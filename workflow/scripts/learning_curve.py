"""Learning-curve figure of one variant or of CARE (rule learning_curve)."""
import json

import pandas as pd

from stemdlf.runtime.logs import log_to
from stemdlf.workflow.figures import learning_curve, save_figure

with log_to(snakemake.log[0]):
    training = json.loads(open(snakemake.input.training).read())
    title = snakemake.wildcards.variant
    if "history" in snakemake.input.keys():
        history, loss = pd.read_csv(snakemake.input.history), training["training"]["loss"]
    else:  # CARE: CSBDeep's history and loss, kept in its training.json; it stops at its time budget
        history, loss = pd.DataFrame(training["history"]), training["config"]["train_loss"]
        if training.get("max_seconds"):
            title += f": {training['steps_run']} steps in its {training['max_seconds']:.0f} s budget"
    fig = learning_curve(history, title, loss)
    save_figure(fig, snakemake.output.png, snakemake.output.pdf)
