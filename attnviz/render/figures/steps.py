"""The steps figure: the computation of one head, a numbered panel per stage, in order."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ...trace import Crop, Trace
from ...views.heatmap import key_names
from ...views.labels import strings
from ...views.panel import Panel
from ...views.steps import Stage, StepsView, steps_view
from .compare import DIVERGING_CMAP
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
    wrap,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def formula_lines(formula: str, max_chars: float) -> list[str]:
    """A stage's formula on lines of at most ``max_chars``, broken only where it reads as
    two: after a comma, then after "="; a part with no such place stays whole."""
    if len(formula) <= max_chars:
        return [formula]
    lines: list[str] = []
    for part in formula.replace(", ", ",\n").split("\n"):
        left, eq, right = part.partition(" = ")
        lines += [left + " =", right] if eq and len(part) > max_chars else [part]
    return lines


def stage_title(stage: Stage, max_chars: float) -> str:
    """ "2. attention scores" over its formula, each on lines of at most ``max_chars``; the
    formula is broken only where it reads as two (``formula_lines``)."""
    name = textwrap.wrap(f"{stage.number}. {stage.name}", max(int(max_chars), 12))
    return "\n".join([*name, *formula_lines(stage.formula, max_chars)])


def stage_panel(stage: Stage, head: int, title: str = "",
                keys: tuple[str, ...] | None = None) -> Panel:  # fmt: skip
    """A T x T stage as a Panel: weights on [0, 1], signed stages on a symmetric scale;
    ``keys``: the keys' tokens when they are not the queries' (cross-attention's source), the
    rows of K and V and the columns of the T x S stages."""
    values = stage.values.astype(np.float64)
    hidden = np.zeros(values.shape, dtype=bool) if stage.hidden is None else stage.hidden
    title = title or f"{stage.number}. {stage.name}\n{stage.formula}"
    rows, cols = (keys, None) if stage.keys else (None, keys)
    if stage.kind == "weights":
        return Panel(head, title, values, hidden, row0=stage.row0, col0=stage.col0,
                     row_names=rows, key_names=cols)  # fmt: skip
    top = max(float(np.abs(values[~hidden]).max(initial=0.0)), 1e-12)
    signed = np.where(hidden, 0.0, values)
    return Panel(head, title, signed, hidden, top, True, stage.row0, stage.col0,
                 row_names=rows, key_names=cols)  # fmt: skip


def steps_figure(
    trace: Trace,
    head: int = 0,
    *,
    lang: str = "en",
    crop: Crop | None = None,
    **style: Any,
) -> Figure:
    """Every stage of head ``head`` (Q, K, V, scores, scaled, masked, weights, head output,
    concat, output), numbered, left to right and top to bottom; with ``crop``, the part of
    each stage that it shows; ``style`` as in heatmap_figure."""
    return draw_steps(steps_view(trace, head, crop=crop, lang=lang), Style(**style))


def draw_steps(view: StepsView, style: Style = DEFAULT_STYLE) -> Figure:
    """The figure of a StepsView: a panel per stage, each with its key labels, its shape and
    its colour bar, on one canvas laid out from measured widths; rows are labelled on the
    left, and on every panel when a crop gives the keys' rows other tokens than the queries'."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    p, s, stages, crop = _preset(style), strings(view.lang), view.stages, view.crop
    texts = view.trace.texts
    # every stage labels its rows where the figure can grow to hold them (screen), and where a
    # crop gives the keys' rows other tokens than the queries'
    own_rows = p.width is None or (crop is not None and (crop.k0, crop.k1) != (crop.q0, crop.q1))
    keys = key_names(view.trace)  # cross-attention: K, V and the columns are the source's
    own_rows = own_rows or keys is not None
    em = p.font / 72
    with rc_context(theme_rc(style.theme, p.font)):
        box, titles = _steps_layout(view, style, own_rows)
        heading = style.title if style.title is not None else view.title
        lines = wrap(heading, box.width * 72 / (0.6 * p.font * 1.1))
        if "\n" in lines:
            box, titles = _steps_layout(view, style, own_rows, lines.count("\n") + 1)
        require_readable(box.panel, style.preset)
        annotate = style.annotate
        if annotate is None:
            side = max(crop.q1 - crop.q0, crop.k1 - crop.k0) if crop else len(texts)
            annotate = auto_annotate(p.font, box.panel * 72, side)
        fig = Figure(figsize=(box.width, box.height), dpi=p.dpi)
        canvas = panel_canvas(fig)
        for n, (stage, title) in enumerate(zip(stages, titles, strict=True)):
            r, c = divmod(n, box.cols)
            panel = stage_panel(stage, view.head, title, keys)
            shape = " × ".join(str(d) for d in stage.shape)
            draw_panel(
                canvas, panel, texts, cmap=DIVERGING_CMAP if panel.signed else style.cmap,
                theme=style.theme, annotate=annotate and stage.kind == "weights", font=p.font,
                axis_points=box.panel * 72, show_rows=own_rows or c == 0, show_cols=True, s=s,
                query_title=(s["key"] if stage.keys else True) if c == 0 else False,
                key_title=f"({shape})", title_size=p.font * 0.85, labels=style.labels,
                rect=box.panel_rect(r, c), name=f"panel {n}", numbered=stage.kind == "matrix",
            )  # fmt: skip
            lo, hi = (-panel.limit, panel.limit) if panel.signed else (0.0, 1.0)
            bar = colorbar(fig, fig.add_axes(box.panel_bar_rect(r, c, em)),
                           DIVERGING_CMAP if panel.signed else style.cmap, lo, hi, "", cax=True)  # fmt: skip
            bar.ax.tick_params(labelsize=p.font * 0.7)
        if any(stage.hidden is not None and stage.hidden.any() for stage in stages):
            add_hidden_legend(fig, style.theme, s["hidden"] + " (−∞)", p.font, "lower right")
        add_title(fig, lines, p.font, box.height)
    return fig


def _preset(style: Style) -> Preset:
    """The style's preset; on a slide (a fixed size) its text at 0.8 of the size, so that ten
    stages with their titles, labels and bars leave their panels room."""
    p = style.p
    return p if p.height is None else replace(p, font=0.8 * p.font)


def _steps_layout(
    view: StepsView, style: Style, own_rows: bool, title_lines: int = 1
) -> tuple[GridLayout, list[str]]:
    """The grid of the stages and their titles, each broken to the room it has: of the
    column counts that fit the preset (2 in a paper column, 5 on a screen, up to 6 on a
    slide), the one with the largest panels. The token labels read whole where every one fits (``fitted_labels``)."""
    p = _preset(style)
    size = p.font * 0.85
    if p.width is None:  # a stage's panel beside its labels and bar: smaller than a head's
        p = replace(p, panel=0.75 * p.panel)
    texts, n, crop = view.trace.texts, len(view.stages), view.crop
    axis = crop_texts_both(texts, crop)
    side = max(crop.q1 - crop.q0, crop.k1 - crop.k0) if crop else len(texts)

    def laid_out(cols: int, lines: int, width: float) -> GridLayout:
        def made(label_w: float) -> GridLayout:
            return grid_layout(p, -(-n // cols), cols, label_w, label_w, title_lines,
                               title_rows=lines, title_width=width, each=True, own_rows=own_rows)  # fmt: skip

        return fitted_labels(axis, side, len(texts), size, style.labels, crop is not None, made)[1]

    # first with the titles as narrow as they can be, then broken to the room they have
    pieces = [line for stage in view.stages for line in formula_lines(stage.formula, 0)]
    narrow = text_width(pieces, size)
    choices = (  # a slide holds two rows of six (a rotary model's twelve stages), or a few
        (2,) if p.width is not None and p.width < 5 else (5,) if p.width is None  # large ones
        else tuple(c for c in (6, 5, 4, 3, 2, 1) if c <= n) or (1,)
    )  # fmt: skip
    box = max((laid_out(cols, 3, narrow) for cols in choices), key=lambda b: b.panel)
    room = box.panel + box.wgap - p.font / 72
    titles = [stage_title(stage, room * 72 / (0.6 * size)) for stage in view.stages]
    width = min(text_width([line for t in titles for line in t.split("\n")], size), room)
    return laid_out(box.cols, max(t.count("\n") + 1 for t in titles), width), titles
