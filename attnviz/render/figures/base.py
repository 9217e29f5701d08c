"""What every figure shares: presets, themes, layout, the heatmap panel, and the writer.

Matplotlib is imported inside the drawing functions only, so that importing this module (as
``attnviz`` does, for ``heatmap_figure``) costs nothing on the terminal path.

Shapes: T tokens (Tq query rows, Tk key columns), H heads.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import ConfigError
from ...views.labels import shorten
from ...views.panel import Panel
from .. import colors

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FIGURE_FORMATS = (".png", ".svg", ".pdf")
MAX_DPI = 1200


@dataclass(frozen=True)
class Preset:
    """Sizes for one use: ``width`` x ``height`` inches (None: from the panels), fonts in points."""

    panel: float  # inches per panel side when the figure size is not fixed
    font: float
    dpi: int
    max_cols: int
    width: float | None = None
    height: float | None = None


PRESETS = {
    "screen": Preset(panel=2.6, font=9, dpi=100, max_cols=4),
    "slides": Preset(panel=2.6, font=15, dpi=100, max_cols=4, width=13.333, height=7.5),  # 16:9
    "paper": Preset(panel=1.5, font=7, dpi=300, max_cols=2, width=3.4),  # one column
}


@dataclass(frozen=True)
class Style:
    """How a figure looks: ``annotate`` prints each number in its cell (None: when cells are
    few and large enough), ``cmap`` any Matplotlib colour map, ``theme`` light or dark,
    ``preset`` screen, slides or paper, ``title`` replaces the run's line, ``labels`` chooses
    the token labels (auto, all, none, every:K). Checked when made."""

    annotate: bool | None = None
    cmap: str = colors.DEFAULT_CMAP
    theme: str = "light"
    preset: str = "screen"
    title: str | None = None
    labels: str = "auto"

    def __post_init__(self) -> None:
        check_figure_options(theme=self.theme, preset=self.preset, labels=self.labels)
        colors.lut(self.cmap)  # an unknown colour map fails before any drawing

    @property
    def p(self) -> Preset:
        return PRESETS[self.preset]


# --- prepared data: pure functions, testable without drawing ------------------------------------


LABELS = ("auto", "none", "all", "every:K")


def label_step(spec: str) -> int | None:
    """The K of ``every:K``; 0 for "all", -1 for "none", None for "auto". Bad specs: ConfigError."""
    fixed = {"auto": None, "all": 0, "none": -1}
    if spec in fixed:
        return fixed[spec]
    name, _, value = spec.partition(":")
    if name == "every" and value.isdigit() and int(value) >= 1:
        return int(value)
    raise ConfigError(f"bad `labels` {spec!r}; use one of: {', '.join(LABELS)}")


def tick_labels(
    texts: Sequence[str],
    axis_points: float,
    font: float,
    spec: str = "auto",
    start: int | None = None,
) -> tuple[list[int], list[str]]:
    """Positions and texts of the token labels along an axis ``axis_points`` long.

    "auto": every label when they all fit (a label needs about 1.3 x the font size),
    otherwise every k-th one, prefixed with its index so that the reader can count;
    "all", "none" and "every:K" choose for themselves. ``texts`` in a window (``start``, the
    index of the first) are always prefixed with their index in the whole text.
    """
    T = len(texts)
    step = label_step(spec)
    if step == -1:
        return [], []
    fit = max(1, int(axis_points / (1.3 * font)))
    k = 1 if step == 0 or (step is None and T <= fit) else step or math.ceil(T / fit)
    positions = list(range(0, T, k))
    if k == 1 and start is None:
        return positions, [shorten(t) for t in texts]
    return positions, [f"{(start or 0) + i} {shorten(texts[i])}" for i in positions]


def crop_texts(texts: Sequence[str], start: int | None, n: int) -> Sequence[str]:
    """The ``n`` texts of a crop's axis from ``start`` (all of them outside a crop)."""
    return texts if start is None else texts[start : start + n]


def crop_texts_both(texts: Sequence[str], crop: Any) -> Sequence[str]:
    """The texts on either axis of ``crop`` (all outside one): what the labels measure."""
    if crop is None:
        return texts
    return [*texts[crop.queries], *texts[crop.keys]]


def boundary_segments(hidden: np.ndarray) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Line segments between allowed and hidden cells, in data coordinates (cell i at i ± 0.5).

    Collinear neighbours are merged, so a causal staircase is 2T segments, not T² edges.
    """
    segments = []
    rows, cols = hidden.shape
    # vertical edges: x = j + 0.5 between columns j and j+1, runs of rows where they differ
    v = hidden[:, 1:] != hidden[:, :-1]  # (Tq, Tk-1)
    for j in range(cols - 1):
        for start, stop in _runs(v[:, j]):
            segments.append(((j + 0.5, start - 0.5), (j + 0.5, stop - 0.5)))
    hz = hidden[1:, :] != hidden[:-1, :]  # (Tq-1, Tk)
    for i in range(rows - 1):
        for start, stop in _runs(hz[i]):
            segments.append(((start - 0.5, i + 0.5), (stop - 0.5, i + 0.5)))
    return segments


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True in a 1-D bool array."""
    padded = np.concatenate([[False], flags, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def hidden_runs(hidden: np.ndarray) -> list[tuple[int, int, int]]:
    """(row, start, stop) of each run of hidden cells: the rectangles that get the hatch."""
    return [(i, a, b) for i in range(hidden.shape[0]) for a, b in _runs(hidden[i])]


def cell_text(weight: float) -> str:
    """A weight in a cell: two decimals without the leading zero (.25), 1 as 1.0."""
    return "1.0" if weight >= 0.995 else f"{weight:.2f}".removeprefix("0")


def signed_text(value: float) -> str:
    """A difference in a cell: +.12, −.05, 0 (a true minus sign, as typeset)."""
    if abs(value) < 0.005:
        return "0"
    text = f"{abs(value):.2f}".removeprefix("0")
    return ("+" if value > 0 else "−") + text


# --- drawing ------------------------------------------------------------------------------------


def theme_rc(theme: str, font: float) -> dict[Any, Any]:
    fg, bg = ("#e8e8e8", "#161616") if theme == "dark" else ("#111111", "#ffffff")
    return {
        "font.size": font,
        "text.color": fg,
        "axes.labelcolor": fg,
        "axes.edgecolor": fg,
        "xtick.color": fg,
        "ytick.color": fg,
        "figure.facecolor": bg,
        "axes.facecolor": bg,
        "savefig.facecolor": bg,
        "hatch.linewidth": 0.6,
    }


def auto_annotate(font: float, axis_points: float, T: int) -> bool:
    """The default of ``annotate``: numbers only where they are few and large enough to read."""
    return T <= 12 and annotation_size(font, axis_points, T) >= 5


def annotation_size(font: float, axis_points: float, T: int, chars: int = 3) -> float:
    """Font size of ``chars``-character numbers in cells: three quarters of a cell's width
    (a character is about 0.6 em; the panel estimate gets a 10% margin), at most 0.8 x font."""
    cell = 0.9 * axis_points / T
    return min(font * 0.8, 0.75 * cell / (0.6 * chars))


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


def add_hidden_legend(fig: Figure, theme: str, label: str, font: float, loc: str) -> None:
    """The legend entry that says what the grey hatched cells are."""
    handles = [hidden_patch(theme, label)]
    fig.legend(handles=handles, loc=loc, frameon=False, fontsize=font * 0.85)  # type: ignore[call-overload]


def add_title(fig: Figure, heading: str, width: float, font: float) -> None:
    """The figure's title line, wrapped to the figure's width (``width`` in inches)."""
    fig.suptitle(wrap(heading, width * 72 / (0.6 * font * 1.1)), fontsize=font * 1.1)


def grid(n: int, max_cols: int) -> tuple[int, int]:
    """Rows and columns for n panels, at most ``max_cols`` a row, the rows as even as can be
    (6 panels: 3 + 3, not 4 + 2)."""
    rows = math.ceil(n / max_cols)
    return rows, math.ceil(n / rows)


def layout(p: Preset, rows: int, cols: int, texts: Sequence[str]) -> tuple[float, float, float]:
    """Figure width and height and panel side, in inches, leaving room for the labels.

    Text widths are estimated (0.6 em a character) so that no drawing is needed to lay out.
    """
    em = p.font / 72  # inches
    label = 0.6 * 0.85 * em * max(len(shorten(t)) + 3 for t in texts)  # "12 token" when thinned
    side = label + 2.2 * em  # tick labels and the axis title, left of the grid and below it
    extra_w = side + 5.5 * em + 0.1  # the colour bar with its ticks and label
    extra_h = side + 4.0 * em + 0.1  # the title line and the panel titles
    if p.width is None:
        panel = p.panel
    elif p.height is None:
        panel = (p.width - extra_w) / cols
    else:
        panel = min((p.width - extra_w) / cols, (p.height - extra_h - 1.5 * em * rows) / rows)
    panel = max(panel, 0.5)
    width = p.width or cols * panel + extra_w
    height = p.height or rows * (panel + 1.5 * em) + extra_h
    return width, height, panel


def text_width(texts: Sequence[str], font: float) -> float:
    """The width in inches of the widest of ``texts`` at ``font`` points, measured with the
    font itself (no drawing, no layout engine)."""
    from matplotlib import rcParams

    fonts = tuple(rcParams["font.family"]), tuple(rcParams["font.sans-serif"])
    longest = sorted(texts, key=len)[-24:]  # the widest is among the longest: measure those
    return max((_text_width(t, font, fonts) for t in longest), default=0.0)


@functools.lru_cache(maxsize=4096)
def _text_width(text: str, font: float, fonts: tuple[tuple[str, ...], ...]) -> float:
    """One text's width in inches (cached: a grid measures the same labels for every row and
    column; ``fonts``, the families FontProperties resolves, is part of the key)."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    renderer = RendererAgg(1, 1, 72)  # type: ignore[no-untyped-call]  # 72 dpi: pixels are points
    with warnings.catch_warnings():  # a glyph the font lacks is reported once, when saving
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        measure = renderer.get_text_width_height_descent
        width = measure(text, FontProperties(size=font), ismath=False)[0]  # type: ignore[no-untyped-call]
    return float(width) / 72


@dataclass(frozen=True)
class GridLayout:
    """Where a grid of square panels goes, in inches: the figure, each panel, the colour bar.

    Computed from measured label widths, so that the figure is drawn once, at save time,
    with no layout engine drawing it beforehand to measure it.
    """

    width: float
    height: float
    panel: float
    left: float
    top: float
    wgap: float
    hgap: float
    rows: int
    cols: int
    overhang: float = 0.0  # of the last column's titles, beyond the grid

    def panel_rect(self, r: int, c: int) -> tuple[float, float, float, float]:
        """[left, bottom, width, height] of panel (r, c) in figure fractions."""
        x = self.left + c * (self.panel + self.wgap)
        y = self.top + r * (self.panel + self.hgap) + self.panel
        return (
            x / self.width,
            1 - y / self.height,
            self.panel / self.width,
            self.panel / self.height,
        )

    @property
    def grid_w(self) -> float:
        return self.cols * self.panel + (self.cols - 1) * self.wgap

    @property
    def grid_h(self) -> float:
        return self.rows * self.panel + (self.rows - 1) * self.hgap

    def colorbar_rect(self, em: float, n: int = 0) -> tuple[float, float, float, float]:
        """Bar ``n`` right of the grid (the first nearest), 80% of its height, centred on it."""
        grid_w, grid_h = self.grid_w, self.grid_h
        x = self.left + grid_w + self.overhang + 1.0 * em + n * 6.8 * em
        y = self.top + 0.9 * grid_h
        return (
            x / self.width,
            1 - y / self.height,
            1.0 * em / self.width,
            0.8 * grid_h / self.height,
        )


def grid_layout(
    p: Preset,
    rows: int,
    cols: int,
    row_labels: float,
    col_labels: float,
    title_lines: int,
    *,
    title_rows: int = 1,
    bars: int = 1,
    below: float = 0.0,
    below_panels: float = 0.0,
    title_width: float = 0.0,
) -> GridLayout:
    """Lay out ``rows`` x ``cols`` square panels with query labels ``row_labels`` wide on the
    left, key labels ``col_labels`` tall below (inches), a title of ``title_lines`` lines,
    panel titles of ``title_rows`` lines and ``title_width`` inches (a panel narrower than
    its title gets wider gaps), and ``bars`` colour bars on the right; ``below`` inches and
    ``below_panels`` panel heights are kept free under the grid (for compare's bars)."""
    em = p.font / 72
    pad = 0.5 * em
    left = pad + 1.6 * em + row_labels + 0.4 * em  # axis title, tick labels
    bottom = pad + 1.6 * em + col_labels + 0.4 * em + 1.6 * em + below  # ... the legend line
    top = pad + title_lines * 1.5 * em + (1.8 + 1.2 * (title_rows - 1)) * em  # + panel titles
    right = 1.0 * em + 1.0 * em + 3.0 * em + 1.8 * em + pad  # gap, bar, ticks, bar title
    right += (bars - 1) * 7.8 * em  # each more bar: gap, bar, signed ticks, title
    gap, hgap = 0.8 * em, (2.0 + 1.2 * (title_rows - 1)) * em
    tall = rows + below_panels
    fixed_h = top + bottom + (rows - 1) * hgap

    def spread(panel: float) -> tuple[float, float, float]:
        """(the grid's width with the last title's overhang, the gap, the overhang)."""
        wgap = max(gap, title_width + em - panel)
        over = max(0.0, (title_width - panel) / 2)
        return cols * panel + (cols - 1) * wgap + over, wgap, over

    if p.width is None:
        panel = p.panel
    else:
        room = p.width - left - right
        panel = (room - (cols - 1) * gap) / cols
        if panel < title_width:  # the largest panel whose spread fits: spread grows with it
            lo, hi = 0.0, panel
            for _ in range(40):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if spread(mid)[0] <= room else (lo, mid)
            panel = lo
        if p.height is not None:
            panel = min(panel, (p.height - fixed_h) / tall)
    panel = max(panel, 0.4)
    used, wgap, over = spread(panel)
    width = p.width or left + right + used
    height = p.height or fixed_h + tall * panel
    left += (width - left - right - used) / 2  # centre what a fixed size leaves over
    top += (height - fixed_h - tall * panel) / 2
    return GridLayout(width, height, panel, left, top, wgap, hgap, rows, cols, over)


def wrap(text: str, max_chars: float) -> str:
    """Break a " · "-separated title line into lines of at most ``max_chars`` characters."""
    lines: list[str] = []
    for part in text.split(" · "):
        if lines and len(lines[-1]) + 3 + len(part) <= max_chars:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return "\n".join(lines)


def colorbar(
    fig: Figure, axes: Any, cmap: str, vmin: float, vmax: float, label: str, *, cax: bool = False
) -> Any:
    """A colour bar from ``vmin`` to ``vmax`` in the named colour map: beside ``axes``, or in
    ``axes`` itself when ``cax`` (an axes placed for it)."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize

    mapped = ListedColormap(colors.lut(cmap) / 255.0, name=cmap)
    mappable = ScalarMappable(Normalize(vmin, vmax), mapped)
    if cax:
        bar = fig.colorbar(mappable, cax=axes)
    else:
        bar = fig.colorbar(mappable, ax=axes, shrink=0.8, fraction=0.04)
    bar.set_label(label)
    bar.outline.set_visible(False)
    return bar


MAX_CELLS = 512  # a panel shows at most this many cells a side: more than its pixels


def pooled(panel: Panel) -> tuple[np.ndarray, np.ndarray, int]:
    """The panel's colour matrix and hidden cells shrunk by a factor f so that at most
    MAX_CELLS cells a side remain: each f x f block shows its strongest value (the largest
    weight, or the signed value of largest magnitude: a strong cell never disappears) and is
    hidden only when all of it is. Returns (color with NaN where hidden, hidden, f).

    Without this, a 4,096-token panel would be drawn by sampling one cell in sixteen.
    """
    f = -(-max(panel.weights.shape) // MAX_CELLS)  # ceiling division
    if f == 1:
        return panel.color, panel.hidden, 1
    Tq, Tk = panel.weights.shape
    rows, cols = -(-Tq // f), -(-Tk // f)
    values = np.zeros((rows * f, cols * f), dtype=panel.weights.dtype)
    values[:Tq, :Tk] = np.where(panel.hidden, 0, panel.weights)  # hidden cells never win
    blocks = values.reshape(rows, f, cols, f).swapaxes(1, 2).reshape(rows, cols, f * f)
    if panel.signed:
        strongest = np.take_along_axis(blocks, np.abs(blocks).argmax(axis=2)[..., None], axis=2)
        shown = strongest[..., 0]
    else:
        shown = blocks.max(axis=2)
    full = np.ones((rows * f, cols * f), dtype=bool)
    full[:Tq, :Tk] = panel.hidden
    hidden = np.asarray(full.reshape(rows, f, cols, f).all(axis=(1, 3)))
    return np.where(hidden, np.nan, panel.to_color(shown)), hidden, f


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
) -> Any:
    """Draw one panel on ``ax``: the image, the hatched hidden cells, their outline, its title
    and the labels, with the "query" title beside the row labels and the "key" title below
    the column labels (``query_title``, ``key_title``: another text when a string, none when
    False). The panel's title and key title are ``title_size`` points (default ``font``).

    Without ``rect`` the panel fills ``ax``, its own Axes. With ``rect`` (left, bottom, width,
    height in ``ax``'s axes fractions) it takes that part of ``ax``, a canvas that many panels
    share: an Axes builds its ticks, spines and axes whether they are shown or not (12 of them
    took 0.12 s of a 0.3 s figure). ``name`` labels the panel's artists, to tell panels apart
    on a canvas.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import PathPatch
    from matplotlib.transforms import Affine2D, Bbox, BboxTransformTo, offset_copy

    fig = ax.get_figure(root=True)
    table = colors.lut(cmap)
    mapped = ListedColormap(table / 255.0, name=cmap).with_extremes(bad=colors.HIDDEN[theme])
    Tq, Tk = panel.weights.shape
    if rect is None:  # cells are the Axes' data coordinates
        ax.set_xlim(-0.5, Tk - 0.5)
        ax.set_ylim(Tq - 0.5, -0.5)
        frame, cells = ax.transAxes, ax.transData
    else:  # the unit square of the panel, and the cells mapped onto it (row 0 at the top)
        frame = BboxTransformTo(Bbox.from_bounds(*rect)) + ax.transAxes
        cells = Affine2D().translate(0.5, 0.5).scale(1 / Tk, -1 / Tq).translate(0, 1) + frame
    color, hidden, f = pooled(panel)
    image = ax.imshow(
        np.ma.masked_invalid(color),
        cmap=mapped,
        vmin=0.0,
        vmax=1.0,
        interpolation="nearest",
        extent=(-0.5, Tk - 0.5, Tq - 0.5, -0.5),  # pooled or not, cell i spans i ± 0.5
        # square cells; a crop of few queries and many keys fills the panel instead
        aspect="equal" if Tq == Tk and rect is None else "auto",
        transform=cells,
        label=name,
    )
    runs = hidden_runs(hidden)
    if runs:
        ax.add_patch(
            PathPatch(
                hatch_path(runs, f, Tq, Tk),
                facecolor="none",
                edgecolor="none",
                hatch="///",
                hatchcolor=colors.HATCH[theme],
                linewidth=0,
                gid="hidden-cells",
                transform=cells,
                label=name,
            )
        )
        segments = [
            ((min((x0 + 0.5) * f, Tk) - 0.5, min((y0 + 0.5) * f, Tq) - 0.5),
             (min((x1 + 0.5) * f, Tk) - 0.5, min((y1 + 0.5) * f, Tq) - 0.5))
            for (x0, y0), (x1, y1) in boundary_segments(hidden)
        ]  # fmt: skip
        outline = LineCollection(segments, colors=colors.BOUNDARY[theme], linewidths=1.0)
        outline.set(transform=cells, label=name)
        ax.add_collection(outline, autolim=rect is None)
    if annotate:
        size = annotation_size(
            font, axis_points, max(panel.weights.shape), 4 if panel.signed else 3
        )
        numbers = _numbers(cell_numbers(panel, table), size, cells)
        numbers.set_label(name)
        ax.add_collection(numbers, autolim=rect is None)
    # no ticks, spines or axis titles of Matplotlib's: texts of our own, placed as it would
    # (a layout engine measures them as fast as any text, and an axis costs more than a panel)
    ax.set_axis_off()
    size = font if title_size is None else title_size
    lift = 0.0  # a title wider than its panel reaches over the first row's label: clear it
    if show_rows and text_width(panel.title.split("\n"), size) * 72 > axis_points:
        lift = max(0.0, (1.2 * font * 0.85 - axis_points / Tq) / 2)
    at = offset_copy(frame, fig=fig, y=6 + lift, units="points")  # above, on the baseline
    ax.text(0.5, 1, panel.title, transform=at, ha="center", va="baseline", fontsize=size,
            gid="panel-title", label=name)  # fmt: skip
    if show_cols:
        key_texts = crop_texts(texts, panel.col0, Tk)
        keys = tick_labels(key_texts, axis_points, font * 0.85, labels, panel.col0)
        room = token_labels(ax, frame, cells, "x", *keys, font * 0.85, name)
    if show_cols and key_title:
        at = offset_copy(frame, fig=fig, y=-room, units="points")
        text = s["key"] if key_title is True else key_title
        ax.text(0.5, 0, text, transform=at, ha="center", va="top", fontsize=size,
                gid="key-title", label=name)  # fmt: skip
    if show_rows:
        query_texts = crop_texts(texts, panel.row0, Tq)
        queries = tick_labels(query_texts, axis_points, font * 0.85, labels, panel.row0)
        room = token_labels(ax, frame, cells, "y", *queries, font * 0.85, name)
    if show_rows and query_title:  # a text, placed beyond the labels
        at = offset_copy(frame, fig=fig, x=-room, units="points")
        text = s["query"] if query_title is True else query_title
        ax.text(0, 0.5, text, transform=at, rotation=90, ha="right", va="center",
                gid="query-title", label=name)  # fmt: skip
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
) -> float:
    """Token labels along an axis of a panel (``frame``: its unit square, ``cells``: its
    cells) as plain Text artists (gid "key-label" or "query-label"): a fifth of the cost of
    Matplotlib's ticks, which build three lines and two texts per label. Returns the room
    they take, in points, for the axis title to sit beyond them."""
    from matplotlib.transforms import blended_transform_factory, offset_copy

    pad = 0.35 * size
    fig = ax.get_figure(root=True)
    if axis == "x":  # keys, below the panel, read bottom to top
        along = blended_transform_factory(cells, frame)
        where = offset_copy(along, fig=fig, y=-pad, units="points")
        for pos, label in zip(positions, labels, strict=True):
            ax.text(pos, 0, label, transform=where, rotation=90, ha="center", va="top",
                    fontsize=size, gid="key-label", label=name)  # fmt: skip
    else:  # queries, left of the panel
        along = blended_transform_factory(frame, cells)
        where = offset_copy(along, fig=fig, x=-pad, units="points")
        for pos, label in zip(positions, labels, strict=True):
            ax.text(0, pos, label, transform=where, ha="right", va="center",
                    fontsize=size, gid="query-label", label=name)  # fmt: skip
    return text_width(labels, size) * 72 + 2 * pad


def cell_numbers(panel: Panel, table: np.ndarray) -> list[tuple[int, int, str, str]]:
    """(row, column, text, ink) of the number printed in each visible cell of a panel, the
    ink black or white by the contrast with the cell's colour in ``table``."""
    out = []
    for (i, j), w in np.ndenumerate(panel.weights):
        if not panel.hidden[i, j]:
            shown = signed_text(w) if panel.signed else cell_text(w)
            cell = float(panel.to_color(w))
            out.append((i, j, shown, colors.ink(colors.rgb(table, cell))))
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
    than the rest of the figure. (In SVG and PDF these numbers are outlines; titles and
    labels stay text.)
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
    return numbers


def check_figure_options(
    *,
    dpi: int | None = None,
    theme: str = "light",
    preset: str = "screen",
    labels: str = "auto",
) -> None:
    """Raise ConfigError for a figure option out of range, before any work is done."""
    label_step(labels)
    if dpi is not None and not 1 <= dpi <= MAX_DPI:
        raise ConfigError(f"`dpi` must be between 1 and {MAX_DPI}, not {dpi}")
    for name, value, choices in (
        ("theme", theme, colors.THEMES),
        ("preset", preset, tuple(PRESETS)),
    ):
        if value not in choices:
            raise ConfigError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int | None = None) -> None:
    """Write ``fig`` as PNG, SVG or PDF (by extension), atomically, the same bytes every time.

    SVG and PDF keep their text as text (editable in slide software, fonts embedded).
    """
    from matplotlib import rc_context

    from ...export import atomic_open, check_output

    p = check_output(path, FIGURE_FORMATS)
    fmt = p.suffix.lower().lstrip(".")
    check_figure_options(dpi=dpi)
    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
    rc: dict[Any, Any] = {"svg.fonttype": "none", "pdf.fonttype": 42, "svg.hashsalt": "attnviz"}
    with rc_context(rc), atomic_open(p) as f, one_glyph_warning():
        fig.savefig(f, format=fmt, dpi=dpi or fig.dpi, metadata=metadata[fmt])
        check_fits(fig)  # before the file is kept; Matplotlib's own warnings then say nothing


MIN_PANEL = 0.5  # inches: below this, a panel's labels and cells cannot be read


def require_readable(side: float) -> None:
    """Raise ConfigError for panels of ``side`` inches, too small to read (many heads on a
    fixed-size slide, three panels side by side in one paper column)."""
    if side < MIN_PANEL:
        raise ConfigError(
            f"the panels do not fit this figure at a readable size ({side:.2f} in): "
            "show fewer heads, or use a larger `preset` (screen, slides)"
        )


def check_fits(fig: Figure) -> None:
    """require_readable for every panel that a layout engine placed (an Axes with an image)."""
    width, height = fig.get_size_inches()
    for ax in fig.axes:
        box = ax.get_position()
        if ax.get_images():
            require_readable(min(box.width * width, box.height * height))


@contextlib.contextmanager
def one_glyph_warning() -> Iterator[None]:
    """Matplotlib warns once per character its font lacks (CJK, emoji...): say it once."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    missing: list[str] = []
    for w in caught:
        m = _MISSING_GLYPH.search(str(w.message))
        if m is None:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        elif chr(int(m.group(1))) not in missing:
            missing.append(chr(int(m.group(1))))
    if missing:
        sample = " ".join(missing[:8]) + (" …" if len(missing) > 8 else "")
        warnings.warn(
            f"the figure's font has no glyph for {len(missing)} characters ({sample}): "
            "they show as empty boxes",
            stacklevel=3,
        )


_MISSING_GLYPH = re.compile(r"Glyph (\d+) .*missing from")


def figure_bytes(preset: str, panels: int, dpi: int | None = None, n_tokens: int = 0) -> int:
    """A rough upper estimate of the memory a figure takes while it is drawn: its pixels,
    and the colour matrix of the panel being made (T x T, before pooling)."""
    p = PRESETS[preset]
    rows, cols = grid(max(panels, 1), p.max_cols)
    width = p.width or cols * p.panel + 2
    height = p.height or rows * p.panel + 2
    d = dpi or p.dpi
    pixels = int(width * d * height * d * 4 * 3)  # RGBA, drawn and copied for encoding
    return pixels + 2 * 8 * n_tokens * n_tokens


DEFAULT_STYLE = Style()  # made once the functions it checks with are defined
