"""The paper's Figures 1-5, redrawn from the workflow's images and tables.

Every function takes arrays and tables (no file reading) and returns a matplotlib figure;
the workflow writes them with :func:`stemdlf.workflow.figures.save_figure`. Images are on the
0..65535 scale in slow-scan geometry unless stated otherwise.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import patheffects
from scipy import ndimage

from stemdlf.evaluate.metrics import horizontal_spectrum
from stemdlf.preprocess.filters import bandpass
from stemdlf.workflow.figure_style import DOUBLE_COLUMN_IN, SINGLE_COLUMN_IN, method_colours, publication_style

__all__ = ["profile_row", "dislocation_dips", "detail_region", "fig1", "fig2", "fig3", "fig4", "fig5", "crops"]

def profile_row(slow: np.ndarray) -> int:
    """The row with the most dislocation contrast (band-passed variance): where line profiles are drawn."""
    return int(np.argmax(bandpass(np.asarray(slow, np.float64)).var(axis=1)))


def dislocation_dips(line: np.ndarray, prominence: float = 4000.0) -> np.ndarray:
    """Columns of the dislocation dips (dark minima) of a slow-scan line profile."""
    from scipy.signal import find_peaks

    peaks, _ = find_peaks(-ndimage.gaussian_filter1d(np.asarray(line, np.float64), 1.0), prominence=prominence,
                          distance=4)
    return peaks


def _fft_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, np.float64)
    window = np.outer(np.hanning(image.shape[0]), np.hanning(image.shape[1]))
    return np.log(np.abs(np.fft.fftshift(np.fft.fft2((image - image.mean()) * window))) ** 2 + 1e-6)


def _show(ax, image, title, cmap="gray", vmin=0, vmax=65535):
    ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])


def _scale_bar(ax, shape: tuple[int, int], pixel_size_nm: float | None) -> None:
    """A white scale bar of a round length (about a fifth of the width) at the image's lower right."""
    if not pixel_size_nm:
        return
    h, w = shape
    target = 0.2 * w * pixel_size_nm
    length = max((v for v in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if v <= target), default=1)
    bar, margin = length / pixel_size_nm, 0.05 * w
    y = h - margin
    outline = [patheffects.withStroke(linewidth=1.5, foreground="black")]  # readable on bright images too
    ax.plot([w - margin - bar, w - margin], [y, y], color="white", lw=2.5, solid_capstyle="butt",
            path_effects=[patheffects.withStroke(linewidth=3.5, foreground="black")])
    ax.text(w - margin - bar / 2, y - 0.03 * h, f"{length:g} nm", color="white", ha="center", va="bottom",
            fontsize=6, fontweight="bold", path_effects=outline)


def _fft_limits(images: dict[str, np.ndarray]) -> tuple[float, float]:
    """One colour scale for every spectrum of a figure (5th to 99.9th percentile over all of them).

    Shared, so that a reader compares the methods' noise and detail levels, not per-panel contrast.
    """
    spectra = [_fft_image(image) for image in images.values()]
    return (float(min(np.percentile(s, 5) for s in spectra)), float(max(np.percentile(s, 99.9) for s in spectra)))


def _fft_panel(ax, image: np.ndarray, pixel_size_nm: float | None, label: bool,
               limits: tuple[float, float] | None = None):
    """The log power spectrum with frequency axes (um^-1 when the pixel size is known); returns the image."""
    spectrum = _fft_image(image)
    nyquist = 1000.0 / (2 * pixel_size_nm) if pixel_size_nm else 0.5
    vmin, vmax = limits or (np.percentile(spectrum, 5), np.percentile(spectrum, 99.9))
    shown = ax.imshow(spectrum, cmap="magma", vmin=vmin, vmax=vmax,
                      extent=[-nyquist, nyquist, -nyquist, nyquist], interpolation="nearest")
    ax.tick_params(labelsize=6)
    if label:
        unit = "µm⁻¹" if pixel_size_nm else "cycles/px"
        ax.set_xlabel(f"frequency ({unit})", fontsize=7)
        ax.set_ylabel(f"frequency ({unit})", fontsize=7)
    else:
        ax.set_xticklabels([])
        ax.set_yticklabels([])
    return shown


def _fft_colour_bar(fig, shown, axes) -> None:
    """A colour bar for the spectra of a figure, all drawn on one scale."""
    bar = fig.colorbar(shown, ax=list(axes), fraction=0.03, shrink=0.8, pad=0.02)
    bar.set_label("ln |F|² (Hann window)", fontsize=7)
    bar.ax.tick_params(labelsize=6)


def _image_spectrum_figure(images: dict[str, np.ndarray], pixel_size_nm: float | None, title: str,
                           extra_panel: bool = False):
    """Each image above its power spectrum, three images per row, 7 in wide (Figs. 2 and 4).

    Three per row keep thin lines visible in print. Returns the figure and, with
    ``extra_panel``, an axes in the space after the last image (or a row of its own when the
    last row is full).
    """
    names = list(images)
    ncol = min(3, len(names))
    blocks = -(-len(names) // ncol)
    free = blocks * ncol - len(names)
    own_row = extra_panel and free == 0
    height = (2 * blocks + own_row) * DOUBLE_COLUMN_IN / (ncol + 0.35) + 0.3
    fig = plt.figure(figsize=(DOUBLE_COLUMN_IN, height), layout="constrained")
    grid = fig.add_gridspec(2 * blocks + own_row, ncol)
    limits = _fft_limits(images)
    spectra = []
    for k, name in enumerate(names):
        block, col = divmod(k, ncol)
        ax = fig.add_subplot(grid[2 * block, col])
        _show(ax, images[name], f"({chr(97 + k)}) {name}")
        if k == 0:
            _scale_bar(ax, images[name].shape, pixel_size_nm)
        ax = fig.add_subplot(grid[2 * block + 1, col])
        shown = _fft_panel(ax, images[name], pixel_size_nm, label=k == 0, limits=limits)
        spectra.append(ax)
    _fft_colour_bar(fig, shown, spectra)
    fig.suptitle(title)
    extra = None
    if extra_panel:
        extra = fig.add_subplot(grid[-1, :] if own_row else grid[2 * blocks - 2:, ncol - free:])
    return fig, extra


def _mark_dips(ax, dips, x0=0):
    for d in dips:
        ax.axvspan(x0 + d - 1.5, x0 + d + 1.5, color="lightblue", alpha=0.5, lw=0)


@publication_style
def fig1(dcfi_raw: np.ndarray, slow_raw: np.ndarray, row_offset: int, slow_roi: list[int],
         corrected: dict[str, np.ndarray], fov: str, pixel_size_nm: float | None = None) -> plt.Figure:
    """The paper's Fig. 1: the scan distortion before and after correction.

    (a) overlay of rapid DCFI and slow before correction; (b, c) line profiles before/after
    correction with dislocation dips marked; (d-g) contours of a magnified region. Double
    column (7 in).

    Parameters
    ----------
    dcfi_raw, slow_raw : numpy.ndarray
        Normalised DCFI (rapid geometry) and slow scan, before correction.
    row_offset : int
        Rows between rapid and slow (``view.json``), to compare the same specimen line.
    slow_roi : list of int
        Covered region of the corrected images.
    corrected : dict
        ``{"rapid", "DCFI", "BM3D" (optional), "slow"}`` corrected images (one frame each).
    fov : str
        Test FOV shown.
    pixel_size_nm : float, optional
        The slow scan's pixel size: a scale bar on (a).
    """
    from stemdlf.workflow.figures import _rgb

    fig = plt.figure(figsize=(DOUBLE_COLUMN_IN, 5.0), layout="constrained")
    rows = fig.add_gridspec(2, 1, height_ratios=[1.2, 1.0])
    top = rows[0].subgridspec(1, 3, width_ratios=[1.25, 1.6, 1.0])
    ax = fig.add_subplot(top[0])
    ax.imshow(_rgb(slow_raw, dcfi_raw))
    _scale_bar(ax, slow_raw.shape, pixel_size_nm)
    ax.set_title(f"(a) {fov}, before correction")
    ax.set_xlabel("slow magenta, rapid DCFI green")
    ax.set_xticks([])
    ax.set_yticks([])
    slow = corrected["slow"]
    row = profile_row(slow)
    r0, _, c0, _ = slow_roi
    cols = np.arange(c0, c0 + slow.shape[1])
    dips = dislocation_dips(slow[row])
    raw_row = int(np.clip(row + r0 + round(row_offset), 0, dcfi_raw.shape[0] - 1))
    profile_axes = [fig.add_subplot(top[1])]
    profile_axes.append(fig.add_subplot(top[2], sharey=profile_axes[0]))
    for ax, (data, title) in zip(profile_axes, ((dcfi_raw[raw_row, cols], "(b) before correction"),
                                                (corrected["DCFI"][row], "(c) after"))):
        _mark_dips(ax, dips, c0)
        ax.plot(cols, slow[row] / 1000, color="C3", lw=0.8, label="slow")
        ax.plot(cols, data / 1000, color="C2", lw=0.8, label="rapid DCFI")
        ax.set_title(f"{title}, row {row + r0}")
        ax.set_xlabel("column (px)")
    profile_axes[0].set_ylabel("intensity (×10³; full scale 65.5)")
    profile_axes[1].tick_params(labelleft=False)
    profile_axes[0].legend(loc="lower right", frameon=False)
    size = min(48, slow.shape[0], slow.shape[1])
    y0 = int(np.clip(row - size // 2, 0, slow.shape[0] - size))
    x0 = int(np.clip((dips[len(dips) // 2] if len(dips) else slow.shape[1] // 2) - size // 2, 0, slow.shape[1] - size))
    levels = np.linspace(np.percentile(slow, 2), np.percentile(slow, 98), 8)
    contour_axes = []
    bottom = rows[1].subgridspec(1, 4)
    for k, name in enumerate(n for n in ("rapid", "DCFI", "BM3D", "slow") if n in corrected):
        ax = fig.add_subplot(bottom[k])
        contour_axes.append(ax)
        letter = chr(ord("d") + k)
        crop = ndimage.gaussian_filter(corrected[name][y0:y0 + size, x0:x0 + size].astype(float), 0.5)
        lines = ax.contour(crop, levels=levels, cmap="viridis", linewidths=0.7)
        ax.set_aspect("equal")
        ax.invert_yaxis()
        ax.set_title(f"({letter}) {name}")
        ax.set_xticks([])
        ax.set_yticks([])
    bar = fig.colorbar(lines, ax=contour_axes, fraction=0.03, shrink=0.85, pad=0.02)
    bar.set_label("contour level (counts)", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    fig.supxlabel(f"(d-{letter}): contours of the same {size}x{size} px region, {len(levels)} levels from the "
                  "2nd to the 98th percentile of the slow scan", fontsize=7)
    return fig


@publication_style
def fig2(images: dict[str, np.ndarray], fov: str, pixel_size_nm: float | None = None) -> plt.Figure:
    """Image grid (rapid, DCFI, slow, DLF-DCFI, DLF-Slow, ...) each with its power spectrum below.

    Double column (7 in), at most three images per row so that thin lines stay visible in print.
    """
    fig, _ = _image_spectrum_figure(images, pixel_size_nm,
                                    f"Test FOV {fov}, frame 0, each above its power spectrum (one colour scale)")
    return fig


@publication_style
def fig3(summary: pd.DataFrame, images: dict[str, np.ndarray], pixel_size_nm: float | None, fov: str,
         recommended: str | None = None, variants: list[str] | None = None) -> plt.Figure:
    """The paper's Fig. 3: PSNR per method, line profiles and FFT line profiles.

    (a) mean PSNR with sd for every method, coloured by family; (b) line profiles with dips
    marked, one above the other (each method offset) so that none hides another; (c) FFT line
    profiles. Sized for a double column (7 in wide, 8 pt text); (b) and (c) share one legend
    below them. ``recommended`` and ``variants`` set the bars' families (``stats_figure.method_family``).
    """
    from stemdlf.workflow.stats_figure import FAMILY_COLOURS, method_family

    fig = plt.figure(figsize=(DOUBLE_COLUMN_IN, 6.6), layout="constrained")
    axes = fig.subplot_mosaic([["a", "a"], ["b", "c"]], height_ratios=[1.0, 1.3])
    psnr = summary[summary["metric"] == "psnr"]
    ax = axes["a"]
    colours = [FAMILY_COLOURS[method_family(str(m), recommended, variants)] for m in psnr["method"]]
    ax.bar(range(len(psnr)), psnr["mean"], yerr=psnr["sd"].fillna(0), color=colours, capsize=2)
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c, label=f) for f, c in FAMILY_COLOURS.items()
                       if c in colours], loc="upper center", ncol=3, frameon=False)
    ax.set_xticks(range(len(psnr)), psnr["method"].astype(str), rotation=45, ha="right")
    high = float((psnr["mean"] + psnr["sd"].fillna(0)).max())
    ax.set_ylim(0, 1.3 * high)  # bars from 0 dB (lengths honest); headroom: the legend sits above them
    ax.set_ylabel("PSNR vs slow scan (dB)")
    ax.set_title("(a) PSNR, mean ± sd over test frames", loc="left")
    slow = images["slow"]
    row = profile_row(slow)
    _mark_dips(axes["b"], dislocation_dips(slow[row]))
    colours = method_colours(list(images))
    scale = 1000.0 / pixel_size_nm if pixel_size_nm else 1.0
    step = float(np.subtract(*np.percentile(slow[row], [98, 2]))) / 1000 * 0.9
    for k, (name, image) in enumerate(images.items()):
        color = colours[name]
        offset = (len(images) - 1 - k) * step  # the first method on top
        axes["b"].plot(image[row] / 1000 + offset, lw=0.7, label=name, color=color)
        axes["b"].text(len(image[row]) + 2, offset + float(np.median(image[row])) / 1000, name, color=color,
                       fontsize=6, va="center")
        freq, log_power = horizontal_spectrum(image)
        axes["c"].plot(freq * scale, ndimage.uniform_filter1d(log_power, 3), lw=0.9, label=name, color=color)
    axes["b"].set_xlim(0, len(slow[row]) * 1.22)  # room for the names at the right
    axes["b"].set_title(f"(b) line profiles, {fov} row {row}", loc="left")
    axes["b"].set_xlabel("column (px); light blue: dislocation dips")
    axes["b"].set_ylabel(f"intensity (10³ counts), each offset by {step:.0f}")
    axes["c"].set_title("(c) FFT line profiles (horizontal, Hann window)", loc="left")
    axes["c"].set_xlabel("spatial frequency (µm⁻¹)" if pixel_size_nm else "spatial frequency (cycles/px)")
    axes["c"].set_ylabel("ln |F|²")
    handles, labels = axes["c"].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 8), frameon=False)
    return fig


@publication_style
def fig4(images: dict[str, np.ndarray], pixel_size_nm: float | None, fov: str) -> plt.Figure:
    """Single-FOV variants (DLF-100 ... DLF-2500) and the slow scan, their spectra and FFT line profiles.

    Double column (7 in), three images per row; the FFT line profiles in the space after them.
    """
    fig, ax = _image_spectrum_figure(images, pixel_size_nm, f"Single-FOV training, tested on {fov}, frame 0",
                                     extra_panel=True)
    scale = 1000.0 / pixel_size_nm if pixel_size_nm else 1.0
    colours = method_colours(list(images))
    for name, image in images.items():
        freq, log_power = horizontal_spectrum(image)
        ax.plot(freq * scale, ndimage.uniform_filter1d(log_power, 3), lw=0.9, label=name, color=colours[name])
    ax.set_xlabel("spatial frequency (µm⁻¹)" if pixel_size_nm else "cycles/px")
    ax.set_ylabel("ln |F|²")
    ax.set_title(f"({chr(97 + len(images))}) FFT line profiles (horizontal)")
    ax.legend(frameon=False)
    return fig


@publication_style
def fig5(slow_x: np.ndarray, rapid_x: np.ndarray, true_rapid_x: np.ndarray | None, label: str) -> plt.Figure:
    """The distortion profile (paper Fig. 5d): rapid column minus slow column along the scan line.

    Single column (3.5 in).
    """
    fig, ax = plt.subplots(figsize=(SINGLE_COLUMN_IN, 2.5), layout="constrained")
    ax.plot(slow_x, rapid_x - slow_x, label=f"estimated ({label})")
    if true_rapid_x is not None:
        ax.plot(slow_x, true_rapid_x - slow_x, "k--", lw=1, label="true (simulator)")
    ax.set_xlabel("slow-scan column (px)")
    ax.set_ylabel("rapid - slow column (px)")
    ax.set_title("Scan distortion profile")
    ax.legend(frameon=False)
    return fig


def detail_region(reference: np.ndarray, size: int = 64) -> tuple[int, int]:
    """Top-left (row, col) of the ``size`` x ``size`` window with the most fine detail.

    Fine detail is the band-passed energy at dislocation scale of a reference image: where thin
    lines and loops are.
    """
    energy = ndimage.uniform_filter(bandpass(np.asarray(reference, np.float64), 1.0, 3.0) ** 2, size)
    h, w = energy.shape
    half = size // 2
    inner = energy[half:h - size + half + 1, half:w - size + half + 1]
    r, c = np.unravel_index(int(np.argmax(inner)), inner.shape)
    return int(r), int(c)


@publication_style
def crops(images: dict[str, np.ndarray], reference: str, pixel_size_nm: float | None, fov: str,
          size: int = 64) -> plt.Figure:
    """The same small region of every method's frame (and the truth), on one intensity scale.

    The region is the one with the most fine detail in ``images[reference]`` (the noise-free
    truth where there is one), so a reader sees which methods keep thin dislocations and small
    loops and which blur or lose them. A scale bar of 20 nm when the pixel size is known.
    """
    ref = images[reference]
    r, c = detail_region(ref, min(size, *ref.shape))
    region = (slice(r, r + size), slice(c, c + size))
    vmin, vmax = np.percentile(ref[region], [0.5, 99.5])
    names = list(images)
    ncol = min(5, len(names))
    nrow = -(-len(names) // ncol)
    width = DOUBLE_COLUMN_IN if ncol > 2 else SINGLE_COLUMN_IN
    fig, axes = plt.subplots(nrow, ncol, figsize=(width, (width / ncol + 0.25) * nrow + 0.2), squeeze=False,
                             layout="constrained")
    for k, ax in enumerate(axes.ravel()):
        if k >= len(names):
            ax.axis("off")
            continue
        _show(ax, images[names[k]][region], f"({chr(97 + k)}) {names[k]}", vmin=vmin, vmax=vmax)
        if k == 0:
            _scale_bar(ax, (size, size), pixel_size_nm)
    fig.suptitle(f"Test FOV {fov}, frame 0: rows {r}-{r + size}, columns {c}-{c + size} of the corrected grid")
    return fig
