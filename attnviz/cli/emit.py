"""A command's run and its outputs: run the text within the limits, then send the view to
the sinks asked for — the page or the figure of -o, and the --format on standard output
(JSON, CSV, or the terminal's tables).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..views.labels import visible, write_json
from .app import console, note, progress, warn
from .options import Options, config, is_page, limits, style

if TYPE_CHECKING:  # (imported where used: the help of the command line loads no NumPy)
    from ..longrun import Streamed
    from ..trace import AttentionConfig, Trace
    from ..wanted import Wanted


def terminal_safe(text: str) -> str:
    """``text`` as it is for a file or a pipe; on a terminal, its lines with every control
    character shown (a CSV field could otherwise write to the clipboard or retitle it)."""
    if not sys.stdout.isatty():
        return text
    return "\n".join(visible(line) for line in text.split("\n"))


def _warn_blind_queries(trace: Trace) -> None:
    """Say so when the mask leaves real queries with no key to attend to (their weights are 0)."""
    import numpy as np

    blind = ~trace.allowed.any(axis=1) & ~np.array([t.special for t in trace.tokens])
    if blind.all():
        warn("the mask hides every key from every query: every weight is 0")
    elif blind.any():
        warn(f"{int(blind.sum())} queries see no key under this mask: their weights are 0")


def run(
    o: Options,
    text: str,
    the_config: AttentionConfig | None = None,
    extra_bytes: Callable[[int], int] | None = None,
) -> Trace:
    """The run of ``text`` the options (or ``the_config``) describe, within their limits
    (``extra_bytes(T)``: what the output will take); --hide-special and --words applied."""
    from ..trace import Trace

    trace = run_or_stream(o, text, the_config, extra_bytes)
    assert isinstance(trace, Trace)
    return trace


def run_or_stream(
    o: Options,
    text: str,
    the_config: AttentionConfig | None = None,
    extra_bytes: Callable[[int], int] | None = None,
    wanted: Wanted | None = None,
    stream: bool | None = None,
) -> Trace | Streamed:
    """``run``, streamed (keeping what ``wanted`` says) with --stream (or ``stream``) or where
    the dense run would be over --memory-budget; ``wanted`` None: never streamed."""
    from ..pipeline import run_long
    from ..trace import Trace

    words = getattr(o, "words", False)  # the option of heatmap and stats
    if words and o.model is None:
        raise ConfigError("--words merges the word pieces of a --model's tokenizer; the seeded "
                          "tokenizers make whole words (or characters): give a --model")  # fmt: skip
    progress.step("computing attention")
    asked = stream or getattr(o, "stream", False) or None
    if asked and wanted is not None:  # refused before any work
        _needs_whole(o, asked)
    trace = run_long(text, the_config or config(o), limits(o, extra_bytes), wanted, asked)
    if not isinstance(trace, Trace):  # streamed
        _streamed_alone(o, trace, asked)
        return trace
    _warn_blind_queries(trace)
    return _as_asked(o, trace)


def _as_asked(o: Options, trace: Trace) -> Trace:
    """``trace`` with --hide-special and --words applied."""
    specials = [t.special for t in (*trace.tokens, *trace.key_tokens)]
    if o.hide_special and not any(specials):
        warn("--hide-special: this run has no special tokens, so nothing is hidden")
    elif o.hide_special:
        from ..stats import hide_special

        trace = hide_special(trace)
    if getattr(o, "words", False):
        from ..stats import words as merged

        trace = merged(trace)
    return trace


def blocks(o: Options, text: str, heads: list[int], scale: str | None) -> Any:
    """--layer all of an encoder-decoder: the model views of its kinds of attention (its
    encoder's, decoder's and cross), from one forward pass."""
    from ..pipeline import run_kinds
    from ..views.blocks import blocks_view

    if o.stream:
        raise ConfigError("--stream: an encoder-decoder's run is not streamed")
    progress.step("computing attention")
    traces = [_as_asked(o, t) for t in run_kinds(text, config(o), limits(o))]
    return blocks_view(traces, heads, scale=scale, lang=o.lang)


def _streamed_alone(o: Options, trace: Streamed, asked: bool | None) -> None:
    """Refuse what needs a run's weights whole; say why a run was streamed."""
    _needs_whole(o, asked)
    if not asked:
        note(f"streamed: the dense run of {len(trace.tokens)} tokens would be over "
             "--memory-budget, so the weights were pooled as they were computed")  # fmt: skip


def _needs_whole(o: Options, asked: bool | None) -> None:
    """Refuse --hide-special and --words on a streamed run: they renormalise its weights."""
    for flag, given in (("--hide-special", o.hide_special), ("--words", getattr(o, "words", 0))):
        if given:
            raise ConfigError(f"{flag} needs the weights of the run whole, and this run is "
                              f"streamed: leave {flag} out, or show a shorter text"
                              + ("" if asked else " (or raise --memory-budget)"))  # fmt: skip


def _printer(view: Any) -> Callable[..., None]:
    """The terminal printer of a view."""
    from ..render import console as shows

    kinds: dict[str, Callable[..., None]] = {
             "HeatmapView": shows.show_heatmap, "ModelView": shows.show_model,
             "BlocksView": shows.show_blocks, "RolloutView": shows.show_rollout,
             "CompareView": shows.show_compare, "StepsView": shows.show_steps,
             "StatsView": shows.show_stats, "GenerationView": shows.show_generation,
             "SurveyView": shows.show_survey, "ScalingView": shows.show_scaling,
             "SinkView": shows.show_sink}  # fmt: skip
    return kinds[type(view).__name__]


def _wrote(path: Any) -> None:
    print(f"wrote {visible(str(path))}", file=sys.stderr)


_kept: list[list[Any]] = []  # attnviz.view: while it runs a command, its view is kept here


@contextlib.contextmanager
def keeping() -> Iterator[list[Any]]:
    """Commands run here keep their view in the list given, and write and print nothing."""
    _kept.append([])
    try:
        yield _kept[-1]
    finally:
        _kept.pop()


def emit(
    view: Any, o: Options, shown: str | None, exports: tuple[str, ...] = (), **terminal: Any
) -> None:
    """Write ``view`` as the page or figure of -o (or, for a suffix in ``exports``, its run:
    generate's), and print it as ``shown`` (a --format); ``terminal``: what the terminal
    printer takes besides (top, precision, columns). Under ``keeping``, keep it only."""
    if _kept:
        _kept[-1].append(view)
        return
    show = _printer(view)
    if o.output is not None and o.output.suffix.lower() in exports:
        from ..export import save_generation

        progress.step(f"writing {visible(str(o.output))}")
        save_generation(view, o.output)
        _wrote(o.output)
    elif is_page(o):
        from ..export import write_text
        from ..render.html import page

        progress.step(f"writing {visible(str(o.output))}")
        write_text(o.output, page(view, cmap=o.cmap, theme=o.theme, title=o.title))
        _wrote(o.output)
    elif o.output is not None:
        from ..render.figures import draw, save_figure

        progress.step("laying out the figure")
        figure = draw(view, style(o))
        progress.step(f"drawing and writing {visible(str(o.output))}")
        save_figure(figure, o.output, o.dpi)
        _wrote(o.output)
    if shown is not None:
        progress.stop()
    if shown == "json":
        json_data = getattr(view, "json_data", None)  # arrays written a row at a time
        write_json(json_data() if json_data else view.to_json(), sys.stdout.write)
        sys.stdout.write("\n")
    elif shown == "csv":
        lines = view.csv_lines() if hasattr(view, "csv_lines") else [view.to_csv()]
        for piece in lines:
            sys.stdout.write(terminal_safe(piece))
    elif shown is not None:
        show(console(), view, shown, o.cmap, **terminal)
