"""The run's results block from its tables (rule readme_results); the docs' Results page includes it."""
import json

import pandas as pd

from stemdlf.io.atomic import atomic_path
from stemdlf.runtime.logs import log_to
from stemdlf.workflow.readme import results_block

with log_to(snakemake.log[0]):
    training = {}
    for method, path in zip(snakemake.params.methods, snakemake.input.training):
        summary = json.loads(open(path).read())
        training[method] = summary.get("seconds_training", summary.get("seconds"))
    block = results_block(pd.read_csv(snakemake.input.summary), open(snakemake.input.claims).read(),
                          pd.read_csv(snakemake.input.fovs), training)
    with atomic_path(snakemake.output[0]) as tmp:
        tmp.write_text(block)
