"""The recipe, one change at a time: from the paper's DLF-Slow to the recommended DLF-5F.

Run on demand after a default workflow run (it reads that run's ``results/``):

    .venv/bin/python benchmarks/recipe.py                 # results/ of this checkout
    .venv/bin/python benchmarks/recipe.py --results DIR   # another run's results folder

Every row trains on the same pairs (the split's training FOVs, corrected rapid frames ->
slow scan, the same validation FOVs and seed) and filters the first ``--frames`` frames of
every test FOV; PSNR, SSIM and the spectral cutoff are measured against the simulator's
noise-free truth, as in ``results/tables/summary.csv``. Rows are cumulative (each adds one
change to the row above) down to DLF-5F; the rows after it change one thing of DLF-5F.
Training seconds are measured here, on this machine.

Writes ``benchmarks/results/recipe.csv`` and ``benchmarks/results/recipe.md``. The same rows run
inside the workflow with ``--configfile config/ablation.yaml`` (rule ``ablation``), whose table
the docs include; this script is the quick way to try a change on a finished run's pairs.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import re
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tifffile  # noqa: E402
import yaml  # noqa: E402

from stemdlf.evaluate.metrics import psnr, spectral_cutoff, ssim  # noqa: E402
from stemdlf.evaluate.tables import truth_image  # noqa: E402
from stemdlf.nn.denoise import Denoiser  # noqa: E402
from stemdlf.nn.patches import training_pairs  # noqa: E402
from stemdlf.nn.train import TrainingSettings, train_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results"

#: The paper's recipe at the default budget (config/config.yaml's DLF-Slow).
PAPER = dict(lr=1e-3, epochs=10, steps_per_epoch=30, batch_size=16, patch_size=64, validation_patches=256,
             augment="vflip", seed=0, loss="mse", lr_schedule="constant", input_scaling="none",
             model=dict(depth=2, base_filters=8, kernel_size=3, batch_norm=True, residual=True, input_frames=1))

#: (row name, change, cumulative?) applied to the settings of the row above (cumulative) or of DLF-5F.
STEPS = [
    ("DLF-Slow (paper recipe)", {}, True),
    ("+ 1,500 steps, cosine lr from 2e-3", {"steps_per_epoch": 150, "lr": 2e-3, "lr_schedule": "cosine"}, True),
    ("+ no batch norm", {"model": {"batch_norm": False}}, True),
    ("+ input scaling by the mean frame", {"input_scaling": "mean_frame"}, True),
    ("+ 5 aligned input frames", {"model": {"input_frames": 5}}, True),
    ("+ MAE loss = DLF-5F", {"loss": "mae"}, True),
    ("DLF-5F, causal window (live use)", {"model": {"causal": True}}, False),
    ("DLF-5F, MSE loss", {"loss": "mse"}, False),
    ("DLF-5F, 16 base filters", {"model": {"base_filters": 16}}, False),
    ("DLF-5F, 1 input frame", {"model": {"input_frames": 1}}, False),
]


def merged(base: dict, change: dict) -> dict:
    """``base`` updated by ``change``, nested mappings merged key by key."""
    out = copy.deepcopy(base)
    for key, value in change.items():
        if isinstance(value, dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def main() -> None:
    """Train and score every recipe row and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", default=str(REPO / "results"), help="a finished default run's results folder")
    parser.add_argument("--frames", type=int, default=4, help="frames of each test FOV evaluated")
    args = parser.parse_args()
    res = Path(args.results)
    split = yaml.safe_load((res / "split.yaml").read_text())
    roi = json.loads((res / "distortion/view.json").read_text())["slow_roi"]
    truths = {}
    for fov in split["test"]:
        slow = json.loads((res / f"normalised/multi/{fov}/normalisation.json").read_text())["slow"]
        truths[fov] = truth_image(tifffile.imread(res / f"data/multi/truth/{fov}/slow_clean.tif"), slow, roi)
    rows, cumulative, recommended = [], PAPER, None
    for name, change, chain in STEPS:
        values = merged(cumulative if chain else recommended, change)
        if chain:
            cumulative = values
            if name.endswith("DLF-5F"):
                recommended = values
        settings = TrainingSettings.from_dict(values)
        fovs = split["train"]
        train, val = training_pairs([res / f"corrected/multi/{f}/rapid.tif" for f in fovs],
                                    [res / f"corrected/multi/{f}/slow.tif" for f in fovs], fovs, None, 0.2,
                                    settings.patch_size, settings.seed, settings.input_scaling)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            train_model(train, val, settings, f"{tmp}/m.keras", f"{tmp}/h.csv", f"{tmp}/ck", log=lambda s: None)
            seconds = time.perf_counter() - t0
            denoiser = Denoiser(f"{tmp}/m.keras", batch_size=4)
            scores = []
            for fov in split["test"]:
                stack = tifffile.imread(res / f"corrected/multi/{fov}/rapid.tif")
                out = denoiser(stack, 0, args.frames, scaling=denoiser.scaling_of(stack))
                scores += [(psnr(f, truths[fov]), ssim(f, truths[fov]), spectral_cutoff(f, truths[fov])) for f in out]
        p, s, c = np.array(scores).T
        rows.append({"recipe": name, "psnr_truth_db": p.mean(), "ssim_truth": s.mean(),
                     "spectral_cutoff_truth_px": np.median(c), "training_s": seconds})
        print(f"{name:45s} {p.mean():6.2f} dB  SSIM {s.mean():.3f}  cutoff {np.median(c):5.2f} px  {seconds:6.1f} s",
              flush=True)
    table = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT / "recipe.csv", index=False, float_format="%.4g")
    cpu = platform.processor() or platform.machine()
    try:
        cpu = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M).group(1).strip()
    except (OSError, AttributeError):
        pass
    lines = [f"Measured by `benchmarks/recipe.py` on {cpu} ({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}: "
             f"the default run's training pairs, {args.frames} frames of each of {len(split['test'])} test FOVs "
             "against the noise-free truth (median cutoff).", "",
             "| recipe | PSNR vs truth (dB) | SSIM vs truth | cutoff vs truth (px) | training (s) |",
             "|---|---|---|---|---|"]
    lines += [f"| {r.recipe} | {r.psnr_truth_db:.2f} | {r.ssim_truth:.3f} | {r.spectral_cutoff_truth_px:.1f} | "
              f"{r.training_s:.0f} |" for r in table.itertuples()]
    (OUT / "recipe.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT / 'recipe.csv'} and {OUT / 'recipe.md'}")


if __name__ == "__main__":
    main()
