"""The heatmap figure: one panel per head, the mask drawn over each."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ...trace import Crop, Trace
from ...views.generation import GenerationView
from ...views.heatmap import (
    HeatmapView,
    ModelView,
    RolloutView,
    heatmap_view,
    model_view,
    rollout_view,
)
from ...views.labels import strings
from ...views.panel import Panel, log_floor
from .draw import MaskMarks, add_hidden_legend, add_title, colorbar, draw_panel, panel_canvas
from .layout import (
    DEFAULT_STYLE,
    GridLayout,
    Style,
    auto_annotate,
    crop_texts_both,
    fitted_labels,
    grid,
    grid_layout,
    require_readable,
    text_width,
    theme_rc,
    wrap,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def heatmap_figure(
    trace: Trace,
    heads: Sequence[int] | None = None,
    *,
    scale: str = "fixed",
    lang: str = "en",
    crop: Crop | None = None,
    **style: Any,
) -> Figure:
    """A grid of per-head attention heatmaps with the mask drawn over them.

    ``heads`` selects heads (default all); ``scale`` "fixed" colours [0, 1], "head" stretches
    each panel to its own largest weight; ``crop`` shows only its queries and keys, and the
    title says which; ``style``: the keywords of ``Style`` (annotate, cmap, theme, preset,
    title, labels).
    """
    view = heatmap_view(trace, heads, crop=crop, scale=scale, lang=lang)
    return draw_heatmap(view, Style(**style))


def draw_heatmap(view: HeatmapView, style: Style = DEFAULT_STYLE) -> Figure:
    """The figure of a HeatmapView."""
    trace, crop, s = view.trace, view.crop, strings(view.lang)
    hidden, partly = view.masked()
    cross = trace.attention == "cross"  # the target's tokens down, the source's across
    measured = crop_texts_both(trace.texts, crop, trace.key_texts if cross else None)
    return panel_grid(
        view.panels(), len(view.heads), grid(len(view.heads), style.p.max_cols)[1], trace.texts,
        measured, view.side, view.title, bar_label(view, s), hidden,
        lang=view.lang, style=style, indexed=crop is not None or view.cell > 1, partly=partly,
        floor=log_floor(view.side) if view.shown_scale == "log" else None,
        axes=(s["target_query"], s["source_key"]) if cross else None,
    )  # fmt: skip


def bar_label(view: HeatmapView | ModelView, s: dict[str, str]) -> str:
    """The colour bar's label, by the view's scale."""
    return {"head": s["weight_head_max"], "log": s["weight_log"]}.get(view.shown_scale,
                                                                       s["weight"])  # fmt: skip


def panel_grid(
    panels: Iterable[Panel],
    n_panels: int,
    cols: int,
    texts: Sequence[str],
    axis_texts: Sequence[str],
    side: int,
    heading: str,
    bar_label: str,
    any_hidden: bool,
    *,
    lang: str,
    style: Style,
    row_titles: Sequence[str] | None = None,
    panel_size: float | None = None,
    indexed: bool = False,
    title_rows: int = 1,
    titles: Sequence[str] = (),
    gathered: bool = False,
    partly: bool = False,
    floor: float | None = None,
    axes: tuple[str, str] | None = None,
    into: Callable[[float, float], Any] | None = None,
) -> Figure:
    """Panels in a grid of ``cols`` columns, laid out from measured label widths, with the
    colour bar [0, 1] on the right and the title on top (the style's, or ``heading``).
    ``axis_texts``: the token texts on the axes (their widths decide the margins); ``side``: the
    larger of a panel's dimensions; ``row_titles``: a title left of each row instead of
    "query"; ``panel_size`` (inches) replaces the preset's; ``indexed``: the labels carry
    their indices (a crop's); ``title_rows``: the lines of the panels' titles (0: none);
    ``titles``: titles measured so that the panels are spread to keep them apart; ``cols`` 0:
    as many as give the largest panels on a page of fixed size (slides), else the preset's;
    ``gathered``: the masks of all panels drawn as one hatch and one outline (many panels);
    ``partly``: some pooled block is hidden in part (its mark gets a legend entry);
    ``floor``: the colour bar on a log scale from it to 1; ``axes``: the query and key
    titles when not "query" and "key" (cross-attention's target and source); ``into``: given
    the figure's width and height (inches), the figure (or a SubFigure) to draw on, or None
    to measure only (panel_grid then returns None)."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    heading = style.title if style.title is not None else heading
    p = style.p
    if panel_size is not None and p.width is None:
        p = replace(p, panel=panel_size)
    s, em = strings(lang), p.font / 72
    with rc_context(theme_rc(style.theme, p.font)):
        title_w = text_width(titles, p.font) if titles else 0.0

        def lay_out(lines: int, cols: int) -> GridLayout:
            def made(width: float) -> GridLayout:
                return grid_layout(p, -(-n_panels // cols), cols, width, width, lines,
                                   title_rows=title_rows, title_width=title_w)  # fmt: skip

            return fitted_labels(axis_texts, side, len(texts), p.font * 0.85, style.labels,
                                 indexed, made)[1]  # fmt: skip

        box, lines = _boxed(lay_out, heading, p, n_panels, cols)
        require_readable(box.panel, style.preset)
        if style.annotate is None:
            style = replace(style, annotate=auto_annotate(p.font, box.panel * 72, side))
        fig = Figure(figsize=(box.width, box.height), dpi=p.dpi) if into is None else \
            into(box.width, box.height)  # fmt: skip
        if fig is None:
            return None  # type: ignore[return-value]  # measured
        named = s if axes is None else {**s, "query": axes[0], "key": axes[1]}
        _draw_grid(fig, box, panels, n_panels, texts, style, p.font, named, row_titles, gathered)
        colorbar(fig, fig.add_axes(box.colorbar_rect(em)), style.cmap, floor or 0, 1, bar_label,
                 cax=True, log=floor is not None)  # fmt: skip
        if any_hidden or partly:
            add_hidden_legend(fig, style.theme, s["hidden"], p.font, "lower right",
                              s["partly"] if partly else None)  # fmt: skip
        add_title(fig, lines, p.font, box.height)
    return fig


def _boxed(lay_out: Any, heading: str, p: Any, n: int, cols: int) -> tuple[GridLayout, str]:
    """The layout of ``n`` panels in ``cols`` columns (0: on a page of fixed size, the columns
    that give the largest panels; else the preset's), and the heading wrapped to its width."""
    if cols == 0:
        fixed = p.width is not None and p.height is not None
        cols = grid(n, p.max_cols)[1] if not fixed else max(
            range(1, n + 1), key=lambda c: (lay_out(1, c).panel, -c))  # fmt: skip
    box = lay_out(1, cols)
    lines = wrap(heading, box.width * 72 / (0.6 * p.font * 1.1))  # now the width is known
    if "\n" in lines:
        box = lay_out(lines.count("\n") + 1, cols)
    return box, lines


def _draw_grid(
    fig: Figure, box: GridLayout, panels: Iterable[Panel], n_panels: int, texts: Sequence[str],
    style: Style, font: float, s: dict[str, str], row_titles: Sequence[str] | None,
    gathered: bool = False,
) -> None:  # fmt: skip
    """Each panel at its place in ``box``, all on one canvas (see draw_panel), the column labels
    under the last panel of each column; ``gathered``: the masks drawn at the end, together."""
    canvas, cols = panel_canvas(fig), box.cols
    marks = MaskMarks() if gathered else None
    for n, panel in enumerate(panels):
        r, c = divmod(n, cols)
        draw_panel(
            canvas, panel, texts, cmap=style.cmap, theme=style.theme, annotate=bool(style.annotate),
            font=font, axis_points=box.panel * 72, show_rows=c == 0,
            show_cols=n + cols >= n_panels, s=s, labels=style.labels,
            query_title=row_titles[r] if row_titles else True, rect=box.panel_rect(r, c),
            name=f"panel {n}", marks=marks,
        )  # fmt: skip
    if marks is not None:
        marks.draw(canvas, style.theme)


def model_figure(
    trace: Trace,
    heads: Sequence[int] | None = None,
    *,
    scale: str = "fixed",
    lang: str = "en",
    **style: Any,
) -> Figure:
    """The model view: every layer (rows) × every selected head (columns) of a checkpoint's
    run, small panels with the layer and the head on the edges (a seeded run has one layer);
    ``scale`` and ``style`` as in heatmap_figure."""
    return draw_model(model_view(trace, heads, scale=scale, lang=lang), Style(**style))


def draw_model(view: ModelView, style: Style = DEFAULT_STYLE,
               into: Callable[[float, float], Any] | None = None) -> Figure:  # fmt: skip
    """The figure of a ModelView (``into``: as panel_grid's)."""
    s, L, texts = strings(view.lang), view.layers, view.trace.texts
    hidden, partly = view.masked()
    cross = view.trace.attention == "cross"  # the target's tokens down, the source's across
    return panel_grid(
        view.panels(), L * len(view.heads), len(view.heads), texts,
        crop_texts_both(texts, None, view.trace.key_texts if cross else None),
        max(len(texts), view.trace.keys_count),
        view.title, bar_label(view, s), hidden, lang=view.lang, style=style, partly=partly,
        indexed=view.cell > 1, floor=log_floor(len(texts)) if view.shown_scale == "log" else None,
        row_titles=[s["layer"].format(n=n) for n in range(L)],
        titles=view.head_titles[1:],  # the first, "head 0", has the row labels' room on its left
        panel_size=min(style.p.panel, max(0.7, 14 / len(view.heads)), max(0.7, 9 / L)),
        gathered=True, axes=(s["target_query"], s["source_key"]) if cross else None, into=into,
    )  # fmt: skip


def rollout_figure(trace: Trace, *, lang: str = "en", **style: Any) -> Figure:
    """The attention rollout of a run (``attnviz.rollout``) as one panel; cells no path of
    attention reaches (exactly 0) are drawn as hidden; ``style`` as in heatmap_figure."""
    return draw_rollout(rollout_view(trace, lang=lang), Style(**style))


def draw_rollout(view: RolloutView, style: Style = DEFAULT_STYLE) -> Figure:
    """The figure of a RolloutView."""
    texts, panel = view.trace.texts, view.panel
    heading = f"{view.title}\n{panel.title}"  # wrapped to the figure, not held to the panel
    return panel_grid(
        [replace(panel, title="")], 1, 1, texts, texts, len(texts), heading,
        strings(view.lang)["rollout"], bool(panel.hidden.any()), lang=view.lang, style=style,
        title_rows=0,
    )  # fmt: skip


def draw_generation(view: GenerationView, style: Style = DEFAULT_STYLE) -> Figure:
    """The figure of a GenerationView: the heads over the whole sequence, the line between
    the prompt and the generated tokens drawn, their labels set apart; or (--layer all) a
    panel per head of one generated token's attention in every layer."""
    if not view.every_layer:
        titled = style if style.title is not None else replace(style, title=view.title)
        return draw_heatmap(view.whole, titled)
    s, panels, q = strings(view.lang), list(view.layer_panels()), view.query
    keys, L, n = view.keys_of(q), panels[0].weights.shape[0], len(panels)
    return panel_grid(
        panels, n, 0, keys, keys, max(L, len(keys)), view.title, s["weight"],
        bool(panels[0].hidden.any()), lang=view.lang, style=style,
        row_titles=[s["layer_word"]] * n, titles=[p.title for p in panels],
    )  # fmt: skip
