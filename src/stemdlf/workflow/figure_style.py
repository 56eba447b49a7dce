"""Sizes and text of every figure: journal column widths and print-sized fonts.

Every figure function of :mod:`stemdlf.workflow.paper_figures`, :mod:`stemdlf.workflow.figures` and
:mod:`stemdlf.workflow.stats_figure` draws at one of the two widths, inside :func:`publication_style`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import matplotlib.pyplot as plt

__all__ = ["SINGLE_COLUMN_IN", "DOUBLE_COLUMN_IN", "PUBLICATION_RC", "publication_style", "method_colours"]

#: Widths of a journal's single and double column (inches): every figure is drawn at one of them.
SINGLE_COLUMN_IN = 3.5
DOUBLE_COLUMN_IN = 7.0

#: Text sizes for print at those widths: 8 pt text, 7 pt ticks and legends.
PUBLICATION_RC = {"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7,
                  "xtick.labelsize": 7, "ytick.labelsize": 7, "figure.titlesize": 8, "figure.labelsize": 7}


def publication_style(draw: Callable[..., plt.Figure]) -> Callable[..., plt.Figure]:
    """Draw a figure with :data:`PUBLICATION_RC` (a decorator for the figure functions)."""

    @functools.wraps(draw)
    def styled(*args, **kwargs) -> plt.Figure:
        with plt.rc_context(PUBLICATION_RC):
            return draw(*args, **kwargs)

    return styled


def method_colours(names: list[str]) -> dict[str, str]:
    """One line colour per method of a plot: the slow scan red (``C3``), the others the rest of the cycle."""
    others = iter(f"C{k}" for k in (0, 1, 2, 4, 5, 6, 7, 8, 9) * (len(names) // 9 + 1))
    return {name: "C3" if name == "slow" else next(others) for name in names}
