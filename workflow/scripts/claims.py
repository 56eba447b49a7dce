"""Whether the paper's claims hold on this run, with the numbers (rule claims)."""
import json

import pandas as pd

from stemdlf.evaluate.claims import check_claims, claims_markdown, single_fov_budget
from stemdlf.io.atomic import atomic_path
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]) as log:
    single = list(snakemake.params.single_fov)
    budget = single_fov_budget(
        {v: json.loads(open(f).read()) for v, f in zip(single, snakemake.input.single_training)},
        {v: pd.read_csv(f) for v, f in zip(single, snakemake.input.single_history)},
    ) if single else ""
    claims = check_claims(pd.read_csv(snakemake.input.summary), snakemake.params.dlf_slow, snakemake.params.dlf_dcfi,
                          single, recommended=snakemake.params.recommended,
                          metrics=pd.read_csv(snakemake.input.metrics), single_fov_training=budget,
                          zero_shot=list(snakemake.params.zero_shot),
                          self_supervised=snakemake.params.self_supervised,
                          slow_free=list(snakemake.params.slow_free), slow_trained=list(snakemake.params.slow_trained))
    text = claims_markdown(claims)
    log.info("\n%s", text)
    with atomic_path(snakemake.output[0]) as tmp:
        tmp.write_text(text)
