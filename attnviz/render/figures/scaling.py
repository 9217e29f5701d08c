"""The scaling lesson's figure: the variance of the scores, the softmax's entropy and the norm
of its Jacobian against d_k (log scale), unscaled and scaled, with the theory and the
paper's d_k = 64 marked."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...errors import ConfigError
from ...views.labels import strings
from ...views.scaling import ScalingView
from .draw import add_title
from .layout import DEFAULT_STYLE, Style, theme_rc, wrap_to

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PANELS = ("variance", "entropy", "jacobian")
COLOURS = {"unscaled": "#d55e00", "scaled": "#0072b2"}  # Okabe-Ito: told apart by everyone
PAPER_DK = 64


def draw_scaling(view: ScalingView, style: Style = DEFAULT_STYLE) -> Figure:
    """Three panels side by side (one above the other on a paper's column)."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    if style.annotate is not None or style.labels != "auto":
        raise ConfigError("the scaling figure draws lines: it takes no annotate or labels")
    p, s = style.p, strings(view.lang)
    tall = style.preset == "paper"
    width = p.width or 11.0
    height = p.height or (7.2 if tall else 4.2)
    em = p.font / 72
    with rc_context(theme_rc(style.theme, p.font)):
        fig = Figure(figsize=(width, height), dpi=p.dpi)
        heading = wrap_to(style.title if style.title is not None else view.title,
                          width - 2 * em, p.font * 1.1)  # fmt: skip
        caption = wrap_to(s["scaling_caption"], width - 2 * em, p.font * 0.9, " ")
        top = 0.5 * em + (heading.count("\n") + 1) * 1.45 * em + 2.2 * em  # and panel titles
        legend_rows = 2 if tall else 1  # a column of paper holds two entries a row
        below = (caption.count("\n") + 1) * 1.3 * em + 0.8 * em
        bottom = below + legend_rows * 1.8 * em + 4.4 * em  # the legend and the d_k axis
        rows, cols = (3, 1) if tall else (1, 3)
        grid = fig.add_gridspec(rows, cols, left=3.6 * em / width, right=1 - 0.8 * em / width,
                                top=1 - top / height, bottom=bottom / height,
                                wspace=0.38, hspace=0.55)  # fmt: skip
        for n, measure in enumerate(PANELS):
            _panel(fig.add_subplot(grid[n // cols, n % cols]), view, measure, p.font)
        handles, labels = fig.axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=4 // legend_rows, frameon=False,
                   bbox_to_anchor=(0.5, below / height), fontsize=p.font * 0.9)  # fmt: skip
        fig.text(0.5, 0.4 * em / height, caption, ha="center", va="bottom",
                 fontsize=p.font * 0.9)  # fmt: skip
        add_title(fig, heading, p.font, height)
    return fig


def _panel(ax: Axes, view: ScalingView, measure: str, font: float) -> None:
    """One measure against d_k: a line each for unscaled and scaled, the theory for the
    variance (d_k and 1), the paper's d_k marked."""
    s, w = strings(view.lang), view.sweep
    dks = np.array(w.dks, dtype=float)
    for name, values in (("unscaled", w.unscaled), ("scaled", w.scaled)):
        ax.plot(dks, values[measure], marker="o", markersize=font * 0.35, linewidth=font / 6,
                color=COLOURS[name], label=s[name])  # fmt: skip
    if measure == "variance":  # broad and pale, under the measured lines that lie on them
        ax.plot(dks, dks, linewidth=font * 0.6, color=COLOURS["unscaled"], alpha=0.25,
                solid_capstyle="round", zorder=1, label=f"{s['theory']}: d_k, 1")  # fmt: skip
        ax.plot(dks, np.ones_like(dks), linewidth=font * 0.6, color=COLOURS["scaled"],
                alpha=0.25, solid_capstyle="round", zorder=1)  # fmt: skip
    if measure in ("variance", "jacobian"):
        ax.set_yscale("log")
    ax.axvline(PAPER_DK, color="#888888", linestyle=":", linewidth=1.2, label=s["paper_dk"])
    ax.set_xscale("log", base=2)
    ax.set_xticks(dks, [str(d) for d in w.dks])
    ax.tick_params(axis="x", which="minor", bottom=False)
    ax.set_xlabel("d_k")
    ax.set_title(s[f"s_{measure}"], fontsize=font)
    ax.tick_params(labelsize=font * 0.8)
