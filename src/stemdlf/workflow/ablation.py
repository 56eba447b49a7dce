"""The ablation table: the recipe one change at a time, from a run's own tables.

A config's ``ablation`` section lists rows, each a variant of that run and the change it makes
(``config/ablation.yaml`` goes from the paper's DLF-Slow to the recommended DLF-5F, then
changes one thing of DLF-5F per row). The workflow's rule ``ablation`` writes
``results/tables/ablation.csv`` and ``.md`` from ``results/tables/summary.csv`` and each
variant's ``training.json``: every row trained on the same pairs, in the same run, on the
same machine.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from stemdlf.errors import ConfigError

__all__ = ["ABLATION_COLUMNS", "check_ablation", "ablation_table", "ablation_markdown"]

#: (column, metric in summary.csv, heading, decimals); training seconds come from training.json.
ABLATION_COLUMNS = (("psnr_truth", "psnr_truth", "PSNR vs truth (dB)", 2),
                    ("ssim_truth", "ssim_truth", "SSIM vs truth", 3),
                    ("cutoff_truth_px", "spectral_cutoff_truth_px", "cutoff vs truth (px)", 1),
                    ("psnr_slow", "psnr", "PSNR vs slow scan (dB)", 2))


def check_ablation(rows: list[dict[str, Any]], running: list[str], configured: list[str]
                   ) -> tuple[list[dict[str, str]], list[str]]:
    """The ablation rows of a config that this run can fill, and notes on those it leaves out.

    Parameters
    ----------
    rows : list of dict
        ``ablation`` of the config: each ``{variant: NAME, change: TEXT}``.
    running : list of str
        The variants this run trains (``run_variants``).
    configured : list of str
        Every variant of the config.

    Returns
    -------
    rows : list of dict
        The rows whose variant runs, in order.
    notes : list of str
        One line per row left out because ``run_variants`` leaves its variant out.

    Raises
    ------
    ConfigError
        If a row names a variant the config does not have, or two rows name the same variant.
    """
    names = [str(row["variant"]) for row in rows]
    unknown = [n for n in names if n not in configured]
    if unknown:
        raise ConfigError(f"ablation names {', '.join(unknown)}, which is not in variants "
                          f"({', '.join(configured)})")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"ablation names {', '.join(repeated)} more than once: one row per variant")
    notes = [f"ablation row {n!r} left out: run_variants does not run it" for n in names if n not in running]
    return [{"variant": str(row["variant"]), "change": str(row["change"])} for row in rows
            if str(row["variant"]) in running], notes


def ablation_table(summary: pd.DataFrame, rows: list[dict[str, str]],
                   training_seconds: dict[str, float]) -> pd.DataFrame:
    """One row per ablation row: its change, variant, metrics (means over test frames) and training time.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``results/tables/summary.csv`` (``method, metric, mean, ...``).
    rows : list of dict
        From :func:`check_ablation`.
    training_seconds : dict
        Variant -> training seconds (its ``training.json``).

    Returns
    -------
    pandas.DataFrame
        Columns ``change, variant``, those of :data:`ABLATION_COLUMNS` present in the summary
        (NaN where a variant lacks one), and ``training_s``.
    """
    present = set(summary["metric"])
    means = summary.assign(method=summary["method"].astype(str)).set_index(["method", "metric"])["mean"]
    out = []
    for row in rows:
        record: dict[str, Any] = {"change": row["change"], "variant": row["variant"]}
        for column, metric, _, _ in ABLATION_COLUMNS:
            if metric in present:
                record[column] = float(means.get((row["variant"], metric), np.nan))
        record["training_s"] = float(training_seconds.get(row["variant"], np.nan))
        out.append(record)
    return pd.DataFrame(out)


def ablation_markdown(table: pd.DataFrame) -> str:
    """The ablation table in Markdown, as README quotes it."""
    columns = [(c, heading, d) for c, _, heading, d in ABLATION_COLUMNS if c in table]
    lines = ["| change | variant | " + " | ".join(h for _, h, _ in columns) + " | training (s) |",
             "|---|---|" + "---|" * (len(columns) + 1)]
    for _, row in table.iterrows():
        cells = [f"{row[c]:.{d}f}" if np.isfinite(row[c]) else "" for c, _, d in columns]
        seconds = f"{row['training_s']:.0f}" if np.isfinite(row["training_s"]) else ""
        lines.append(f"| {row['change']} | {row['variant']} | " + " | ".join(cells) + f" | {seconds} |")
    return "\n".join(lines) + "\n"
