"""Write a trained variant as the package ships a pretrained filter (rule pretrained)."""
import json

from stemdlf.nn.pretrained import write_pretrained
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]) as log:
    training = json.loads(open(snakemake.input.summary).read())
    out = write_pretrained(snakemake.input.model, snakemake.output.model, snakemake.params.config,
                           snakemake.params.config_files, training)
    log.info("wrote %s (trained %s s, %s steps, config %s)", out, training.get("seconds_training"),
             training["epochs"] * training["settings"]["steps_per_epoch"], " ".join(snakemake.params.config_files))
