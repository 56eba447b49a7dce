"""Per-frame statistics of every method as a figure (seaborn): distributions, not only means.

The summary table gives mean +- sd over the test frames; this figure shows every frame, so a
reader sees whether a method is better everywhere or on average, and how much the FOVs differ.
"""

from __future__ import annotations

import warnings

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd

__all__ = ["method_family", "FAMILY_COLOURS", "stats_figure"]

#: One colour per family of methods, the same in every figure that uses it.
FAMILY_COLOURS = {"recorded": "#7f7f7f", "classical filter": "#1f77b4", "CARE": "#ff7f0e",
                  "DLF (paper recipe)": "#2ca02c", "DLF (recommended)": "#d62728"}


def method_family(method: str, recommended: str | None = None) -> str:
    """The family a method belongs to: recorded images, classical filters, CARE, DLF variants."""
    if method == recommended:
        return "DLF (recommended)"
    if method in ("rapid", "DCFI", "slow"):
        return "recorded"
    if method == "CARE":
        return "CARE"
    if method.startswith("DLF"):
        return "DLF (paper recipe)"
    return "classical filter"


def stats_figure(metrics: pd.DataFrame, methods: list[str], recommended: str | None = None) -> plt.Figure:
    """PSNR and SSIM of every evaluated test frame, per method, as box and strip plots.

    Parameters
    ----------
    metrics : pandas.DataFrame
        ``metrics.csv`` (fov, frame, method, metric, value).
    methods : list of str
        Methods in display order.
    recommended : str, optional
        The recommended filter (its own colour).

    Returns
    -------
    matplotlib.figure.Figure
        Against the noise-free truth where the data have one (``psnr_truth``, ``ssim_truth``),
        else against the slow scan (``psnr``, ``ssim``).
    """
    import seaborn as sns

    truth = (metrics["metric"] == "psnr_truth").any()
    panels = [("psnr_truth", "PSNR vs noise-free truth (dB)"), ("ssim_truth", "SSIM vs noise-free truth")] if truth \
        else [("psnr", "PSNR vs slow scan (dB)"), ("ssim", "SSIM vs slow scan")]
    shown = [m for m in methods if m in set(metrics["method"].astype(str))]
    palette = {m: FAMILY_COLOURS[method_family(m, recommended)] for m in shown}
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 0.22 * len(shown) + 1.4), sharey=True, constrained_layout=True)
    for ax, (metric, label), letter in zip(axes, panels, "ab"):
        data = metrics[(metrics["metric"] == metric) & metrics["method"].astype(str).isin(shown)].copy()
        data["method"] = data["method"].astype(str)
        with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib 3.11 a deprecated argument
            warnings.simplefilter("ignore", matplotlib.MatplotlibDeprecationWarning)
            sns.boxplot(data=data, x="value", y="method", hue="method", order=shown, hue_order=shown,
                        palette=palette, ax=ax, showfliers=False, linewidth=0.8, legend=False,
                        boxprops={"alpha": 0.45})
        sns.stripplot(data=data, x="value", y="method", hue="method", order=shown, hue_order=shown,
                      palette=palette, ax=ax, size=2.5, jitter=0.2, legend=False)
        ax.set_xlabel(label, fontsize=8)
        ax.set_ylabel("")
        ax.tick_params(labelsize=7)
        ax.grid(axis="x", lw=0.4, alpha=0.5)
        ax.set_title(f"({letter})", loc="left", fontsize=9, fontweight="bold")
    handles = [plt.Line2D([], [], marker="s", ls="", color=c, label=f) for f, c in FAMILY_COLOURS.items()
               if any(method_family(m, recommended) == f for m in shown)]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=7, frameon=False)
    fig.suptitle("Each point: one evaluated test frame (DCFI and slow: one image per test FOV); boxes: quartiles",
                 fontsize=8)
    return fig
