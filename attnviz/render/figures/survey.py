"""The survey figure: small multiples, one layers × heads grid per measure (each coloured from 0
to its own largest value, the values printed where they fit), and a grid of the heads'
labels."""

from __future__ import annotations

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


def _columns(n: int, style: Style, ratio: float, em: float) -> tuple[int, float]:
    """The columns of panels and a panel's width (inches): the preset's columns, or on a page
    of fixed size the number that gives the largest panels."""
    p = style.p
    if p.width is None:
        return min(n, p.max_cols), p.panel
    fixed = p.height is not None  # slides: the columns that give the largest panels
    widths = {c: _panel_width(n, c, style, ratio, em) for c in range(1, n + 1)}
    cols = max(widths, key=lambda c: (widths[c], -c)) if fixed else min(n, p.max_cols)
    return cols, widths[cols]


def _panel_width(n: int, cols: int, style: Style, ratio: float, em: float) -> float:
    p = style.p
    rows = -(-n // cols)
    assert p.width is not None
    width = (p.width - 4 * em - (cols - 1) * 3.2 * em) / cols
    if p.height is not None:
        height = (p.height - 9 * em - (rows - 1) * 3.4 * em) / rows
        width = min(width, height / ratio)
    return max(width, 0.3)


def draw_survey(view: SurveyView, style: Style = DEFAULT_STYLE) -> Figure:
    """The figure of a SurveyView."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    if style.labels != "auto":
        raise ConfigError("the survey figure has no token labels: it takes no labels")
    p, s = style.p, strings(view.lang)
    L, H = view.shape
    names = [*view.measures, "label"]
    ratio = min(max(L / H, 0.35), 2.5)
    em = p.font / 72
    with rc_context(theme_rc(style.theme, p.font)):
        cols, pw = _columns(len(names), style, ratio, em)
        rows, ph = -(-len(names) // cols), pw * ratio
        gap, vgap = 3.2 * em, 3.4 * em
        width = p.width or 4 * em + cols * pw + (cols - 1) * gap
        heading = wrap(style.title if style.title is not None else view.title,
                       width * 72 / (0.6 * p.font * 1.1))  # fmt: skip
        caption = wrap_to(s["survey_caption"], width - 2 * em, p.font * 0.9, " ")
        kinds = sorted({x.split(" ")[0] for row in view.labels for x in row}, key=list(KINDS).index)
        per_row = max(1, int((width - 2 * em) / _legend_item(kinds, p.font)))
        legend_rows = -(-len(kinds) // per_row)
        top = 1.0 * em + (heading.count("\n") + 1) * 1.45 * em + 1.6 * em
        bottom = (2.2 + 1.5 * legend_rows + 1.3 * (caption.count("\n") + 1) + 0.6) * em
        height = p.height or top + bottom + rows * ph + (rows - 1) * vgap
        fig = Figure(figsize=(width, height), dpi=p.dpi)
        left = (width - cols * pw - (cols - 1) * gap) / 2 + 0.8 * em
        for n, name in enumerate(names):
            r, c = divmod(n, cols)
            rect = ((left + c * (pw + gap)) / width,
                    1 - (top + r * (ph + vgap) + ph) / height, pw / width, ph / height)  # fmt: skip
            ax = fig.add_axes(rect)
            if name == "label":
                _labels_panel(ax, view, style, pw, ph)
            else:
                _measure_panel(ax, name, view.measures[name], style, pw, ph)
            _axes(ax, L, H, p.font, pw, ph)
        grid_bottom = height - top - rows * ph - (rows - 1) * vgap
        _legend(fig, kinds, per_row, (grid_bottom - 2.2 * em) / height, p.font)
        fig.text(0.5, 0.6 * em / height, caption, ha="center", va="bottom", gid="caption",
                 fontsize=p.font * 0.9)  # fmt: skip
        add_title(fig, heading, p.font, height)
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
    ax.set_title(f"{name}  ≤ {top:.2f}", fontsize=style.p.font, pad=3)
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
    ax.set_title(strings(view.lang)["head_labels"], fontsize=style.p.font, pad=3)
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
