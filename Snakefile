# stemdlf: deep-learning noise filtering for rapid-scan STEM (Ihara et al. 2022), as a workflow.
#   snakemake --cores all                                   # embedded synthetic default
#   snakemake --cores all --configfile config/paper.yaml    # paper scale
import os

from snakemake.utils import min_version, validate

min_version("9.0")

# Jobs import stemdlf from this checkout, also inside the per-rule conda environments
# (envs/*.yaml) and on cluster nodes (the SLURM profile exports the environment).
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        p
        for p in (os.path.join(workflow.basedir, "src"), os.environ.get("PYTHONPATH"))
        if p
    )
)


configfile: "config/config.yaml"


# YAML 1.1 reads "lr: 1e-3" as a string: read such strings as the numbers they are, then validate
from stemdlf.config import yaml12_numbers

config.update(yaml12_numbers(config))


# the schema ships with the library, which checks its own settings against it (stemdlf.settings)
from stemdlf.settings import SCHEMA_FILE

validate(config, str(SCHEMA_FILE))


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/distortion.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    default_target: True
    input:
        all_targets(),
