"""Terminal renderers: Rich renderables built from a Trace (or its tokens). No Matplotlib here.

User text reaches the terminal only through ``visible`` (control characters shown) and
``rich.text.Text`` (no markup parsing).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from rich.console import Console, ConsoleRenderable, Group
from rich.measure import Measurement
from rich.style import Style
from rich.table import Table
from rich.text import Text

from ..stats import mean_entropy
from ..tokens import Token
from ..trace import Trace
from . import colors
from .labels import mask_text, shorten, strings, visible

HIDDEN_CELL = "·"
SHADES = " ░▒▓█"  # the heat view's blocks where the terminal shows no colour (NO_COLOR, pipes)


def tokens_table(tokens: Sequence[Token]) -> Table:
    """One row per token: index, token (shown literally), start, end."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("token")
    table.add_column("start", justify="right")
    table.add_column("end", justify="right")
    for i, t in enumerate(tokens):
        shown = Text(visible(t.text), style="italic" if t.special else "")
        table.add_row(str(i), shown, str(t.start), str(t.end))
    return table


def _cell_style(table: np.ndarray, value: float) -> Style:
    rgb = colors.rgb(table, value)
    return Style(color=colors.ink(rgb), bgcolor=f"rgb({rgb[0]},{rgb[1]},{rgb[2]})")


def caption(trace: Trace, h: int, lang: str = "en") -> Text:
    """The line under a head's table: the head, its mean row entropy and the mask."""
    s = strings(lang)
    entropy = float(mean_entropy(trace.weights[[h]], trace.allowed)[0])
    return Text(
        f"{s['head']} {h} · {s['entropy']} {entropy:.2f} {s['nats']}"
        f" · {s['mask']} {mask_text(trace.config.mask)}",
        style="dim",
    )


def weight_table(trace: Trace, h: int, *, cmap: str, lang: str = "en") -> Table:
    """One head as a table: query tokens down, key tokens across, each weight on its colour."""
    s = strings(lang)
    lut = colors.lut(cmap)
    table = Table(
        box=None,
        pad_edge=False,
        padding=0,  # coloured cells touch, as in the figure
        header_style="bold",
    )
    table.add_column(Text(f"{s['query']} \\ {s['key']} ", style="dim"), no_wrap=True)
    for t in trace.tokens:
        table.add_column(Text(" " + shorten(t.text, 6) + " "), justify="right", no_wrap=True)
    w = trace.weights[h]
    for i, t in enumerate(trace.tokens):
        cells = [Text(shorten(t.text, 12), style="bold")]
        for j in range(len(trace.tokens)):
            if trace.allowed[i, j]:
                cells.append(Text(f" {w[i, j]:.2f} ", style=_cell_style(lut, float(w[i, j]))))
            else:
                cells.append(Text(f"{HIDDEN_CELL}  ", style="dim"))
        table.add_row(*cells)
    return table


def fits(console: Console, renderable: ConsoleRenderable) -> bool:
    """Whether ``renderable`` fits the console's width without squeezing."""
    natural = console.options.update_width(1_000_000)  # measure without squeezing
    return Measurement.get(console, natural, renderable).maximum <= console.width


def _ruler(T: int, indent: int) -> Text:
    """Key indices every 5 keys over the two-character heat cells."""
    line = [" "] * (indent + 2 * T + 4)
    for j in range(0, T, 5):
        for n, ch in enumerate(str(j)):
            line[indent + 2 * j + n] = ch
    return Text("".join(line).rstrip(), style="dim")


def _block(lut: np.ndarray, value: float, color: bool) -> tuple[str, Style | str]:
    """A two-character heat cell: coloured spaces, or shade characters without colour."""
    if color:
        return "  ", Style(bgcolor="rgb({},{},{})".format(*colors.rgb(lut, value)))
    return SHADES[min(int(value * len(SHADES)), len(SHADES) - 1)] * 2, ""


def heat_rows(
    trace: Trace, h: int, *, cmap: str, width: int, color: bool = True, lang: str = "en"
) -> Iterator[Text]:
    """One head in compact form: a row per query, a two-character block per key."""
    lut = colors.lut(cmap)
    T = len(trace.tokens)
    labels = [f"{i:>{len(str(T - 1))}} {shorten(t.text, 10)}" for i, t in enumerate(trace.tokens)]
    indent = max(len(label) for label in labels) + 1
    shown = max(1, min(T, (width - indent) // 2))
    yield caption(trace, h, lang)
    yield _ruler(shown, indent)
    w = trace.weights[h]
    for i in range(T):
        row = Text(labels[i].ljust(indent))
        for j in range(shown):
            if trace.allowed[i, j]:
                row.append(*_block(lut, float(w[i, j]), color))
            else:
                row.append(f" {HIDDEN_CELL}", style="dim")
        yield row
    if shown < T:
        yield Text(f"keys {shown} to {T - 1} do not fit this terminal: widen it, or use -o", "dim")


def legend(cmap: str, color: bool = True, lang: str = "en") -> Text:
    """The colour scale of the heat view: 0 to 1, and the mark of hidden cells."""
    lut = colors.lut(cmap)
    text = Text("0 ")
    for n in range(11):
        text.append(*_block(lut, n / 10, color))
    text.append(f" 1   {HIDDEN_CELL} {strings(lang)['hidden']}")
    return text


def heat_view(
    trace: Trace,
    heads: Sequence[int],
    *,
    cmap: str,
    width: int,
    color: bool = True,
    lang: str = "en",
) -> Group:
    """Every selected head in the compact heat form, then the legend."""
    parts: list[Text] = []
    for h in heads:
        parts.extend(heat_rows(trace, h, cmap=cmap, width=width, color=color, lang=lang))
        parts.append(Text(""))
    parts.append(legend(cmap, color, lang))
    return Group(*parts)
