"""The heatmap figure: one panel per head, the mask drawn over each."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ...trace import Crop, Trace, cells, select_heads
from .. import colors
from ..labels import head_label, shorten, strings, trace_line
from .base import (
    PRESETS,
    Panel,
    add_hidden_legend,
    auto_annotate,
    check_figure_options,
    colorbar,
    crop_texts_both,
    draw_panel,
    grid,
    grid_layout,
    panel_canvas,
    require_readable,
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
    crop: Crop | None = None,
) -> Iterator[Panel]:
    """One Panel per selected head; ``scale`` "fixed" maps [0, 1], "head" each panel's max.
    With ``crop``, only its queries and keys (the weights as computed on the whole text).

    A generator: a long text's panels (T² values each) are made one at a time, as drawn.
    """
    check_figure_options(scale=scale)
    rows, cols = cells(crop)
    hidden = ~trace.allowed[rows, cols]
    start = (crop.q0, crop.k0) if crop else (None, None)
    for h in heads:
        w = trace.weights[h, rows, cols]  # a view, in the run's dtype: no T x T copy
        title = head_label(trace.config, h, lang)
        yield Panel(h, title, w, hidden, limit=limit(w, scale), row0=start[0], col0=start[1])


def limit(weights: np.ndarray, scale: str) -> float:
    """The top of a panel's colour scale: 1 ("fixed"), or its largest weight ("head")."""
    top = float(weights.max(initial=0.0)) if scale == "head" else 1.0  # hidden weights are 0
    return top if top > 0 else 1.0


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
    crop: Crop | None = None,
) -> Figure:
    """A grid of per-head attention heatmaps with the mask drawn over them.

    ``heads`` selects heads (default all); ``scale`` "fixed" colours [0, 1], "head" stretches
    each panel to its own largest weight; ``annotate`` prints each weight (default: when
    T <= 12); ``title`` replaces the configuration line; ``crop`` shows only its queries
    and keys, and the title says which.
    """
    check_figure_options(theme=theme, preset=preset, scale=scale, labels=labels)
    chosen = select_heads(heads, trace.heads)
    texts = trace.texts
    heading = title if title is not None else trace_line(trace, lang, crop)
    s = strings(lang)
    allowed = trace.allowed[crop.queries, crop.keys] if crop else trace.allowed
    return panel_grid(
        prepare_heatmap(trace, chosen, scale, lang, crop),
        len(chosen),
        grid(len(chosen), PRESETS[preset].max_cols)[1],
        texts,
        crop_texts_both(texts, crop),
        max(allowed.shape),
        heading,
        s["weight_head_max"] if scale == "head" else s["weight"],
        not allowed.all(),
        annotate=annotate, cmap=cmap, theme=theme, preset=preset, lang=lang, labels=labels,
    )  # fmt: skip


def panel_grid(
    panels: Iterable[Panel],
    n_panels: int,
    cols: int,
    texts: Sequence[str],
    shown: Sequence[str],
    side: int,
    heading: str,
    bar_label: str,
    any_hidden: bool,
    *,
    annotate: bool | None,
    cmap: str,
    theme: str,
    preset: str,
    lang: str,
    labels: str,
    row_titles: Sequence[str] | None = None,
    panel_size: float | None = None,
) -> Figure:
    """Panels in a grid of ``cols`` columns, laid out from measured label widths, with the
    colour bar [0, 1] on the right and the title on top. ``shown``: the token texts on the
    axes (their widths decide the margins); ``side``: the larger of a panel's dimensions;
    ``row_titles``: a title left of each row instead of "query"; ``panel_size`` (inches)
    replaces the preset's."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    p = PRESETS[preset]
    if panel_size is not None and p.width is None:
        p = replace(p, panel=panel_size)
    s = strings(lang)
    colors.lut(cmap)  # an unknown colour map fails before any drawing
    rows = -(-n_panels // cols)
    T = len(texts)
    em = p.font / 72
    with rc_context(theme_rc(theme, p.font)):
        # measure the labels as they would be if every one fitted: thinning only shortens them
        widest = [f"{T - 1} {shorten(t)}" for t in shown] if T > 1 else [shorten(texts[0])]
        label_w = 0.0 if labels == "none" else text_width(widest, p.font * 0.85)
        box = grid_layout(p, rows, cols, label_w, label_w, 1)
        lines = wrap(heading, box.width * 72 / (0.6 * p.font * 1.1))  # now the width is known
        if "\n" in lines:
            box = grid_layout(p, rows, cols, label_w, label_w, lines.count("\n") + 1)
        require_readable(box.panel)
        if annotate is None:
            annotate = auto_annotate(p.font, box.panel * 72, side)
        fig = Figure(figsize=(box.width, box.height), dpi=p.dpi)
        canvas = panel_canvas(fig)  # one Axes for every panel: see draw_panel
        for n, panel in enumerate(panels):
            r, c = divmod(n, cols)
            draw_panel(
                canvas,
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
                query_title=row_titles[r] if row_titles else True,
                rect=box.panel_rect(r, c),
                name=f"panel {n}",
            )
        bar = fig.add_axes(box.colorbar_rect(em))
        colorbar(fig, bar, cmap, 0, 1, bar_label, cax=True)
        if any_hidden:
            add_hidden_legend(fig, theme, s["hidden"], p.font, "lower right")
        fig.suptitle(lines, y=1 - 0.5 * em / box.height, va="top", fontsize=p.font * 1.1)
    return fig


def model_figure(
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
) -> Figure:
    """The model view: every layer (rows) × every selected head (columns) of a checkpoint's
    run, small panels with the layer and the head on the edges (a seeded run has one layer);
    ``scale`` as in heatmap_figure."""
    check_figure_options(theme=theme, preset=preset, scale=scale, labels=labels)
    s = strings(lang)
    chosen = select_heads(heads, trace.heads)
    weights = trace.layer_weights  # (L,H,T,T)
    L, T = weights.shape[0], len(trace.tokens)
    hidden = ~trace.allowed
    panels = (
        Panel(
            h,
            head_label(trace.config, h, lang) if n == 0 else "",
            weights[n, h],
            hidden,
            limit=limit(weights[n, h], scale),
        )
        for n in range(L)
        for h in chosen
    )
    heading = title if title is not None else trace_line(trace, lang, every_layer=True)
    p = PRESETS[preset]
    return panel_grid(
        panels, L * len(chosen), len(chosen), trace.texts, trace.texts, T, heading,
        s["weight_head_max"] if scale == "head" else s["weight"], not trace.allowed.all(),
        annotate=annotate, cmap=cmap, theme=theme, preset=preset, lang=lang, labels=labels,
        row_titles=[s["layer"].format(n=n) for n in range(L)],
        panel_size=min(p.panel, max(0.7, 14 / len(chosen)), max(0.7, 9 / L)),
    )  # fmt: skip


def rollout_figure(
    trace: Trace,
    *,
    annotate: bool | None = None,
    cmap: str = colors.DEFAULT_CMAP,
    theme: str = "light",
    preset: str = "screen",
    title: str | None = None,
    lang: str = "en",
    labels: str = "auto",
) -> Figure:
    """The attention rollout of a run (``attnviz.rollout``) as one panel; cells no path of
    attention reaches (exactly 0) are drawn as hidden."""
    from ...stats import rollout

    check_figure_options(theme=theme, preset=preset, labels=labels)
    s = strings(lang)
    flow = rollout(trace.layer_weights)  # (T,T)
    L = trace.layer_weights.shape[0]
    panel = Panel(0, s["rollout_of"].format(n=L), flow, flow == 0)
    heading = title if title is not None else trace_line(trace, lang, every_layer=True)
    return panel_grid(
        [panel], 1, 1, trace.texts, trace.texts, len(trace.tokens), heading, s["rollout"],
        bool((flow == 0).any()),
        annotate=annotate, cmap=cmap, theme=theme, preset=preset, lang=lang, labels=labels,
    )  # fmt: skip
