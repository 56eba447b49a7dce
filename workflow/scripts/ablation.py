"""The ablation table and figure from this run's summary, per-frame metrics and training times (rule ablation)."""
import json

import pandas as pd

from stemdlf.evaluate.tables import write_table
from stemdlf.io.atomic import atomic_path
from stemdlf.runtime.logs import log_to
from stemdlf.workflow.ablation import ablation_markdown, ablation_table
from stemdlf.workflow.figures import save_figure
from stemdlf.workflow.stats_figure import ablation_figure

with log_to(snakemake.log[0]):
    rows = snakemake.params.rows
    seconds = {}
    for row, path in zip(rows, snakemake.input.training):
        summary = json.loads(open(path).read())
        seconds[row["variant"]] = summary.get("seconds_training", summary.get("seconds"))
    table = ablation_table(pd.read_csv(snakemake.input.summary), rows, seconds)
    write_table(table, snakemake.output.csv)
    with atomic_path(snakemake.output.markdown) as tmp:
        tmp.write_text(ablation_markdown(table))
    fig = ablation_figure(pd.read_csv(snakemake.input.metrics), rows, snakemake.params.recommended,
                          snakemake.params.variants)
    save_figure(fig, snakemake.output.png, snakemake.output.pdf)
