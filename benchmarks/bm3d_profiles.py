"""The BM3D baselines under the bm3d package's normal ('np') and low-complexity ('lc') profiles.

Run on demand after a default workflow run (it reads that run's ``results/``):

    .venv/bin/python benchmarks/bm3d_profiles.py                 # results/ of this checkout
    .venv/bin/python benchmarks/bm3d_profiles.py --results DIR   # another run's results folder

For every BM3D baseline and every test FOV it does what rule ``baseline_fov`` does (tune the
parameter on frame 0's central crop for the best PSNR against the slow scan, filter the first
``--frames`` frames, map them through the tone curve) once per profile, the profiles one after
the other on the same FOV and one thread (as the workflow's jobs run), and measures the seconds
and the PSNR and SSIM against the slow scan and the simulator's noise-free truth, as
``results/tables/summary.csv`` does. The workflow's choice is ``evaluate.bm3d_profile``.

Writes ``benchmarks/results/bm3d_profiles.csv`` (one row per method, FOV and profile) and
``benchmarks/results/bm3d_profiles.md`` (means over the FOVs; seconds as medians); ``--name``
names them otherwise, e.g. for a run of ``config/stress.yaml``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from speed import REPO, RESULTS, machine  # benchmarks/speed.py, beside this script

from stemdlf.baselines.classical import BM3D_PROFILES, apply_baseline, tune
from stemdlf.evaluate.tables import method_metrics, truth_image
from stemdlf.io.tiff import read_tiff

METHODS = ("BM3D", "BM3D-PSD", "BM3D-deblur")
METRICS = {"psnr": "PSNR vs slow scan (dB)", "psnr_truth": "PSNR vs truth (dB)", "ssim_truth": "SSIM vs truth"}


def measure(results: Path, frames: int) -> pd.DataFrame:
    """One row per (method, test FOV, profile): seconds and metrics."""
    split = yaml.safe_load((results / "split.yaml").read_text())
    noise = np.load(results / "baselines" / "noise_model.npz")
    roi = json.loads((results / "distortion" / "view.json").read_text())["slow_roi"]
    px = json.loads((results / "validated" / "multi.json").read_text())["meta"]["pixel_size_nm"]
    rows = []
    for fov in split["test"]:
        rapid = read_tiff(results / "corrected" / "multi" / fov / "rapid.tif")[:frames]
        slow = read_tiff(results / "corrected" / "multi" / fov / "slow.tif")
        transform = json.loads((results / "normalised" / "multi" / fov / "normalisation.json").read_text())["slow"]
        truth = truth_image(read_tiff(results / "data" / "multi" / "truth" / fov / "slow_clean.tif"), transform, roi)
        for method in METHODS:
            for profile in BM3D_PROFILES:
                t0 = time.perf_counter()
                tuned = tune(method, rapid[0], slow, 128, noise["psd"], noise["psf"], noise["tone"], threads=1,
                             bm3d_profile=profile)
                out = apply_baseline(method, rapid, tuned.parameter, noise["psd"], noise["psf"], noise["tone"],
                                     threads=1, bm3d_profile=profile)
                seconds = time.perf_counter() - t0
                metrics = method_metrics(method, fov, out, slow, truth, px).groupby("metric")["value"].mean()
                rows.append({"method": method, "fov": fov, "profile": profile, "parameter": tuned.parameter,
                             "seconds": seconds, **{m: metrics[m] for m in METRICS}})
                print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame, frames: int) -> str:
    """Means over the FOVs per method and profile, the seconds as medians, and np/lc time ratios."""
    cpu = machine()
    lines = [f"Measured by `benchmarks/bm3d_profiles.py` on {cpu['cpu']} ({cpu['cores']} cores; {cpu['flags']}), "
             "one thread, "
             f"{time.strftime('%Y-%m-%d')}; tuning and {frames} frames per test FOV, "
             f"{table['fov'].nunique()} test FOVs.", "",
             "| method | profile | seconds per FOV (median) | " + " | ".join(METRICS.values()) + " |",
             "|---|---|---|" + "---|" * len(METRICS)]
    for (method, profile), g in table.groupby(["method", "profile"], sort=False):
        values = " | ".join(f"{g[m].mean():.3f}" if m.startswith("ssim") else f"{g[m].mean():.2f}" for m in METRICS)
        lines.append(f"| {method} | {profile} | {g['seconds'].median():.1f} | {values} |")
    seconds = table.pivot_table(index=["method", "fov"], columns="profile", values="seconds")
    ratio = (seconds["np"] / seconds["lc"]).median()
    lines += ["", f"Time np / lc, median over methods and FOVs (each pair measured back to back): {ratio:.2f}x."]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure, write the csv and the markdown table, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=REPO / "results", help="a finished default run's results/")
    parser.add_argument("--name", default="bm3d_profiles",
                        help="file name of the results, without suffix (e.g. bm3d_profiles_stress for another preset)")
    parser.add_argument("--frames", type=int, default=4, help="frames filtered per test FOV (the workflow's default)")
    args = parser.parse_args()
    table = measure(args.results, args.frames)
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS / f"{args.name}.csv", index=False)
    (RESULTS / f"{args.name}.md").write_text(markdown(table, args.frames))
    print((RESULTS / f"{args.name}.md").read_text())


if __name__ == "__main__":
    main()
