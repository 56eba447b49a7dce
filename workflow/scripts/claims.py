"""Whether the paper's claims hold on this run, with the numbers (rule claims)."""
import pandas as pd

from stemdlf.atomic import atomic_path
from stemdlf.claims import check_claims, claims_markdown
from stemdlf.logs import log_to

with log_to(snakemake.log[0]) as log:
    claims = check_claims(pd.read_csv(snakemake.input.summary), snakemake.params.dlf_slow, snakemake.params.dlf_dcfi,
                          list(snakemake.params.single_fov), recommended=snakemake.params.recommended,
                          metrics=pd.read_csv(snakemake.input.metrics))
    text = claims_markdown(claims)
    log.info("\n%s", text)
    with atomic_path(snakemake.output[0]) as tmp:
        tmp.write_text(text)
