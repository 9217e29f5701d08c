"""The comparison figure: per head, run A, run B and B − A; below, the output difference."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ...stats import Comparison
from ...trace import Crop
from ...views.compare import CompareView, compare_view
from ...views.labels import strings
from ...views.panel import Panel
from .draw import add_hidden_legend, add_title, colorbar, draw_panel, panel_canvas
from .layout import (
    DEFAULT_STYLE,
    GridLayout,
    Preset,
    Style,
    auto_annotate,
    crop_texts_both,
    fitted_labels,
    grid_layout,
    require_readable,
    text_width,
    theme_rc,
    tick_labels,
    wrap,
    wrap_to,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DIVERGING_CMAP = "RdBu_r"  # blue below 0, red above: B put less / more weight than A


def bars_height(p: Preset) -> float:
    """The output difference's bars, in panel heights: less on a page of fixed height (a
    slide), where the heatmaps should take the room."""
    return 0.8 if p.height is None else 0.45


def compare_figure(
    cmp: Comparison,
    heads: Sequence[int] | None = None,
    *,
    lang: str = "en",
    crop: Crop | None = None,
    **style: Any,
) -> Figure:
    """Rows of A | B | B − A per selected head, then a bar per token of ‖output_A − output_B‖.
    With ``crop``, only its queries and keys (and the bars of its queries); ``style`` as in
    heatmap_figure."""
    return draw_compare(compare_view(cmp, heads, crop=crop, lang=lang), Style(**style))


def draw_compare(view: CompareView, style: Style = DEFAULT_STYLE) -> Figure:
    """The figure of a CompareView."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    p, s, crop = style.p, strings(view.lang), view.crop
    theme, labels, annotate = style.theme, style.labels, style.annotate
    panels = _narrow_titles(view.panels(), p)
    texts = view.cmp.a.texts
    axis_texts = crop_texts_both(texts, crop)
    heading = style.title if style.title is not None else view.title
    summary = view.summary_line()
    em = p.font / 72
    rows = len(view.heads)
    with rc_context(theme_rc(theme, p.font)):
        titles = [line for panel in panels for line in panel.title.split("\n")]
        title_w = text_width(titles, p.font)
        title_rows = max(panel.title.count("\n") + 1 for panel in panels)

        def lay_out(
            title_lines: int, summary_lines: int, flat: bool = False
        ) -> Callable[[float], GridLayout]:
            def made(label_w: float) -> GridLayout:
                # under the grid: the bars' title, the bars, their labels (upright, or flat
                # where they fit), the summary (the legend line of grid_layout is its last)
                bar_labels = 1.3 * em if flat else label_w
                below = 1.6 * em + bar_labels + 0.6 * em + 1.3 * em * (summary_lines - 1)
                return grid_layout(p, rows, 3, label_w, label_w, title_lines, title_rows=title_rows,
                                   bars=2, below=below, below_panels=bars_height(p),
                                   title_width=title_w)  # fmt: skip

            return made

        side = max(panels[0].weights.shape)
        fit = functools.partial(fitted_labels, axis_texts, side, len(texts), p.font * 0.85,
                                labels, crop is not None)  # fmt: skip
        box = fit(lay_out(1, 1))[1]
        flat = _flat_labels(view, box, style)
        # from the panels' left edge, the summary stays clear of the legend in the lower right
        legend = (len(s["hidden"]) * 0.6 * 0.85 + 3) * p.font / 72
        summary = wrap_to(summary, box.width - box.left - legend - em, p.font)
        lines = wrap(heading, box.width * 72 / (0.6 * p.font * 1.1))
        label_w, box = fit(lay_out(lines.count("\n") + 1, summary.count("\n") + 1, flat))
        require_readable(box.panel, style.preset)
        if annotate is None:  # one size of numbers in all three panels: B − A's signed ones
            annotate = auto_annotate(p.font, box.panel * 72, side, chars=4)
        fig = Figure(figsize=(box.width, box.height), dpi=p.dpi)
        _draw_panels(fig, box, view, panels, replace(style, annotate=annotate))
        _output_bars(fig, box, view, label_w, style, flat)
        if any(panel.hidden.any() for panel in panels):
            add_hidden_legend(fig, theme, s["hidden"], p.font, "lower right")
        add_title(fig, lines, p.font, box.height)
        fig.text(box.left / box.width, 0.5 * em / box.height, summary, ha="left",
                 va="bottom", gid="summary")  # fmt: skip
    return fig


def _narrow_titles(panels: list[Panel], p: Preset) -> list[Panel]:
    """On a page of fixed width, panel titles whose first line would make three columns wider
    than the page (a planted head's name beside an unscaled run's mask) break it at " · "."""
    if p.width is None:
        return panels
    first = [panel.title.split("\n")[0] for panel in panels]
    if 3 * text_width(first, p.font) <= 0.7 * p.width:
        return panels
    return [replace(panel, title=panel.title.replace(" · ", "\n", 1)) for panel in panels]


def _draw_panels(
    fig: Figure, box: GridLayout, view: CompareView, panels: Sequence[Panel], style: Style
) -> None:
    """A, B and B − A of each head at their places in ``box``, on one canvas (see draw_panel),
    and the two colour bars: the weights', the differences'."""
    p, s, texts, em = style.p, strings(view.lang), view.cmp.a.texts, style.p.font / 72
    canvas, rows, top = panel_canvas(fig), len(view.heads), view.difference_limit
    for n, panel in enumerate(panels):
        r, c = divmod(n, 3)
        draw_panel(
            canvas, panel, texts, cmap=DIVERGING_CMAP if panel.signed else style.cmap,
            theme=style.theme, annotate=bool(style.annotate), font=p.font,
            axis_points=box.panel * 72, show_rows=c == 0, show_cols=r == rows - 1, s=s,
            labels=style.labels, rect=box.panel_rect(r, c), name=f"panel {n}", number_chars=4,
        )  # fmt: skip
    colorbar(fig, fig.add_axes(box.colorbar_rect(em, 0)), style.cmap, 0, 1, s["weight"], cax=True)
    colorbar(fig, fig.add_axes(box.colorbar_rect(em, 1)), DIVERGING_CMAP, -top, top,
             s["weight_difference"], cax=True)  # fmt: skip


def _bars_width(box: GridLayout, em: float) -> float:
    """The output difference's bars span the panels and the first colour bar (inches)."""
    return box.grid_w + box.overhang + 8.8 * em


def _flat_labels(view: CompareView, box: GridLayout, style: Style) -> bool:
    """Whether the bars' labels fit side by side, each within its bar's room (they are
    upright else)."""
    p, crop = style.p, view.crop
    texts = view.cmp.a.texts[crop.queries if crop else slice(None)]
    width = _bars_width(box, p.font / 72) * 72
    labels = tick_labels(
        texts, width * 0.8, p.font * 0.85, style.labels, crop.q0 if crop else None
    )[1]
    room = width / max(len(texts), 1) / 72
    return len(labels) == len(texts) and text_width(labels, p.font * 0.85) <= 0.85 * room


def _output_bars(
    fig: Figure, box: GridLayout, view: CompareView, label_w: float, style: Style, flat: bool
) -> None:
    """Under the panels and the first colour bar: ‖output_A − output_B‖ per query shown, the
    labels ``flat`` or upright."""
    p, crop = style.p, view.crop
    em = p.font / 72
    top = box.top + box.grid_h + label_w + 0.4 * em + 1.6 * em + 1.6 * em
    width = _bars_width(box, em)
    tall = bars_height(p) * box.panel
    bars = fig.add_axes((box.left / box.width, 1 - (top + tall) / box.height,
                         width / box.width, tall / box.height))  # fmt: skip
    texts = view.cmp.a.texts[crop.queries if crop else slice(None)]
    _draw_output_difference(bars, view.output_difference, texts, p.font, width * 72,
                            style.labels, crop.q0 if crop else None, flat)  # fmt: skip
    bars.set_title(strings(view.lang)["output_difference"], fontsize=p.font)


def _draw_output_difference(
    ax: object,
    values: np.ndarray,
    texts: Sequence[str],
    font: float,
    axis_points: float,
    labels: str = "auto",
    start: int | None = None,
    flat: bool = False,
) -> None:
    """Bars of ‖output_A[i] − output_B[i]‖, each labelled with its value while they fit
    (the queries of a window from index ``start``); the token labels ``flat`` or upright."""
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    T = len(values)
    rects = ax.bar(range(T), values, color="#5b8fc7", width=0.7)
    if T <= 24:  # a zero bar is invisible: its printed 0.00 says "no change" (causal vs none)
        ax.bar_label(rects, fmt="%.2f", fontsize=font * 0.75, padding=2)
    xs, xl = tick_labels(texts, axis_points * 0.8, font * 0.85, labels, start)
    ax.set_xticks(xs, xl, rotation=0 if flat else 90, fontsize=font * 0.85)
    ax.set_xlim(-0.6, T - 0.4)
    ax.set_ylim(0, float(values.max(initial=0.0)) * 1.25 or 1.0)
    ax.tick_params(length=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
