"""Per-frame statistics of every method as a figure (seaborn): distributions, not only means.

The summary table gives mean +- sd over the test frames; this figure shows every frame, so a
reader sees whether a method is better everywhere or on average, and how much the FOVs differ.
"""

from __future__ import annotations

import warnings

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd

from stemdlf.workflow.figure_style import DOUBLE_COLUMN_IN, publication_style
from stemdlf.workflow.methods import ZERO_SHOT_PREFIX

__all__ = ["method_family", "FAMILY_COLOURS", "stats_figure", "ablation_figure"]

#: One colour per family of methods, the same in every figure that uses it.
FAMILY_COLOURS = {"recorded": "#7f7f7f", "classical filter": "#1f77b4", "CARE": "#ff7f0e",
                  "DLF (paper recipe)": "#2ca02c", "DLF (other recipe)": "#9467bd", "DLF (recommended)": "#d62728",
                  "DLF (shipped, as it is)": "#e377c2"}


def method_family(method: str, recommended: str | None = None, variants: list[str] | None = None) -> str:
    """The family a method belongs to: recorded images, classical filters, CARE, DLF variants.

    Parameters
    ----------
    method : str
        A method of the run's tables.
    recommended : str, optional
        The recommended filter.
    variants : list of str, optional
        The run's DLF variants: those not named ``DLF-...`` (e.g. an ablation's ``ABL-...``) are
        "DLF (other recipe)"; without the list, only ``DLF-...`` names are known as variants.
    """
    if method == recommended:
        return "DLF (recommended)"
    if method in ("rapid", "DCFI", "slow"):
        return "recorded"
    if method == "CARE":
        return "CARE"
    if method.startswith(ZERO_SHOT_PREFIX):  # a filter the package ships, applied without training on this data
        return "DLF (shipped, as it is)"
    if method.startswith("DLF"):
        return "DLF (paper recipe)"
    if variants is not None and method in variants:
        return "DLF (other recipe)"
    return "classical filter"


def _panels(metrics: pd.DataFrame) -> list[tuple[str, str]]:
    """(metric, axis label) of the two panels: against the truth where the data have one."""
    if (metrics["metric"] == "psnr_truth").any():
        return [("psnr_truth", "PSNR vs noise-free truth (dB)"), ("ssim_truth", "SSIM vs noise-free truth")]
    return [("psnr", "PSNR vs slow scan (dB)"), ("ssim", "SSIM vs slow scan")]


def _per_frame_panels(metrics: pd.DataFrame, shown: list[str], labels: dict[str, str],
                      palette: dict[str, str], height: float) -> plt.Figure:
    """Two panels (PSNR, SSIM) of box + strip plots, one row per method of ``shown``."""
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(DOUBLE_COLUMN_IN, height), sharey=True, constrained_layout=True)
    for ax, (metric, label), letter in zip(axes, _panels(metrics), "ab"):
        data = metrics[(metrics["metric"] == metric) & metrics["method"].astype(str).isin(shown)].copy()
        data["method"] = data["method"].astype(str).map(labels)
        order = [labels[m] for m in shown]
        colours = {labels[m]: c for m, c in palette.items()}
        with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib 3.11 a deprecated argument
            warnings.simplefilter("ignore", matplotlib.MatplotlibDeprecationWarning)
            sns.boxplot(data=data, x="value", y="method", hue="method", order=order, hue_order=order,
                        palette=colours, ax=ax, showfliers=False, linewidth=0.8, legend=False,
                        boxprops={"alpha": 0.45})
        sns.stripplot(data=data, x="value", y="method", hue="method", order=order, hue_order=order,
                      palette=colours, ax=ax, size=2.5, jitter=0.2, legend=False)
        ax.set_xlabel(label, fontsize=8)
        ax.set_ylabel("")
        ax.tick_params(labelsize=7)
        ax.grid(axis="x", lw=0.4, alpha=0.5)
        ax.set_title(f"({letter})", loc="left", fontsize=9, fontweight="bold")
    return fig


#: Characters per line of an ablation row's label (longer changes wrap).
ABLATION_LABEL_CHARS = 44


@publication_style
def stats_figure(metrics: pd.DataFrame, methods: list[str], recommended: str | None = None,
                 variants: list[str] | None = None) -> plt.Figure:
    """PSNR and SSIM of every evaluated test frame, per method, as box and strip plots.

    Parameters
    ----------
    metrics : pandas.DataFrame
        ``metrics.csv`` (fov, frame, method, metric, value).
    methods : list of str
        Methods in display order.
    recommended : str, optional
        The recommended filter (its own colour).
    variants : list of str, optional
        The run's DLF variants (their family: :func:`method_family`).

    Returns
    -------
    matplotlib.figure.Figure
        Against the noise-free truth where the data have one (``psnr_truth``, ``ssim_truth``),
        else against the slow scan (``psnr``, ``ssim``).
    """
    shown = [m for m in methods if m in set(metrics["method"].astype(str))]
    palette = {m: FAMILY_COLOURS[method_family(m, recommended, variants)] for m in shown}
    fig = _per_frame_panels(metrics, shown, {m: m for m in shown}, palette, 0.22 * len(shown) + 1.4)
    handles = [plt.Line2D([], [], marker="s", ls="", color=c, label=f) for f, c in FAMILY_COLOURS.items()
               if any(method_family(m, recommended, variants) == f for m in shown)]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=7, frameon=False)
    fig.suptitle("Each point: one evaluated test frame (DCFI and slow: one image per test FOV); boxes: quartiles",
                 fontsize=8)
    return fig


@publication_style
def ablation_figure(metrics: pd.DataFrame, rows: list[dict[str, str]], recommended: str | None = None,
                    variants: list[str] | None = None) -> plt.Figure:
    """The ablation as a figure: every test frame's PSNR and SSIM, one row per change, in the rows' order.

    Parameters
    ----------
    metrics : pandas.DataFrame
        ``metrics.csv`` of the run.
    rows : list of dict
        The ablation rows (``variant``, ``change``), from :func:`stemdlf.workflow.ablation.check_ablation`.
    recommended : str, optional
        The recommended filter (red), the paper's recipe green, the other rows purple.
    variants : list of str, optional
        The run's DLF variants.

    Returns
    -------
    matplotlib.figure.Figure
        The same panels as :func:`stats_figure`, each row labelled by its change and variant.
    """
    import textwrap

    shown = [row["variant"] for row in rows if row["variant"] in set(metrics["method"].astype(str))]
    # long changes wrap, so the labels leave the panels at least half the figure's width
    labels = {row["variant"]: textwrap.fill(f"{row['change']} [{row['variant']}]", ABLATION_LABEL_CHARS,
                                            break_on_hyphens=False, break_long_words=False)
              for row in rows}
    palette = {m: FAMILY_COLOURS[method_family(m, recommended, variants)] for m in shown}
    lines = sum(labels[m].count("\n") + 1 for m in shown)
    fig = _per_frame_panels(metrics, shown, labels, palette, 0.2 * len(shown) + 0.11 * lines + 1.3)
    fig.suptitle("Ablation: each row one change, trained on the same pairs in the same run; "
                 "each point one evaluated test frame", fontsize=8)
    return fig
