"""The steps figure: the computation of one head, a numbered panel per stage, in order."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Iterable
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
    MIN_PANEL,
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


def stage_title(stage: Stage, max_chars: float, name_chars: float | None = None) -> str:
    """ "2. attention scores" over its formula, each on lines of at most ``max_chars`` (the
    name, of ``name_chars`` when given); the formula is broken only where it reads as two
    (``formula_lines``)."""
    chars = max_chars if name_chars is None else name_chars
    name = textwrap.wrap(f"{stage.number}. {stage.name}", max(int(min(chars, 999)), 12))
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
    top = float(np.abs(values[~hidden]).max(initial=0.0)) or 1.0  # all 0 (W_Q = 0): ±1
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
        places, titles = _layout(view, style, own_rows)
        width, height = places[0][0].width, places[0][0].height
        heading = style.title if style.title is not None else view.title
        lines = wrap(heading, width * 72 / (0.6 * p.font * 1.1))
        if "\n" in lines:
            places, titles = _layout(view, style, own_rows, lines.count("\n") + 1)
        require_readable(min(place[0].panel for place in places), style.preset)
        side = max(crop.q1 - crop.q0, crop.k1 - crop.k0) if crop else len(texts)
        fig = Figure(figsize=(width, height), dpi=p.dpi)
        canvas = panel_canvas(fig)
        for n, (stage, title, place) in enumerate(zip(stages, titles, places, strict=True)):
            box, r, c, labelled = place
            panel = stage_panel(stage, view.head, title, keys)
            shape = " × ".join(str(d) for d in stage.shape)
            annotate = style.annotate
            if annotate is None:
                annotate = auto_annotate(p.font, box.panel * 72, side)
            draw_panel(
                canvas, panel, texts, cmap=DIVERGING_CMAP if panel.signed else style.cmap,
                theme=style.theme, annotate=annotate and stage.kind == "weights", font=p.font,
                axis_points=box.panel * 72, show_rows=own_rows or c == 0, show_cols=labelled, s=s,
                query_title=(s["key"] if stage.keys else True) if c == 0 else False,
                key_title=f"({shape})", title_size=p.font * 0.85, labels=style.labels,
                rect=box.panel_rect(r, c), name=f"panel {n}", numbered=stage.kind == "matrix",
                sides=(box.panel_w * 72, box.panel_h * 72),
            )  # fmt: skip
            lo, hi = (-panel.limit, panel.limit) if panel.signed else (0.0, 1.0)
            bar = colorbar(fig, fig.add_axes(box.panel_bar_rect(r, c, em)),
                           DIVERGING_CMAP if panel.signed else style.cmap, lo, hi, "", cax=True)  # fmt: skip
            bar.ax.tick_params(labelsize=p.font * 0.7)
        if any(stage.hidden is not None and stage.hidden.any() for stage in stages):
            add_hidden_legend(fig, style.theme, s["hidden"] + " (−∞)", p.font, "lower right")
        add_title(fig, lines, p.font, height)
    return fig


def _preset(style: Style) -> Preset:
    """The style's preset; on a slide (a fixed size) its text at 0.8 of the size, so that ten
    stages with their titles, labels and bars leave their panels room."""
    p = style.p
    return p if p.height is None else replace(p, font=0.8 * p.font)


# the grid a stage's panel is in, its row and column, whether its keys are labelled
Place = tuple[GridLayout, int, int, bool]
SMALL = 0.3  # on a slide, the small panels' side at least this part of the large ones'


def _layout(
    view: StepsView, style: Style, own_rows: bool, title_lines: int = 1
) -> tuple[list[Place], list[str]]:
    """Where each stage goes, and its title: on a slide (large masked scores and weights,
    small projections), else a grid of equal panels."""
    kinds = [stage.kind for stage in view.stages]  # a slide of the whole computation:
    if style.p.height is not None and "weights" in kinds and kinds[0] not in ("masked", "weights"):
        return _slide_layout(view, style, own_rows, title_lines)
    box, titles = _steps_layout(view, style, own_rows, title_lines)
    return [(box, *divmod(n, box.cols), True) for n in range(len(view.stages))], titles


def _slide_layout(
    view: StepsView, style: Style, own_rows: bool, title_lines: int
) -> tuple[list[Place], list[str]]:
    """A slide read left to right, top to bottom: the stages before the mask small in a row
    (or two) at the top; below them the masked scores and the weights, the stages that
    matter, large; the stages after the weights small, down the right side or beside the
    large ones. Every formula whole on a line of its own (a name broken between words to
    its width). The large panels are the largest that leave each small one SMALL of their
    side, or as large as its titles' width lets it be."""
    p = _preset(style)
    assert p.width is not None and p.height is not None
    W, H, size, stages = p.width, p.height, p.font * 0.85, view.stages
    big = [n for n, stage in enumerate(stages) if stage.kind in ("masked", "weights")]
    groups = [stages[: big[0]], stages[big[0] : big[-1] + 1], stages[big[-1] + 1 :]]
    whole = float("inf")  # the large panels' names unbroken, the others' to their formula's width
    titles = [stage_title(stage, whole, whole if n in big else max(len(stage.formula), 22))
              for n, stage in enumerate(stages)]  # fmt: skip
    texts, crop = view.trace.texts, view.crop
    side = max(crop.q1 - crop.q0, crop.k1 - crop.k0) if crop else len(texts)
    numbers = text_width(["0000"], size)  # a matrix's keys are its columns' numbers
    starts = (0, big[0], big[-1] + 1)
    kept = [
        [t.split("\n") for t in titles[n0 : n0 + len(g)]]
        for n0, g in zip(starts, groups, strict=True)
    ]

    tq, tk = stages[big[0]].values.shape  # the large panels' cells square: a crop's
    aspect = (tk / max(tq, tk), tq / max(tq, tk))  # rectangle, its long side b
    area_side = float(np.sqrt(aspect[0] * aspect[1]))  # a square of its area's side, per b

    def grid(g: int, w: float | None, h: float | None, cols: int, labels: float,
             panel: float = p.panel, heading: int | None = None) -> GridLayout:  # fmt: skip
        keys = labels if g == 1 else numbers  # the small T x T stages' keys are read below
        return grid_layout(replace(p, width=w, height=h, panel=panel), -(-len(groups[g]) // cols),
                           cols, labels, keys,
                           (title_lines if g == 0 else 0) if heading is None else heading,
                           title_rows=max((len(t) for t in kept[g]), default=1),
                           title_width=_title_room(kept[g], size, cols),
                           each=True, own_rows=own_rows,
                           aspect=aspect if g == 1 else (1.0, 1.0))  # fmt: skip

    labels = fitted_labels(crop_texts_both(texts, crop), side, len(texts), size, style.labels,
                           crop is not None,
                           lambda w: grid(1, None, None, len(groups[1]), w, 2.0))[0]  # fmt: skip

    def column() -> GridLayout | None:  # the stages after the weights down the right side
        if not groups[2]:
            return None
        tallest = grid(2, W, H, 1, labels, heading=title_lines).panel  # the slide's height
        natural = grid(2, None, None, 1, labels, tallest, title_lines)
        return replace(natural, height=H, top=natural.top + (H - natural.height) / 2)

    right = column()
    Placed = list[tuple[GridLayout | None, float, float]]

    def best(g: int, w: float, h: float, counts: Iterable[int]) -> GridLayout | None:
        """Group g's grid of the most room in w x h, of ``counts`` columns."""
        grids = [grid(g, w, h, c, labels) for c in counts] if groups[g] else []
        return max(grids, key=lambda box: box.panel, default=None)

    def arranged(b: float, beside: bool) -> tuple[Placed, list[float]]:
        """Each group's grid and where it goes: the stages after the weights down the right
        side, or (``beside``) right of the large panels; and the side each small group
        would have with the height of the slide (how large its titles' width lets it be)."""
        low = grid(1, None, None, len(groups[1]), labels, b)
        room = W if beside or right is None else W - right.width
        n, y = len(groups[0]), H - low.height  # the small row, or two when one does not fit
        rows = {n, -(-n // 2)}
        top, top_cap = best(0, room, y, rows), best(0, room, H, rows)
        caps = [top_cap.panel if top_cap else 0.0]
        if not beside:
            return [(top, 0.0, 0.0), (low, (room - low.width) / 2, y), (right, room, 0.0)], caps
        counts = range(1, len(groups[2]) + 1)
        after, after_cap = (
            best(2, W - low.width, low.height, counts),
            best(2, W - low.width, H, counts),
        )
        caps.append(after_cap.panel if after_cap else 0.0)
        return [(top, 0.0, 0.0), (low, 0.0, y), (after, low.width, y)], caps

    def worth(b: float, beside: bool) -> float:
        """The large panels' side, when they fit and leave each small one SMALL of it (or
        as large as its titles' width lets it be)."""
        ((top, _, _), (low, x, _), (after, _, _)), caps = arranged(b, beside)
        assert low is not None
        if low.height >= H or x < 0 or low.width >= W:
            return 0.0
        for box, cap in zip((top, after), caps, strict=False):  # no cap: none after
            least = max(min(SMALL * b * area_side, 0.98 * cap), MIN_PANEL)
            if box is not None and box.panel < least:
                return 0.0
        return b

    at = arranged(*max(((float(b), m) for b in np.linspace(MIN_PANEL, H, 80)
                        for m in (False, True)), key=lambda bm: worth(*bm)))[0]  # fmt: skip
    top = at[0][0]
    places: list[Place] = []
    for (box, dx, dy), group in zip(at, groups, strict=True):
        if box is not None:
            moved = replace(box, width=W, height=H, left=box.left + dx, top=box.top + dy)
            # above the masked scores, a small T x T stage is read by the labels below it
            places += [(moved, *divmod(n, box.cols), box is not top or stage.kind == "matrix")
                       for n, stage in enumerate(group)]  # fmt: skip
    return places, titles


def _title_room(titles: list[list[str]], size: float, cols: int) -> float:
    """The title width a row of panels must make room for: two neighbours' titles meet
    halfway, so the widest mean of two neighbours' widths (in a column, the widest)."""
    widths = [text_width(lines, size) for lines in titles]
    if cols == 1 or len(widths) < 2:
        return max(widths, default=0.0)
    return max((a + b) / 2 for a, b in itertools.pairwise(widths))


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
