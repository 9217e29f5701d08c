"""The heatmap figure: one panel per head, the mask drawn over each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ...trace import Trace, select_heads
from .. import colors
from ..labels import config_line, strings
from .base import (
    PRESETS,
    Panel,
    add_hidden_legend,
    add_title,
    annotation_size,
    check_figure_options,
    colorbar,
    draw_panel,
    grid,
    layout,
    theme_rc,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def prepare_heatmap(
    trace: Trace, heads: Sequence[int], scale: str, lang: str = "en"
) -> list[Panel]:
    """One Panel per selected head; ``scale`` "fixed" maps [0, 1], "head" each panel's max."""
    check_figure_options(scale=scale)
    s = strings(lang)
    hidden = ~trace.allowed
    panels = []
    for h in heads:
        w = trace.weights[h].astype(np.float64)
        top = w[~hidden].max(initial=0.0) if scale == "head" else 1.0
        color = np.where(hidden, np.nan, w / top if top > 0 else w)
        panels.append(Panel(h, f"{s['head']} {h}", w, color, hidden))
    return panels


def heatmap_figure(
    trace: Trace,
    heads: str | Sequence[int] | None = None,
    *,
    scale: str = "fixed",
    annotate: bool | None = None,
    cmap: str = colors.DEFAULT_CMAP,
    theme: str = "light",
    preset: str = "screen",
    title: str | None = None,
    lang: str = "en",
) -> Figure:
    """A grid of per-head attention heatmaps with the mask drawn over them.

    ``heads`` selects heads (default all); ``scale`` "fixed" colours [0, 1], "head" stretches
    each panel to its own largest weight; ``annotate`` prints each weight (default: when
    T <= 12); ``title`` replaces the configuration line.
    """
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    check_figure_options(theme=theme, preset=preset, scale=scale)
    p = PRESETS[preset]
    s = strings(lang)
    chosen = select_heads(heads, trace.config.heads)
    panels = prepare_heatmap(trace, chosen, scale, lang)
    colors.lut(cmap)  # an unknown colour map fails before any drawing
    rows, cols = grid(len(panels), p.max_cols)
    width, height, panel_in = layout(p, rows, cols, trace.texts)
    T = len(trace.tokens)
    if annotate is None:  # numbers only where they are few and large enough to read
        annotate = T <= 12 and annotation_size(p.font, panel_in * 72, T) >= 4.5
    heading = (
        title
        if title is not None
        else config_line(trace.config, lang, trace.truncated, len(trace.tokens))
    )
    with rc_context(theme_rc(theme, p.font)):
        fig = Figure(figsize=(width, height), dpi=p.dpi, layout="constrained")
        axes = fig.subplots(rows, cols, squeeze=False)
        texts = trace.texts
        for n, ax in enumerate(axes.flat):
            if n >= len(panels):
                ax.set_axis_off()
                continue
            c = n % cols
            last_in_col = n + cols >= len(panels)
            draw_panel(
                ax,
                panels[n],
                texts,
                cmap=cmap,
                theme=theme,
                annotate=annotate,
                font=p.font,
                axis_points=panel_in * 72,
                show_rows=c == 0,
                show_cols=last_in_col,
                s=s,
            )
        colorbar(fig, axes, cmap, 0, 1, s["weight_head_max"] if scale == "head" else s["weight"])
        if any(panel.hidden.any() for panel in panels):
            add_hidden_legend(fig, theme, s["hidden"], p.font, "outside lower right")
        add_title(fig, heading, width, p.font)
    return fig
