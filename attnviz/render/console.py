"""What each view prints in the terminal: one function per view, from the building blocks of
``terminal``. A table too wide for the terminal becomes the compact heat view, and says so.

Rich is imported here; Matplotlib never is.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from rich.cells import cell_len
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..views.heatmap import heatmap_view, pooled_line, whole
from ..views.labels import head_label, shorten, strings
from . import terminal

if TYPE_CHECKING:  # the views' types: printing one view imports no other
    from ..views.blocks import BlocksView
    from ..views.compare import CompareView
    from ..views.generation import GenerationView
    from ..views.heatmap import HeatmapView, ModelView, RolloutView
    from ..views.scaling import ScalingView
    from ..views.sink import SinkView
    from ..views.stats import StatsView
    from ..views.steps import StepsView
    from ..views.survey import SurveyView


def _system(console: Console) -> str:
    """The colours the terminal shows: "truecolor", "256", "16" or "" (none: NO_COLOR, a
    pipe; the heat view draws shades then, and with 16 colours)."""
    if console.color_system is None or console.no_color:
        return ""
    return {"standard": "16", "windows": "16"}.get(console.color_system, console.color_system)


def show_heatmap(console: Console, view: HeatmapView, fmt: str, cmap: str, top: int = 3) -> None:
    """The selected heads as tables (or the heat view when they are too wide), heat, or top;
    the heat view pooled to the terminal's width when the keys do not fit it."""
    trace, crop, lang = view.trace, view.crop, view.lang
    if fmt == "top":
        for h in view.heads:
            console.print(terminal.top_lines(trace, view.strongest(h, top),
                                             terminal.caption(trace, h, lang, crop)))  # fmt: skip
            console.print()
        return
    if fmt == "table" and view.cell == 1 and terminal.may_fit(console, trace, crop):
        tables = [terminal.weight_table(trace, h, cmap=cmap, lang=lang, crop=crop,
                                        matrix=_cells(view, h), system=_system(console),
                                        color=panel)
                  for h, panel in zip(view.heads, view.panels(), strict=True)]  # fmt: skip
        if all(terminal.fits(console, t) for t in tables):
            shading = strings(lang)["shaded_by_head"] if view.shown_scale == "head" else ""
            for h, t in zip(view.heads, tables, strict=True):
                console.print(t)
                console.print(terminal.caption(trace, h, lang, crop, shading))
                console.print()
            return
    if fmt == "table":
        console.print(
            f"too wide for {console.width} columns: heat view (or widen the terminal)",
            style="dim",
            no_wrap=True,
            overflow="ellipsis",
        )
    console.print(_heat(console, view, cmap))


def _cells(view: HeatmapView, h: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The exact cells a streamed run kept of head h (None for a Trace: its own weights)."""
    if view.exact() is not None:
        return None
    m = view.map(h)
    return m.values, ~m.hidden


def _heat(console: Console, view: HeatmapView, cmap: str) -> Group:
    """The view's heads in the heat form, pooled to fit the terminal where they do not."""
    trace, crop = view.trace, view.crop
    r = crop or whole(trace)
    fitted = view
    if view.exact() is not None:  # a streamed run's maps were made at the terminal's width
        cells = terminal.heat_resolution(console.width, trace.texts[r.q0 : r.q1], r.k1 - r.k0,
                                         max(r.q1, r.k1) - 1)  # fmt: skip
        fitted = replace(view, resolution=min(cells, view.resolution))
    pooled = pooled_line(fitted.cell, fitted.pool, view.lang)
    captions = [terminal.caption(trace, h, view.lang, crop, pooled) for h in view.heads]
    return terminal.heat_view(list(zip(fitted.panels(), captions, strict=True)), trace.texts,
                              cmap=cmap, width=console.width, system=_system(console),
                              lang=view.lang)  # fmt: skip


def show_model(console: Console, view: ModelView, fmt: str, cmap: str) -> None:
    """Every layer × selected head as heat blocks (the table and heat formats alike), pooled
    to fit the terminal's width when the tokens do not fit it."""
    T = len(view.trace.tokens)
    if view.exact() is not None:
        per = max(1, (console.width - len(str(T)) * 2 - 4) // 2)
        view = replace(view, resolution=min(view.resolution, per))
    panels = list(view.panels())
    n = len(view.heads)
    layers = [panels[i : i + n] for i in range(0, len(panels), n)]
    names = [head_label(view.trace, h, view.lang) for h in view.heads]
    console.print(terminal.model_view(layers, names, view.trace.texts, cmap=cmap,
                                      width=console.width, system=_system(console),
                                      lang=view.lang))  # fmt: skip


def show_blocks(console: Console, view: BlocksView, fmt: str, cmap: str) -> None:
    """An encoder-decoder's blocks: each kind of attention's model view under its title."""
    for block in view.blocks:
        console.print(Text(block.title, style="dim"))
        show_model(console, block, fmt, cmap)
        console.print()


def show_rollout(console: Console, view: RolloutView, fmt: str, cmap: str, top: int = 3) -> None:
    """The rollout as a table (or, too wide or asked, each token's strongest inputs)."""
    s, trace = strings(view.lang), view.trace
    line = Text(s["rollout_of"].format(n=view.layers), style="dim")
    if trace.special_hidden:
        line.append(" · " + s["special_hidden"].format(n=trace.special_hidden))
    matrix = (view.flow, view.flow > 0)
    table = terminal.weight_table(trace, 0, cmap=cmap, lang=view.lang, matrix=matrix,
                                  system=_system(console))  # fmt: skip
    if fmt == "table" and terminal.fits(console, table):
        console.print(table)
        console.print(line)
    else:
        console.print(terminal.top_lines(trace, view.strongest(top), line))


def show_compare(console: Console, view: CompareView, fmt: str, cmap: str) -> None:
    """Per head, A and B side by side (one after the other, or as heat views, when they do
    not fit); then the summary numbers and the output difference."""
    cmp, crop, lang = view.cmp, view.crop, view.lang
    runs = list(zip((cmp.a, cmp.b), view.labels, strict=True))
    if fmt == "table" and not terminal.may_fit(console, cmp.a, crop):
        fmt = "heat"
    for h in view.heads:
        tables = [terminal.weight_table(t, h, cmap=cmap, lang=lang, crop=crop,
                                        system=_system(console)) for t, _ in runs
                  if fmt == "table"]  # fmt: skip
        blocks = [
            Group(Text(label, "bold"), table, terminal.caption(trace, h, lang, crop))
            for (trace, label), table in zip(runs, tables, strict=True)
        ] if tables else []  # fmt: skip
        if fmt == "table" and terminal.fits(console, terminal.side_by_side(*tables)):
            console.print(terminal.side_by_side(*blocks))
        elif fmt == "table" and all(terminal.fits(console, t) for t in tables):
            for n, block in enumerate(blocks):
                console.print(*([""] if n else []), block, sep="\n")
        else:
            for trace, label in runs:
                console.print(Text(label, "bold"))
                console.print(_heat(console, heatmap_view(trace, [h], crop=crop, lang=lang),
                                    cmap))  # fmt: skip
        console.print()
    console.print(terminal.compare_summary(cmp, view.heads, lang, view.summary_keys))
    console.print()
    console.print(terminal.output_difference(cmp, lang, crop=crop))


def show_steps(
    console: Console, view: StepsView, fmt: str, cmap: str, precision: int = 2, columns: int = 8
) -> None:
    """Every stage as a table, then, with a query, its row by hand."""
    texts, keys = view.trace.texts, view.trace.key_texts
    for stage in view.stages:
        console.print(terminal.stage_table(stage, texts, precision=precision, columns=columns,
                                           cmap=cmap, lang=view.lang, system=_system(console),
                                           key_texts=keys))  # fmt: skip
        console.print()
    if view.row is not None:
        console.print(terminal.worked_row_tables(view.row, texts, precision=precision,
                                                 columns=columns, lang=view.lang, key_texts=keys))  # fmt: skip


def show_sink(console: Console, view: SinkView, fmt: str, cmap: str) -> None:
    """The first-token share of every layer and head shown, under the run's title."""
    names = [str(h) for h in view.heads]
    console.print(Text(view.title, style="dim"))
    console.print(terminal.sink_table(view.shares, view.layers, names, view.uniform, cmap=cmap,
                                      system=_system(console), lang=view.lang))  # fmt: skip


def show_stats(console: Console, view: StatsView, fmt: str, cmap: str) -> None:
    """The heads × metrics table, each column shaded."""
    console.print(terminal.stats_table(view.numbers, view.heads, cmap=cmap, lang=view.lang,
                                       config=view.trace.config, system=_system(console),
                                       kv=view.kv))  # fmt: skip


def show_generation(
    console: Console, view: GenerationView, fmt: str, cmap: str, top: int = 3,
    show_probs: bool = False,
) -> None:  # fmt: skip
    """The generated tokens: with ``show_probs`` the probability of each and the most
    probable next tokens at its step; then (top) each one's strongest keys per head, or
    (table, heat) the attention of the whole sequence, the generated tokens after the line."""
    s = strings(view.lang)
    console.print(Text(view.title, style="dim"))
    if show_probs:
        P = view.prompt_tokens
        names = [shorten(step.text, 16) for step in view.steps]
        pad = max((cell_len(name) for name in names), default=0)
        for n, (step, name) in enumerate(zip(view.steps, names, strict=True)):
            line = Text(f"{P + n:>4} ", style="dim")
            line.append(name + " " * (pad - cell_len(name)), style="bold")
            line.append(f"  p {step.prob:.3f}  ·  {s['next_tokens']}: ", style="dim")
            line.append(" · ".join(f"{shorten(t, 12)} {p:.3f}" for t, p in step.top[:3]))
            console.print(line)
        console.print()
    if view.every_layer:
        _show_layers(console, view, fmt, cmap)
    elif fmt == "top":
        show_heatmap(console, view.generated_rows, "top", cmap, top)
    else:
        show_heatmap(console, view.whole, fmt, cmap)


def _show_layers(console: Console, view: GenerationView, fmt: str, cmap: str) -> None:
    """--layer all: per head, the token's row in every layer; as heat blocks when asked or
    when a table does not fit."""
    keys, system = view.keys_of(view.query), _system(console)
    heat = fmt == "heat"
    for panel in view.layer_panels():
        table = terminal.layer_rows(panel, keys, cmap=cmap, system=system, lang=view.lang)
        heat = heat or not terminal.fits(console, table)
        console.print(terminal.layer_rows(panel, keys, cmap=cmap, heat=True, system=system,
                                          lang=view.lang) if heat else table)  # fmt: skip
        console.print()
    if heat:
        console.print(terminal.legend(cmap, system, view.lang))


def show_survey(console: Console, view: SurveyView, fmt: str, cmap: str) -> None:
    """Per measure, its strongest heads; then how many heads have each label."""
    s = strings(view.lang)
    console.print(Text(view.title, style="dim"))
    table = Table(box=None, pad_edge=False, header_style="bold", padding=(0, 2, 0, 0))
    table.add_column(s["measure"], no_wrap=True)
    table.add_column(s["strongest_heads"], no_wrap=True)
    for m in view.measures:
        best = "  ".join(f"{n}.{h} {v:.2f}" for n, h, v in view.strongest(m))
        table.add_row(Text(m, style="bold"), Text(best))
    console.print(table)
    counts = " · ".join(f"{name} {n}" for name, n in view.label_counts())
    console.print(Text(f"{s['head_labels']}: ", style="dim").append(counts, style=""))


def show_scaling(console: Console, view: ScalingView, fmt: str, cmap: str) -> None:
    """The sweep's two tables, unscaled and scaled."""
    console.print(terminal.scaling_tables(view))
