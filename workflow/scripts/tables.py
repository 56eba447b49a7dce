"""Tidy metrics of every method, their summary and a Markdown table (rule tables)."""
import pandas as pd

from stemdlf.evaluate.tables import summarise, summary_markdown, write_table
from stemdlf.io.atomic import atomic_path
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]):
    metrics = pd.concat([pd.read_csv(path) for path in snakemake.input], ignore_index=True)
    summary = summarise(metrics, list(snakemake.params.methods))
    write_table(metrics, snakemake.output.metrics)
    write_table(summary, snakemake.output.summary)
    with atomic_path(snakemake.output.markdown) as tmp:
        tmp.write_text("# Summary over the evaluated test frames\n\n" + summary_markdown(summary))
