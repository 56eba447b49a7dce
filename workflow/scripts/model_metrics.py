"""Each filter's scores on the test FOVs beside its model card (rule model_metrics)."""
import pandas as pd

from stemdlf.evaluate.tables import test_metrics
from stemdlf.io.atomic import write_json
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]):
    summary = pd.read_csv(snakemake.input[0])
    for variant, path in zip(snakemake.params.variants, snakemake.output):
        write_json(path, test_metrics(summary, variant, snakemake.params.fovs))
