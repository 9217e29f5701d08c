"""The heatmap figure: one panel per head, the mask drawn over each."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from ...trace import Trace, Window, select_heads
from .. import colors
from ..labels import config_line, head_label, shorten, strings
from .base import (
    PRESETS,
    Panel,
    add_hidden_legend,
    auto_annotate,
    check_figure_options,
    colorbar,
    draw_panel,
    grid,
    grid_layout,
    text_width,
    theme_rc,
    wrap,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def prepare_heatmap(
    trace: Trace,
    heads: Sequence[int],
    scale: str,
    lang: str = "en",
    window: Window | None = None,
) -> Iterator[Panel]:
    """One Panel per selected head; ``scale`` "fixed" maps [0, 1], "head" each panel's max.
    With ``window``, only its queries and keys (the weights as computed on the whole text).

    A generator: a long text's panels (T² values each) are made one at a time, as drawn.
    """
    check_figure_options(scale=scale)
    rows, cols = (window.queries, window.keys) if window else (slice(None), slice(None))
    hidden = ~trace.allowed[rows, cols]
    start = (window.q0, window.k0) if window else (None, None)
    for h in heads:
        w = trace.weights[h, rows, cols]  # a view, in the run's dtype: no T x T copy
        top = float(w.max(initial=0.0)) if scale == "head" else 1.0  # hidden weights are 0
        title = head_label(trace.config, h, lang)
        limit = top if top > 0 else 1.0
        yield Panel(h, title, w, hidden, limit=limit, row0=start[0], col0=start[1])


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
    labels: str = "auto",
    window: Window | None = None,
) -> Figure:
    """A grid of per-head attention heatmaps with the mask drawn over them.

    ``heads`` selects heads (default all); ``scale`` "fixed" colours [0, 1], "head" stretches
    each panel to its own largest weight; ``annotate`` prints each weight (default: when
    T <= 12); ``title`` replaces the configuration line; ``window`` shows only its queries
    and keys, and the title says which.
    """
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    check_figure_options(theme=theme, preset=preset, scale=scale, labels=labels)
    p = PRESETS[preset]
    s = strings(lang)
    chosen = select_heads(heads, trace.config.heads)
    panels = prepare_heatmap(trace, chosen, scale, lang, window)
    n_panels = len(chosen)
    colors.lut(cmap)  # an unknown colour map fails before any drawing
    rows, cols = grid(n_panels, p.max_cols)
    texts = trace.texts
    T = len(texts)
    heading = (
        title if title is not None else config_line(trace.config, lang, trace.truncated, T, window)
    )
    em = p.font / 72
    shown = [t for a in (window.queries, window.keys) for t in texts[a]] if window else texts
    allowed = trace.allowed[window.queries, window.keys] if window else trace.allowed
    with rc_context(theme_rc(theme, p.font)):
        # measure the labels as they would be if every one fitted: thinning only shortens them
        widest = [f"{T - 1} {shorten(t)}" for t in shown] if T > 1 else [shorten(texts[0])]
        label_w = 0.0 if labels == "none" else text_width(widest, p.font * 0.85)
        box = grid_layout(p, rows, cols, label_w, label_w, 1)
        lines = wrap(heading, box.width * 72 / (0.6 * p.font * 1.1))  # now the width is known
        if "\n" in lines:
            box = grid_layout(p, rows, cols, label_w, label_w, lines.count("\n") + 1)
        if annotate is None:
            annotate = auto_annotate(p.font, box.panel * 72, max(allowed.shape))
        fig = Figure(figsize=(box.width, box.height), dpi=p.dpi)
        axes = []
        for n, panel in enumerate(panels):
            r, c = divmod(n, cols)
            ax = fig.add_axes(box.panel_rect(r, c))
            draw_panel(
                ax,
                panel,
                texts,
                cmap=cmap,
                theme=theme,
                annotate=annotate,
                font=p.font,
                axis_points=box.panel * 72,
                show_rows=c == 0,
                show_cols=n + cols >= n_panels,  # the last panel of its column
                s=s,
                labels=labels,
            )
            axes.append(ax)
        bar = fig.add_axes(box.colorbar_rect(em))
        label = s["weight_head_max"] if scale == "head" else s["weight"]
        colorbar(fig, bar, cmap, 0, 1, label, cax=True)
        if not allowed.all():
            add_hidden_legend(fig, theme, s["hidden"], p.font, "lower right")
        fig.suptitle(lines, y=1 - 0.5 * em / box.height, va="top", fontsize=p.font * 1.1)
    return fig
