"""Figures of the workflow (matplotlib, written atomically as PNG and PDF)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np

from stemdlf.io.atomic import atomic_path
from stemdlf.preprocess.distortion import Distortion
from stemdlf.preprocess.filters import bandpass
from stemdlf.workflow.figure_style import DOUBLE_COLUMN_IN, SINGLE_COLUMN_IN, publication_style

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["save_figure", "distortion_diagnostic", "learning_curve"]

#: How the learning curves name each training loss.
LOSS_NAMES = {"mse": "MSE", "mae": "MAE", "huber": "Huber"}


def save_figure(fig: plt.Figure, path_png: str | Path, path_pdf: str | Path | None = None) -> None:
    """Save a figure atomically as PNG (and PDF) and close it."""
    for path, fmt in ((path_png, "png"), (path_pdf, "pdf")):
        if path is None:
            continue
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
    plt.close(fig)


def _rgb(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    def norm(x):
        lo, hi = np.percentile(x, [1, 99])
        return np.clip((x - lo) / (hi - lo + 1e-12), 0, 1)

    a, b = norm(a), norm(b)
    return np.stack([a, b, a], axis=-1)  # slow magenta, rapid green


@publication_style
def distortion_diagnostic(distortion: Distortion, dcfi: np.ndarray, slow: np.ndarray, fov: str,
                          truth_rapid_x: np.ndarray | None = None, fovs: "pd.DataFrame | None" = None) -> plt.Figure:
    """The distortion diagnostic figure.

    Profile (paper Fig. 5d), overlay before correction, line profiles before/after (Fig. 1a-c),
    and every FOV's registration offset and residual.

    Parameters
    ----------
    distortion : Distortion
    dcfi, slow : numpy.ndarray
        The reference FOV's normalised DCFI (rapid geometry) and slow scan.
    fov : str
        Its id, for the titles.
    truth_rapid_x : numpy.ndarray, optional
        The simulator's true profile of that FOV, drawn for comparison.
    fovs : pandas.DataFrame, optional
        ``results/distortion/fovs.csv``: the FOV's offset is applied, and panels (e, f) show all FOVs.
    """
    offset = (0.0, 0.0)
    if fovs is not None and f"multi/{fov}" in set(fovs["key"]):
        row_ = fovs.set_index("key").loc[f"multi/{fov}"]
        offset = (float(row_["offset_y_px"]), float(row_["offset_x_px"]))
    fig, axes = plt.subplots(3 if fovs is not None else 2, 2,
                             figsize=(DOUBLE_COLUMN_IN, 8.6 if fovs is not None else 5.8), layout="constrained")
    x = np.arange(len(distortion.rapid_x))
    ax = axes[0, 0]
    ax.plot(x, distortion.rapid_x_at(x + offset[1]) - x, label=f"estimated (shared profile + {fov}'s offset)",
            color="C0")
    if truth_rapid_x is not None:
        ax.plot(x, truth_rapid_x - x, "--", label="true (simulator)", color="k", lw=1)
    ax.set_xlabel("slow-scan column (px)")
    ax.set_ylabel("rapid column - slow column (px)")
    ax.set_title(f"(a) distortion profile, {distortion.info.get('method', '')} / "
                 f"{distortion.info.get('reference', '')}")
    ax.legend(loc="best", fontsize=6)
    ax2 = ax.twinx()
    stretch = np.convolve(np.diff(distortion.rapid_x), np.ones(9) / 9, mode="same")  # 9-px running mean
    ax2.plot(x[1:], 100 * (stretch - 1), color="C1", lw=0.8, alpha=0.7)
    ax2.set_ylabel("local stretch (%)", color="C1")

    axes[0, 1].imshow(_rgb(slow, dcfi))
    axes[0, 1].set_title(f"(b) {fov} before correction:\nslow magenta, rapid DCFI green")
    axes[0, 1].axis("off")

    corrected = distortion.apply(np.asarray(dcfi, np.float32), offset=offset)
    slow_roi = distortion.crop_slow(np.asarray(slow, np.float32))
    r0 = distortion.slow_roi[0]
    energy = bandpass(slow_roi).var(axis=1)
    row = int(np.argmax(energy))
    c0 = distortion.slow_roi[2]
    cols = np.arange(c0, c0 + slow_roi.shape[1])
    for ax, data, title in ((axes[1, 0], dcfi[row + r0, cols], "(c) line profile before correction"),
                            (axes[1, 1], corrected[row], "(d) after correction")):
        ax.plot(cols, slow_roi[row], color="C3", label="slow")
        ax.plot(cols, data, color="C2", label="rapid DCFI")
        ax.set_title(f"{title}, row {row + r0}")
        ax.set_xlabel("slow-scan column (px)")
        ax.set_ylabel("intensity (0..65535)")
        ax.legend(fontsize=6)
    if fovs is not None:
        ax = axes[2, 0]
        points = ax.scatter(fovs["offset_x_px"], fovs["offset_y_px"], c=fovs["zncc_after"], cmap="viridis",
                            vmin=0, vmax=1, s=25)
        for key, ox, oy in zip(fovs["key"], fovs["offset_x_px"], fovs["offset_y_px"]):
            label = key.split("/")[-1].replace("fov", "") if key.startswith("multi/") else key.split("/")[0]
            ax.annotate(label, (ox, oy), fontsize=6, xytext=(2, 2),
                        textcoords="offset points")
        fig.colorbar(points, ax=ax, label="ZNCC after registration")
        ax.set_xlabel("offset x (slow-scan px)")
        ax.set_ylabel("offset y (slow-scan px)")
        ax.set_title("(e) each FOV's slow-scan offset")
        ax = axes[2, 1]
        k = np.arange(len(fovs))
        ax.bar(k - 0.2, fovs["residual_px"], 0.4, label="residual shift after registration", color="C0")
        if "truth_x_mean_px" in fovs:
            ax.bar(k + 0.2, np.hypot(fovs["truth_x_mean_px"], fovs["truth_y_px"]), 0.4,
                   label="shift error against the truth", color="C1")
        ax.set_xticks(k, [key.replace("/fov", "/") for key in fovs["key"]], rotation=90, fontsize=6)
        ax.set_ylabel("px")
        ax.set_title("(f) per-FOV residuals")
        ax.legend(fontsize=6)
    return fig


@publication_style
def learning_curve(history: "pd.DataFrame", variant: str, loss: str = "mse") -> plt.Figure:
    """Training and validation loss per epoch (log scale), best epoch marked.

    Parameters
    ----------
    history : pandas.DataFrame
        Columns ``epoch``, ``loss``, ``val_loss``.
    variant : str
        Title.
    loss : str
        The loss trained on (``mse``, ``mae``, ``huber``): the y axis names it.
    """
    fig, ax = plt.subplots(figsize=(SINGLE_COLUMN_IN, 2.6), layout="constrained")
    ax.plot(history["epoch"], history["loss"], "o-", ms=3, label="training")
    ax.plot(history["epoch"], history["val_loss"], "s-", ms=3, label="validation")
    best = history.loc[history["val_loss"].idxmin()]
    ax.axvline(best["epoch"], color="0.6", ls=":", label=f"best (epoch {int(best['epoch'])})")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{LOSS_NAMES.get(loss, loss)} loss (scaled intensities)")
    ax.set_title(variant)
    ax.legend(frameon=False)
    return fig
