"""A run's results block, written from its own tables, so that no number on a page is typed by hand.

The workflow's rule ``readme_results`` writes ``results/readme_results.md`` from
``results/tables/summary.csv``, ``results/claims.md`` and ``results/distortion/fovs.csv``; the
docs' Results page includes it (``python -m stemdlf.workflow.docs publish``). :func:`replace_block`
pastes a generated block between two markers (README's short table and run line).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["BEGIN", "END", "results_block", "replace_block"]

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
