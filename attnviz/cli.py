"""The command line: parse options, build a config, call the API, pick a renderer, write.

Every error ends here as one line on stderr and an exit code: 2 for bad usage or input
(ConfigError, a click usage error), 1 for a failure at run time (RunError), 130 for Ctrl-C.
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import re
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from typer.core import TyperGroup

from . import __version__
from .errors import AttnvizError, ConfigError, RunError
from .pipeline import Limits, run
from .render.labels import visible
from .tokens import TOKENIZERS
from .trace import (
    DTYPES,
    PATTERNS,
    POSITIONS,
    AttentionConfig,
    Crop,
    Pretrained,
    Seeded,
    Trace,
    parse_crop,
    select_heads,
)


def _error(message: str, code: int) -> None:
    line = " ".join(visible(message).split())  # one line, whatever the message holds
    print(f"attnviz: error: {line}", file=sys.stderr)
    sys.exit(code)


_warned: set[str] = set()


def _warn(message: str) -> None:
    """One line on stderr, once a run (compare's two runs would say it twice)."""
    line = f"attnviz: warning: {' '.join(visible(message).split())}"
    if line not in _warned:
        _warned.add(line)
        print(line, file=sys.stderr)


def _repeated_option(command: Any, args: list[str]) -> str | None:
    """The first option given twice that takes one value (click would keep the last silently)."""
    from typer.core import TyperOption

    # option -> (its long name, whether it takes a value, whether it may be repeated)
    names: dict[str, tuple[str, bool, bool]] = {}
    for param in getattr(command, "params", []):
        if isinstance(param, TyperOption):
            for opt in param.opts + param.secondary_opts:
                name = "/".join([max(param.opts, key=len), *param.secondary_opts])  # --a/--no-a
                names[opt] = (name, not param.is_flag, param.multiple)
    seen: set[str] = set()
    i = 0
    while i < len(args) and args[i] != "--":
        key = args[i].split("=", 1)[0]
        if key in names:
            name, takes_value, repeatable = names[key]
            if name in seen and not repeatable:
                return name
            seen.add(name)
            i += takes_value and "=" not in args[i]
        i += 1
    return None


class _Progress:
    """A spinner on stderr for work that lasts more than a second, saying which step runs;
    nothing at all when stderr is not a terminal (pipes, CI, tests)."""

    def __init__(self) -> None:
        self.label = "starting"
        self.status: Any = None
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty():
            self.timer = threading.Timer(1.0, self._show)
            self.timer.daemon = True
            self.timer.start()
        return self

    def _show(self) -> None:
        from rich.console import Console

        with self.lock:
            if self.timer is not None:  # not finished in the meantime
                self.status = Console(stderr=True).status(self.label)
                self.status.start()

    def step(self, label: str) -> None:
        with self.lock:
            self.label = label
            if self.status is not None:
                self.status.update(label)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if self.status is not None:
                self.status.stop()
                self.status = None


_progress = _Progress()  # the one spinner of this process; step() is harmless when unseen


class _Group(TyperGroup):
    """Runs the app and turns every exception into one line on stderr and an exit code."""

    def main(self, args: Any = None, *pos: Any, **kwargs: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        end = argv.index("--") if "--" in argv else len(argv)
        debug = "--debug" in argv[:end]  # accepted anywhere before "--", not only first
        argv = [a for a in argv[:end] if a != "--debug"] + argv[end:]
        kwargs["standalone_mode"] = False
        _warned.clear()
        try:
            if argv and argv[0] in self.commands:
                twice = _repeated_option(self.commands[argv[0]], argv[1:])
                if twice:
                    raise ConfigError(f"{twice} is given more than once: give it once")
            with warnings.catch_warnings(), _progress:
                warnings.showwarning = _show_warning
                code = super().main(argv, *pos, **kwargs)
        except Exception as e:
            if debug:
                traceback.print_exc()
            _handle(e)
        except KeyboardInterrupt:
            code = 130
        if code == 130:  # typer turns Ctrl-C into exit code 130 itself
            _error("interrupted", 130)
        sys.exit(code if isinstance(code, int) else 0)


def _show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    """Warnings (ours, and any a library raises) as one line each, never a stack."""
    _warn(str(message))


def _handle(e: Exception) -> None:
    if isinstance(e, typer.TyperException):  # a usage error of the click Typer bundles, too
        _error(e.format_message(), e.exit_code)
    if isinstance(e, ConfigError):
        _error(str(e), 2)
    if isinstance(e, (RunError, AttnvizError)):
        _error(str(e), 1)
    if isinstance(e, MemoryError):
        _error("out of memory: try fewer heads, --dtype float32 or a shorter text", 1)
    if isinstance(e, OSError):
        _error(f"{e.strerror or e}" + (f": {e.filename}" if e.filename else ""), 1)
    _error(f"internal error: {type(e).__name__}: {e} (run with --debug for the traceback)", 1)


app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: it prints in a third of the time Rich's panels take
    help="See multi-head masked attention: exact NumPy numbers, heatmaps with the mask drawn on.",
)


def _version(value: bool) -> None:
    if value:
        print(f"attnviz {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an error (for developers).")
    ] = False,
) -> None:
    """attnviz: tokenise a text, run seeded multi-head masked attention, show what happened."""


# --- options every command shares -------------------------------------------------------------

TextArg = Annotated[
    str | None,
    typer.Argument(help="The text to attend over; - reads standard input.", show_default=False),
]
FileOpt = Annotated[
    Path | None,
    typer.Option("--file", "-f", help="Read the text from this UTF-8 file.", show_default=False),
]
HeadsOpt = Annotated[int, typer.Option("--heads", help="Number of attention heads H.")]
DModelOpt = Annotated[int, typer.Option("--d-model", help="Model width D (a multiple of heads).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the token vectors and weights.")]
MaskOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--mask",
        "-m",
        help="none | causal | window=K | prefix=P | padding; repeat to combine (AND).",
        show_default="causal",
    ),
]
TokenizerOpt = Annotated[
    str, typer.Option("--tokenizer", "-t", help=f"Tokeniser: {' | '.join(TOKENIZERS)}.")
]
PositionsOpt = Annotated[
    str, typer.Option("--positions", help=f"Positional encoding: {' | '.join(POSITIONS)}.")
]
UnscaledOpt = Annotated[
    bool, typer.Option("--unscaled", help="Skip the division of the scores by √d_k.")
]
DtypeOpt = Annotated[
    str | None,
    typer.Option(
        "--dtype",
        help=f"Float type: {' | '.join(DTYPES)} [default: float64; float32 with --model].",
        show_default=False,
    ),
]
BosOpt = Annotated[bool, typer.Option("--bos", help="Prepend a <bos> token.")]
PadToOpt = Annotated[
    int | None,
    typer.Option(
        "--pad-to", help="Append <pad> tokens up to this many tokens.", show_default=False
    ),
]
PlantOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--plant",
        help=f"Give a head a known pattern, HEAD=PATTERN with PATTERN {' | '.join(PATTERNS)}; "
        "repeat for more heads.",
        show_default=False,
    ),
]
PlantStrengthOpt = Annotated[
    float,
    typer.Option(
        "--plant-strength", help="Multiply the planted heads' W_Q and position bias by this."
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Run a local checkpoint instead of seeded weights: a folder in the Hugging Face "
        "layout, or a model id in the local cache (needs attnviz[models]; the README lists "
        "the families attnviz runs).",
        show_default=False,
    ),
]
LayerOpt = Annotated[
    str | None,
    typer.Option(
        "--layer",
        help="With --model: the layer to show (default the last); heatmap takes 'all'.",
        show_default=False,
    ),
]
HideSpecialOpt = Annotated[
    bool,
    typer.Option(
        "--hide-special",
        help="Leave special tokens ([CLS], [SEP], <bos>, <pad>) out of the picture; rows are "
        "renormalised over the tokens that remain.",
    ),
]


def _read_text(text: str | None, file: Path | None) -> str:
    """The input text from TEXT, standard input (TEXT is -) or --file, strictly UTF-8."""
    if text is not None and file is not None:
        raise ConfigError("give the text or --file, not both")
    if file is not None:
        name = str(file)
        if file.is_dir():
            raise ConfigError(f"--file {name!r} is a folder, not a text file")
        try:
            data = file.read_bytes()
        except OSError as e:
            raise ConfigError(f"cannot read --file {name!r}: {e.strerror or e}") from e
        source = f"--file {name!r}"
    elif text == "-":
        data = sys.stdin.buffer.read()
        source = "standard input"
    elif text is not None:
        return text
    else:
        raise ConfigError("no text: give TEXT, - for standard input, or --file PATH")
    if b"\0" in data:
        raise ConfigError(f"{source} holds NUL bytes: it is a binary file, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{source} is not valid UTF-8 (byte {e.start})") from None


MaxTokensOpt = Annotated[
    int,
    typer.Option("--max-tokens", help="Refuse texts with more tokens than this (or --truncate)."),
]
TruncateOpt = Annotated[
    bool,
    typer.Option("--truncate", help="Cut a text longer than --max-tokens instead of refusing it."),
]
BudgetOpt = Annotated[
    str,
    typer.Option(
        "--memory-budget", help="Refuse runs estimated to need more memory (e.g. 2GiB, 500MB)."
    ),
]

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6,
          "mib": 2**20, "g": 10**9, "gb": 10**9, "gib": 2**30}  # fmt: skip


def _bytes(text: str) -> int:
    """A size such as 2GiB, 500MB or 1000000, in bytes."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS or float(m.group(1)) <= 0:
        raise ConfigError(f"--memory-budget takes a size such as 2GiB or 500MB, not {text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


# The options of the seeded model, each with what a checkpoint has instead: given with
# --model, they are refused, never dropped.
SEEDED_ONLY = {
    "heads": "its own heads", "d_model": "its own width", "seed": "trained weights",
    "tokenizer": "its own tokenizer", "positions": "its own position embeddings",
    "bos": "its own special tokens", "pad_to": "no padding", "plant": "trained weights",
    "plant_strength": "trained weights",
}  # fmt: skip


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class RunOptions:
    """The options of every command that computes: the text source, the model, the limits;
    ``given`` names those given on the command line."""

    file: Path | None
    heads: int
    d_model: int
    seed: int
    mask: list[str] | None
    tokenizer: str
    positions: str
    unscaled: bool
    dtype: str | None
    bos: bool
    pad_to: int | None
    plant: list[str] | None
    plant_strength: float
    model: str | None
    layer: str | None
    hide_special: bool
    max_tokens: int
    truncate: bool
    memory_budget: str
    given: frozenset[str] = frozenset()

    @property
    def all_layers(self) -> bool:
        """--layer all: every layer (the model view)."""
        return (self.layer or "").strip().lower() == "all"

    def one_layer(self) -> None:
        """Commands other than heatmap show one layer."""
        if self.all_layers:
            raise ConfigError("--layer all is heatmap's model view; give a layer number here")

    def source(self) -> Seeded | Pretrained:
        """The seeded model's options, or the checkpoint's; an option of the one given with
        the other is refused."""
        if self.model is None:
            if self.layer is not None and not self.all_layers:
                raise ConfigError("--layer chooses a layer of a --model; seeded runs have one")
            seeded = Seeded(
                heads=self.heads, d_model=self.d_model, seed=self.seed, tokenizer=self.tokenizer,
                positions=self.positions, bos=self.bos, pad_to=self.pad_to,
                plant=tuple(self.plant or ()), plant_strength=self.plant_strength,
            )  # fmt: skip
            if "plant_strength" in self.given and not seeded.plant:
                raise ConfigError("--plant-strength scales planted heads: give --plant too")
            return seeded
        for name, instead in SEEDED_ONLY.items():
            if name in self.given:
                raise ConfigError(
                    f"{_flag(name)} is an option of the seeded model; a --model has "
                    f"{instead}: leave {_flag(name)} out"
                )
        layer = None
        if self.layer is not None and not self.all_layers:
            if not self.layer.strip().isdigit():
                raise ConfigError(f"--layer takes a layer number or 'all', not {self.layer!r}")
            layer = int(self.layer)
        return Pretrained(self.model, layer)

    def config(self) -> AttentionConfig:
        source = self.source()
        return AttentionConfig(
            mask=tuple(self.mask or ["none" if self.model else "causal"]),
            scaled=not self.unscaled,
            dtype=self.dtype or ("float32" if self.model else "float64"),  # a checkpoint's own
            source=source,
        )

    def heads_count(self) -> int:
        """The number of heads of the run (the options checked first): the seeded model's,
        or the checkpoint's."""
        source = self.config().source
        if isinstance(source, Seeded):
            return source.heads
        from .models.checkpoint import heads_of

        return heads_of(source.model)

    def run(
        self,
        text: str,
        config: AttentionConfig | None = None,
        extra_bytes: Callable[[int], int] | None = None,
    ) -> Trace:
        """Run ``config`` (default: these options) within the limits."""
        _progress.step("computing attention")
        limits = Limits(self.max_tokens, self.truncate, _bytes(self.memory_budget), extra_bytes)
        trace = run(text, config or self.config(), limits)
        _warn_blind_queries(trace)
        if self.hide_special and not any(t.special for t in trace.tokens):
            _warn("--hide-special: this run has no special tokens, so nothing is hidden")
        elif self.hide_special:
            from .stats import hide_special

            trace = hide_special(trace)
        return trace


_RUN_PARAMS = [
    ("file", FileOpt, None), ("heads", HeadsOpt, 8), ("d_model", DModelOpt, 512),
    ("seed", SeedOpt, 0), ("mask", MaskOpt, None), ("tokenizer", TokenizerOpt, "word"),
    ("positions", PositionsOpt, "sinusoidal"), ("unscaled", UnscaledOpt, False),
    ("dtype", DtypeOpt, None), ("bos", BosOpt, False), ("pad_to", PadToOpt, None),
    ("plant", PlantOpt, None), ("plant_strength", PlantStrengthOpt, 1.0),
    ("model", ModelOpt, None), ("layer", LayerOpt, None), ("hide_special", HideSpecialOpt, False),
    ("max_tokens", MaxTokensOpt, 1024), ("truncate", TruncateOpt, False),
    ("memory_budget", BudgetOpt, "2GiB"),
]  # fmt: skip


Command = Callable[..., None]


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the option ``name`` was given on the command line (not left at its default)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def _option_group(
    cls: type, params: list[tuple[str, Any, Any]], name: str
) -> Callable[[Command], Command]:
    """A decorator that gives a command a group of shared options: Typer sees them as
    parameters; the command gets them gathered in one ``cls`` argument called ``name``."""

    def decorate(fn: Command) -> Command:
        sig = inspect.signature(fn, eval_str=True)
        own = [p for p in sig.parameters.values() if p.name not in (name, "ctx")]
        shared = [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
            for n, kind, default in params
        ]
        context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        passes_ctx = "ctx" in sig.parameters

        @functools.wraps(fn)
        def command(**kwargs: Any) -> None:
            ctx = kwargs["ctx"] if passes_ctx else kwargs.pop("ctx")
            given = frozenset(n for n in ctx.params if _given(ctx, n))  # the command's, all
            group = cls(**{n: kwargs.pop(n) for n, _, _ in params}, given=given)
            fn(**kwargs, **{name: group})

        command.__signature__ = inspect.Signature(own + shared + [context])  # type: ignore[attr-defined]
        return command

    return decorate


with_run_options = _option_group(RunOptions, _RUN_PARAMS, "opts")


def _warn_blind_queries(trace: Trace) -> None:
    """Say so when the mask leaves real queries with no key to attend to (their weights are 0)."""
    blind = ~trace.allowed.any(axis=1) & ~np.array([t.special for t in trace.tokens])
    if blind.all():
        _warn("the mask hides every key from every query: every weight is 0")
    elif blind.any():
        _warn(f"{int(blind.sum())} queries see no key under this mask: their weights are 0")


def _console() -> Any:
    from rich.console import Console  # only when printing: --help does not pay for it

    return Console(highlight=False)


# --- commands ---------------------------------------------------------------------------------


@app.command()
def tokens(
    text: TextArg = None,
    file: FileOpt = None,
    tokenizer: TokenizerOpt = "word",
    bos: BosOpt = False,
    pad_to: PadToOpt = None,
) -> None:
    """Show how a text is split into tokens: index, token, start, end.

    Example: attnviz tokens "¿Qué es la atención?"
    """
    from .render.terminal import tokens_table
    from .tokens import tokenize

    if tokenizer not in TOKENIZERS:
        raise ConfigError(
            f"unknown tokenizer {tokenizer!r}; choose one of: {', '.join(TOKENIZERS)}"
        )
    _console().print(
        tokens_table(tokenize(_read_text(text, file), tokenizer, bos=bos, pad_to=pad_to))
    )


@app.command()
@with_run_options
def export(
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Where to write: a .npz or .json file."),
    ],
    text: TextArg = None,
    *,
    opts: RunOptions,
) -> None:
    """Write every array of a run to NPZ (all of them) or JSON (tokens, weights, output).

    Example: attnviz export "The cat sat on the mat" -o run.npz
    """
    from .export import EXPORT_FORMATS, check_output, save

    check_output(output, EXPORT_FORMATS)
    opts.one_layer()
    save(opts.run(_read_text(text, opts.file)), output)
    print(f"wrote {visible(str(output))}", file=sys.stderr)


# --- options of the commands that draw --------------------------------------------------------

OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write a figure: .png, .svg or .pdf.", show_default=False),
]
HeadOpt = Annotated[
    str | None,
    typer.Option("--head", help="Heads to show, e.g. 2 or 0,3 (default: all).", show_default=False),
]
TitleOpt = Annotated[
    str | None,
    typer.Option("--title", help="Replace the figure's configuration line.", show_default=False),
]
AnnotateOpt = Annotated[
    bool | None,
    typer.Option(
        "--annotate/--no-annotate",
        help="Print each number in its cell (default: up to 12 tokens, when cells are large enough).",
        show_default=False,
    ),
]
CmapOpt = Annotated[str, typer.Option("--cmap", help="Colour map: any Matplotlib name.")]
DpiOpt = Annotated[
    int | None,
    typer.Option("--dpi", help="Resolution of a PNG (default: the preset's).", show_default=False),
]
ThemeOpt = Annotated[str, typer.Option("--theme", help="light | dark.")]
PresetOpt = Annotated[
    str, typer.Option("--preset", help="screen | slides (16:9) | paper (one column).")
]
LangOpt = Annotated[str, typer.Option("--lang", help="Language of the labels: en | es.")]
LabelsOpt = Annotated[
    str,
    typer.Option(
        "--labels",
        help="Token labels in figures: auto (all that fit, else every k-th with its index) "
        "| all | none | every:K.",
    ),
]


def _format_opt(formats: tuple[str, ...]) -> Any:
    return typer.Option(
        "--format",
        help=f"What goes to standard output: {' | '.join(formats)} "
        "(default: table without -o, nothing with it).",
        show_default=False,
    )


FIGURE, PAGE = "figure", "page"
WRITES = {FIGURE: "a figure (-o .png, .svg, .pdf)", PAGE: "a page (-o .html)"}

# Where each option of the drawing commands acts: a figure, a page, or a --format. A command
# says where its own options act and may narrow these (a string: they never act, and why).
ACTS: dict[str, frozenset[str] | str] = {
    "title": frozenset({FIGURE, PAGE}),
    "annotate": frozenset({FIGURE}),
    "cmap": frozenset({FIGURE, PAGE, "table", "heat"}),
    "dpi": frozenset({FIGURE}),
    "theme": frozenset({FIGURE, PAGE}),
    "preset": frozenset({FIGURE}),
    "lang": frozenset({FIGURE, PAGE, "table", "heat", "top"}),
    "labels": frozenset({FIGURE}),
}


def _refuse_idle(
    given: frozenset[str], writes: set[str], acts: dict[str, frozenset[str] | str]
) -> None:
    """ConfigError for the first given option that acts on none of what ``writes`` holds."""

    def said(outputs: Iterable[str]) -> str:
        return " or ".join(sorted(WRITES.get(w, f"--format {w}") for w in outputs))

    for name, where in acts.items():
        if name not in given:
            continue
        if isinstance(where, str):
            raise ConfigError(f"{_flag(name)} changes nothing here: {where}")
        if not where & writes:
            raise ConfigError(
                f"{_flag(name)} changes nothing in {said(writes) or 'this run'}: it acts on {said(where)}"
            )


@dataclass(frozen=True)
class FigureOptions:
    """The options of every command that draws: where the figure goes and how it looks."""

    output: Path | None
    title: str | None
    annotate: bool | None
    cmap: str
    dpi: int | None
    theme: str
    preset: str
    lang: str
    labels: str
    given: frozenset[str] = frozenset()

    @property
    def html(self) -> bool:
        """-o page.html: the interactive page instead of a figure."""
        return self.output is not None and self.output.suffix.lower() == ".html"

    def check(
        self,
        format: str | None,
        formats: tuple[str, ...],
        scale: str = "fixed",
        html: bool = False,
        acts: Mapping[str, frozenset[str] | str] | None = None,
    ) -> str | None:
        """Check every output option before any work; return the standard output format.

        An option given where it acts on nothing that is written is refused: ``acts`` says
        where the command's own options act, and overrides ACTS for the shared ones."""
        from .export import check_output
        from .render import colors
        from .render.labels import strings

        shown = format or (None if self.output else "table")
        if shown is not None and shown not in formats:
            raise ConfigError(f"unknown --format {shown!r}; choose one of: {', '.join(formats)}")
        writes = {shown} if shown is not None else set()
        if self.output is not None:
            writes.add(PAGE if self.html else FIGURE)
        _refuse_idle(self.given, writes, {**ACTS, **(acts or {})})
        if self.output is not None:
            from .render.figures import FIGURE_FORMATS, check_figure_options

            suffix = self.output.suffix.lower().lstrip(".")
            if suffix in ("json", "csv"):  # -o x.json: numbers are for standard output
                raise ConfigError(
                    f"-o writes a figure (.png, .svg, .pdf); for {suffix.upper()} use "
                    f"--format {suffix} > {visible(str(self.output))}"
                )
            check_output(self.output, FIGURE_FORMATS + ((".html",) if html else ()))
            check_figure_options(
                dpi=self.dpi, theme=self.theme, preset=self.preset, scale=scale, labels=self.labels
            )
        strings(self.lang)
        colors.lut(self.cmap)
        return shown

    def memory(self, panels: int) -> Callable[[int], int] | None:
        """The memory the figure will take for T tokens, for the budget; None without one."""
        if self.output is None or self.html:
            return None
        from .render.figures.base import figure_bytes

        return lambda T: figure_bytes(self.preset, panels, self.dpi, T)

    def style(self) -> dict[str, Any]:
        """The keyword arguments every figure function takes."""
        return {
            "annotate": self.annotate, "cmap": self.cmap, "theme": self.theme,
            "preset": self.preset, "title": self.title, "lang": self.lang, "labels": self.labels,
        }  # fmt: skip

    def save_page(self, trace: Trace, views: list[Any], kind: str, crop: Any = None) -> None:
        """Write the interactive HTML page of ``views``."""
        from .export import write_text
        from .render.html import page

        assert self.output is not None
        _progress.step(f"writing {visible(str(self.output))}")
        text = page(trace, views, kind=kind, cmap=self.cmap, theme=self.theme, lang=self.lang,
                    title=self.title, crop=crop)  # fmt: skip
        write_text(self.output, text)
        print(f"wrote {visible(str(self.output))}", file=sys.stderr)

    def save(self, fig: Any) -> None:
        from .render.figures import save_figure

        assert self.output is not None
        _progress.step(f"drawing and writing {visible(str(self.output))}")
        save_figure(fig, self.output, self.dpi)
        print(f"wrote {visible(str(self.output))}", file=sys.stderr)


_FIGURE_PARAMS = [
    ("output", OutputOpt, None), ("title", TitleOpt, None), ("annotate", AnnotateOpt, None),
    ("cmap", CmapOpt, "viridis"), ("dpi", DpiOpt, None), ("theme", ThemeOpt, "light"),
    ("preset", PresetOpt, "screen"), ("lang", LangOpt, "en"), ("labels", LabelsOpt, "auto"),
]  # fmt: skip
with_figure_options = _option_group(FigureOptions, _FIGURE_PARAMS, "look")


def _span_opt(name: str, help: str) -> Any:
    return Annotated[str | None, typer.Option(name, help=help, show_default=False)]


@dataclass(frozen=True)
class CropOptions:
    """The part of a long run a view shows: --window, or --queries and --keys."""

    window: str | None
    queries: str | None
    keys: str | None
    given: frozenset[str] = frozenset()

    @property
    def cropped(self) -> bool:
        """Whether --window, --queries or --keys is given."""
        return any(v is not None for v in (self.window, self.queries, self.keys))

    def check(self) -> None:
        """The form of the specs, before any work (their range needs the text's length)."""
        parse_crop(None, self.window, self.queries, self.keys)

    def resolve(self, T: int) -> Crop | None:
        """The Window for a run of T tokens; None when it is the whole run."""
        crop = parse_crop(T, self.window, self.queries, self.keys)
        return None if crop.covers(T) else crop


_CROP_PARAMS = [
    ("window", _span_opt("--window", "Show only queries and keys A..B-1, e.g. 100:120 "
                         "(attention is computed on the whole text)."), None),
    ("queries", _span_opt("--queries", "Show only queries A..B-1 (A or B may be left out)."), None),
    ("keys", _span_opt("--keys", "Show only keys A..B-1."), None),
]  # fmt: skip
with_crop_options = _option_group(CropOptions, _CROP_PARAMS, "view")


HEATMAP_FORMATS = ("table", "heat", "top", "json", "csv")


@app.command()
@with_crop_options
@with_figure_options
@with_run_options
def heatmap(
    text: TextArg = None,
    format: Annotated[str | None, _format_opt(HEATMAP_FORMATS)] = None,
    head: HeadOpt = None,
    scale: Annotated[
        str,
        typer.Option("--scale", help="Colour scale: fixed (0 to 1) | head (each head's max)."),
    ] = "fixed",
    top: Annotated[
        int, typer.Option("--top", help="With --format top: the strongest keys shown per query.")
    ] = 3,
    *,
    opts: RunOptions,
    look: FigureOptions,
    view: CropOptions,
) -> None:
    """Per-head attention heatmaps with the mask drawn over them, in the terminal or as a figure.

    Example: attnviz heatmap "The cat sat on the mat"

    Example: attnviz heatmap "The cat sat on the mat" -o cat.png --preset slides

    Example: attnviz heatmap --file long.txt --window 100:120 --head 0
    """
    acts = {"scale": frozenset({FIGURE}), "top": frozenset({"top"})}
    shown = look.check(format, HEATMAP_FORMATS, scale, html=True, acts=acts)
    view.check()
    if top < 1:
        raise ConfigError(f"--top must be at least 1, not {top}")
    if opts.all_layers and (shown in ("top", "csv") or view.cropped):
        raise ConfigError(
            "--layer all draws every layer whole (-o, --format table, heat or json): "
            "for --format top or csv, or --window, --queries or --keys, give one layer"
        )
    selected = select_heads(head, opts.heads_count())
    trace = opts.run(_read_text(text, opts.file), extra_bytes=look.memory(len(selected)))
    crop = view.resolve(len(trace.tokens))
    if opts.all_layers:
        _model_view(trace, selected, shown, look, scale)
        return
    if look.html:
        from .render.html import heatmap_views

        look.save_page(trace, heatmap_views(trace, selected, look.lang, crop), "heatmap", crop)
    elif look.output is not None:
        from .render.figures import heatmap_figure

        _progress.step("laying out the figure")
        look.save(heatmap_figure(trace, selected, scale=scale, crop=crop, **look.style()))
    if shown is not None:
        _print_weights(trace, selected, shown, look.cmap, look.lang, top, crop)


COMPARE_FORMATS = ("table", "heat", "json")


@app.command()
@with_crop_options
@with_figure_options
@with_run_options
def compare(
    text: TextArg = None,
    against: Annotated[
        list[str] | None,
        typer.Option(
            "--against",
            help="Run B: a mask spec (repeat to combine) or 'unscaled' (same mask, no 1/√d_k).",
            show_default="none",
        ),
    ] = None,
    format: Annotated[str | None, _format_opt(COMPARE_FORMATS)] = None,
    head: HeadOpt = None,
    *,
    opts: RunOptions,
    look: FigureOptions,
    view: CropOptions,
) -> None:
    """Compare run A (--mask, default causal) with run B (--against, default none).

    Same text, same seeded weights; one thing differs. Shows both, B − A, and the numbers that sum the difference up.

    Example: attnviz compare "The cat sat on the mat"

    Example: attnviz compare "The cat sat on the mat" --against unscaled -o unscaled.png
    """
    from .stats import compare as compare_runs
    from .trace import config_against

    shown = look.check(format, COMPARE_FORMATS, html=True)
    opts.one_layer()
    view.check()
    config_a = opts.config()
    config_b = config_against(config_a, against or ["none"])
    selected = select_heads(head, opts.heads_count())
    text_in = _read_text(text, opts.file)
    pixels = look.memory(3 * len(selected) + 3)
    run_a = opts.run(text_in, config_a, pixels)
    run_b = opts.run(text_in, config_b, pixels)
    if run_a.config == run_b.config:  # the model's own mask may make B's mask A's
        from .render.labels import mask_text

        raise ConfigError(
            f"runs A and B are the same run (mask {mask_text(run_a.config.mask)}): give "
            "--against another mask, or unscaled"
        )
    cmp = compare_runs(run_a, run_b)
    crop = view.resolve(len(cmp.a.tokens))
    if look.html:
        from .render.html import compare_views

        look.save_page(cmp.a, compare_views(cmp, selected, look.lang, crop), "compare", crop)
    elif look.output is not None:
        from .render.figures import compare_figure

        _progress.step("laying out the figure")
        look.save(compare_figure(cmp, selected, crop=crop, **look.style()))
    if shown is not None:
        _print_comparison(cmp, selected, shown, look.cmap, look.lang, crop)


STEPS_FORMATS = ("table", "json")


@app.command()
@with_crop_options
@with_figure_options
@with_run_options
def steps(
    text: TextArg = None,
    head: Annotated[int, typer.Option("--head", help="The head to follow.")] = 0,
    query: Annotated[
        int | None,
        typer.Option(
            "--query", help="Work one query row out by hand (its index).", show_default=False
        ),
    ] = None,
    columns: Annotated[
        int, typer.Option("--columns", help="Columns shown of wide matrices (Q, K, V, outputs).")
    ] = 8,
    precision: Annotated[int, typer.Option("--precision", help="Decimals in the tables.")] = 2,
    format: Annotated[str | None, _format_opt(STEPS_FORMATS)] = None,
    *,
    opts: RunOptions,
    look: FigureOptions,
    view: CropOptions,
) -> None:
    """The computation of one head, step by step, with the names of the paper.

    Q, K, V, scores, scaled, masked, weights, head output, then concat and output.

    Example: attnviz steps "The cat sat on the mat" --head 0 --query 3

    Example: attnviz steps "¿Qué es la atención?" --lang es -o pasos.png --preset slides
    """
    from .render.stages import head_stages, json_values, worked_row

    acts = {"query": frozenset({"table", "json"}), "columns": frozenset({"table"}),
            "precision": frozenset({"table"})}  # fmt: skip
    shown = look.check(format, STEPS_FORMATS, html=True, acts=acts)
    opts.one_layer()
    view.check()
    if columns < 1 or not 0 <= precision <= 12:
        raise ConfigError("--columns must be at least 1 and --precision between 0 and 12")
    select_heads([head], opts.heads_count())
    trace = opts.run(_read_text(text, opts.file), extra_bytes=look.memory(10))
    lang = look.lang
    crop = view.resolve(len(trace.tokens))
    stages = head_stages(trace, head, lang, crop)
    row = worked_row(trace, head, query) if query is not None else None
    if look.html:
        from .render.html import steps_views

        look.save_page(trace, steps_views(trace, head, lang, crop), "steps", crop)
    elif look.output is not None:
        from .render.figures import steps_figure

        _progress.step("laying out the figure")
        look.save(steps_figure(trace, head, crop=crop, **look.style()))
    if shown == "json":
        data: dict[str, Any] = {
            "tokens": trace.texts,
            "config": trace.config.to_dict(),
            "head": head,
            **({"window": crop.to_dict()} if crop else {}),
            "stages": [
                {
                    "number": st.number,
                    "name": st.name,
                    "formula": st.formula,
                    "shape": list(st.shape),
                    "values": json_values(st),
                }
                for st in stages
            ],
        }
        if row is not None:
            data["query"] = {
                "index": row.query,
                **{k: getattr(row, k).tolist() for k in ("scores", "scaled", "allowed", "exp", "weights")},
                "head_output": row.output.tolist(),
                **({} if row.bias is None else {"bias": row.bias.tolist()}),
            }  # fmt: skip
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    elif shown == "table":
        from .render import terminal

        console = _console()
        for st in stages:
            table = terminal.stage_table(
                st, trace.texts, precision=precision, columns=columns, cmap=look.cmap, lang=lang
            )
            console.print(table)
            console.print()
        if row is not None:
            console.print(
                terminal.worked_row_tables(
                    row, trace.texts, precision=precision, columns=columns, lang=lang
                )
            )


STATS_FORMATS = ("table", "json", "csv")


@app.command()
@with_figure_options
@with_run_options
def stats(
    text: TextArg = None,
    head: HeadOpt = None,
    format: Annotated[str | None, _format_opt(STATS_FORMATS)] = None,
    *,
    opts: RunOptions,
    look: FigureOptions,
) -> None:
    """Numbers that sum each head up: entropy, distance, where the weight goes.

    Per head, averaged over the query rows: entropy (and divided by log of the row's keys), mean attention distance, the share of weight on the query itself, on the previous token and on the first, the largest weight, and the keys that hold 90% of the weight.

    Example: attnviz stats "The cat sat on the mat because the cat was tired"

    Example: attnviz stats "The cat sat on the mat" -o stats.png
    """
    from .stats import HEAD_METRICS, head_stats

    acts = {"annotate": "the figure of stats prints every value",
            "labels": "the figure of stats has no token labels"}  # fmt: skip
    shown = look.check(format, STATS_FORMATS, acts=acts)
    opts.one_layer()
    selected = select_heads(head, opts.heads_count())
    trace = opts.run(_read_text(text, opts.file), extra_bytes=look.memory(1))
    numbers = head_stats(trace, selected)
    if look.output is not None:
        from .render.figures import stats_figure

        style = {k: v for k, v in look.style().items() if k not in ("annotate", "labels")}
        look.save(stats_figure(numbers, selected, trace, **style))
    if shown == "json":
        data = {"tokens": trace.texts, "config": trace.config.to_dict(), "heads": selected,
                **{m: numbers[m].tolist() for m in (*HEAD_METRICS, "rows")}}  # fmt: skip
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    elif shown == "csv":
        lines = [",".join(("head", *HEAD_METRICS, "rows"))]
        for n, h in enumerate(selected):
            values = (repr(float(numbers[m][n])) for m in HEAD_METRICS)
            lines.append(",".join((str(h), *values, str(int(numbers["rows"][n])))))
        sys.stdout.write("\n".join(lines) + "\n")
    elif shown == "table":
        from .render import terminal

        _console().print(
            terminal.stats_table(
                numbers, selected, cmap=look.cmap, lang=look.lang, config=trace.config
            )
        )


ROLLOUT_FORMATS = ("table", "top", "json")


@app.command()
@with_figure_options
@with_run_options
def rollout(
    text: TextArg = None,
    format: Annotated[str | None, _format_opt(ROLLOUT_FORMATS)] = None,
    top: Annotated[
        int, typer.Option("--top", help="With --format top: the strongest inputs per token.")
    ] = 3,
    *,
    opts: RunOptions,
    look: FigureOptions,
) -> None:
    """Attention rollout (Abnar & Zuidema, 2020): what each token draws on, through every layer.

    Per layer the heads' mean attention, mixed with the identity for the residual (0.5·A + 0.5·I), multiplied from the first layer to the last. A seeded run has one layer.

    Example: attnviz rollout "The cat sat on the mat" --model bert-base-uncased -o rollout.png
    """
    from .stats import rollout as flow_of

    shown = look.check(format, ROLLOUT_FORMATS, acts={"top": frozenset({"top"})})
    opts.one_layer()
    if top < 1:
        raise ConfigError(f"--top must be at least 1, not {top}")
    trace = opts.run(_read_text(text, opts.file), extra_bytes=look.memory(1))
    if look.output is not None:
        from .render.figures.heatmap import rollout_figure

        _progress.step("laying out the figure")
        look.save(rollout_figure(trace, **look.style()))
    flow = flow_of(trace.layer_weights)
    layers = trace.layer_weights.shape[0]
    if shown == "json":
        data = {"tokens": trace.texts, "config": trace.config.to_dict(), "layers": layers,
                "rollout": flow.tolist()}  # fmt: skip
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    elif shown is not None:
        from rich.text import Text

        from .render import terminal
        from .render.labels import strings

        console = _console()
        s = strings(look.lang)
        line = Text(s["rollout_of"].format(n=layers), style="dim")
        if trace.special_hidden:
            line.append(" · " + s["special_hidden"].format(n=trace.special_hidden))
        matrix = (flow, flow > 0)
        table = terminal.weight_table(trace, 0, cmap=look.cmap, lang=look.lang, matrix=matrix)
        if shown == "table" and terminal.fits(console, table):
            console.print(table)
            console.print(line)
        else:
            console.print(terminal.top_lines(trace, 0, top, look.lang, matrix=matrix,
                                             caption_line=line))  # fmt: skip


def _print_comparison(
    cmp: Any, heads: list[int], fmt: str, cmap: str, lang: str, crop: Crop | None = None
) -> None:
    """Write a comparison to standard output as table, heat or json (the summary numbers are
    those of the whole run; the views show the window)."""
    if fmt == "json":
        queries = crop.queries if crop else slice(None)
        data = {
            "tokens": cmp.a.texts,
            "config_a": cmp.a.config.to_dict(),
            "config_b": cmp.b.config.to_dict(),
            "heads": heads,
            **({"window": crop.to_dict()} if crop else {}),
            **{
                key: getattr(cmp, key)[heads].tolist()
                for key in ("tv_distance", "mass_moved", "entropy_a", "entropy_b")
            },
            "output_difference": cmp.output_difference[queries].tolist(),
        }
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        return
    from rich.console import Group
    from rich.text import Text

    from .render import terminal
    from .render.figures.compare import run_label

    console = _console()
    label_a, label_b = f"A: {run_label(cmp.a.config, lang)}", f"B: {run_label(cmp.b.config, lang)}"
    for h in heads:
        views = []
        for trace, label in ((cmp.a, label_a), (cmp.b, label_b)):
            table = terminal.weight_table(trace, h, cmap=cmap, lang=lang, crop=crop)
            views.append((table, terminal.caption(trace, h, lang, crop), label))
        pair = terminal.side_by_side(*(v[0] for v in views))
        if fmt == "table" and terminal.fits(console, pair):
            console.print(
                terminal.side_by_side(*(Group(Text(v[2], "bold"), v[0], v[1]) for v in views))
            )
        elif fmt == "table" and all(terminal.fits(console, v[0]) for v in views):
            for table, caption, label in views:
                console.print(Group(Text(label, "bold"), table, caption))
                console.print()
        else:
            color = console.color_system is not None and not console.no_color
            for trace, label in ((cmp.a, label_a), (cmp.b, label_b)):
                console.print(Text(label, "bold"))
                console.print(
                    terminal.heat_view(
                        trace,
                        [h],
                        cmap=cmap,
                        width=console.width,
                        color=color,
                        lang=lang,
                        crop=crop,
                    )
                )
        console.print()
    console.print(terminal.compare_summary(cmp, heads, lang))
    console.print()
    console.print(terminal.output_difference(cmp, lang, crop=crop))


def _model_view(
    trace: Trace, heads: list[int], shown: str | None, look: FigureOptions, scale: str
) -> None:
    """heatmap --layer all: every layer x every selected head, as a figure and/or on stdout."""
    if look.html:
        from .render.html import model_views

        look.save_page(trace, model_views(trace, heads, look.lang), "model")
    elif look.output is not None:
        from .render.figures.heatmap import model_figure

        _progress.step("laying out the figure")
        look.save(model_figure(trace, heads, scale=scale, **look.style()))
    if shown == "json":
        from .export import weights_json

        data = weights_json(trace, heads)
        data["layer_weights"] = trace.layer_weights[:, heads].tolist()
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    elif shown is not None:
        from .render import terminal

        console = _console()
        color = console.color_system is not None and not console.no_color
        console.print(
            terminal.model_view(
                trace, heads, cmap=look.cmap, width=console.width, color=color, lang=look.lang
            )
        )


def _print_weights(
    trace: Trace,
    heads: list[int],
    fmt: str,
    cmap: str,
    lang: str,
    top: int = 3,
    crop: Crop | None = None,
) -> None:
    """Write the selected heads to standard output as table, heat, top, json or csv."""
    if fmt in ("json", "csv"):
        from .export import weights_csv, weights_json

        if fmt == "json":
            data = weights_json(trace, heads, crop)
            sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(weights_csv(trace, heads, crop))
        return
    from .render import terminal

    console = _console()
    if fmt == "top":
        for h in heads:
            console.print(terminal.top_lines(trace, h, top, lang, crop))
            console.print()
        return
    if fmt == "table":
        tables = [terminal.weight_table(trace, h, cmap=cmap, lang=lang, crop=crop) for h in heads]
        if all(terminal.fits(console, t) for t in tables):
            for h, t in zip(heads, tables, strict=True):
                console.print(t)
                console.print(terminal.caption(trace, h, lang, crop))
                console.print()
            return
        console.print(
            f"too wide for {console.width} columns: heat view (or widen the terminal)",
            style="dim",
            no_wrap=True,
            overflow="ellipsis",
        )
    color = console.color_system is not None and not console.no_color
    console.print(
        terminal.heat_view(
            trace, heads, cmap=cmap, width=console.width, color=color, lang=lang, crop=crop
        )
    )


def main() -> None:
    """The console script's entry point."""
    if hasattr(signal, "SIGPIPE"):  # a closed pipe (| head) ends us quietly, as other Unix tools
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        app()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else int(e.code is not None)
    # Everything is written (files atomically, and now the streams): skip the interpreter's
    # teardown of Matplotlib's objects, a quarter of a second that nobody waits for gladly.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
