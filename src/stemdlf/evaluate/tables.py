"""Per-frame metrics of every method on the test FOVs, and their summary tables.

``metrics.csv`` is tidy: one row per (fov, frame, method, metric). ``summary.csv`` has
``method, metric, mean, sd, n`` and, for the PSNR metrics, the % change of the mean
against ``rapid`` (the paper reports +7% PSNR and +13% within the band for DLF-Slow).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stemdlf.evaluate.metrics import frame_metrics, spectral_cutoff, ssim
from stemdlf.evaluate.psnr import psnr
from stemdlf.preprocess.normalise import MinMax, apply_minmax

__all__ = ["METRIC_COLUMNS", "truth_image", "method_metrics", "slow_scan_metrics", "summarise", "summary_markdown",
           "test_metrics"]

METRIC_COLUMNS = ["fov", "frame", "method", "metric", "value"]
#: Metrics where higher is better and a % change against rapid is meaningful.
PSNR_METRICS = ("psnr", "psnr_band", "psnr_outside_band", "psnr_truth")


def truth_image(slow_clean: np.ndarray, slow_transform: dict, slow_roi: list[int]) -> np.ndarray:
    """The noise-free slow scan on the slow scan's 0..65535 scale, cropped to the covered region.

    It gets exactly the min-max transform of its FOV's slow scan (``normalisation.json``), so
    comparing a method with the truth and with the slow scan uses one intensity scale.
    """
    r0, r1, c0, c1 = slow_roi
    image = apply_minmax(slow_clean, MinMax(**slow_transform), np.float32)
    return image[r0:r1, c0:c1]


def method_metrics(method: str, fov: str, frames: np.ndarray, slow: np.ndarray, truth: np.ndarray | None = None,
                   pixel_size_nm: float | None = None) -> pd.DataFrame:
    """Tidy metrics of one method's frames of one FOV.

    Parameters
    ----------
    method, fov : str
        Labels.
    frames : numpy.ndarray
        ``(n, H, W)`` or one ``(H, W)`` image (DCFI), 0..65535, slow-scan geometry.
    slow : numpy.ndarray
        The slow scan, same ``H, W``.
    truth : numpy.ndarray, optional
        The noise-free slow scan (synthetic data).
    pixel_size_nm : float, optional
        For the cutoff in um^-1.
    """
    frames = np.asarray(frames)
    stack = frames[np.newaxis] if frames.ndim == 2 else frames
    if stack.shape[1:] != slow.shape:
        raise ValueError(f"{method}/{fov}: frames are {stack.shape[1:]} but the slow scan is {slow.shape}")
    rows = []
    for k, frame in enumerate(stack):
        for metric, value in frame_metrics(frame, slow, truth, pixel_size_nm).items():
            rows.append((fov, k, method, metric, value))
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def slow_scan_metrics(fov: str, slow: np.ndarray, truth: np.ndarray) -> pd.DataFrame:
    """The slow scan's own distance from the noise-free truth: PSNR, SSIM and spectral cutoff.

    The paper's target is itself a noisy measurement; these rows tell how far it is from the
    specimen, which is what a filter trained on it is judged against in the ``*_truth`` columns.
    """
    rows = [(fov, 0, "slow", "psnr_truth", psnr(slow, truth)),
            (fov, 0, "slow", "ssim_truth", ssim(slow, truth)),
            (fov, 0, "slow", "spectral_cutoff_truth_px", spectral_cutoff(slow, truth))]
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def summarise(metrics: pd.DataFrame, methods: list[str] | None = None) -> pd.DataFrame:
    """``method, metric, mean, sd, n`` (over frames and FOVs) plus ``change_vs_rapid_pct`` for PSNRs.

    Infinite values (e.g. a cutoff that never agrees) are left out of the means and counted in ``n_inf``.
    """
    finite = metrics[np.isfinite(metrics["value"])]
    table = finite.groupby(["method", "metric"])["value"].agg(mean="mean", sd="std", n="count").reset_index()
    n_inf = (~np.isfinite(metrics["value"])).groupby([metrics["method"], metrics["metric"]]).sum()
    table["n_inf"] = [int(n_inf.get((m, k), 0)) for m, k in zip(table["method"], table["metric"])]
    rapid = table[table["method"] == "rapid"].set_index("metric")["mean"]
    table["change_vs_rapid_pct"] = [
        100.0 * (mean / rapid[metric] - 1.0) if metric in PSNR_METRICS and metric in rapid else np.nan
        for metric, mean in zip(table["metric"], table["mean"])
    ]
    order = methods or list(dict.fromkeys(metrics["method"]))
    table["method"] = pd.Categorical(table["method"], categories=order, ordered=True)
    return table.sort_values(["method", "metric"]).reset_index(drop=True)


def summary_markdown(summary: pd.DataFrame, metrics: tuple[str, ...] = ("psnr", "psnr_band", "ssim", "psnr_truth",
                                                                       "ssim_truth", "spectral_cutoff_truth_px",
                                                                       "spectral_cutoff_px")
                     ) -> str:
    """A Markdown table: one row per method, mean +- sd of each metric, PSNR % change vs rapid."""
    present = [m for m in metrics if m in set(summary["metric"])]
    header = "| method | " + " | ".join(present) + " | PSNR vs rapid |\n|---|" + "---|" * (len(present) + 1) + "\n"
    lines = []
    for method, group in summary.groupby("method", observed=True, sort=False):
        g = group.set_index("metric")
        cells = [f"{g.at[m, 'mean']:.3f} ± {g.at[m, 'sd']:.3f}" if m in g.index and np.isfinite(g.at[m, "sd"])
                 else (f"{g.at[m, 'mean']:.3f}" if m in g.index else "") for m in present]
        change = g.at["psnr", "change_vs_rapid_pct"] if "psnr" in g.index else np.nan
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {change:+.1f}% |")
    return header + "\n".join(lines) + "\n"


def test_metrics(summary: pd.DataFrame, method: str, fovs: list[str]) -> dict:
    """A filter's scores on the test FOVs, for its model card's sidecar (``model.metrics.json``).

    Parameters
    ----------
    summary : pandas.DataFrame
        ``results/tables/summary.csv``.
    method : str
        The variant.
    fovs : list of str
        The test FOVs the means are over.

    Returns
    -------
    dict
        ``{"test_fovs": [...], "frames": n, "means": {metric: mean}}`` (finite means only).
    """
    rows = summary[summary["method"].astype(str) == method]
    means = {str(m): float(v) for m, v in zip(rows["metric"], rows["mean"]) if np.isfinite(v)}
    frames = int(rows.loc[rows["metric"] == "psnr", "n"].iloc[0]) if "psnr" in set(rows["metric"]) else 0
    return {"test_fovs": list(fovs), "frames": frames, "means": means,
            "source": "results/tables/summary.csv (means over the evaluated test frames)"}


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    """Write a CSV atomically."""
    from stemdlf.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
