"""The command line: parse options, build a config, call the API, pick a renderer, write.

Every error ends here as one line on stderr and an exit code: 2 for bad usage or input
(ConfigError, a click usage error), 1 for a failure at run time (RunError), 130 for Ctrl-C.
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from . import __version__
from .errors import AttnvizError, ConfigError, RunError
from .render.labels import visible
from .tokens import TOKENIZERS
from .trace import DTYPES, POSITIONS, AttentionConfig, Trace, run, select_heads


def _error(message: str, code: int) -> None:
    line = " ".join(visible(message).split())  # one line, whatever the message holds
    print(f"attnviz: error: {line}", file=sys.stderr)
    sys.exit(code)


class _Group(TyperGroup):
    """Runs the app and turns every exception into one line on stderr and an exit code."""

    def main(self, args: Any = None, *pos: Any, **kwargs: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        end = argv.index("--") if "--" in argv else len(argv)
        debug = "--debug" in argv[:end]  # accepted anywhere before "--", not only first
        argv = [a for a in argv[:end] if a != "--debug"] + argv[end:]
        kwargs["standalone_mode"] = False
        try:
            code = super().main(argv, *pos, **kwargs)
        except Exception as e:
            if debug:
                traceback.print_exc()
            _handle(e)
        except KeyboardInterrupt:
            if debug:
                traceback.print_exc()
            _error("interrupted", 130)
        sys.exit(code if isinstance(code, int) else 0)


def _handle(e: Exception) -> None:
    from typer._click.exceptions import ClickException  # typer's own click

    if isinstance(e, ClickException):
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
DtypeOpt = Annotated[str, typer.Option("--dtype", help=f"Float type: {' | '.join(DTYPES)}.")]
BosOpt = Annotated[bool, typer.Option("--bos", help="Prepend a <bos> token.")]
PadToOpt = Annotated[
    int | None,
    typer.Option(
        "--pad-to", help="Append <pad> tokens up to this many tokens.", show_default=False
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


def _config(
    heads: int,
    d_model: int,
    seed: int,
    mask: list[str] | None,
    tokenizer: str,
    positions: str,
    unscaled: bool,
    dtype: str,
    bos: bool,
    pad_to: int | None,
) -> AttentionConfig:
    return AttentionConfig(
        heads=heads,
        d_model=d_model,
        seed=seed,
        mask=tuple(mask or ["causal"]),
        tokenizer=tokenizer,
        positions=positions,
        scaled=not unscaled,
        dtype=dtype,
        bos=bos,
        pad_to=pad_to,
    )


def _console() -> Any:
    from rich.console import Console

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
def export(
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Where to write: a .npz or .json file."),
    ],
    text: TextArg = None,
    file: FileOpt = None,
    heads: HeadsOpt = 8,
    d_model: DModelOpt = 512,
    seed: SeedOpt = 0,
    mask: MaskOpt = None,
    tokenizer: TokenizerOpt = "word",
    positions: PositionsOpt = "sinusoidal",
    unscaled: UnscaledOpt = False,
    dtype: DtypeOpt = "float64",
    bos: BosOpt = False,
    pad_to: PadToOpt = None,
) -> None:
    """Write every array of a run to NPZ (all of them) or JSON (tokens, weights, output).

    Example: attnviz export "The cat sat on the mat" -o run.npz
    """
    from .export import EXPORT_FORMATS, check_output, save

    check_output(output, EXPORT_FORMATS)
    config = _config(heads, d_model, seed, mask, tokenizer, positions, unscaled, dtype, bos, pad_to)
    save(run(_read_text(text, file), config), output)
    print(f"wrote {visible(str(output))}", file=sys.stderr)


STDOUT_FORMATS = ("table", "heat", "json", "csv")


@app.command()
def heatmap(
    text: TextArg = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write a figure: .png, .svg or .pdf.", show_default=False
        ),
    ] = None,
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="What goes to standard output: table | heat | json | csv "
            "(default: table without -o, nothing with it).",
            show_default=False,
        ),
    ] = None,
    head: Annotated[
        str | None,
        typer.Option(
            "--head", help="Heads to show, e.g. 2 or 0,3 (default: all).", show_default=False
        ),
    ] = None,
    scale: Annotated[
        str,
        typer.Option("--scale", help="Colour scale: fixed (0 to 1) | head (each head's max)."),
    ] = "fixed",
    title: Annotated[
        str | None,
        typer.Option(
            "--title", help="Replace the figure's configuration line.", show_default=False
        ),
    ] = None,
    annotate: Annotated[
        bool | None,
        typer.Option(
            "--annotate/--no-annotate",
            help="Print each weight in its cell (default: when there are at most 12 tokens).",
            show_default=False,
        ),
    ] = None,
    cmap: Annotated[
        str, typer.Option("--cmap", help="Colour map: any Matplotlib name.")
    ] = "viridis",
    dpi: Annotated[
        int | None,
        typer.Option(
            "--dpi", help="Resolution of a PNG (default: the preset's).", show_default=False
        ),
    ] = None,
    theme: Annotated[str, typer.Option("--theme", help="light | dark.")] = "light",
    preset: Annotated[
        str, typer.Option("--preset", help="screen | slides (16:9) | paper (one column).")
    ] = "screen",
    lang: Annotated[str, typer.Option("--lang", help="Language of the labels: en | es.")] = "en",
    file: FileOpt = None,
    heads: HeadsOpt = 8,
    d_model: DModelOpt = 512,
    seed: SeedOpt = 0,
    mask: MaskOpt = None,
    tokenizer: TokenizerOpt = "word",
    positions: PositionsOpt = "sinusoidal",
    unscaled: UnscaledOpt = False,
    dtype: DtypeOpt = "float64",
    bos: BosOpt = False,
    pad_to: PadToOpt = None,
) -> None:
    """Per-head attention heatmaps with the mask drawn over them, in the terminal or as a figure.

    Examples: attnviz heatmap "The cat sat on the mat"
              attnviz heatmap "The cat sat on the mat" -o cat.png --preset slides
    """
    from .export import check_output
    from .render import colors, figures
    from .render.labels import strings

    shown = format or (None if output else "table")
    if shown is not None and shown not in STDOUT_FORMATS:
        raise ConfigError(f"unknown --format {shown!r}; choose one of: {', '.join(STDOUT_FORMATS)}")
    if output is not None:
        check_output(output, figures.FIGURE_FORMATS)
        figures.check_figure_options(dpi=dpi, theme=theme, preset=preset, scale=scale)
    strings(lang)
    colors.lut(cmap)
    config = _config(heads, d_model, seed, mask, tokenizer, positions, unscaled, dtype, bos, pad_to)
    selected = select_heads(head, config.heads)
    trace = run(_read_text(text, file), config)
    if output is not None:
        fig = figures.heatmap_figure(
            trace,
            selected,
            scale=scale,
            annotate=annotate,
            cmap=cmap,
            theme=theme,
            preset=preset,
            title=title,
            lang=lang,
        )
        figures.save_figure(fig, output, dpi)
        print(f"wrote {visible(str(output))}", file=sys.stderr)
    if shown is not None:
        _print_weights(trace, selected, shown, cmap, lang)


def _print_weights(trace: Trace, heads: list[int], fmt: str, cmap: str, lang: str) -> None:
    """Write the selected heads to standard output as table, heat, json or csv."""
    if fmt in ("json", "csv"):
        from .export import weights_csv, weights_json

        if fmt == "json":
            sys.stdout.write(json.dumps(weights_json(trace, heads), ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(weights_csv(trace, heads))
        return
    from .render import terminal

    console = _console()
    if fmt == "table":
        tables = [terminal.weight_table(trace, h, cmap=cmap, lang=lang) for h in heads]
        if all(terminal.fits(console, t) for t in tables):
            for h, t in zip(heads, tables, strict=True):
                console.print(t)
                console.print(terminal.caption(trace, h, lang))
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
        terminal.heat_view(trace, heads, cmap=cmap, width=console.width, color=color, lang=lang)
    )


def main() -> None:
    """The console script's entry point."""
    app()
