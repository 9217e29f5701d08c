"""The survey figure: small multiples, one layers × heads grid per measure (each coloured from 0
to its own largest value, the values printed where they fit), and a grid of the heads'
labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import ConfigError
from ...views.labels import strings
from ...views.survey import SurveyView
from .. import colors
from .draw import add_title
from .layout import DEFAULT_STYLE, Style, text_width, theme_rc, wrap, wrap_to

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KINDS = {
    "sink": (31, 119, 180),
    "previous": (255, 127, 14),
    "next": (44, 160, 44),
    "self": (214, 39, 40),
    "separator": (148, 103, 189),
    "punctuation": (140, 86, 75),
    "positional": (227, 119, 194),
    "induction": (188, 189, 34),
    "broad": (199, 199, 199),
}  # fmt: skip  (Tableau's ten colours, broad a light grey)
SHORT = {"previous": "prev", "separator": "sep", "punctuation": "punct", "induction": "ind",
         "positional": "pos"}  # fmt: skip


def short(label: str) -> str:
    """A label as a cell holds it: "positional +2" -> "pos+2", "previous" -> "prev"."""
    kind, _, offset = label.partition(" ")
    return SHORT.get(kind, kind) + offset


def cell_value(v: float) -> str:
    """A measure as a cell prints it: .93 for a share, 2.3 for larger values."""
    return f"{v:.2f}"[1:] if 0 <= v < 0.995 else f"{v:.1f}"


@dataclass(frozen=True)
class _Layout:
    """Where everything goes (inches): ``cols`` × ``rows`` panels of ``pw`` × ``ph``, ``gap``
    and ``vgap`` between them, ``top`` (title) and ``bottom`` (legend, caption) margins, the
    figure's size, and the wrapped heading and caption, ``per_row`` legend entries a line, the
    panels' titles' font."""

    cols: int
    rows: int
    pw: float
    ph: float
    gap: float
    vgap: float
    top: float
    bottom: float
    width: float
    height: float
    heading: str
    caption: str
    per_row: int
    title_font: float  # the panels' titles: the font, or smaller where a column is narrower


def _layout(view: SurveyView, style: Style, n: int, kinds: list[str]) -> _Layout:
    """The panels as large as the page allows, a column no narrower than the widest title
    (a measure's name over its largest value; where none is that wide, smaller titles); on a
    page of fixed size (slides) the number of columns that gives the largest panels."""
    p, s = style.p, strings(view.lang)
    L, H = view.shape
    em, ratio = p.font / 72, min(max(L / H, 0.35), 1.5)
    gap, vgap = 3.2 * em, 5.2 * em  # between rows: two lines of title, the tick labels
    pitch = text_width([*view.measures], p.font) + 0.8 * em  # a title's room

    def margins(width: float) -> tuple[float, float, str, str, int]:
        title = style.title if style.title is not None else view.title
        heading = wrap(title, width * 72 / (0.6 * p.font * 1.1))
        caption = wrap_to(s["survey_caption"], width - 2 * em, p.font * 0.9, " ")
        per_row = max(1, int((width - 2 * em) / _legend_item(kinds, p.font)))
        top = (1.0 + 1.45 * (heading.count("\n") + 1) + 3.0) * em
        bottom = (2.2 + 1.5 * -(-len(kinds) // per_row) + 1.3 * (caption.count("\n") + 1)) * em
        return top, bottom + 0.6 * em, heading, caption, per_row

    def size(cols: int, top: float, bottom: float) -> float:  # a panel's width
        assert p.width is not None
        pw = (p.width - 4 * em - (cols - 1) * gap) / cols
        if p.height is not None:
            rows = -(-n // cols)
            pw = min(pw, (p.height - top - bottom - (rows - 1) * vgap) / rows / ratio)
        return max(pw, 0.2)

    if p.width is None:
        cols, pw = min(n, p.max_cols), max(p.panel, pitch - gap)
        width = 4 * em + cols * pw + (cols - 1) * gap
        top, bottom, heading, caption, per_row = margins(width)
    else:
        width = p.width
        top, bottom, heading, caption, per_row = margins(width)
        sizes = {c: size(c, top, bottom) for c in range(1, n + 1)}
        fits = [c for c in sizes if sizes[c] + gap >= pitch] or list(sizes)  # else: small titles
        cols = max(fits, key=lambda c: (sizes[c], -c)) if p.height else min(max(fits), p.max_cols)
        pw = sizes[cols]
    rows = -(-n // cols)
    height = p.height or top + bottom + rows * pw * ratio + (rows - 1) * vgap
    title_font = p.font * min(1.0, (pw + gap - 0.3 * em) / (pitch - 0.8 * em))
    return _Layout(cols, rows, pw, pw * ratio, gap, vgap, top, bottom, width, height, heading,
                   caption, per_row, title_font)  # fmt: skip


def draw_survey(view: SurveyView, style: Style = DEFAULT_STYLE) -> Figure:
    """The figure of a SurveyView."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    if style.labels != "auto":
        raise ConfigError("the survey figure has no token labels: it takes no labels")
    p, (L, H) = style.p, view.shape
    names = [*view.measures, "label"]
    kinds = sorted({x.split(" ")[0] for row in view.labels for x in row}, key=list(KINDS).index)
    with rc_context(theme_rc(style.theme, p.font)):
        b = _layout(view, style, len(names), kinds)
        fig = Figure(figsize=(b.width, b.height), dpi=p.dpi)
        left = (b.width - b.cols * b.pw - (b.cols - 1) * b.gap) / 2 + 0.8 * p.font / 72
        grid_h = b.rows * b.ph + (b.rows - 1) * b.vgap
        top = b.top + (b.height - b.top - b.bottom - grid_h) / 2  # centre what is left over
        for n, name in enumerate(names):
            r, c = divmod(n, b.cols)
            rect = ((left + c * (b.pw + b.gap)) / b.width,
                    1 - (top + r * (b.ph + b.vgap) + b.ph) / b.height, b.pw / b.width,
                    b.ph / b.height)  # fmt: skip
            ax = fig.add_axes(rect)
            if name == "label":
                _labels_panel(ax, view, style, b.pw, b.ph)
            else:
                _measure_panel(ax, name, view.measures[name], style, b.pw, b.ph)
            ax.title.set_fontsize(b.title_font)  # every panel's title alike
            _axes(ax, L, H, p.font, b.pw, b.ph)
        _legend(fig, kinds, b.per_row, (b.bottom - 2.2 * p.font / 72) / b.height, p.font)
        fig.text(0.5, 0.6 * p.font / 72 / b.height, b.caption, ha="center", va="bottom",
                 gid="caption", fontsize=p.font * 0.9)  # fmt: skip
        add_title(fig, b.heading, p.font, b.height)
    return fig


def _legend_item(kinds: list[str], font: float) -> float:
    """The width (inches) a legend entry takes: its patch, gaps and the longest name."""
    return text_width(kinds, font * 0.85) + 3.2 * font / 72


def _legend(fig: Any, kinds: list[str], per_row: int, y: float, font: float) -> None:
    """The colours of the labels, centred under the grids, its top at ``y``."""
    from matplotlib.patches import Patch

    handles = [Patch(facecolor="#{:02x}{:02x}{:02x}".format(*KINDS[k]), label=k) for k in kinds]
    fig.legend(handles=handles, loc="upper center", ncols=per_row, bbox_to_anchor=(0.5, y),
               frameon=False, fontsize=font * 0.85, borderaxespad=0, borderpad=0)  # fmt: skip


def _fits(font: float, pw: float, ph: float, L: int, H: int, chars: int) -> bool:
    """Whether ``chars`` characters at 0.7 of the font fit a cell."""
    size = font * 0.7
    return pw * 72 / H >= 0.62 * size * chars + 2 and ph * 72 / L >= 1.25 * size


def _measure_panel(ax: Any, name: str, values: np.ndarray, style: Style, pw: float,
                   ph: float) -> None:  # fmt: skip
    """One measure: each head's value coloured from 0 to the panel's largest; printed where
    it fits (or as --annotate says)."""
    from matplotlib.colors import ListedColormap

    table = colors.lut(style.cmap)
    top = float(values.max())
    shade = values / top if top > 0 else np.zeros_like(values)
    ax.imshow(shade, cmap=ListedColormap(table / 255.0, name=style.cmap), vmin=0, vmax=1, aspect="auto",
              interpolation="nearest")  # fmt: skip
    ax.set_title(f"{name}\n≤ {top:.2f}", pad=3, linespacing=1.1)  # sized by the layout
    L, H = values.shape
    fits = _fits(style.p.font, pw, ph, L, H, 3)
    if style.annotate or (style.annotate is None and fits):
        for (r, c), v in np.ndenumerate(values):
            ink = colors.ink(colors.rgb(table, float(shade[r, c])))
            ax.text(c, r, cell_value(float(v)), ha="center", va="center", color=ink,
                    fontsize=style.p.font * 0.7)  # fmt: skip


def _labels_panel(ax: Any, view: SurveyView, style: Style, pw: float, ph: float) -> None:
    """Each head's label: a colour per kind, its short name printed where it fits."""
    from matplotlib.colors import ListedColormap

    order = list(KINDS)
    palette = ["#{:02x}{:02x}{:02x}".format(*KINDS[k]) for k in order]
    kinds = [[order.index(x.split(" ")[0]) for x in row] for row in view.labels]
    ax.imshow(np.array(kinds), cmap=ListedColormap(palette), vmin=-0.5,
              vmax=len(KINDS) - 0.5, aspect="auto", interpolation="nearest")  # fmt: skip
    ax.set_title(strings(view.lang)["head_labels"], pad=3)
    L, H = view.shape
    if style.annotate is not False and _fits(style.p.font, pw, ph, L, H, 5):
        for (r, c), k in np.ndenumerate(np.array(kinds)):
            ink = colors.ink(KINDS[order[k]])
            ax.text(c, r, short(view.labels[r][c]), ha="center", va="center", color=ink,
                    fontsize=style.p.font * 0.6)  # fmt: skip


def _axes(ax: Any, L: int, H: int, font: float, pw: float, ph: float) -> None:
    """Layer numbers on the left, head numbers below, as many as fit."""

    def step(n: int, room: float) -> int:
        return next((k for k in (1, 2, 5, 10, 20, 50) if n / k * 1.3 * font <= room), 100)

    ax.set_yticks(range(0, L, step(L, ph * 72)))
    ax.set_xticks(range(0, H, step(H, pw * 72 / 1.5)))
    ax.tick_params(length=2, labelsize=font * 0.75, pad=1)
    for spine in ax.spines.values():
        spine.set_visible(False)
