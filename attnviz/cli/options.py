"""Every option, declared once: its flags, type, default and help, the word the Python API
has for it, and where it acts. Commands take groups of them (``takes``) and read their
values from one ``Options``; the functions below turn those values into the API's objects,
check them before any work, and put the API's words of a message back into flags.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..choices import ATTENTIONS, DTYPES, PATTERNS, POSITIONS
from ..errors import ConfigError
from ..tokens import TOKENIZERS
from ..views.labels import visible

if TYPE_CHECKING:  # (imported where used: the help of the command line loads no NumPy)
    from ..pipeline import Limits
    from ..trace import AttentionConfig, Crop, Pretrained, Seeded

FIGURE, PAGE, EXPORT = "figure", "page", "export"  # what -o writes; others are --format's


@dataclass(frozen=True)
class Opt:
    """One option: ``name`` (its Python name), flags, type, default and help; ``api``, the
    parameter of the Python API it sets (``on``: the value a flag means there); ``seeded``, an
    option of the seeded model, refused with --model; ``acts``, the outputs it changes (None:
    all of them)."""

    name: str
    flags: tuple[str, ...]
    kind: Any
    default: Any
    help: str
    api: str = ""
    on: Any = True
    seeded: bool = False
    acts: frozenset[str] | None = None
    show_default: bool | str = True

    def parameter(self) -> inspect.Parameter:
        option = typer.Option(*self.flags, help=self.help, show_default=self.show_default)
        return inspect.Parameter(self.name, inspect.Parameter.KEYWORD_ONLY,
                                 default=self.default, annotation=Annotated[self.kind, option])  # fmt: skip

    @property
    def flag(self) -> str:
        """The option's long flag: --output (not -o), --annotate (not --no-annotate)."""
        return self.flags[0].split("/")[0]


def _opt(name: str, kind: Any, default: Any, help: str, **more: Any) -> Opt:
    """An option whose flag is its name: heads -> --heads."""
    return Opt(name, ("--" + name.replace("_", "-"),), kind, default, help, **more)


TEXT_FILE = Opt("file", ("--file", "-f"), Path | None, None, "Read the text from this UTF-8 file.",
                show_default=False)  # fmt: skip
HEADS = _opt("heads", int, 8, "Number of attention heads H.", api="heads", seeded=True)
D_MODEL = _opt("d_model", int, 512, "Model width D (a multiple of heads).", api="d_model",
               seeded=True)  # fmt: skip
SEED = _opt("seed", int, 0, "Seed of the token vectors and weights.", api="seed", seeded=True)
MASK = Opt("mask", ("--mask", "-m"), list[str] | None, None,
           "none | causal | window=K | prefix=P | padding; repeat to combine (AND).",
           api="mask", show_default="causal")  # fmt: skip
TOKENIZER = Opt("tokenizer", ("--tokenizer", "-t"), str, "word",
                f"Tokeniser: {' | '.join(TOKENIZERS)}.", api="tokenizer", seeded=True)  # fmt: skip
POSITIONS_ = _opt("positions", str, "sinusoidal",
                  f"Positional encoding: {' | '.join(POSITIONS)}.", api="positions", seeded=True)  # fmt: skip
UNSCALED = _opt("unscaled", bool, False, "Skip the division of the scores by √d_k.",
                api="scaled", on=False)  # fmt: skip
DTYPE = _opt("dtype", str | None, None,
             f"Float type: {' | '.join(DTYPES)} [default: float64; float32 with --model].",
             api="dtype", show_default=False)  # fmt: skip
BOS = _opt("bos", bool, False, "Prepend a <bos> token.", api="bos", seeded=True)
PAD_TO = _opt("pad_to", int | None, None, "Append <pad> tokens up to this many tokens.",
              api="pad_to", seeded=True, show_default=False)  # fmt: skip
PLANT = _opt("plant", list[str] | None, None,
             f"Give a head a known pattern, HEAD=PATTERN with PATTERN {' | '.join(PATTERNS)}; "
             "repeat for more heads.", api="plant", seeded=True, show_default=False)  # fmt: skip
PLANT_STRENGTH = _opt("plant_strength", float, 1.0,
                      "Multiply the planted heads' W_Q and position bias by this.",
                      api="plant_strength", seeded=True)  # fmt: skip
MODEL = _opt("model", str | None, None,
             "Run a local checkpoint instead of seeded weights: a folder in the Hugging Face "
             "layout, a GGUF file (llama.cpp's, Ollama's), or a model id in the local cache "
             "(needs attnviz[models]; the README lists the families attnviz runs).",
             api="model", show_default=False)  # fmt: skip
LAYER = _opt("layer", str | None, None,
             "With --model: the layer to show (default the last); heatmap takes 'all'.",
             api="layer", show_default=False)  # fmt: skip
TARGET = _opt("target", str | None, None,
              "With an encoder-decoder --model (T5, BART, Marian): the target text its decoder "
              "reads, teacher-forced (the text is the source).", api="target", show_default=False)  # fmt: skip
ATTENTION = _opt("attention", str | None, None,
                 f"With an encoder-decoder --model: the attention shown, {' | '.join(ATTENTIONS)} "
                 "(the decoder's over the source) [default: cross].", api="attention",
                 show_default=False)  # fmt: skip
HIDE_SPECIAL = _opt("hide_special", bool, False,
                    "Leave special tokens ([CLS], [SEP], <bos>, <pad>) out of the picture; rows "
                    "are renormalised over the tokens that remain.", api="hide_special")  # fmt: skip
MAX_TOKENS = _opt("max_tokens", int, 1024,
                  "Refuse texts with more tokens than this (or --truncate).", api="max_tokens")  # fmt: skip
TRUNCATE = _opt("truncate", bool, False,
                "Cut a text longer than --max-tokens instead of refusing it.", api="truncate")  # fmt: skip
MAX_BYTES = _opt("max_bytes", str, "4MiB", "Refuse a text (argument, --file or standard input) "
                 "larger than this (e.g. 4MiB, 100MB); it is read no further.")  # fmt: skip
MEMORY_BUDGET = _opt("memory_budget", str, "2GiB",
                     "Refuse runs estimated to need more memory (e.g. 2GiB, 500MB).",
                     api="memory_budget")  # fmt: skip

# A long run: streamed, and pooled to what a figure or a terminal shows.
STREAM = _opt("stream", bool, False, "Stream the attention a block of queries at a time, "
              "never holding the T x T weights, pooled as it comes [default: when the dense "
              "run would be over --memory-budget].", show_default=False)  # fmt: skip
POOL = _opt("pool", str, "mean", "How a pooled map shows each block of queries x keys: mean "
            "(its mean weight) | max (its largest).", api="pool",
            acts=frozenset({FIGURE, "table", "heat", "json"}))  # fmt: skip
RESOLUTION = _opt("resolution", int | None, None, "Cells a side of a pooled map [default: a "
                  "cell per pixel of a figure's panel, what the terminal's width holds; 512 "
                  "for JSON].", api="resolution", acts=frozenset({FIGURE, "table", "heat", "json"}),
                  show_default=False)  # fmt: skip
LONG = (STREAM, POOL, RESOLUTION)

WORDS = _opt("words", bool, False, "With --model: merge word pieces into words (attention to a "
             "word is the sum over its pieces, from a word the mean).", api="words")  # fmt: skip

# The options of every command that computes.
RUN = (TEXT_FILE, HEADS, D_MODEL, SEED, MASK, TOKENIZER, POSITIONS_, UNSCALED, DTYPE, BOS,
       PAD_TO, PLANT, PLANT_STRENGTH, MODEL, LAYER, TARGET, ATTENTION, HIDE_SPECIAL, MAX_TOKENS,
       TRUNCATE,
       MEMORY_BUDGET, MAX_BYTES)  # fmt: skip

_FIGURES = frozenset({FIGURE})
# How a figure or page looks (and the terminal's colours and language).
LOOK = (
    Opt("output", ("--output", "-o"), Path | None, None, "Write a figure (.png, .svg, .pdf) or, "
        "for heatmap, compare and steps, the interactive page (.html).", show_default=False),
    _opt("title", str | None, None, "Replace the figure's configuration line.",
         acts=frozenset({FIGURE, PAGE}), show_default=False),
    Opt("annotate", ("--annotate/--no-annotate",), bool | None, None,
        "Print each number in its cell (default: up to 12 tokens, when cells are large enough).",
        acts=_FIGURES, show_default=False),
    _opt("cmap", str, "viridis", "Colour map: any Matplotlib name.", api="cmap",
         acts=frozenset({FIGURE, PAGE, "table", "heat"})),
    _opt("dpi", int | None, None, "Resolution of a PNG (default: the preset's).", api="dpi",
         acts=_FIGURES, show_default=False),
    _opt("theme", str, "light", "light | dark.", api="theme", acts=frozenset({FIGURE, PAGE})),
    _opt("preset", str, "screen", "screen | slides (16:9) | paper (one column).", api="preset",
         acts=_FIGURES),
    _opt("lang", str, "en", "Language of the labels: en | es.", api="lang",
         acts=frozenset({FIGURE, PAGE, "table", "heat", "top"})),
    _opt("labels", str, "auto", "Token labels in figures: auto (all that fit, else every k-th "
         "with its index) | all | none | every:K.", api="labels", acts=_FIGURES),
)  # fmt: skip

# The part of a long run a view shows.
CROP = (
    _opt("window", str | None, None, "Show only queries and keys A..B-1, e.g. 100:120 "
         "(attention is computed on the whole text).", show_default=False),
    _opt("queries", str | None, None, "Show only queries A..B-1 (A or B may be left out).",
         show_default=False),
    _opt("keys", str | None, None, "Show only keys A..B-1.", show_default=False),
)  # fmt: skip

OPTS = {o.name: o for o in (*RUN, *LOOK, *CROP, *LONG, WORDS)}

# The options some commands have of their own (their flags are declared here too).
HeadOpt = Annotated[
    str | None,
    typer.Option(
        "--head",
        help="Heads to show, e.g. 2 or 0,3, or kv=1: the heads that share "
        "key/value head 1 (default: all).",
        show_default=False,
    ),
]
TopOpt = Annotated[
    int, typer.Option("--top", help="With --format top: the strongest keys shown per query.")
]
TextArg = Annotated[
    str | None,
    typer.Argument(help="The text to attend over; - reads standard input.", show_default=False),
]


def format_option(formats: tuple[str, ...]) -> Any:
    """--format, taking one of ``formats``."""
    return typer.Option("--format", help=f"What goes to standard output: {' | '.join(formats)} "
                        "(default: table without -o, nothing with it).", show_default=False)  # fmt: skip


# --- the values ---------------------------------------------------------------------------------


class Options:
    """The values of the options a command takes, as attributes, and the names of those given
    on the command line."""

    def __init__(self, values: Mapping[str, Any], given: frozenset[str]) -> None:
        self._values = dict(values)
        self.given = given

    def without(self, name: str) -> Options:
        """These options, ``name`` left at its default (as if not given)."""
        return Options(self._values, self.given - {name})

    def having(self, **values: Any) -> Options:
        """These options and ``values``, options a command does not take (not given)."""
        return Options(self._values | values, self.given)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


Command = Callable[..., None]


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the option ``name`` was given on the command line (not left at its default)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


class _Command:
    """A command as Typer sees it: its own parameters and those of its options' groups
    (made when Typer first asks: the commands not run are never built), called with them
    as ``o: Options``."""

    def __init__(self, fn: Command, opts: list[Opt]) -> None:
        functools.update_wrapper(self, fn)
        self.fn, self.opts = fn, opts

    @functools.cached_property
    def __signature__(self) -> inspect.Signature:
        own = [p for p in inspect.signature(self.fn, eval_str=True).parameters.values()
               if p.name != "o"]  # fmt: skip
        context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        return inspect.Signature(own + [opt.parameter() for opt in self.opts] + [context])

    def __call__(self, **kwargs: Any) -> None:
        ctx = kwargs.pop("ctx")
        given = frozenset(n for n in ctx.params if _given(ctx, n))
        values = {opt.name: kwargs.pop(opt.name) for opt in self.opts}
        self.fn(**kwargs, o=Options(values, given))


def takes(*groups: Sequence[Opt]) -> Callable[[Command], Command]:
    """A command that takes these groups of options: Typer sees each as a parameter; the
    command gets their values in one ``o: Options`` argument (with every given option of the
    command in ``o.given``)."""
    opts = [opt for group in groups for opt in group]

    def decorate(fn: Command) -> Command:
        return _Command(fn, opts)

    return decorate


# --- the run ------------------------------------------------------------------------------------


def all_layers(o: Options) -> bool:
    """--layer all: every layer (heatmap's model view)."""
    return (o.layer or "").strip().lower() == "all"


def one_layer(o: Options) -> None:
    """Commands other than heatmap show one layer."""
    if all_layers(o):
        raise ConfigError("--layer all is heatmap's model view; give a layer number here")


def no_seeded(o: Options) -> None:
    """Refuse, beside a --model, an option of the seeded model given on the line."""
    for opt in RUN:
        if opt.seeded and opt.name in o.given:
            raise ConfigError(f"{opt.flag} is an option of the seeded model, not of a --model "
                              "checkpoint: leave it out")  # fmt: skip


def source(o: Options) -> Seeded | Pretrained:
    """The seeded model's options, or the checkpoint's; an option of the one given with the
    other is refused."""
    from ..trace import Pretrained, Seeded

    if o.model is None:
        if o.layer is not None and not all_layers(o):
            raise ConfigError("--layer chooses a layer of a --model; seeded runs have one")
        for opt in (TARGET, ATTENTION):
            if getattr(o, opt.name) is not None:
                raise ConfigError(f"{opt.flag} is an encoder-decoder's (a --model such as T5)")
        values = {opt.api: getattr(o, opt.name) for opt in RUN if opt.seeded}
        seeded = Seeded(**{**values, "plant": tuple(values["plant"] or ())})
        if "plant_strength" in o.given and not seeded.plant:
            raise ConfigError("--plant-strength scales planted heads: give --plant too")
        return seeded
    no_seeded(o)
    layer = None
    if o.layer is not None and not all_layers(o):
        if not o.layer.strip().isdigit():
            raise ConfigError(f"--layer takes a layer number or 'all', not {o.layer!r}")
        layer = int(o.layer)
    attention = o.attention.strip().lower() if o.attention is not None else None
    return Pretrained(o.model, layer, target=o.target, attention=attention)


def config(o: Options) -> AttentionConfig:
    """The configuration of the run the options describe."""
    from ..trace import AttentionConfig

    return AttentionConfig(
        mask=tuple(o.mask or ["none" if o.model else "causal"]),
        scaled=not o.unscaled,
        dtype=o.dtype or ("float32" if o.model else "float64"),  # a checkpoint's own
        source=source(o),
    )


def heads_count(o: Options) -> tuple[int, int]:
    """The number of heads of the run, and of its key/value heads (the options checked first)."""
    from ..trace import Seeded

    src = config(o).source
    if isinstance(src, Seeded):
        return src.heads, src.heads
    from ..models.config import heads_of

    return heads_of(src.model)


def encoder_decoder(o: Options) -> bool:
    """Whether the run's --model is an encoder-decoder (T5, BART, Marian)."""
    if o.model is None:
        return False
    from ..models.config import is_encoder_decoder

    return is_encoder_decoder(o.model)


def layers_count(o: Options) -> int:
    """The number of layers of the run: one for the seeded model."""
    from ..trace import Seeded

    src = config(o).source
    if isinstance(src, Seeded):
        return 1
    from ..models.config import layers_of

    return layers_of(src.model)


_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6,
          "mib": 2**20, "g": 10**9, "gb": 10**9, "gib": 2**30}  # fmt: skip


def size(text: str, flag: str = "--memory-budget") -> int:
    """A size such as 2GiB, 500MB or 1000000, in bytes (at most 2**63 - 1)."""
    m = re.fullmatch(r"\s*([0-9]{1,30}(?:\.[0-9]{1,30})?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS or float(m.group(1)) <= 0:
        raise ConfigError(f"{flag} takes a size such as 2GiB or 500MB, not {text!r}")
    return min(int(float(m.group(1)) * _UNITS[m.group(2).lower()]), 2**63 - 1)


def limits(o: Options, extra_bytes: Callable[[int], int] | None = None) -> Limits:
    from ..pipeline import Limits

    return Limits(o.max_tokens, o.truncate, size(o.memory_budget), extra_bytes)


def at_least_one(top: int) -> None:
    """--top: at least one key a query."""
    if top < 1:
        raise ConfigError(f"--top must be at least 1, not {top}")


def head_list(spec: str | None, n_heads: int, kv_heads: int | None = None) -> list[int]:
    """The heads of "0,3" (None: all), or of "kv=1", the group that shares key/value head 1,
    checked against the number of heads (and of key/value heads)."""
    from ..trace import select_heads

    if spec is None:
        return select_heads(None, n_heads)
    kv = kv_heads or n_heads
    if spec.replace(" ", "").startswith("kv="):
        group = spec.replace(" ", "")[3:]
        if not group.isdigit() or int(group) >= kv:
            raise ConfigError(f"--head kv=G takes a key/value head 0 to {kv - 1}, not {spec!r}")
        size = n_heads // kv
        return list(range(int(group) * size, (int(group) + 1) * size))
    try:
        heads = [int(part) for part in spec.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(
            f"--head takes head numbers such as 0 or 0,3 (or kv=1: a key/value group), not {spec!r}"
        ) from None
    return select_heads(heads, n_heads)


# --- the outputs --------------------------------------------------------------------------------

_WRITES = {FIGURE: "a figure (-o .png, .svg, .pdf)", PAGE: "a page (-o .html)"}


def _said(outputs: Iterable[str]) -> str:
    def one(w: str) -> str:
        if w.startswith(EXPORT):
            return f"-o {w.removeprefix(EXPORT)}"
        return _WRITES.get(w, f"--format {w}")

    return " or ".join(sorted(one(w) for w in outputs))


def outputs(
    o: Options,
    format: str | None,
    formats: tuple[str, ...],
    *,
    html: bool = False,
    acts: Mapping[str, frozenset[str] | str] | None = None,
    default: str = "table",
    exports: tuple[str, ...] = (),
) -> str | None:
    """Check every output option before any work; return the standard output format.

    An option given where it acts on nothing that is written is refused; ``acts`` says where
    the command's own options act, and overrides the options' own (a string: never, and why).
    ``default``: the format without -o; ``exports``: the suffixes -o writes the run to."""
    from ..render import colors
    from ..views.labels import strings

    shown = format or (None if o.output else default)
    if shown is not None and shown not in formats:
        raise ConfigError(f"unknown --format {shown!r}; choose one of: {', '.join(formats)}")
    writes = {shown} if shown is not None else set()
    exporting = o.output is not None and o.output.suffix.lower() in exports
    if o.output is not None:
        kind = EXPORT + o.output.suffix.lower() if exporting else PAGE if is_page(o) else FIGURE
        writes.add(kind)  # "export.npz", "export.json", "page" or "figure"
    where = {opt.name: opt.acts for opt in (*LOOK, *LONG) if opt.acts is not None} | dict(
        acts or {}
    )
    for name, place in where.items():
        flag = OPTS[name].flag if name in OPTS else "--" + name.replace("_", "-")
        if name in o.given and isinstance(place, str):
            raise ConfigError(f"{flag} changes nothing here: {place}")
        if name in o.given and not set(place) & writes:
            raise ConfigError(f"{flag} changes nothing in {_said(writes) or 'this run'}: it "
                              f"acts on {_said(place)}")  # fmt: skip
    if o.output is not None:
        _check_written(o, exports, exporting, html)
    strings(o.lang)
    colors.lut(o.cmap)
    return shown


def _check_written(o: Options, exports: tuple[str, ...], exporting: bool, html: bool) -> None:
    """-o checked: a run's export, or a figure (or page) with the options of how it looks."""
    from ..export import check_output

    assert o.output is not None
    if exporting:
        check_output(o.output, exports)
        return
    from ..render.figures import FIGURE_FORMATS, check_figure_options

    suffix = o.output.suffix.lower().lstrip(".")
    if suffix in ("json", "csv") and not exports:  # -o x.json: numbers are for stdout
        raise ConfigError(f"-o writes a figure (.png, .svg, .pdf); for {suffix.upper()} use "
                          f"--format {suffix} > {visible(str(o.output))}")  # fmt: skip
    check_output(o.output, FIGURE_FORMATS + ((".html",) if html else ()) + exports)
    check_figure_options(dpi=o.dpi, theme=o.theme, preset=o.preset, labels=o.labels)


def is_page(o: Options) -> bool:
    """-o page.html: the interactive page instead of a figure."""
    return o.output is not None and o.output.suffix.lower() == ".html"


BASE = 80 * 2**20  # what the process holds before a run: Python, NumPy, Rich, attnviz
FIGURE_BASE = 48 * 2**20  # and Matplotlib, when a figure is drawn
VECTOR = {".pdf": 2.0, ".svg": 1.0, ".png": 1.0}  # a figure's pixels, times (PDF's working set)
# What a command holds beyond its run and the run's estimate, in bytes per T x T matrix (and,
# under "fixed", in bytes): under "run", per head of the run (compare's second run and the
# comparison, the temporaries of stats and rollout); under an output, per matrix shown (steps:
# of its one head). Measured with peak RSS (tests/test_budget.py holds them to it), with a
# quarter more for margin.
COSTS: dict[str, dict[str, float]] = {
    "heatmap": {"json": 12, "csv": 6, "heat": 8, "table": 8, PAGE: 82},
    "compare": {"run": 58, "json": 4, "heat": 4, "table": 4, PAGE: 195},
    "steps": {"json": 345, "table": 1050, PAGE: 800},
    "stats": {"run": 28},
    "rollout": {"run": 8},
    "export": {"export.json": 12},
    "lesson": {"run": 120, "fixed": 96 * 2**20},  # four runs, and fourteen pages to a PDF
}


def output_memory(o: Options, command: str, shown: str | None, matrices: int,
                  panels: int) -> Callable[[int], int]:  # fmt: skip
    """What ``command`` holds for T tokens beyond its run's estimate, for the budget: the
    process itself, the command's own arrays, and what its outputs take while they are made
    (``matrices`` T x T matrices shown; a figure of ``panels`` panels)."""
    costs = COSTS.get(command, {})
    writes = [w for w in (shown, written(o)) if w is not None]
    per_matrix = sum(costs.get(w, 0.0) for w in writes)
    run_heads = heads_count(o)[0]

    def need(T: int) -> int:
        n = BASE + costs.get("fixed", 0.0) + costs.get("run", 0.0) * run_heads * T * T
        n += per_matrix * matrices * T * T
        if written(o) == FIGURE:
            from ..render.figures.save import figure_bytes

            assert o.output is not None
            pixels = figure_bytes(o.preset, panels, o.dpi, T)
            n += FIGURE_BASE + pixels * VECTOR.get(o.output.suffix.lower(), 1.0)
            if o.output.suffix.lower() != ".png":  # a vector file keeps each panel's image
                n += 8 * panels * T * T
        return int(n)

    return need


def written(o: Options) -> str | None:
    """What -o writes: a figure, a page, an export ("export.json", "export.npz"), or None."""
    if o.output is None:
        return None
    suffix = o.output.suffix.lower()
    if suffix in (".npz", ".json"):
        return EXPORT + suffix
    return PAGE if is_page(o) else FIGURE


def style(o: Options) -> Any:
    """How a figure looks (a ``Style``)."""
    from ..render.figures import Style

    return Style(o.annotate, o.cmap, o.theme, o.preset, o.title, o.labels)


# --- the crop -----------------------------------------------------------------------------------


def cropped(o: Options) -> bool:
    """Whether --window, --queries or --keys is given."""
    return any(v is not None for v in (o.window, o.queries, o.keys))


def _span(option: str, spec: str, T: int | None) -> tuple[int, int]:
    """A:B (either may be left out) as (start, stop), checked against T tokens when known."""
    start, colon, end = spec.partition(":")
    try:
        a = int(start) if start.strip() else 0
        b = int(end) if end.strip() else None
    except ValueError:
        a = b = -1
    if not colon or a < 0 or (b is not None and b <= a):
        raise ConfigError(f"{option} takes A:B such as 10:20 (tokens 10 to 19), not {spec!r}")
    if T is None:
        return a, a + 1 if b is None else b
    if a >= T or (b is not None and b > T):
        raise ConfigError(f"{option} {spec!r}: this text has {T} tokens, 0 to {T - 1}")
    return a, T if b is None else b


def parse_crop(
    T: int | None, window: str | None = None, queries: str | None = None,
    keys: str | None = None, S: int | None = None,
) -> Crop:  # fmt: skip
    """The Crop of ``--window A:B`` (queries and keys A..B−1), or of ``--queries A:B`` and
    ``--keys A:B`` (each axis on its own; the whole axis when not given). Either part of A:B
    may be left out: ``:20``, ``480:``. With T None, only the form of the specs is checked
    (before anything is computed). ``S``: the keys when they are not the T queries (cross-
    attention's source)."""
    from ..trace import Crop

    if window is not None and (queries is not None or keys is not None):
        raise ConfigError("give --window, or --queries and --keys, not both")
    S = T if S is None else S
    q = _span("--window", window, T) if window is not None else (0, T or 0)
    k = _span("--window", window, S) if window is not None else (0, S or 0)
    if queries is not None:
        q = _span("--queries", queries, T)
    if keys is not None:
        k = _span("--keys", keys, S)
    return Crop(*q, *k)


def crop(o: Options, T: int, S: int | None = None) -> Crop | None:
    """The crop of a run of T queries (and S keys; None: T); None when it is the whole run."""
    part = parse_crop(T, o.window, o.queries, o.keys, S)
    whole = (0, T, 0, T if S is None else S)
    return None if (part.q0, part.q1, part.k0, part.k1) == whole else part


# --- the API's words, in flags ------------------------------------------------------------------


# the words of the API's generate() and their flags, generate's own options
# the parameters of generate and scaling that are their own options, not the run's
_COMMAND_FLAGS = {n: "--" + n.replace("_", "-") for n in ("max_new_tokens", "temperature",
                                                          "top_k", "top_p", "dk", "rows", "keys")}  # fmt: skip


def _flag_for(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    opt = next((o for o in OPTS.values() if o.api == name), None)
    if opt is None and name in _COMMAND_FLAGS:
        return _COMMAND_FLAGS[name] + ("" if value is None else f" {value}")
    if opt is None:
        return match.group(0).strip("`")
    if opt.kind is bool:
        return opt.flag if value is None or value == str(opt.on) else f"no {opt.flag}"
    return opt.flag if value is None else f"{opt.flag} {value.strip(chr(39))}"


def in_flags(message: str) -> str:
    """A message of the Python API with its parameters (`max_tokens=20`, `truncate=True`,
    `scaled=False`) written as this command line's flags (--max-tokens 20, --truncate,
    --unscaled)."""
    return re.sub(r"`([a-z_]+)(?:=([^`]*))?`", _flag_for, message)
