"""Where everything goes in a figure: the presets and the style, the token labels, text
measured with the font, and the one layout of every figure, a grid of panels whose margins,
gaps and size come from the measured widths of its labels and titles (no layout engine).

Shapes: T tokens.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...errors import ConfigError
from ...views.labels import shorten
from .. import colors

if TYPE_CHECKING:
    pass


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
    fit = max(1, int(axis_points / (1.1 * font)))
    k = 1 if step == 0 or (step is None and T <= fit) else step or math.ceil(T / fit)
    positions = list(range(0, T, k))
    if k == 1 and start is None:
        return positions, [shorten(t) for t in texts]
    return positions, [f"{(start or 0) + i} {shorten(texts[i])}" for i in positions]


def index_labels(n: int, axis_points: float, font: float) -> tuple[list[int], list[str]]:
    """Positions and labels of ``n`` numbered columns (0, 1, ...), at a round step (1, 2, 5,
    10, 20, 50, ...) where they do not all fit."""
    fit = max(1, int(axis_points / (2.5 * font)))  # rotated numbers, spaced to be read
    step = next(s * m for m in (1, 10, 100, 1000, 10000) for s in (1, 2, 5) if n <= fit * s * m)
    positions = list(range(0, n, step))
    return positions, [str(i) for i in positions]


def all_labelled(n: int, axis_points: float, font: float, spec: str = "auto") -> bool:
    """Whether ``tick_labels`` shows every one of ``n`` labels (and so without indices)."""
    step = label_step(spec)
    return step == 0 or (step is None and n <= max(1, int(axis_points / (1.1 * font))))


def fitted_labels(
    axis_texts: Sequence[str], n: int, T: int, font: float, spec: str, indexed: bool,
    lay_out: Callable[[float], GridLayout],
) -> tuple[float, GridLayout]:  # fmt: skip
    """The width of the token labels and the layout made with it: the labels as they read when
    every one of the ``n`` along an axis fits, else with their indices in the text of ``T``
    tokens (every k-th one, or a crop's: ``indexed``)."""
    if spec == "none":
        return 0.0, lay_out(0.0)
    if not indexed:
        plain = text_width([shorten(t) for t in axis_texts], font)
        box = lay_out(plain)
        if all_labelled(n, box.panel * 72, font, spec):
            return plain, box
    width = text_width([f"{T - 1} {shorten(t)}" for t in axis_texts], font)
    return width, lay_out(width)


def crop_texts(texts: Sequence[str], start: int | None, n: int) -> Sequence[str]:
    """The ``n`` texts of a crop's axis from ``start`` (all of them outside a crop)."""
    return texts if start is None else texts[start : start + n]


def crop_texts_both(texts: Sequence[str], crop: Any, keys: Sequence[str] | None = None
                    ) -> Sequence[str]:  # fmt: skip
    """The texts on either axis of ``crop`` (all outside one): what the labels measure;
    ``keys``: the keys' texts when they are not the queries' (cross-attention's source)."""
    if crop is None:
        return texts if keys is None else [*texts, *keys]
    return [*texts[crop.queries], *(texts if keys is None else keys)[crop.keys]]


# Fonts Matplotlib falls back to, in order, for what the default font (DejaVu Sans) lacks,
# where they are installed; with the Debian package that installs each. Emoji come in one
# colour from Symbola: Matplotlib cannot draw a colour emoji font.
FALLBACK_FONTS = (
    ("Noto Sans CJK JP", "fonts-noto-cjk"),
    ("Noto Sans Arabic", "fonts-noto-core"),
    ("Noto Sans Hebrew", "fonts-noto-core"),
    ("Noto Sans Devanagari", "fonts-noto-core"),
    ("Noto Sans Thai", "fonts-noto-core"),
    ("Symbola", "fonts-symbola"),
)


@functools.cache
def font_families() -> tuple[str, ...]:
    """The figures' font families: the default, then the fallbacks that are installed."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return ("sans-serif", *(name for name, _ in FALLBACK_FONTS if name in installed))


def font_package(char: str) -> str:
    """The Debian package whose fonts draw ``char``: CJK, emoji and symbols, or the rest."""
    n = ord(char)
    cjk = (0x1100, 0x11FF), (0x2E80, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0xFF00, 0xFFEF)
    if any(lo <= n <= hi for lo, hi in (*cjk, (0x20000, 0x3FFFF))):
        return "fonts-noto-cjk"
    if n >= 0x1F000 or 0x2190 <= n <= 0x2BFF:
        return "fonts-symbola"
    return "fonts-noto-core"


def theme_rc(theme: str, font: float) -> dict[Any, Any]:
    fg, bg = ("#e8e8e8", "#161616") if theme == "dark" else ("#111111", "#ffffff")
    return {
        "font.family": list(font_families()),
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


def auto_annotate(font: float, axis_points: float, T: int, chars: int = 3) -> bool:
    """The default of ``annotate``: numbers only where they are few and large enough to read
    beside the figure's text (half its size; on a slide, numbers a room cannot read are
    left out)."""
    return T <= 12 and annotation_size(font, axis_points, T, chars) >= max(5.0, 0.5 * font)


def annotation_size(font: float, axis_points: float, T: int, chars: int = 3) -> float:
    """Font size of ``chars``-character numbers in cells: three quarters of a cell's width
    (a character is about 0.6 em; the panel estimate gets a 10% margin), at most 0.8 x font."""
    cell = 0.9 * axis_points / T
    return min(font * 0.8, 0.75 * cell / (0.6 * chars))


def grid(n: int, max_cols: int) -> tuple[int, int]:
    """Rows and columns for n panels, at most ``max_cols`` a row, the rows as even as can be
    (6 panels: 3 + 3, not 4 + 2)."""
    rows = math.ceil(n / max_cols)
    return rows, math.ceil(n / rows)


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
    """Where a grid of panels goes, in inches: the figure, each panel, the colour bar. A panel
    is square, ``panel`` a side, or (``aspect``: its width and height as parts of ``panel``)
    the rectangle of a crop's square cells, ``panel`` its longer side.

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
    aspect: tuple[float, float] = (1.0, 1.0)

    @property
    def panel_w(self) -> float:
        return self.panel * self.aspect[0]

    @property
    def panel_h(self) -> float:
        return self.panel * self.aspect[1]

    def panel_rect(self, r: int, c: int) -> tuple[float, float, float, float]:
        """[left, bottom, width, height] of panel (r, c) in figure fractions."""
        x = self.left + c * (self.panel_w + self.wgap)
        y = self.top + r * (self.panel_h + self.hgap) + self.panel_h
        return (
            x / self.width,
            1 - y / self.height,
            self.panel_w / self.width,
            self.panel_h / self.height,
        )

    @property
    def grid_w(self) -> float:
        return self.cols * self.panel_w + (self.cols - 1) * self.wgap

    @property
    def grid_h(self) -> float:
        return self.rows * self.panel_h + (self.rows - 1) * self.hgap

    def panel_bar_rect(self, r: int, c: int, em: float) -> tuple[float, float, float, float]:
        """The colour bar of panel (r, c) alone (``each``), right of it, 80% of its height."""
        x = self.left + c * (self.panel_w + self.wgap) + self.panel_w + 0.8 * em
        y = self.top + r * (self.panel_h + self.hgap) + 0.9 * self.panel_h
        return (x / self.width, 1 - y / self.height, 0.8 * em / self.width,
                0.8 * self.panel_h / self.height)  # fmt: skip

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


def _spread(
    panel: float, cols: int, gap: float, title_width: float, em: float, margin: float
) -> tuple[float, float, float, float]:
    """(The width of a row of panels with the titles' overhangs, the gap between them, the
    overhang on the right, the one on the left past the ``margin`` the row labels leave): a
    title wider than its panel widens the gaps."""
    wgap = max(gap, title_width + em - panel)
    over = max(0.0, (title_width - panel) / 2)
    lift = max(0.0, over - margin)
    return cols * panel + (cols - 1) * wgap + over + lift, wgap, over, lift


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
    each: bool = False,
    own_rows: bool = True,
    aspect: tuple[float, float] = (1.0, 1.0),
) -> GridLayout:
    """Lay out ``rows`` x ``cols`` panels, square or (``aspect``: a panel's width and height
    as parts of its longer side, GridLayout's ``panel``) not, with query labels ``row_labels``
    wide on the left, key labels ``col_labels`` tall below (inches), a title of
    ``title_lines`` lines, panel titles of ``title_rows`` lines and ``title_width`` inches (a
    panel narrower than its title gets wider gaps), and ``bars`` colour bars on the right;
    ``below`` inches and ``below_panels`` panel heights are kept free under the grid (for
    compare's bars). With ``each``, every panel has its own key labels, key title and colour
    bar (steps' stages), and, with ``own_rows``, its own row labels."""
    em = p.font / 72
    pad = 0.5 * em
    left = pad + 1.6 * em + row_labels + 0.4 * em  # axis title, tick labels
    bottom = pad + 1.6 * em + col_labels + 0.4 * em + 1.6 * em + below  # ... the legend line
    top = pad + title_lines * 1.5 * em + (1.8 + 1.2 * (title_rows - 1)) * em  # + panel titles
    right = 1.0 * em + 1.0 * em + 3.0 * em + 1.8 * em + pad  # gap, bar, ticks, bar title
    right += (bars - 1) * 7.8 * em  # each more bar: gap, bar, signed ticks, title
    gap, hgap = 0.8 * em, (2.0 + 1.2 * (title_rows - 1)) * em
    if each:  # between panels: a bar and its ticks, the next one's labels; below: the keys
        right -= 1.8 * em  # the bars have no title
        gap += 0.8 * em + 0.8 * em + 2.8 * em + (row_labels + 0.4 * em if own_rows else 0.0)
        hgap += col_labels + 0.4 * em + 1.6 * em
    tall = rows + below_panels
    fixed_h = top + bottom + (rows - 1) * hgap

    def spread(panel: float) -> tuple[float, float, float, float]:
        return _spread(panel, cols, gap, title_width, em, left - pad)

    wide, high = aspect
    panel = p.panel
    if p.width is not None:
        room = p.width - left - right
        w = (room - (cols - 1) * gap) / cols  # a panel's width
        if w < title_width:  # the largest panel whose spread fits: spread grows with it
            lo, hi = 0.0, w
            for _ in range(40):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if spread(mid)[0] <= room else (lo, mid)
            w = lo
        panel = w / wide
        if p.height is not None:
            panel = min(panel, (p.height - fixed_h) / (tall * high))
    panel = max(panel, 0.4)
    used, wgap, over, lift = spread(panel * wide)
    width = p.width or left + right + used
    height = p.height or fixed_h + tall * panel * high
    left += lift + (width - left - right - used) / 2  # centre what a fixed size leaves over
    top += (height - fixed_h - tall * panel * high) / 2
    return GridLayout(width, height, panel, left, top, wgap, hgap, rows, cols, over, aspect)


def wrap(text: str, max_chars: float) -> str:
    """Break each " · "-separated line of a title into lines of at most ``max_chars``
    characters; a part longer than that alone is broken between its words."""
    import textwrap

    lines: list[str] = []
    for line in text.split("\n"):
        start = len(lines)
        for part in line.split(" · "):
            if len(lines) > start and len(lines[-1]) + 3 + len(part) <= max_chars:
                lines[-1] += " · " + part
            elif len(part) > max_chars:
                lines += textwrap.wrap(part, int(max_chars), break_long_words=False) or [part]
            else:
                lines.append(part)
    return "\n".join(lines)


def wrap_to(text: str, inches: float, font: float, between: str = " · ") -> str:
    """Break a line into lines at most ``inches`` wide at ``font`` points, measured, between
    its pieces (" · "-separated, or ``between``: " " for words; a piece wider than that is a
    line of its own)."""
    lines: list[str] = []
    for part in text.split(between):
        joined = f"{lines[-1]}{between}{part}" if lines else part
        if lines and text_width([joined], font) <= inches:
            lines[-1] = joined
        else:
            lines.append(part)
    return "\n".join(lines)


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


MIN_PANEL = 0.5  # inches: below this, a panel's labels and cells cannot be read


def require_readable(side: float, preset: str) -> None:
    """Raise ConfigError for panels of ``side`` inches, too small to read (many heads on a
    fixed-size slide, three panels side by side in one paper column)."""
    if side < MIN_PANEL:
        way = (
            ", or use `preset='screen'`, which grows with its panels" if preset != "screen" else ""
        )
        raise ConfigError(f"the panels do not fit this {preset} figure at a readable size "
                          f"({side:.2f} in): show fewer heads{way}")  # fmt: skip


DEFAULT_STYLE = Style()  # made once the functions it checks with are defined
