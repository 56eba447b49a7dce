"""Simulate one FOV of a synthetic dataset (rule simulate_fov)."""
from stemdlf.runtime.logs import log_to
from stemdlf.simulate import AcquisitionParams, SimulatorParams, from_dict, simulate_fov

with log_to(snakemake.log[0]) as log:
    params = from_dict(SimulatorParams, snakemake.params.simulator, "simulator")
    acq = from_dict(AcquisitionParams, snakemake.params.acquisition, "simulate")
    fov = simulate_fov(snakemake.params.out_dir, snakemake.params.fov_index, params, acq)
    log.info("simulated %s (%d frames of %dx%d)", fov, acq.n_frames, acq.height, acq.width)
