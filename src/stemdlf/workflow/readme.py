"""README's results block, written from a run's own tables, so no number in README is typed by hand.

The workflow's rule ``readme_results`` writes ``results/readme_results.md`` from
``results/tables/summary.csv``, ``results/claims.md`` and ``results/distortion/fovs.csv``;
``python -m stemdlf.workflow.readme README.md results/readme_results.md`` replaces the text between
:data:`BEGIN` and :data:`END` in README with it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["BEGIN", "END", "SECTIONS", "results_block", "replace_block", "main"]

BEGIN = "<!-- results: written by the workflow (results/readme_results.md); do not edit by hand -->"
END = "<!-- end results -->"

#: Columns of the README table: (metric in summary.csv, heading, decimals).
COLUMNS = (("psnr_truth", "PSNR vs truth (dB)", 2), ("ssim_truth", "SSIM vs truth", 3),
           ("spectral_cutoff_truth_px", "cutoff vs truth (px)", 1), ("psnr", "PSNR vs slow scan (dB)", 2))


def results_block(summary: pd.DataFrame, claims_md: str, fovs: pd.DataFrame | None = None,
                  training: dict[str, float] | None = None) -> str:
    """The Markdown block: one row per method, the claims, and the per-FOV registration summary.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``results/tables/summary.csv``.
    claims_md : str
        ``results/claims.md``.
    fovs : pandas.DataFrame, optional
        ``results/distortion/fovs.csv``.
    training : dict, optional
        Method -> training seconds (from each model's ``training.json``).
    """
    methods = list(dict.fromkeys(summary["method"].astype(str)))
    has_truth = "psnr_truth" in set(summary["metric"])
    columns = [c for c in COLUMNS if c[0] in set(summary["metric"])]
    head = "| method | " + " | ".join(c[1] for c in columns) + (" | training (s) |" if training else " |")
    lines = [head, "|---|" + "---|" * (len(columns) + bool(training))]
    for method in methods:
        rows = summary[summary["method"].astype(str) == method].set_index("metric")["mean"]
        cells = [f"{rows[m]:.{d}f}" if m in rows and np.isfinite(rows[m]) else "" for m, _, d in columns]
        if training:
            cells.append(f"{training[method]:.0f}" if method in training else "")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    claim_rows = [line for line in claims_md.splitlines() if line.startswith("| ") and not line.startswith("| claim")]
    out = [("Means over the evaluated test frames (`results/tables/summary.csv`)"
            + ("; 'truth' is the simulator's noise-free slow scan." if has_truth else ".")), "", table, "",
           "| claim | on this data | numbers |", "|---|---|---|", *claim_rows]
    if fovs is not None and len(fovs):
        shift = np.hypot(fovs["offset_y_px"], fovs["offset_x_px"])
        text = (f"Per-FOV registration (`results/distortion/fovs.csv`): {len(fovs)} FOVs, offsets of the slow scans "
                f"from their rapid series up to {shift.max():.1f} px, residual after registration at most "
                f"{fovs['residual_px'].max():.2f} px")
        if "truth_x_mean_px" in fovs:
            err = np.hypot(fovs["truth_x_mean_px"], fovs["truth_y_px"])
            text += (f"; against the simulator's truth the FOVs' shift errors are "
                     f"{np.sqrt(np.mean(err**2)):.2f} px RMS, {err.max():.2f} px at worst, and the corrected "
                     f"geometry is {fovs['truth_x_rms_px'].max():.2f} px "
                     "RMS along x at worst")
        out += ["", text + "."]
    return "\n".join(out) + "\n"


#: Other generated blocks of README: name -> (begin, end) markers; each is pasted from the file
#: its begin marker names (written by a benchmark).
SECTIONS = {
    "results": (BEGIN, END),
    "speed": ("<!-- speed: benchmarks/results/speed.md -->", "<!-- end speed -->"),
    "speed-gpu": ("<!-- speed-gpu: benchmarks/results/speed.md of runs on a GPU machine -->", "<!-- end speed-gpu -->"),
    "speed-workflow": ("<!-- speed-workflow: benchmarks/results/speed_workflow.md -->", "<!-- end speed-workflow -->"),
    "threads": ("<!-- threads: benchmarks/results/threads.md -->", "<!-- end threads -->"),
    "bm3d-profiles": ("<!-- bm3d-profiles: benchmarks/results/bm3d_profiles.md -->", "<!-- end bm3d-profiles -->"),
    "bm3d-profiles-stress": ("<!-- bm3d-profiles-stress: benchmarks/results/bm3d_profiles_stress.md -->",
                             "<!-- end bm3d-profiles-stress -->"),
    "stress": ("<!-- stress: results/readme_results.md of a run with config/stress.yaml -->", "<!-- end stress -->"),
    "ablation": ("<!-- ablation: results/tables/ablation.md of a run with config/ablation.yaml -->",
                 "<!-- end ablation -->"),
    "stress-ablation": ("<!-- stress-ablation: results/tables/ablation.md of a run with config/stress.yaml "
                        "config/ablation.yaml -->", "<!-- end stress-ablation -->"),
}


def replace_block(readme: str, block: str, begin: str = BEGIN, end: str = END) -> str:
    """README text with the block between the ``begin`` and ``end`` markers replaced.

    Raises
    ------
    ValueError
        If the markers are missing or out of order.
    """
    start, stop = readme.find(begin), readme.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"README has no '{begin}' ... '{end}' block")
    return readme[:start + len(begin)] + "\n" + block + readme[stop:]


def main(argv: list[str] | None = None) -> int:
    """Paste a generated block into README between its markers.

    ``python -m stemdlf.workflow.readme README.md results/readme_results.md [--section results|speed|...]``.
    """
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("readme")
    parser.add_argument("block")
    parser.add_argument("--section", choices=sorted(SECTIONS), default="results")
    args = parser.parse_args(argv)
    readme = Path(args.readme)
    try:
        text = replace_block(readme.read_text(), Path(args.block).read_text(), *SECTIONS[args.section])
    except (OSError, ValueError) as err:
        print(f"stemdlf.workflow.readme: error: {err}", file=sys.stderr)
        return 2
    readme.write_text(text)
    print(f"updated {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
