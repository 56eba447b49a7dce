"""Write the train/test split (rule split)."""
import yaml

from stemdlf.io.atomic import atomic_path
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]):
    split = {**snakemake.params.split, "settings": dict(snakemake.params.settings)}
    with atomic_path(snakemake.output[0]) as tmp:
        tmp.write_text(yaml.safe_dump(split, sort_keys=False))
