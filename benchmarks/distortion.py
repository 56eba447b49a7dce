"""Benchmark of the distortion estimators: accuracy against the simulator's truth and wall time.

Run on demand (not part of the tests):

    .venv/bin/python benchmarks/distortion.py            # default-size data and a 512x512 FOV

Estimators: ``published`` (the paper's method exactly as described), ``paper`` (the same with
the two view-matching fixes) and ``dp``, each on the reference FOV that ``distortion.reference:
auto`` picks and as the median over all FOVs (``global``).

Writes benchmarks/results/distortion.csv and prints it. Accuracy is the RMS of rapid_x over the
covered columns, raw and after removing the detector delay (see stemdlf.preprocess.distortion.compare_to_truth).
Also times DCFI of the FOV and applying the profile to its 50-frame stack.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from stemdlf.io.tiff import read_tiff
from stemdlf.preprocess.dcfi import DriftOptions, dcfi
from stemdlf.preprocess.distortion import (
    METHODS,
    DistortionOptions,
    combine_profiles,
    compare_to_truth,
    estimate_distortion,
    heterogeneity_score,
)
from stemdlf.preprocess.normalise import minmax_normalise
from stemdlf.simulate import AcquisitionParams, SimulatorParams, simulate_dataset

OUT = Path(__file__).resolve().parent / "results" / "distortion.csv"


def load_fov(root: Path, fov: str):
    """One simulated FOV, normalised: DCFI, slow scan, frames, drift, the true profile, its facts, DCFI time."""
    frames = read_tiff(root / "fovs" / fov / "rapid.tif")
    t0 = time.perf_counter()
    image, shifts = dcfi(frames, DriftOptions())
    t_dcfi = time.perf_counter() - t0
    dcfi_n, _ = minmax_normalise(image)
    slow_n, _ = minmax_normalise(read_tiff(root / "fovs" / fov / "slow.tif"))
    frames_n, _ = minmax_normalise(frames)
    truth = pd.read_csv(root / "truth" / fov / "distortion.csv")["rapid_x"].to_numpy()
    facts = yaml.safe_load((root / "truth" / fov / "fov.yaml").read_text())
    return dcfi_n, slow_n, frames_n, shifts, truth, facts, t_dcfi


def run(label: str, acq: AcquisitionParams, n_global: int) -> list[dict]:
    """Simulate one dataset and time every estimator on it; one row per estimator."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        simulate_dataset(root, label, SimulatorParams(), acq, progress=False)
        fovs = [load_fov(root, f"fov{i:03d}") for i in range(acq.n_fovs)]
        truth, facts = fovs[0][4], fovs[0][5]  # one scan distortion for the whole session
        # The reference FOV as `distortion.reference: auto` chooses it.
        ref = int(np.argmax([heterogeneity_score(f[1]) for f in fovs[:n_global]]))
        for name in METHODS:
            times, profiles = [], {}
            for i, (d, s, *_) in enumerate(fovs[:n_global]):
                t0 = time.perf_counter()
                try:
                    profiles[i] = estimate_distortion(d, s, name, DistortionOptions())
                except ValueError as exc:
                    print(f"  {label} {name}: skipped fov{i:03d} ({exc})", file=sys.stderr)
                times.append(time.perf_counter() - t0)
            scopes = [(f"reference fov{ref:03d}", [profiles[ref]] if ref in profiles else [], times[ref]),
                      ("global", list(profiles.values()), sum(times))]
            for scope, used, seconds in scopes:
                if not used:
                    continue
                est = combine_profiles(used) if len(used) > 1 else used[0]
                acc = compare_to_truth(est, truth, -facts["vertical_offset_px"], facts["detector_delay_px"])
                rows.append({"data": label, "estimator": f"{name}, {scope}", "fovs": len(used),
                             "seconds": seconds, **acc})
        d = profiles.get(ref) or next(iter(profiles.values()))
        frames, shifts = fovs[0][2], fovs[0][3]
        t0 = time.perf_counter()
        d.apply(frames.astype(np.float32), shifts)
        rows.append({"data": label, "estimator": f"apply to {len(frames)} frames", "seconds": time.perf_counter() - t0})
        rows.append({"data": label, "estimator": f"DCFI of {len(frames)} frames", "seconds": fovs[0][6]})
    return rows


def main() -> None:
    """Run the benchmark and write its results."""
    rows = run("default 256x256", AcquisitionParams(n_fovs=15, n_frames=16, height=256, width=256, seed=1), 15)
    rows += run("paper 512x512", AcquisitionParams(n_fovs=3, n_frames=50, height=512, width=512, seed=1), 3)
    table = pd.DataFrame(rows)
    OUT.parent.mkdir(exist_ok=True)
    table.to_csv(OUT, index=False, float_format="%.3f")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(3).to_string(index=False))
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
