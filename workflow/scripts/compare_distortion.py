"""Tabulate every distortion estimate, against the simulator's truth when there is one (rule compare_distortion)."""
import json
from pathlib import Path

import pandas as pd
import yaml

from stemdlf.io.atomic import atomic_path
from stemdlf.preprocess.distortion import Distortion, compare_to_truth
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]):
    truth = None
    if "profile_truth" in snakemake.input.keys():
        facts = yaml.safe_load(open(snakemake.input.facts))
        truth = (pd.read_csv(snakemake.input.profile_truth)["rapid_x"].to_numpy(), -facts["vertical_offset_px"],
                 facts["detector_delay_px"])
    rows = []
    for name, profile in zip(snakemake.params.estimators, snakemake.input.estimates):
        d = Distortion.load(profile, Path(profile).with_name("view.json"))
        method, scope = name.split("-")
        row = {"estimator": name, "method": method, "scope": scope, "reference": d.info.get("reference"),
               "row_offset_px": d.row_offset, "seconds": d.info.get("seconds"),
               "psnr_db": d.info.get("psnr_db"), "slow_roi": json.dumps(d.slow_roi)}
        if truth is not None:
            row.update(compare_to_truth(d, truth[0], truth[1], truth[2]), detector_delay_px=truth[2])
        rows.append(row)
    with atomic_path(snakemake.output[0]) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False, float_format="%.4f")
