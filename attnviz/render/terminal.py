"""Terminal renderers: Rich renderables built from a Trace (or its tokens). No Matplotlib here.

User text reaches the terminal only through ``visible`` (control characters shown) and
``rich.text.Text`` (no markup parsing): a plain str given to Rich is parsed as markup.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
from rich.cells import cell_len
from rich.console import Console, ConsoleRenderable, Group
from rich.measure import Measurement
from rich.style import Style
from rich.table import Table
from rich.text import Text

from ..trace import Trace
from ..views.labels import (
    head_caption,
    pattern_label,
    shorten,
    strings,
    visible,
)
from . import colors

if TYPE_CHECKING:  # the views' types: a table of one view imports no other
    from ..models.tokenizer import ModelToken
    from ..stats import Comparison
    from ..tokens import Token
    from ..trace import AttentionConfig, Crop
    from ..views.heatmap import Run, Strongest
    from ..views.panel import Panel
    from ..views.scaling import ScalingView
    from ..views.steps import Stage, WorkedRow

HIDDEN_CELL = "·"
SHADES = " ░▒▓█"  # the heat view's blocks without colour (NO_COLOR, pipes) or with 16 colours
# ``system``, in the functions below: the colours the terminal shows, as Rich names them:
# "truecolor", "256", "16" or "" (none)


def tokens_table(tokens: Sequence[Token | ModelToken], ids: Sequence[int] | None = None) -> Table:
    """One row per token: index, token (shown literally), start, end; a checkpoint's tokens
    (``ids`` given) with their id and the piece its vocabulary spells ("Ġcat")."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    if ids is not None:
        table.add_column("id", justify="right")
    table.add_column("token")
    if ids is not None:
        table.add_column("piece")
    table.add_column("start", justify="right")
    table.add_column("end", justify="right")
    for i, t in enumerate(tokens):
        style = "italic" if t.special else ""
        label: list[Text | str] = [Text(visible(t.text), style=style)]
        if ids is not None:
            piece = Text(visible(getattr(t, "raw", t.text)), style=style)
            label = [str(ids[i]), *label, piece]
        table.add_row(str(i), *label, str(t.start), str(t.end))
    return table


def _paint(cmap: str, value: float, system: str) -> tuple[int, int, int] | int:
    """The colour of ``value`` as the terminal shows it: the map's own, or with 256 colours
    a palette number (``colors.xterm_steps``)."""
    i = colors.index(value)
    if system == "256":
        return int(colors.xterm_steps(cmap)[i])
    r, g, b = colors.lut(cmap)[i]
    return int(r), int(g), int(b)


def _style(color: tuple[int, int, int] | int) -> str:
    return f"color({color})" if isinstance(color, int) else "rgb({},{},{})".format(*color)


def _cell_style(cmap: str, value: float, system: str) -> Style:
    """A number on its colour, in the ink that reads on it; plain with 16 colours or none."""
    return _entry_style(cmap, colors.index(value), system)


@functools.cache
def _entry_style(cmap: str, entry: int, system: str) -> Style:
    """``_cell_style`` of the map's colour ``entry`` (made once: Rich's styles do not change)."""
    if system not in ("truecolor", "256"):
        return Style()
    color = _paint(cmap, entry / 256, system)
    rgb = colors.xterm_rgb(color) if isinstance(color, int) else color
    return Style(color=colors.ink(rgb), bgcolor=_style(color))


def caption(trace: Run, h: int, lang: str = "en", crop: Crop | None = None, pooled: str = ""
            ) -> Text:  # fmt: skip
    """The line under a head's table (``head_caption``, and what its cells pool), dimmed."""
    return Text(" · ".join(filter(None, (head_caption(trace, h, lang, crop), pooled))),
                style="dim")  # fmt: skip


def _cut(trace: Run, crop: Crop | None) -> tuple[range, range]:
    """The query and key indices a view shows: the crop's, or every token's."""
    if crop is None:
        return range(len(trace.tokens)), range(trace.keys_count)
    return range(crop.q0, crop.q1), range(crop.k0, crop.k1)


GENERATED_STYLE = "bold italic magenta"  # the labels of generated tokens


def _generated_from(trace: Run) -> int | None:
    """The first generated token of a generation's run, None for any other run."""
    return trace.model.prompt_tokens if trace.model and trace.model.prompt_tokens else None


def weight_table(
    trace: Run,
    h: int,
    *,
    cmap: str,
    lang: str = "en",
    crop: Crop | None = None,
    matrix: tuple[np.ndarray, np.ndarray] | None = None,
    system: str = "truecolor",
    color: Panel | None = None,
) -> Text:
    """One head as a table: query tokens down, key tokens across, each weight on its colour.
    In a window, the tokens carry their index in the whole text (keys on a line above).
    ``matrix``: (values, allowed) of the cells shown (the crop's, or all T x T), shown
    instead of head ``h``'s weights (a rollout's, or a streamed run's window).

    Laid out here, column by column, as one Text: a Rich Table measures every cell twice,
    which for T² cells costs more than the whole computation.
    """
    s = strings(lang)
    queries, keys = _cut(trace, crop)
    cross = trace.attention == "cross"  # the target down, the source across
    corner = f"{s['target' if cross else 'query']} \\ {s['source' if cross else 'key']} "
    rows = [shorten(trace.tokens[i].text, 12) for i in queries]
    if crop:
        digits = len(str(queries[-1]))
        rows = [f"{i:>{digits}} {row}" for i, row in zip(queries, rows, strict=True)]
    left = max(cell_len(corner), *(cell_len(r) + 1 for r in rows))
    heads = [shorten(trace.key_texts[j], 6) for j in keys]
    widths = [max(6, cell_len(x) + 2, len(str(j)) + 2) for x, j in zip(heads, keys, strict=True)]
    text = Text(no_wrap=True, overflow="ignore")
    if crop:
        text.append(" " * left)
        for j, width in zip(keys, widths, strict=True):
            text.append(f"{j:>{width - 1}} ", style="dim")
        text.append("\n")
    text.append(corner + " " * (left - cell_len(corner)), style="dim")
    new = _generated_from(trace)
    for j, head, width in zip(keys, heads, widths, strict=True):
        look = GENERATED_STYLE if new is not None and j >= new and not cross else "bold"
        text.append(" " * (width - 1 - cell_len(head)) + head + " ", style=look)
    if matrix is None:
        assert isinstance(trace, Trace), "a streamed run's cells come as its ``matrix``"
        w = trace.weights[h][queries.start : queries.stop, keys.start : keys.stop]
        allowed = trace.allowed[queries.start : queries.stop, keys.start : keys.stop]
    else:
        w, allowed = matrix
    for i, row in enumerate(rows):
        text.append("\n")
        if new is not None and queries[i] == new and i > 0:  # the prompt ends: a rule
            text.append("╌" * (left + sum(widths)) + "\n", style="magenta")
        text.append(row, style=GENERATED_STYLE if new is not None and queries[i] >= new else "bold")
        text.append(" " * (left - cell_len(row)))
        for j, width in enumerate(widths):
            pad = " " * (width - 6)
            if allowed[i, j]:
                shade = float(w[i, j] if color is None else color.to_color(w[i, j]))
                text.append(f"{pad} {w[i, j]:.2f} ", style=_cell_style(cmap, shade, system))
            else:
                text.append(f"{pad}   {HIDDEN_CELL}  ", style="dim")
    return text


def layer_rows(
    panel: Panel, keys: Sequence[str], *, cmap: str, heat: bool = False,
    system: str = "truecolor", lang: str = "en",
) -> Text:  # fmt: skip
    """A panel whose rows are layers (``panel.row_names``) of one token: its title, then a row
    per layer over ``keys``, each weight on its colour (or, ``heat``, a two-character block
    under a ruler of key indices), the generated keys set apart."""
    s = strings(lang)
    names = panel.row_names or ()
    corner = f"{s['layer_word']} \\ {s['key']} "
    left = max(cell_len(corner), *(len(n) + 1 for n in names))
    text = Text(panel.title, style="dim", no_wrap=True, overflow="ignore")
    new = panel.generated_from("x")
    shown = [shorten(k, 6) for k in keys]
    widths = [2 if heat else max(6, cell_len(x) + 2) for x in shown]
    if heat:
        text.append("\n").append_text(_ruler(range(len(keys)), left))
    else:
        text.append("\n" + corner + " " * (left - cell_len(corner)), style="dim")
        for j, (label, width) in enumerate(zip(shown, widths, strict=True)):
            look = GENERATED_STYLE if new is not None and j >= new else "bold"
            text.append(" " * (width - 1 - cell_len(label)) + label + " ", style=look)
    for n, name in enumerate(names):
        text.append("\n" + name.rjust(left - 1) + " ", style="bold")
        for j, width in enumerate(widths):
            w, pad = float(panel.weights[n, j]), " " * (width - 6)
            if panel.hidden[n, j]:
                text.append(f" {HIDDEN_CELL}" if heat else f"{pad}   {HIDDEN_CELL}  ", style="dim")
            elif heat:
                text.append(*_block(cmap, w, system))
            else:
                text.append(f"{pad} {w:.2f} ", style=_cell_style(cmap, w, system))
    return text


def may_fit(console: Console, trace: Run, crop: Crop | None) -> bool:
    """Whether a table of ``trace``'s keys could fit the console (a column is at least six
    wide): a table too wide is not built, at T² cells it would take more than the run."""
    return 6 * len(_cut(trace, crop)[1]) <= console.width


def fits(console: Console, renderable: ConsoleRenderable) -> bool:
    """Whether ``renderable`` fits the console's width without squeezing."""
    if isinstance(renderable, Text):
        return max(cell_len(line) for line in renderable.plain.split("\n")) <= console.width
    natural = console.options.update_width(1_000_000)  # measure without squeezing
    return Measurement.get(console, natural, renderable).maximum <= console.width


def _ruler(starts: Sequence[int], indent: int, pooled: bool = False) -> Text:
    """Key indices over the two-character heat cells whose first keys are ``starts``: those
    divisible by 5, or (``pooled``) every fifth cell's."""
    line = [" "] * (indent + 2 * len(starts) + 8)
    for n, j in enumerate(starts):
        if (n if pooled else j) % 5 == 0:
            for c, ch in enumerate(str(j)):
                line[indent + 2 * n + c] = ch
    return Text("".join(line).rstrip(), style="dim")


def _block(cmap: str, value: float, system: str, partly: bool = False) -> tuple[str, Style | str]:
    """A two-character heat cell: coloured spaces, or shade characters where the terminal
    has 16 colours (too few to keep the order of a colour map) or none; a dot in it for a
    pooled block the mask hides in part."""
    if system in ("truecolor", "256"):
        color = _paint(cmap, value, system)
        rgb = colors.xterm_rgb(color) if isinstance(color, int) else color
        return "· " if partly else "  ", Style(color=colors.ink(rgb), bgcolor=_style(color))
    shade = SHADES[min(int(value * len(SHADES)), len(SHADES) - 1)]
    return shade + ("·" if partly else shade), ""


def heat_resolution(width: int, queries: Sequence[str], Tk: int, last: int) -> int:
    """The cells a side of a heat view that fits ``width`` columns: every key when they fit
    beside the labels of the ``queries`` shown (``last`` the largest index), else pooled
    blocks with labels of ranges."""
    digits = len(str(last))
    label = digits + 2 + max((len(shorten(t, 10)) for t in queries), default=0)
    if 2 * Tk + label <= width:
        return max(len(queries), Tk)
    return max(1, (width - 2 * digits - 3) // 2)


def _row_labels(panel: Panel, texts: Sequence[str]) -> list[str]:
    """The labels of a panel's rows in the heat view: each query's index and token, or, pooled,
    the range of queries of each block."""
    f, R, q0 = panel.cell, panel.weights.shape[0], panel.row0 or 0
    starts = [q0 + r * f for r in range(R)]
    digits = len(str(starts[-1] + f - 1))
    if f == 1:
        return [f"{i:>{digits}} {shorten(texts[i], 10)}" for i in starts]
    end = q0 + panel.shape[0]
    return [f"{i:>{digits}}–{min(i + f, end) - 1:<{digits}}" for i in starts]


def _heat_cells(row: Text, panel: Panel, r: int, cols: range, cmap: str, system: str) -> Text:
    """Row ``r`` of a panel's cells ``cols`` appended to ``row`` as heat blocks."""
    for c in cols:
        if panel.hidden[r, c]:
            row.append(f" {HIDDEN_CELL}", style="dim")
        else:
            partly = panel.partly is not None and bool(panel.partly[r, c])
            row.append(*_block(cmap, float(panel.to_color(panel.weights[r, c])), system, partly))
    return row


def heat_rows(
    panel: Panel,
    texts: Sequence[str],
    caption_line: Text,
    *,
    cmap: str,
    width: int,
    system: str = "truecolor",
) -> Iterator[Text]:
    """One panel in compact form: a row per query, a two-character block per key; pooled,
    a row per block of queries (labelled with their range) and a block per block of keys."""
    f, C, k0 = panel.cell, panel.weights.shape[1], panel.col0 or 0
    labels = _row_labels(panel, texts)
    indent = max(len(label) for label in labels) + 1
    fitting = range(min(C, max(1, (width - indent) // 2)))
    yield caption_line
    yield _ruler([k0 + c * f for c in fitting], indent, f > 1)
    new = None if f > 1 else panel.generated_from("y")
    for r, label in enumerate(labels):
        row = Text(label.ljust(indent), style=GENERATED_STYLE if new is not None and r >= new
                   else "")  # fmt: skip
        yield _heat_cells(row, panel, r, fitting, cmap, system)
    if len(fitting) < C:
        yield Text(f"keys {k0 + len(fitting) * f} to {k0 + panel.shape[1] - 1} do not fit this "
                   "terminal: widen it, use --keys, or -o", "dim")  # fmt: skip


def legend(cmap: str, system: str = "truecolor", lang: str = "en", partly: bool = False,
           scale: Panel | None = None) -> Text:  # fmt: skip
    """The colour scale of the heat view: 0 to 1, or (the ``scale`` of a panel) its floor
    to 1 on a log scale, or 0 to each head's largest weight; the mark of hidden cells and
    (``partly``) of pooled blocks hidden in part."""
    s = strings(lang)
    low, high = "0", "1"
    if scale is not None and scale.floor is not None:
        low = f"{scale.floor:.0e}".replace("e-0", "e-")
        high += f" ({s['log_scale']})"
    elif scale is not None and scale.by_head:
        high = s["head_max"]
    text = Text(f"{low} ")
    for n in range(11):
        text.append(*_block(cmap, n / 10, system))
    text.append(f" {high}   {HIDDEN_CELL} {s['hidden']}")
    if partly:
        text.append("   ").append(*_block(cmap, 0.5, system, True)).append(f" {s['partly']}")
    return text


def heat_view(
    panels: Sequence[tuple[Panel, Text]],
    texts: Sequence[str],
    *,
    cmap: str,
    width: int,
    system: str = "truecolor",
    lang: str = "en",
) -> Group:
    """Panels (each with its caption) in the compact heat form, then the legend."""
    parts: list[Text] = []
    for panel, line in panels:
        parts.extend(heat_rows(panel, texts, line, cmap=cmap, width=width, system=system))
        parts.append(Text(""))
    partly = any(p.partly is not None and p.partly.any() for p, _ in panels)
    parts.append(legend(cmap, system, lang, partly, panels[0][0] if panels else None))
    return Group(*parts)


def side_by_side(*renderables: ConsoleRenderable) -> Table:
    """Renderables next to each other, two spaces apart."""
    grid = Table.grid(padding=(0, 2))
    for _ in renderables:
        grid.add_column()
    grid.add_row(*renderables)
    return grid


def compare_summary(cmp: Comparison, heads: Sequence[int], lang: str = "en",
                    keys: Sequence[str] = ("tv_distance", "mass_moved", "entropy_a",
                                           "entropy_b")) -> Table:  # fmt: skip
    """Per head and over all selected heads: TV distance, mass moved, entropy of A and of B
    (the numbers of ``keys``: the Jacobian's norms, too, with scaled against unscaled)."""
    s = strings(lang)
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column(s["head"], justify="right")
    for key in keys:
        table.add_column(s[key], justify="right")
    columns = [getattr(cmp, key) for key in keys]
    for h in heads:
        table.add_row(str(h), *(_summary_number(c[h]) for c in columns))
    if len(heads) > 1:
        chosen = list(heads)
        table.add_row(s["all_heads"], *(_summary_number(c[chosen].mean()) for c in columns),
                      style="bold")  # fmt: skip
    return table


def _summary_number(value: float) -> str:
    """Three decimals; a small number (a vanished gradient) with three figures."""
    return f"{value:.3f}" if value == 0 or abs(value) >= 0.01 else f"{value:.2e}"


def output_difference(
    cmp: Comparison, lang: str = "en", bar_width: int = 30, crop: Crop | None = None
) -> Table:
    """‖output_A[i] − output_B[i]‖ per token (of the crop's queries), with a bar to read the
    shape at a glance."""
    s = strings(lang)
    values = cmp.output_difference
    queries, _ = _cut(cmp.a, crop)
    top = float(values[queries.start : queries.stop].max(initial=0.0)) or 1.0
    table = Table(box=None, header_style="bold", pad_edge=False, title_justify="left")
    table.add_column("#", justify="right", style="dim")
    table.add_column(s["token"])
    table.add_column(s["output_difference"], justify="right")
    table.add_column("")
    for i in queries:
        v = float(values[i])
        bar = "█" * round(bar_width * v / top)
        table.add_row(str(i), Text(shorten(cmp.a.tokens[i].text)), f"{v:.3f}", bar)
    return table


def _number(value: float, precision: int) -> str:
    return "−∞" if value == -np.inf else f"{value:.{precision}f}".replace("-", "−")


def stage_table(
    stage: Stage, texts: Sequence[str], *, precision: int, columns: int, cmap: str,
    lang: str = "en", system: str = "truecolor", key_texts: Sequence[str] | None = None,
) -> Group:  # fmt: skip
    """One stage as a titled table, its shape below; wide matrices show their first columns.
    A stage cut to a crop (``row0``, ``col0``) numbers its tokens as in the whole text;
    ``key_texts``: the keys' tokens when they are not the queries' (cross-attention)."""
    s = strings(lang)
    values = stage.values
    square = stage.kind != "matrix"
    keys = texts if key_texts is None else key_texts
    n_cols = values.shape[1] if square else min(columns, values.shape[1])
    table = Table(box=None, pad_edge=False, header_style="bold", padding=(0, 0, 0, 1))
    table.add_column("", no_wrap=True)
    row_texts = keys if stage.keys else texts
    rows = range(len(row_texts))[stage.row0 or 0 :][: values.shape[0]]
    cols = range(len(keys))[stage.col0 or 0 :][:n_cols]
    if not square:
        headers = [str(c) for c in range(n_cols)]
    elif stage.col0 is None:
        headers = [shorten(keys[j], 6) for j in cols]
    else:
        headers = [f"{j}\n{shorten(keys[j], 6)}" for j in cols]
    for header in headers:
        table.add_column(Text(header), justify="right", no_wrap=True)
    for i, r in enumerate(rows):
        text = shorten(row_texts[r], 12)
        label = text if stage.row0 is None else f"{r} {text}"
        cells: list[Text] = [Text(label, style="bold")]
        for j in range(n_cols):
            v = float(values[i, j])
            if stage.kind == "masked" and v == -np.inf:
                cells.append(Text("−∞", style="dim"))
            elif stage.kind == "weights":
                cells.append(Text(_number(v, precision), style=_cell_style(cmap, v, system)))
            else:
                cells.append(Text(_number(v, precision)))
        table.add_row(*cells)
    shape = " × ".join(str(n) for n in values.shape)
    note = f"({shape})"
    if n_cols < values.shape[1]:
        note += " · " + s["columns_left_out"].format(n=values.shape[1] - n_cols)
    return Group(Text(stage.title, style="bold"), table, Text(note, style="dim"))


def worked_row_tables(
    row: WorkedRow, texts: Sequence[str], *, precision: int, columns: int, lang: str = "en",
    key_texts: Sequence[str] | None = None,
) -> Group:  # fmt: skip
    """The row by hand: per key the score, scaled score, mask, exp and weight, with sums;
    then the weighted sum of the V rows that gives the head's output for this query;
    ``key_texts``: the keys' tokens when they are not the queries' (cross-attention)."""
    s = strings(lang)
    title = s["worked_row"].format(i=row.query, token=visible(texts[row.query]), h=row.head)
    texts = texts if key_texts is None else key_texts  # from here on, the keys
    table = Table(box=None, pad_edge=False, header_style="bold")
    bias = [] if row.bias is None else [(s["bias"], "right")]
    for name, justify in (
        ("#", "right"), (s["key"], "left"), (s["score"], "right"), (s["scaled"], "right"),
        *bias, (s["masked"], "left"), (s["exp"], "right"), (s["weight"], "right"),
    ):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    p = precision + 2  # the row by hand gets more digits: it is where the rounding shows
    for j, t in enumerate(texts):
        ok = bool(row.allowed[j])
        table.add_row(
            str(j),
            Text(shorten(t, 12)),
            _number(float(row.scores[j]), p),
            _number(float(row.scaled[j]), p),
            *([] if row.bias is None else [_number(float(row.bias[j]), p)]),
            s["no"] if ok else Text(s["hidden_short"] + " → −∞", style="dim"),
            _number(float(row.exp[j]), p),
            _number(float(row.weights[j]), p),
            style=None if ok else "dim",
        )
    table.add_row("", s["sum"], "", "", *[""] * len(bias), "", _number(float(row.exp.sum()), p),
                  _number(float(row.weights.sum()), p), style="bold")  # fmt: skip
    n_cols = min(columns, row.v.shape[1])
    values = Table(box=None, pad_edge=False, header_style="bold")
    values.add_column("#", justify="right")
    values.add_column(s["key"])
    values.add_column(s["weight"], justify="right")
    for c in range(n_cols):
        values.add_column(f"V[{c}]", justify="right")
    for j in np.flatnonzero(row.allowed).tolist():
        values.add_row(str(j), Text(shorten(texts[j], 12)), _number(float(row.weights[j]), p),
                       *(_number(float(row.v[j, c]), precision) for c in range(n_cols)))  # fmt: skip
    values.add_row("", "Σ", "", *(_number(float(row.output[c]), precision) for c in range(n_cols)),
                   style="bold")  # fmt: skip
    note = s["weighted_sum"]
    if n_cols < row.v.shape[1]:
        note += " · " + s["columns_left_out"].format(n=row.v.shape[1] - n_cols)
    gradient = Text(s["row_jacobian"].format(v=f"{row.jacobian:.{p}g}"), style="dim")
    return Group(Text(title, style="bold"), table, gradient, Text(""), values,
                 Text(note, style="dim"))  # fmt: skip


def stats_table(
    stats: dict[str, np.ndarray],
    heads: Sequence[int],
    *,
    cmap: str,
    lang: str = "en",
    config: AttentionConfig | None = None,
    system: str = "truecolor",
    kv: Sequence[int] | None = None,
) -> Group:
    """Heads as rows, metrics as columns; each column shaded from its own smallest to largest.
    Each column is as wide as the longest word of its header (or its longest number), so
    that the table fits 80 columns. With ``config``, a line names the planted heads; with
    ``kv``, a column gives each head's key/value head (grouped-query attention)."""
    from ..stats import metrics_of

    metrics = metrics_of(stats)

    s = strings(lang)
    table = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column(s["head"], justify="right")
    if kv is not None:
        table.add_column(s["kv"], justify="right")
    numbers = {m: ["—" if v != v else f"{v:.3f}" for v in stats[m].tolist()]  # NaN: unmeasured
               for m in metrics}  # fmt: skip
    widths = {}
    for m in metrics:
        header = s.get(f"t_{m}", s[f"m_{m}"])
        widths[m] = max(6, *(len(w) + 1 for w in numbers[m]), *map(cell_len, header.split()))
        table.add_column(Text(header), justify="right", width=widths[m])
    for n, h in enumerate(heads):
        cells: list[Text] = [Text(str(h))] + ([Text(str(kv[n]))] if kv is not None else [])
        for m in metrics:
            column = stats[m]
            if np.isnan(column).any():
                cells.append(Text(numbers[m][n].rjust(widths[m]), style="dim"))
                continue
            span = float(column.max() - column.min())
            place = (float(column[n]) - float(column.min())) / span if span > 0 else 0.5
            cells.append(
                Text(numbers[m][n].rjust(widths[m]), style=_cell_style(cmap, place, system))
            )
        table.add_row(*cells)
    rows = int(stats["rows"][0]) if len(heads) else 0
    lines: list[Table | Text] = [table, Text(s["stats_caption"].format(rows=rows), style="dim")]
    lines.append(Text(s["t_shares" if "self" in metrics else "t_cross"], style="dim"))
    if any(np.isnan(stats[m]).any() for m in metrics):
        lines.append(Text(s["streamed_keys_90"], style="dim"))
    planted = [
        f"{h} {pattern_label(config, h, lang)}" for h in heads if config and h in config.planted
    ]
    if planted:
        lines.append(Text(f"{s['planted']}: " + " · ".join(planted), style="dim"))
    return Group(*lines)


def top_lines(trace: Run, rows: Strongest, caption_line: Text) -> Group:
    """For each query, its strongest keys with their weights (``rows``, a view's), one line per
    query: readable in a terminal at any length (``12 sat  ->  11 cat 0.61 · 0 The 0.22``:
    each key with its index, since a text repeats its words)."""
    labels = [shorten(t.text, 12) for t in trace.tokens]
    keys = [shorten(t, 12) for t in trace.key_texts]
    width = len(str(rows[-1][0])) if rows else 1
    pad = max((cell_len(labels[i]) for i, _ in rows), default=0)
    lines: list[Text] = [caption_line]
    for i, best in rows:
        line = Text(f"{i:>{width}} ", style="dim")
        line.append(labels[i] + " " * (pad - cell_len(labels[i])), style="bold")
        line.append("  ->  ", style="dim")
        for n, (j, weight) in enumerate(best):
            if n:
                line.append(" · ", style="dim")
            line.append(f"{j} ", style="dim")
            line.append(keys[j])
            line.append(f" {weight:.2f}")
        if not best:
            line.append(HIDDEN_CELL, style="dim")
        lines.append(line)
    return Group(*lines)


def model_view(
    layers: Sequence[Sequence[Panel]],
    names: Sequence[str],
    texts: Sequence[str],
    *,
    cmap: str,
    width: int,
    system: str = "truecolor",
    lang: str = "en",
) -> Group:
    """Every layer × every selected head as compact heat blocks (``layers``: each layer's
    panels, one per head of ``names``): per layer, the heads side by side (as many as the
    width holds, the rest below), query labels (or, pooled, ranges) on the left."""
    s = strings(lang)
    first = layers[0][0]
    labels = _row_labels(first, texts)
    indent = max(len(label) for label in labels) + 1
    C = first.weights.shape[1]
    block = max(2 * C, *(len(name) for name in names)) + 2
    per_line = max(1, (width - indent) // block)
    parts: list[Text] = []
    for n, panels in enumerate(layers):
        parts.append(Text(s["layer"].format(n=n), style="bold"))
        for start in range(0, len(panels), per_line):
            group = list(zip(panels, names, strict=True))[start : start + per_line]
            top = Text(" " * indent)
            for _, name in group:
                top.append(name.ljust(block), style="dim")
            parts.append(top)
            for r, label in enumerate(labels):
                row = Text(label.ljust(indent))
                for panel, _ in group:
                    _heat_cells(row, panel, r, range(C), cmap, system).append(" " * (block - 2 * C))
                parts.append(row)
        parts.append(Text(""))
    partly = any(p.partly is not None and p.partly.any() for ps in layers for p in ps)
    parts.append(legend(cmap, system, lang, partly, first))
    return Group(*parts)


def _measure_text(measure: str, value: float) -> str:
    """A measure of the scaling lesson as the table shows it."""
    if measure == "saturated":
        return f"{100 * value:.1f}%"
    if measure == "jacobian":
        return f"{value:.2e}" if value < 0.001 else f"{value:.4f}"
    return f"{value:.2f}" if measure == "variance" else f"{value:.3f}"


def scaling_tables(view: ScalingView) -> Group:
    """Two tables, unscaled then scaled: a row per d_k, a column per measure (the
    measures' names wrap to fit 80 columns), and the lesson in one line below."""
    from ..scaling import MEASURES

    s, w = strings(view.lang), view.sweep
    parts: list[ConsoleRenderable] = [Text(view.title, style="bold")]
    for name, values, what in (("unscaled", w.unscaled, "s = q·k"),
                               ("scaled", w.scaled, "s = q·k / √d_k")):  # fmt: skip
        table = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 1, 0, 0),
                      title=f"{s[name]} ({what})", title_justify="left")  # fmt: skip
        table.add_column("d_k", justify="right")
        for m in MEASURES:
            header = s[f"s_{m}"]
            table.add_column(Text(header), justify="right",
                             width=max(10, *map(cell_len, header.split())))  # fmt: skip
        for n, dk in enumerate(w.dks):
            table.add_row(str(dk), *(_measure_text(m, float(values[m][n])) for m in MEASURES))
        parts += [Text(""), table]
    return Group(*parts, Text(""), Text(s["scaling_caption"], style="dim"))


def sink_table(shares: np.ndarray, layers: Sequence[int], names: Sequence[str], uniform: float,
               *, cmap: str, system: str = "truecolor", lang: str = "en") -> Text:  # fmt: skip
    """The first-token shares: a row per layer, a column per head and their mean, each on
    its colour (0 to 1); then what an even spread would give."""
    s = strings(lang)
    widths = [max(5, cell_len(n) + 1) for n in (*names, s["sink_mean_short"])]
    corner = f"{s['layer_word']} \\ {s['head']}"
    left = max(len(corner), len(str(max(layers, default=0)))) + 1
    text = Text(corner.ljust(left), style="dim")
    for name, width in zip((*names, s["sink_mean_short"]), widths, strict=True):
        text.append(name.rjust(width - 1) + " ", style="bold")
    for n, layer in enumerate(layers):
        text.append("\n" + str(layer).ljust(left), style="bold")
        for value, width in zip((*shares[n], shares[n].mean()), widths, strict=True):
            cell = f"{value:.2f}".rjust(width - 1) + " "
            text.append(cell, style=_cell_style(cmap, float(value), system))
    text.append(f"\n{s['sink_uniform']}: {uniform:.3f} · {s['sink_caption']}", style="dim")
    return text
