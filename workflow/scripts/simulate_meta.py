"""Write dataset.yaml of a synthetic dataset (rule simulate_meta)."""
from pathlib import Path

from stemdlf.runtime.logs import log_to
from stemdlf.simulate import AcquisitionParams, SimulatorParams, from_dict, write_dataset_meta

with log_to(snakemake.log[0]):
    params = from_dict(SimulatorParams, snakemake.params.simulator, "simulator")
    acq = from_dict(AcquisitionParams, snakemake.params.acquisition, "simulate")
    write_dataset_meta(Path(snakemake.output[0]).parent, snakemake.wildcards.dataset, params, acq)
