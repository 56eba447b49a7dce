"""The detector response along x from the training FOVs' rapid frames alone (rule detector_response).

With simulated data, each FOV's truth (``fov.yaml``) says what the simulator used, and the
estimate's error against it is written beside the estimate.
"""
import numpy as np
import yaml

from stemdlf.io.atomic import write_json
from stemdlf.io.tiff import read_tiff
from stemdlf.preprocess.response import DetectorResponse, estimate_response
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]) as log:
    estimate, fit = estimate_response([read_tiff(path) for path in snakemake.input.rapid])
    result = {"fovs": list(snakemake.params.fovs), "estimate": estimate.to_dict(), "fit": fit}
    log.info("estimated response: %s (fit %s)", result["estimate"], fit)
    truths = [yaml.safe_load(open(path))["detector_response"] for path in snakemake.input.get("truth", [])]
    if truths:
        keys = ("fast_pole", "afterglow_pole", "afterglow_share")
        truth = DetectorResponse(*(float(np.mean([t[k] for t in truths])) for k in keys))
        width = read_tiff(snakemake.input.rapid[0]).shape[-1]
        error = np.abs(estimate.transfer(width)) / np.abs(truth.transfer(width)) - 1
        result["truth"] = {**truth.to_dict(), "note": "the simulator's, at the FOVs' mean background afterglow share"}
        result["transfer_error"] = {"max": float(np.abs(error).max()), "rms": float(np.sqrt(np.mean(error ** 2)))}
        log.info("against the simulator's truth %s: |H| within %.2f%% (RMS %.2f%%)", result["truth"],
                 100 * result["transfer_error"]["max"], 100 * result["transfer_error"]["rms"])
    write_json(snakemake.output[0], result)
