"""Drawing a panel on a canvas shared by every panel of a figure: the image, the hidden cells
hatched and outlined, the numbers in the cells, the token labels, the titles; colour bars
and the legend of hidden cells.

Matplotlib is imported inside the drawing functions only, so that importing this module (as
``attnviz`` does, for ``heatmap_figure``) costs nothing on the terminal path.

Shapes: Tq query rows, Tk key columns.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...views.panel import Panel, pooled_panel
from .. import colors
from .layout import annotation_size, crop_texts, index_labels, text_width, tick_labels

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


Segment = tuple[tuple[float, float], tuple[float, float]]


def boundary_segments(hidden: np.ndarray) -> list[Segment]:
    """Line segments between allowed and hidden cells, in data coordinates (cell i at i ± 0.5).

    Collinear neighbours are merged, so a causal staircase is 2T segments, not T² edges.
    The panels of a model view share a few masks: each is worked out once.
    """
    return list(_boundary(hidden.tobytes(), hidden.shape))


@functools.lru_cache(maxsize=64)
def _boundary(data: bytes, shape: tuple[int, int]) -> tuple[Segment, ...]:
    hidden = np.frombuffer(data, dtype=bool).reshape(shape)
    segments = []
    rows, cols = shape
    # vertical edges: x = j + 0.5 between columns j and j+1, runs of rows where they differ
    v = hidden[:, 1:] != hidden[:, :-1]  # (Tq, Tk-1)
    for j in range(cols - 1):
        for start, stop in _runs(v[:, j]):
            segments.append(((j + 0.5, start - 0.5), (j + 0.5, stop - 0.5)))
    hz = hidden[1:, :] != hidden[:-1, :]  # (Tq-1, Tk)
    for i in range(rows - 1):
        for start, stop in _runs(hz[i]):
            segments.append(((start - 0.5, i + 0.5), (stop - 0.5, i + 0.5)))
    return tuple(segments)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True in a 1-D bool array."""
    padded = np.concatenate([[False], flags, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def hidden_runs(hidden: np.ndarray) -> list[tuple[int, int, int]]:
    """(row, start, stop) of each run of hidden cells: the rectangles that get the hatch."""
    return list(_hidden_runs(hidden.tobytes(), hidden.shape))


@functools.lru_cache(maxsize=64)
def _hidden_runs(data: bytes, shape: tuple[int, int]) -> tuple[tuple[int, int, int], ...]:
    hidden = np.frombuffer(data, dtype=bool).reshape(shape)
    return tuple((i, a, b) for i in range(shape[0]) for a, b in _runs(hidden[i]))


def cell_text(weight: float) -> str:
    """A weight in a cell: two decimals without the leading zero (.25), 1 as 1.0."""
    return "1.0" if weight >= 0.995 else f"{weight:.2f}".removeprefix("0")


def signed_text(value: float) -> str:
    """A difference in a cell: +.12, −.05, 0 (a true minus sign, as typeset)."""
    if abs(value) < 0.005:
        return "0"
    text = f"{abs(value):.2f}".removeprefix("0")
    return ("+" if value > 0 else "−") + text


def hidden_patch(theme: str, label: str) -> Any:
    """The legend entry of hidden cells: the same grey and hatch as in the panels."""
    from matplotlib.patches import Patch

    return Patch(
        facecolor=colors.HIDDEN[theme],
        edgecolor=colors.BOUNDARY[theme],
        hatch="///",
        hatchcolor=colors.HATCH[theme],
        linewidth=0.8,
        label=label,
    )


def add_hidden_legend(fig: Figure, theme: str, label: str, font: float, loc: str,
                      partly: str | None = None) -> None:  # fmt: skip
    """The legend entry that says what the grey hatched cells are (and, with ``partly``, the
    dotted pooled blocks)."""
    handles = [hidden_patch(theme, label)]
    if partly is not None:
        from matplotlib.patches import Patch

        handles.append(Patch(facecolor="none", edgecolor=colors.BOUNDARY[theme],
                             hatch=PARTLY_HATCH, hatchcolor=colors.HATCH[theme], linewidth=0.8,
                             label=partly))  # fmt: skip
    # one row: the room the layout leaves for the legend
    fig.legend(handles=handles, loc=loc, frameon=False, fontsize=font * 0.85,  # type: ignore[call-overload]
               ncol=len(handles))  # fmt: skip


def add_title(fig: Figure, lines: str, font: float, height: float) -> None:
    """The figure's title (already broken into ``lines``), half an em below the top of a
    figure ``height`` inches tall, at 1.1 x ``font``."""
    fig.suptitle(lines, y=1 - 0.5 * font / 72 / height, va="top", fontsize=font * 1.1)


def colorbar(
    fig: Figure, axes: Any, cmap: str, vmin: float, vmax: float, label: str, *, cax: bool = False,
    log: bool = False,
) -> Any:  # fmt: skip
    """A colour bar from ``vmin`` to ``vmax`` in the named colour map (on a log scale with
    ``log``): beside ``axes``, or in ``axes`` itself when ``cax`` (an axes placed for it)."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, LogNorm, Normalize

    mapped = ListedColormap(colors.lut(cmap) / 255.0, name=cmap)
    mappable = ScalarMappable(LogNorm(vmin, vmax) if log else Normalize(vmin, vmax), mapped)
    if cax:
        bar = fig.colorbar(mappable, cax=axes)
    else:
        bar = fig.colorbar(mappable, ax=axes, shrink=0.8, fraction=0.04)
    bar.set_label(label)
    bar.outline.set_visible(False)
    return bar


def hatch_path(runs: list[tuple[int, int, int]], f: int, Tq: int, Tk: int) -> Any:
    """All hidden runs as one compound path of rectangles (cells of f x f): one hatched
    artist per panel, however many runs."""
    from matplotlib.path import Path

    boxes = []
    for i, a, b in runs:
        x0, x1 = a * f - 0.5, min(b * f, Tk) - 0.5
        y0, y1 = i * f - 0.5, min((i + 1) * f, Tq) - 0.5
        boxes.append([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])
    vertices = np.array(boxes, dtype=float).reshape(-1, 2)
    codes = np.tile(
        [Path.MOVETO, Path.LINETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY], len(boxes)
    )
    return Path(vertices, codes)


def panel_canvas(fig: Figure) -> Axes:
    """An Axes over the whole figure, drawing nothing of its own, for draw_panel's ``rect``."""
    canvas = fig.add_axes((0, 0, 1, 1))
    canvas.set_axis_off()
    canvas.set_autoscale_on(False)
    return canvas


def draw_panel(
    ax: Axes,
    panel: Panel,
    texts: Sequence[str],
    *,
    cmap: str,
    theme: str,
    annotate: bool,
    font: float,
    axis_points: float,
    show_rows: bool,
    show_cols: bool,
    s: dict[str, str],
    query_title: bool | str = True,
    key_title: bool | str = True,
    title_size: float | None = None,
    labels: str = "auto",
    rect: tuple[float, float, float, float] | None = None,
    name: str = "",
    numbered: bool = False,
    number_chars: int | None = None,
    marks: MaskMarks | None = None,
    sides: tuple[float, float] | None = None,
) -> Any:
    """Draw one panel on ``ax``: the image, the hatched hidden cells, their outline, its title
    and the labels, with the "query" title beside the row labels and the "key" title below
    the column labels (``query_title``, ``key_title``: another text when a string, none when
    False). The panel's title and key title are ``title_size`` points (default ``font``).
    ``numbered``: the columns are numbered (a matrix's), not tokens; ``number_chars``: the
    width the cells' numbers are sized for (default 4 for a signed panel, 3 else), one size
    across the panels of a figure; ``marks``: gathers the mask's hatch and outline, for the
    caller to draw with other panels'; ``sides``: the panel's width and height in points when
    it is not square (``axis_points``, its longer side, sizes the numbers in its cells).

    Without ``rect`` the panel fills ``ax``, its own Axes. With ``rect`` (left, bottom, width,
    height in ``ax``'s axes fractions) it takes that part of ``ax``, a canvas that many panels
    share: an Axes builds its ticks, spines and axes whether they are shown or not (12 of them
    took 0.12 s of a 0.3 s figure). ``name`` labels the panel's artists, to tell panels apart
    on a canvas.
    """
    panel = pooled_panel(panel)  # a long panel's cells, as many as the figure shows
    frame, cells = _frames(ax, panel, rect)
    image = _draw_cells(ax, panel, cmap, theme, cells, rect is None, name, marks)
    _boundary_lines(ax, panel, cells, theme, name)
    if annotate and panel.cell == 1:
        chars = number_chars or (4 if panel.signed else 3)
        size = annotation_size(font, axis_points, max(panel.weights.shape), chars)
        numbers = _numbers(cell_numbers(panel, colors.lut(cmap)), size, cells)
        numbers.set_label(name)
        ax.add_collection(numbers, autolim=rect is None)
    # no ticks, spines or axis titles of Matplotlib's: texts of our own, placed as it would
    # (a layout engine measures them as fast as any text, and an axis costs more than a panel)
    ax.set_axis_off()
    size = font if title_size is None else title_size
    across, down = sides or (axis_points, axis_points)
    _panel_title(ax, panel, frame, size, show_rows, font, (across, down), name)
    if show_cols:
        _key_labels(ax, panel, texts, frame, cells, font, across, labels, numbered,
                    s["key"] if key_title is True else key_title or None, size, name, theme)  # fmt: skip
    if show_rows:
        _row_labels(ax, panel, texts, frame, cells, font, down, labels,
                    s["query"] if query_title is True else query_title or None, name, theme)  # fmt: skip
    return image


def _panel_title(
    ax: Axes, panel: Panel, frame: Any, size: float, labelled: bool, font: float,
    sides: tuple[float, float], name: str,
) -> None:  # fmt: skip
    """The panel's title, above it on the baseline; one wider than the panel (``sides``: its
    width and height in points) is lifted clear of the first row's label (``labelled``: the
    rows have labels)."""
    from matplotlib.transforms import offset_copy

    lift = 0.0
    if labelled and text_width(panel.title.split("\n"), size) * 72 > sides[0]:
        lift = max(0.0, (1.2 * font * 0.85 - sides[1] / panel.shape[0]) / 2)
    at = offset_copy(frame, fig=ax.get_figure(root=True), y=6 + lift, units="points")
    ax.text(0.5, 1, panel.title, transform=at, ha="center", va="baseline", fontsize=size,
            gid="panel-title", label=name)  # fmt: skip


def _key_labels(
    ax: Axes, panel: Panel, texts: Sequence[str], frame: Any, cells: Any, font: float,
    axis_points: float, labels: str, numbered: bool, title: str | None, size: float, name: str,
    theme: str = "light",
) -> None:  # fmt: skip
    """The column labels under a panel (tokens, or numbers), and its key title under them."""
    from matplotlib.transforms import offset_copy

    Tk = panel.shape[1]
    if numbered:
        keys = index_labels(Tk, axis_points, font * 0.85) if labels != "none" else ([], [])
    else:
        key_texts = crop_texts(
            texts if panel.key_names is None else panel.key_names, panel.col0, Tk
        )
        keys = tick_labels(key_texts, axis_points, font * 0.85, labels, panel.col0)
    first = None if numbered else panel.generated_from("x")
    new = None if first is None else (first, colors.GENERATED[theme])
    room = token_labels(ax, frame, cells, "x", *keys, font * 0.85, name, new)
    if title:
        at = offset_copy(frame, fig=ax.get_figure(root=True), y=-room, units="points")
        ax.text(0.5, 0, title, transform=at, ha="center", va="top", fontsize=size,
                gid="key-title", label=name)  # fmt: skip


def _row_labels(
    ax: Axes, panel: Panel, texts: Sequence[str], frame: Any, cells: Any, font: float,
    axis_points: float, labels: str, title: str | None, name: str, theme: str = "light",
) -> None:  # fmt: skip
    """The row labels left of a panel, and its query title beyond them."""
    from matplotlib.transforms import offset_copy

    if panel.row_names is not None:  # rows that are not tokens: a token's layers
        rows = tick_labels(panel.row_names, axis_points, font * 0.85, labels)[0]
        queries = (rows, [panel.row_names[i] for i in rows])  # thinned, not numbered twice
    else:
        query_texts = crop_texts(texts, panel.row0, panel.shape[0])
        queries = tick_labels(query_texts, axis_points, font * 0.85, labels, panel.row0)
    first = panel.generated_from("y")
    new = None if first is None else (first, colors.GENERATED[theme])
    room = token_labels(ax, frame, cells, "y", *queries, font * 0.85, name, new)
    if title:  # a text, placed beyond the labels
        at = offset_copy(frame, fig=ax.get_figure(root=True), x=-room, units="points")
        ax.text(0, 0.5, title, transform=at, rotation=90, ha="right", va="center",
                gid="query-title", label=name)  # fmt: skip


def _frames(
    ax: Axes, panel: Panel, rect: tuple[float, float, float, float] | None
) -> tuple[Any, Any]:
    """The transforms of the panel's unit square and of its cells (row 0 at the top)."""
    from matplotlib.transforms import Affine2D, Bbox, BboxTransformTo

    Tq, Tk = panel.shape
    if rect is None:  # cells are the Axes' data coordinates
        ax.set_xlim(-0.5, Tk - 0.5)
        ax.set_ylim(Tq - 0.5, -0.5)
        return ax.transAxes, ax.transData
    frame = BboxTransformTo(Bbox.from_bounds(*rect)) + ax.transAxes
    return frame, Affine2D().translate(0.5, 0.5).scale(1 / Tk, -1 / Tq).translate(0, 1) + frame


class MaskMarks:
    """The hatch and the outline of the hidden cells of many panels, gathered to be drawn as
    two artists in all (a model view of 30 layers x 9 heads made 540 of them, a third of its
    time). Each panel adds its paths in the canvas's axes coordinates."""

    def __init__(self) -> None:
        self.hatches: list[Any] = []
        self.outlines: list[Any] = []
        self.partly: list[Any] = []

    def add(self, hatch: Any, outline: Any, to_canvas: Any) -> None:
        self.hatches.append(hatch.transformed(to_canvas))
        self.outlines.append(outline.transformed(to_canvas))

    def draw(self, ax: Axes, theme: str) -> None:
        from matplotlib.path import Path

        if self.partly:
            ax.add_artist(partly_patch(Path.make_compound_path(*self.partly), theme,
                                       transform=ax.transAxes))  # fmt: skip
        if not self.hatches:
            return
        from matplotlib.patches import PathPatch

        ax.add_artist(PathPatch(Path.make_compound_path(*self.hatches), facecolor="none",
                                edgecolor="none", hatch="///", hatchcolor=colors.HATCH[theme],
                                linewidth=0, gid="hidden-cells", transform=ax.transAxes))  # fmt: skip
        ax.add_artist(PathPatch(Path.make_compound_path(*self.outlines), facecolor="none",
                                edgecolor=colors.BOUNDARY[theme], linewidth=1.0,
                                capstyle="projecting", gid="mask-outline",
                                transform=ax.transAxes))  # fmt: skip


PARTLY_HATCH = "...."  # the mark of a pooled block the mask hides in part


def partly_patch(path: Any, theme: str, **more: Any) -> Any:
    """The dotted mark over pooled blocks the mask hides in part."""
    from matplotlib.patches import PathPatch

    return PathPatch(path, facecolor="none", edgecolor="none", hatch=PARTLY_HATCH,
                     hatchcolor=colors.HATCH[theme], linewidth=0, gid="partly-hidden-cells",
                     **more)  # fmt: skip


def _mark_partly(ax: Axes, panel: Panel, cells: Any, theme: str, name: str,
                 marks: MaskMarks | None) -> None:  # fmt: skip
    """Dots over the pooled blocks the mask hides in part (with other panels', by ``marks``)."""
    runs = [] if panel.partly is None else hidden_runs(panel.partly)
    if not runs:
        return
    path = hatch_path(runs, panel.cell, *panel.shape)
    if marks is not None:
        marks.partly.append(path.transformed(cells - ax.transAxes))
    else:
        ax.add_artist(partly_patch(path, theme, transform=cells, label=name))


def _outline_segments(hidden: np.ndarray, f: int, Tq: int, Tk: int) -> list[Segment]:
    """The boundary of the hidden cells of a panel pooled by ``f``, in its cells' coordinates."""
    return [
        ((min((x0 + 0.5) * f, Tk) - 0.5, min((y0 + 0.5) * f, Tq) - 0.5),
         (min((x1 + 0.5) * f, Tk) - 0.5, min((y1 + 0.5) * f, Tq) - 0.5))
        for (x0, y0), (x1, y1) in boundary_segments(hidden)
    ]  # fmt: skip


def _draw_cells(
    ax: Axes, panel: Panel, cmap: str, theme: str, cells: Any, alone: bool, name: str,
    marks: MaskMarks | None = None,
) -> Any:  # fmt: skip
    """The image of the panel's cells, the hidden ones hatched and outlined (by ``marks``,
    with other panels', when given)."""
    from matplotlib.collections import LineCollection
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path

    mapped = ListedColormap(colors.lut(cmap) / 255.0, name=cmap).with_extremes(
        bad=colors.HIDDEN[theme]
    )
    Tq, Tk = panel.shape
    color, hidden, f = panel.color, panel.hidden, panel.cell
    image = ax.imshow(
        np.ma.masked_invalid(color),
        cmap=mapped,
        vmin=0.0,
        vmax=1.0,
        interpolation="nearest",
        extent=(-0.5, Tk - 0.5, Tq - 0.5, -0.5),  # pooled or not, cell i spans i ± 0.5
        # square cells; a crop of few queries and many keys fills the panel instead
        aspect="equal" if Tq == Tk and alone else "auto",
        transform=cells,
        label=name,
    )
    _mark_partly(ax, panel, cells, theme, name, marks)
    runs = hidden_runs(hidden)
    if not runs:
        return image
    segments = _outline_segments(hidden, f, Tq, Tk)
    if marks is not None:
        lines = Path(np.array(segments, dtype=float).reshape(-1, 2),
                     [Path.MOVETO, Path.LINETO] * len(segments))  # fmt: skip
        marks.add(hatch_path(runs, f, Tq, Tk), lines, cells - ax.transAxes)
        return image
    hatch = PathPatch(hatch_path(runs, f, Tq, Tk), facecolor="none", edgecolor="none",
                      hatch="///", hatchcolor=colors.HATCH[theme], linewidth=0,
                      gid="hidden-cells", transform=cells, label=name)  # fmt: skip
    # placed by its own transform: the axes' data limits (slow to update for a long path)
    # matter only for a panel alone
    ax.add_patch(hatch) if alone else ax.add_artist(hatch)
    outline = LineCollection(segments, colors=colors.BOUNDARY[theme], linewidths=1.0)
    outline.set(transform=cells, label=name)
    ax.add_collection(outline, autolim=alone)
    return image


def token_labels(
    ax: Axes,
    frame: Any,
    cells: Any,
    axis: str,
    positions: list[int],
    labels: list[str],
    size: float,
    name: str = "",
    generated: tuple[int, str] | None = None,
) -> float:
    """Token labels along an axis of a panel (``frame``: its unit square, ``cells``: its
    cells) as plain Text artists (gid "key-label" or "query-label"): a fifth of the cost of
    Matplotlib's ticks, which build three lines and two texts per label. ``generated``: the
    first position of generated tokens and their colour (their labels italic, in it).
    Returns the room they take, in points, for the axis title to sit beyond them."""
    from matplotlib.transforms import blended_transform_factory, offset_copy

    pad = 0.35 * size
    fig = ax.get_figure(root=True)
    x = axis == "x"  # keys, below the panel, read bottom to top; else queries, on its left
    along = (
        blended_transform_factory(cells, frame) if x else blended_transform_factory(frame, cells)
    )
    where = offset_copy(along, fig=fig, y=-pad, units="points") if x else offset_copy(
        along, fig=fig, x=-pad, units="points")  # fmt: skip
    for pos, label in zip(positions, labels, strict=True):
        new = generated is not None and pos >= generated[0]
        look: dict[str, Any] = (
            {"color": generated[1], "fontstyle": "italic"} if new and generated else {}
        )
        if x:
            ax.text(pos, 0, label, transform=where, rotation=90, ha="center", va="top",
                    fontsize=size, gid="key-label", label=name, **look)  # fmt: skip
        else:
            ax.text(0, pos, label, transform=where, ha="right", va="center",
                    fontsize=size, gid="query-label", label=name, **look)  # fmt: skip
    return text_width(labels, size) * 72 + 2 * pad


def _boundary_lines(ax: Axes, panel: Panel, cells: Any, theme: str, name: str) -> None:
    """The line between the prompt and the generated tokens, across the panel's rows and
    columns (where the panel shows both sides of it)."""
    from matplotlib.collections import LineCollection

    Tq, Tk = panel.shape
    row, col = panel.generated_from("y"), panel.generated_from("x")
    lines = []
    if row is not None and 0 < row < Tq:
        lines.append(((-0.5, row - 0.5), (Tk - 0.5, row - 0.5)))
    if col is not None and 0 < col < Tk:
        lines.append(((col - 0.5, -0.5), (col - 0.5, Tq - 0.5)))
    if lines:
        mark = LineCollection(lines, colors=colors.GENERATED[theme], linewidths=1.5,
                              linestyles="--", gid="generation-boundary")  # fmt: skip
        mark.set(transform=cells, label=name)
        ax.add_collection(mark, autolim=False)


def cell_numbers(panel: Panel, table: np.ndarray) -> list[tuple[int, int, str, str]]:
    """(row, column, text, ink) of the number printed in each visible cell of a panel, the
    ink black or white by the contrast with the cell's colour in ``table``."""
    out = []
    for (i, j), w in np.ndenumerate(panel.weights):
        if not panel.hidden[i, j]:
            text = signed_text(w) if panel.signed else cell_text(w)
            cell = float(panel.to_color(w))
            out.append((i, j, text, colors.ink(colors.rgb(table, cell))))
    return out


@functools.lru_cache(maxsize=1024)
def _glyphs(text: str, size: float) -> Any:
    """The outline of ``text`` at ``size`` points, centred on the origin (cached: a figure
    prints the same few numbers many times)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    path = TextPath((0, 0), text, prop=FontProperties(size=size))
    lo, hi = path.vertices.min(axis=0), path.vertices.max(axis=0)  # control points: close enough
    return path.transformed(_translate(-(lo + hi) / 2))


def _translate(by: np.ndarray) -> Any:
    from matplotlib.transforms import Affine2D

    return Affine2D().translate(float(by[0]), float(by[1]))


def _numbers(cells: list[tuple[int, int, str, str]], size: float, transform: Any) -> Any:
    """The numbers of the cells as one collection of glyph outlines, centred in their cells.

    One artist instead of a Text per cell: drawing a few hundred Text artists costs more
    than the rest of the figure. SVG and PDF swap them for text (``numbers_as_text``).
    """
    from matplotlib.collections import PathCollection
    from matplotlib.transforms import IdentityTransform

    numbers = PathCollection(
        [_glyphs(text, size) for _, _, text, _ in cells],
        sizes=[1.0],  # as scatter does: paths in points, scaled to pixels at draw time
        offsets=[(j, i) for i, j, _, _ in cells],
        offset_transform=transform,  # the panel's cells
        facecolors=[ink for _, _, _, ink in cells],
        edgecolors="none",
        gid="cell-numbers",
    )
    numbers.set_transform(IdentityTransform())
    _CELL_TEXTS[numbers] = cells, size, transform
    return numbers


# each collection of numbers' cells, for numbers_as_text (gone with the figure)
_CELL_TEXTS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def numbers_as_text(fig: Figure) -> Iterator[None]:
    """The cells' numbers as text while the figure is saved, editable and found by a search in
    SVG and PDF: a Text per cell in place of each collection of outlines."""
    swapped = []
    for numbers in fig.findobj(lambda a: a in _CELL_TEXTS):
        cells, size, transform = _CELL_TEXTS[numbers]
        ax: Any = numbers.axes
        texts = [ax.text(j, i, text, transform=transform, ha="center", va="center",
                         fontsize=size, color=ink, gid="cell-number", label=numbers.get_label())
                 for i, j, text, ink in cells]  # fmt: skip
        numbers.set_visible(False)
        swapped.append((numbers, texts))
    try:
        yield
    finally:
        for numbers, texts in swapped:
            numbers.set_visible(True)
            for text in texts:
                text.remove()
