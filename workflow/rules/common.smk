# Adapters from the plan to Snakemake. The plan (stemdlf.workflow.plan.Plan) decides what runs,
# on which FOVs, and each rule's inputs; its layout (stemdlf.workflow.layout) gives every path.
import os
import sys
from pathlib import Path

from stemdlf.config.load import acquisition_params, simulator_dict
from stemdlf.io.dataset import FOV_ID_PATTERN
from stemdlf.preprocess.distortion.estimate import METHODS as ESTIMATOR_METHODS
from stemdlf.simulate.params import to_dict
from stemdlf.workflow.plan import ESTIMATOR_SCOPES, Plan, canonical
from stemdlf.workflow.provenance import code_fingerprint

PLAN = Plan.from_config(config)
L = PLAN.layout
MULTI = PLAN.multi
SPLIT = PLAN.split
VARIANTS = PLAN.variants
for _note in PLAN.notes:
    print(f"stemdlf: {_note}", file=sys.stderr)


wildcard_constraints:
    dataset="|".join(PLAN.datasets),
    fov=FOV_ID_PATTERN,


def code(script):
    """Fingerprint of the library code a rule's script runs (stemdlf.workflow.provenance): a
    rule's params carry it, so editing a module reruns the jobs that import it, and only those.
    """
    return code_fingerprint(Path(workflow.basedir) / "scripts" / script)


def per(method, *wildcards):
    """An input, params or resources function: a plan method called with the job's wildcards."""
    return lambda wc: method(*(getattr(wc, name) for name in wildcards))


def acquisition_dict(wildcards):
    """The complete acquisition of a simulated dataset, for rule params."""
    return to_dict(acquisition_params(config, wildcards.dataset))


def config_file_names(wildcards):
    """The config files of this run in the order they apply: the Snakefile's default, then those
    given with --configfile (paths relative to the working directory)."""
    default = "config/config.yaml"
    given = [os.path.relpath(f) for f in workflow.configfiles]
    return [default] + [f for f in given if f != default]
