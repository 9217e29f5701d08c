"""The commands. Each reads like the steps it does: check the options, read the text, run,
build the view, and emit it to the outputs asked for.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ConfigError
from ..views.labels import visible
from .app import app, console, read_text, warn
from .emit import blocks, emit, run, run_or_stream
from .options import (
    ATTENTION,
    BOS,
    CROP,
    DTYPE,
    FIGURE,
    LAYER,
    LONG,
    LOOK,
    MAX_BYTES,
    MAX_TOKENS,
    MEMORY_BUDGET,
    MODEL,
    PAD_TO,
    PAGE,
    RUN,
    STREAM,
    TEXT_FILE,
    TOKENIZER,
    TRUNCATE,
    WORDS,
    HeadOpt,
    Options,
    TextArg,
    TopOpt,
    all_layers,
    at_least_one,
    config,
    crop,
    cropped,
    encoder_decoder,
    format_option,
    head_list,
    heads_count,
    is_page,
    layers_count,
    no_seeded,
    one_layer,
    output_memory,
    outputs,
    parse_crop,
    size,
    takes,
)


def text_of(text: str | None, o: Options) -> str:
    """The input text (TEXT, - or --file), read no further than --max-bytes."""
    return read_text(text, o.file, size(o.max_bytes, "--max-bytes"))


TOKENS_MODEL = replace(MODEL, help="Split the text with a local checkpoint's own tokenizer: a "
                      "folder in the Hugging Face layout, a GGUF file or a model id in the local "
                      "cache, as --model of the other commands.")  # fmt: skip


@app.command(short_help="How a text is split into tokens: index, token, start, end.")
@takes((TEXT_FILE, TOKENIZER, BOS, PAD_TO, TOKENS_MODEL, MAX_TOKENS, TRUNCATE, MAX_BYTES))
def tokens(text: TextArg = None, *, o: Options) -> None:
    """Show how a text is split into tokens: index, token, start, end; with --model, by
    the checkpoint's tokenizer, each token's id and vocabulary piece too.

    Example: attnviz tokens "¿Qué es la atención?"
    """
    from ..pipeline import Limits, cut, model_tokens
    from ..render.terminal import tokens_table

    limits, ids = Limits(o.max_tokens, o.truncate), None
    if o.model is None:
        words, truncated = cut(text_of(text, o), o.tokenizer, o.bos, o.pad_to, limits)
    else:
        no_seeded(o)
        ids, words, truncated = model_tokens(text_of(text, o), o.model, limits)
    console().print(tokens_table(words, ids))
    if truncated:
        print(f"cut to {len(words)} tokens ({truncated} more in the text)", file=sys.stderr)


@app.command(short_help="Write every array of a run to NPZ or JSON.")
@takes(RUN)
def export(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write: a .npz or .json file.")
    ],
    text: TextArg = None,
    *,
    o: Options,
) -> None:
    """Write every array of a run to NPZ (all of them) or JSON (tokens, weights, output).

    Example: attnviz export "The cat sat on the mat" -o run.npz
    """
    from ..export import EXPORT_FORMATS, check_output, save

    check_output(output, EXPORT_FORMATS)
    one_layer(o)
    o = o.having(output=output)
    memory = output_memory(o, "export", None, heads_count(o)[0], 0)
    save(run(o, text_of(text, o), extra_bytes=memory), output)
    print(f"wrote {visible(str(output))}", file=sys.stderr)


HEATMAP_FORMATS = ("table", "heat", "top", "json", "csv")
ScaleOpt = Annotated[
    str | None,
    typer.Option("--scale", help="Colour scale: fixed (0 to 1) | head (each head's max) | "
                 "log (from about 1/T to 1).", show_default="fixed; log for a pooled map"),
]  # fmt: skip


@app.command(short_help="Attention heatmaps per head, the mask drawn over them.")
@takes(RUN, LOOK, CROP, LONG, (WORDS,))
def heatmap(
    text: TextArg = None,
    format: Annotated[str | None, format_option(HEATMAP_FORMATS)] = None,
    head: HeadOpt = None,
    scale: ScaleOpt = None,
    top: TopOpt = 3,
    *,
    o: Options,
) -> None:
    """Per-head attention heatmaps with the mask drawn over them, in the terminal or as a figure.

    A text too long for the dense run's memory is streamed: each panel a pooled map.

    Example: attnviz heatmap "The cat sat on the mat"

    Example: attnviz heatmap "The cat sat on the mat" -o cat.png --preset slides

    Example: attnviz heatmap --file long.txt --window 100:120 --head 0

    Example: attnviz heatmap --file book.txt --max-tokens 70000 --stream -o book.png
    """
    shown = _heatmap_checked(o, format, scale, top)
    view = _heatmap_view(o, text, head, scale, shown)
    terminal: dict[str, Any] = {} if all_layers(o) else {"top": top}  # a layer's table
    emit(view, o, shown, **terminal)


def _heatmap_checked(o: Options, format: str | None, scale: str | None, top: int) -> str | None:
    """heatmap's options checked before any work: the --format shown."""
    from ..views.heatmap import check_scale

    acts = {"scale": frozenset({FIGURE, "table", "heat"}), "top": frozenset({"top"})}
    shown = outputs(o, format, HEATMAP_FORMATS, html=True, acts=acts)
    check_scale(scale)
    parse_crop(None, o.window, o.queries, o.keys)
    at_least_one(top)
    every = all_layers(o)
    if every and (shown in ("top", "csv") or cropped(o)):
        raise ConfigError(
            "--layer all draws every layer whole (-o, --format table, heat or json): "
            "for --format top or csv, or --window, --queries or --keys, give one layer"
        )
    if every and o.stream and is_page(o):
        raise ConfigError("--stream keeps a pooled map of each layer and head, and the page of "
                          "every layer shows each weight: write a figure (-o .png, .svg, .pdf)"
                          )  # fmt: skip
    return shown


def _heatmap_view(o: Options, text: str | None, head: str | None, scale: str | None,
                  shown: str | None) -> Any:  # fmt: skip
    """What heatmap shows: the heads of one layer, of every layer (--layer all), or an
    encoder-decoder's three kinds of attention in every layer; streamed when it must be."""
    from ..trace import Trace
    from ..views.heatmap import heatmap_view, model_view
    from .streaming import wanted

    every = all_layers(o)
    heads = head_list(head, *heads_count(o))
    if every and o.attention is None and encoder_decoder(o):
        return blocks(o, text_of(text, o), heads, scale)
    layers = layers_count(o) if every else 1
    memory = output_memory(o, "heatmap", shown, layers * len(heads), len(heads))
    keep = wanted(o, heads, shown, layers=layers, every_layer=every, measures=CAPTION)
    trace = run_or_stream(o, text_of(text, o), extra_bytes=memory, wanted=keep)
    dense_terminal = o.output is None and o.resolution is None and isinstance(trace, Trace)
    cells = 512 if dense_terminal else keep.resolution or 512  # the terminal fits a dense run
    look = {"scale": scale, "lang": o.lang, "pool": o.pool, "resolution": cells}
    view = model_view(trace, heads, **look) if every else \
        heatmap_view(trace, heads, crop=crop(o, len(trace.tokens), trace.keys_count), **look)  # fmt: skip
    _pooling_acted(o, shown, view)
    return view


CAPTION = ("keys", "entropy")  # what a streamed run measures for the heads' captions


def _pooling_acted(o: Options, shown: str | None, view: Any) -> None:
    """Refuse --pool or --resolution where they changed nothing: a dense run's JSON holds
    every weight; warn of --pool on a figure whose cells are single tokens."""
    given = [f for f, name in (("--pool", "pool"), ("--resolution", "resolution"))
             if name in o.given]  # fmt: skip
    if given and shown == "json" and view.exact() is not None:
        raise ConfigError(f"{given[0]} pools the JSON of a streamed run, and this run of "
                          f"{len(view.trace.tokens)} tokens is dense: its JSON holds every "
                          f"weight; add --stream, or leave {given[0]} out")  # fmt: skip
    if "--pool" in given and o.output is not None and view.cell == 1:
        warn("--pool: every cell of this figure is one query and one key: nothing is pooled")


COMPARE_FORMATS = ("table", "heat", "json")
AgainstOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--against",
        help="Run B: a mask spec (repeat to combine) or 'unscaled' (same mask, no 1/√d_k).",
        show_default="none",
    ),
]


@app.command(short_help="Run A (--mask) against run B (--against), and B − A.")
@takes(RUN, LOOK, CROP)
def compare(
    text: TextArg = None,
    against: AgainstOpt = None,
    format: Annotated[str | None, format_option(COMPARE_FORMATS)] = None,
    head: HeadOpt = None,
    *,
    o: Options,
) -> None:
    """Compare run A (--mask, default causal) with run B (--against, default none).

    Same text, same seeded weights; one thing differs. Shows both, B − A, and the numbers that sum the difference up.

    Example: attnviz compare "The cat sat on the mat"

    Example: attnviz compare "The cat sat on the mat" --against unscaled -o unscaled.png
    """
    shown = outputs(o, format, COMPARE_FORMATS, html=True)
    one_layer(o)
    parse_crop(None, o.window, o.queries, o.keys)
    emit(_compare_view(o, text, against, head, shown), o, shown)


def _compare_view(o: Options, text: str | None, against: list[str] | None, head: str | None,
                  shown: str | None) -> Any:  # fmt: skip
    """Runs A and B of the same text, and the view of the two and B − A; refused when
    they are the same run."""
    from ..stats import compare as compare_runs
    from ..trace import config_against
    from ..views.compare import compare_view
    from ..views.labels import mask_text

    config_a = config(o)
    config_b = config_against(config_a, against or ["none"])
    heads = head_list(head, *heads_count(o))
    source, memory = text_of(text, o), output_memory(o, "compare", shown, 2 * len(heads),
                                                      3 * len(heads) + 3)  # fmt: skip
    a, b = run(o, source, config_a, memory), run(o, source, config_b, memory)
    if a.config == b.config:  # the model's own mask may make B's mask A's
        raise ConfigError(f"runs A and B are the same run (mask {mask_text(a.config.mask)}): "
                          "give --against another mask, or unscaled")  # fmt: skip
    if a.scale == 1 and not b.config.scaled and a.model and a.model.model_type == "t5":
        raise ConfigError("--against unscaled: T5 does not divide its scores by √d_k, so runs "
                          "A and B are the same run")  # fmt: skip
    crop_ = crop(o, len(a.tokens), a.keys_count)
    return compare_view(compare_runs(a, b), heads, crop=crop_, lang=o.lang)


STEPS_FORMATS = ("table", "json")
QueryOpt = Annotated[
    int | None,
    typer.Option("--query", help="Work one query row out by hand (its index).", show_default=False),
]
ColumnsOpt = Annotated[
    int, typer.Option("--columns", help="Columns shown of wide matrices (Q, K, V, outputs).")
]
PrecisionOpt = Annotated[int, typer.Option("--precision", help="Decimals in the tables.")]


@app.command(short_help="One head's computation, step by step, with the paper's names.")
@takes(RUN, LOOK, CROP)
def steps(
    text: TextArg = None,
    head: Annotated[int, typer.Option("--head", help="The head to follow.")] = 0,
    query: QueryOpt = None,
    columns: ColumnsOpt = 8,
    precision: PrecisionOpt = 2,
    format: Annotated[str | None, format_option(STEPS_FORMATS)] = None,
    *,
    o: Options,
) -> None:
    """The computation of one head, step by step, with the names of the paper.

    Q, K, V, scores, scaled, masked, weights, head output, then concat and output.

    Example: attnviz steps "The cat sat on the mat" --head 0 --query 3

    Example: attnviz steps "¿Qué es la atención?" --lang es -o pasos.png --preset slides
    """
    from ..views.steps import steps_view

    shown = _steps_checked(o, format, head, columns, precision)
    trace = run(o, text_of(text, o), extra_bytes=output_memory(o, "steps", shown, 1, 10))
    crop_ = crop(o, len(trace.tokens), trace.keys_count)
    view = steps_view(trace, head, crop=crop_, lang=o.lang, query=query)
    emit(view, o, shown, precision=precision, columns=columns)


def _steps_checked(o: Options, format: str | None, head: int, columns: int,
                   precision: int) -> str | None:  # fmt: skip
    """steps' options checked before any work: the --format shown."""
    acts = {"query": frozenset({"table", "json"}), "columns": frozenset({"table"}),
            "precision": frozenset({"table"})}  # fmt: skip
    shown = outputs(o, format, STEPS_FORMATS, html=True, acts=acts)
    one_layer(o)
    parse_crop(None, o.window, o.queries, o.keys)
    if columns < 1 or not 0 <= precision <= 12:
        raise ConfigError("--columns must be at least 1 and --precision between 0 and 12")
    head_list(str(head), *heads_count(o))
    return shown


STATS_FORMATS = ("table", "json", "csv")


@app.command(short_help="Numbers that sum each head up: entropy, distance, shares.")
@takes(RUN, LOOK, (STREAM, WORDS))
def stats(
    text: TextArg = None,
    head: HeadOpt = None,
    format: Annotated[str | None, format_option(STATS_FORMATS)] = None,
    *,
    o: Options,
) -> None:
    """Numbers that sum each head up: entropy, distance, where the weight goes.

    Per head, averaged over the query rows: entropy (and divided by log of the row's keys), mean attention distance, the share of weight on the query itself, on the previous token and on the first, the largest weight, and the keys that hold 90% of the weight.

    Example: attnviz stats "The cat sat on the mat because the cat was tired"

    Example: attnviz stats "The cat sat on the mat" -o stats.png
    """
    from ..stats import STATS_MEASURES
    from ..views.stats import stats_view
    from .streaming import wanted

    acts = {"annotate": "the figure of stats prints every value",
            "labels": "the figure of stats has no token labels"}  # fmt: skip
    shown = outputs(o, format, STATS_FORMATS, acts=acts)
    one_layer(o)
    heads = head_list(head, *heads_count(o))
    keep = wanted(o, heads, shown, measures=STATS_MEASURES, maps=False)
    memory = output_memory(o, "stats", shown, 0, 1)
    trace = run_or_stream(o, text_of(text, o), extra_bytes=memory, wanted=keep)
    emit(stats_view(trace, heads, lang=o.lang), o, shown)


SINK_FORMATS = ("table", "json", "csv")


@app.command(short_help="The attention sink: each layer's weight on the first token.")
@takes(RUN, LOOK)
def sink(
    text: TextArg = None,
    head: HeadOpt = None,
    format: Annotated[str | None, format_option(SINK_FORMATS)] = None,
    *,
    o: Options,
) -> None:
    """The attention-sink curve: per layer and head, the share of each query's weight on the first token.

    Streamed (a block of queries at a time), so the text may be as long as the model's positions; a seeded run has one layer.

    Example: attnviz sink --file book.txt --model SmolLM2-135M --max-tokens 8192 -o sink.png
    """
    from ..views.sink import sink_view

    acts: dict[str, frozenset[str] | str] = {"annotate": "the sink figure draws lines",
                                             "labels": "the sink figure draws lines",
                                             "cmap": frozenset({"table"})}  # fmt: skip
    shown = outputs(o, format, SINK_FORMATS, acts=acts)
    one_layer(o)
    heads = head_list(head, *heads_count(o))
    emit(sink_view(_sink_run(o, text, heads, shown), heads, lang=o.lang), o, shown)


def _sink_run(o: Options, text: str | None, heads: list[int], shown: str | None) -> Any:
    """The streamed run of sink: each query's share on the first token, in every layer (or
    --layer's), no maps."""
    from ..longrun import Streamed
    from ..views.sink import SINK_MEASURES
    from .streaming import wanted

    keep = wanted(o, heads, shown, layers=layers_count(o), every_layer=True,
                  measures=SINK_MEASURES, maps=False)  # fmt: skip
    if o.layer is not None:  # one layer's heads
        keep = replace(keep, layers=(int(o.layer),))
    trace = run_or_stream(o, text_of(text, o), wanted=keep, stream=True)
    assert isinstance(trace, Streamed)
    return trace


ROLLOUT_FORMATS = ("table", "top", "json")


@app.command(short_help="Attention rollout: what each token draws on, through every layer.")
@takes(RUN, LOOK)
def rollout(
    text: TextArg = None,
    format: Annotated[str | None, format_option(ROLLOUT_FORMATS)] = None,
    top: Annotated[
        int, typer.Option("--top", help="With --format top: the strongest inputs per token.")
    ] = 3,
    *,
    o: Options,
) -> None:
    """Attention rollout (Abnar & Zuidema, 2020): what each token draws on, through every layer.

    Per layer the heads' mean attention, mixed with the identity for the residual (0.5·A + 0.5·I), multiplied from the first layer to the last. A seeded run has one layer.

    Example: attnviz rollout "The cat sat on the mat" --model bert-base-uncased -o rollout.png
    """
    from ..views.heatmap import rollout_view

    shown = outputs(o, format, ROLLOUT_FORMATS, acts={"top": frozenset({"top"})})
    one_layer(o)
    at_least_one(top)
    trace = run(o, text_of(text, o), extra_bytes=output_memory(o, "rollout", shown, 1, 1))
    emit(rollout_view(trace, lang=o.lang), o, shown, top=top)


GENERATE_FORMATS = ("top", "table", "heat", "json")
GENERATE_RUN = (TEXT_FILE, MODEL, LAYER, ATTENTION, DTYPE, MEMORY_BUDGET, MAX_BYTES)
NewTokensOpt = Annotated[int, typer.Option(help="Tokens to generate, at most.")]
TemperatureOpt = Annotated[
    float, typer.Option(help="0: the most probable token (greedy); above: sample, hotter is "
                        "more random.")
]  # fmt: skip
TopKOpt = Annotated[
    int | None, typer.Option(help="Sample among the K most probable.", show_default=False)
]
TopPOpt = Annotated[
    float | None, typer.Option(help="Sample among the most probable that reach P together.",
                               show_default=False)
]  # fmt: skip
SampleSeedOpt = Annotated[int, typer.Option(help="Seed of the sampling.")]
ProbsOpt = Annotated[
    bool, typer.Option(help="Each token's probability and the most probable at its step.")
]
StepOpt = Annotated[
    int | None, typer.Option(help="With --layer all: the generated token shown (1: the first; "
                             "default the last).", show_default=False)
]  # fmt: skip


@app.command(short_help="A decoder continues the text: what each generated token attends to.")
@takes(GENERATE_RUN, LOOK)
def generate(
    text: TextArg = None,
    format: Annotated[str | None, format_option(GENERATE_FORMATS)] = None,
    head: HeadOpt = None,
    max_new_tokens: NewTokensOpt = 20,
    temperature: TemperatureOpt = 0.0,
    top_k: TopKOpt = None,
    top_p: TopPOpt = None,
    seed: SampleSeedOpt = 0,
    show_probs: ProbsOpt = False,
    top: TopOpt = 3,
    step: StepOpt = None,
    *,
    o: Options,
) -> None:
    """A decoder continues the text (greedy, or seeded sampling); what each generated token
    attends to: its strongest keys (top), or the whole sequence's attention, the prompt's
    end marked (table, heat, figure); --layer all: one token in every layer; -o .html plays
    the generation; -o .npz or .json writes the run.

    Example: attnviz generate "The capital of France is" --model smollm2 --max-new-tokens 8

    Example: attnviz generate "The capital of France is" --model smollm2 --layer all -o p.png
    """
    from .generating import EXPORTS, checked, generation_view

    shown, live = checked(o, format, GENERATE_FORMATS, top, step, max_new_tokens, temperature)
    sampling = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "seed": seed}
    view = generation_view(o, text_of(text, o), max_new_tokens, sampling, head, live, step)
    emit(view, o, shown, EXPORTS, top=top, show_probs=show_probs)


SURVEY_FORMATS = ("table", "json", "csv")
SURVEY_RUN = tuple(
    opt for opt in RUN if opt.name not in ("layer", "hide_special", "truncate", "max_bytes")
)
JsonlOpt = Annotated[bool, typer.Option(help='Each line is JSON with a "text" field.')]
LimitOpt = Annotated[
    int | None, typer.Option(help="Measure the first N texts only.", show_default=False)
]
InductionOpt = Annotated[
    bool, typer.Option(help="With a decoder --model: Olsson et al.'s induction scores, on "
                       "repeated random tokens (--seed draws them).")
]  # fmt: skip
JobsOpt = Annotated[
    int | None,
    typer.Option(help="Cores: this process and N − 1 workers, one BLAS thread each "
                 "[default: a process per core, at most 8].", show_default=False),
]  # fmt: skip


SchedulerOpt = Annotated[
    str | None,
    typer.Option(envvar="DASK_SCHEDULER_ADDRESS", show_default=False,
                 help="Run on the Dask cluster of this scheduler (tcp://HOST:8786; or "
                 "DASK_SCHEDULER_ADDRESS); its workers open --model from the same path."),
]  # fmt: skip


@app.command(short_help="What every head does over a corpus: the measures of the papers.")
@takes(SURVEY_RUN, LOOK, (WORDS,))
def survey(
    format: Annotated[str | None, format_option(SURVEY_FORMATS)] = None,
    jsonl: JsonlOpt = False,
    limit: LimitOpt = None,
    induction: InductionOpt = False,
    jobs: JobsOpt = None,
    scheduler: SchedulerOpt = None,
    *,
    o: Options,
) -> None:
    """Measure every layer and head over a corpus (--file, one text per line; - for standard
    input): the share of attention on the first token, separators, punctuation, the previous,
    next and same token; entropy, distance, largest weight, positional offsets; a label per
    head.

    Example: attnviz survey --model minilm --file corpus.txt

    Example: attnviz survey --model smollm2 --file corpus.txt --induction --format csv

    Example: attnviz survey --model /shared/minilm --file corpus.txt --scheduler tcp://h:8786
    """
    from .surveying import survey_view

    acts: dict[str, frozenset[str] | str] = {"labels": "the survey figure has no token labels",
                                             "cmap": frozenset({FIGURE, PAGE})}  # fmt: skip
    shown = outputs(o, format, SURVEY_FORMATS, html=True, acts=acts)
    emit(survey_view(o, jsonl, limit, o.words, induction, jobs, scheduler), o, shown)


SCALING_FORMATS = ("table", "json", "csv")
DkOpt = Annotated[
    list[int] | None,
    typer.Option("--dk", help="The d_k values to sweep (repeat: --dk 16 --dk 64) [default: 4, 8, "
                 "16, ..., 512].", show_default=False),
]  # fmt: skip
RowsOpt = Annotated[int, typer.Option(help="Queries drawn for each d_k.")]
KeysOpt = Annotated[int, typer.Option(help="Keys each query meets (a sentence's length).")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the draw of queries and keys.")]


@app.command(short_help="Why the scores are divided by √d_k: variance, entropy, gradient.")
@takes(LOOK)
def scaling(
    format: Annotated[str | None, format_option(SCALING_FORMATS)] = None,
    dk: DkOpt = None,
    rows: RowsOpt = 2000,
    keys: KeysOpt = 16,
    seed: SeedOpt = 0,
    *,
    o: Options,
) -> None:
    """Sweep d_k with queries and keys of N(0, 1) entries and show, unscaled and divided by
    √d_k, the variance of the scores, the softmax's mean entropy and largest weight, the
    median norm of its Jacobian (the gradient through it) and the share of saturated rows.

    Example: attnviz scaling -o scaling.png --preset slides
    """
    from ..scaling import DKS, sweep
    from ..views.scaling import ScalingView

    lines = "the scaling figure draws lines, in colours of its own"
    acts = dict.fromkeys(("annotate", "cmap", "labels"), lines)
    shown = outputs(o, format, SCALING_FORMATS, acts=acts)
    emit(ScalingView(sweep(dk or DKS, rows, keys, seed), o.lang), o, shown)


LessonFormatOpt = Annotated[
    str | None,
    typer.Option("--format", help="With -o FOLDER/: the pages as png (default) or svg files.",
                 show_default=False),
]  # fmt: skip
LessonHeadOpt = Annotated[int, typer.Option("--head", help="The head the steps pages follow.")]


@app.command(short_help="A whole class in one file: every step, every head, why √d_k.")
@takes(RUN, LOOK)
def lesson(
    text: TextArg = None, format: LessonFormatOpt = None, head: LessonHeadOpt = 0, *, o: Options
) -> None:
    """A class in one file at slide size (16:9), one idea per page: the text and settings, the
    tokens, Q/K/V, scores, scaling, the mask, softmax, a head's output, multi-head and W_O,
    every head, masked against unmasked, scaled against unscaled, why √d_k, and the commands
    that remake each page. -o lesson.pdf, or -o lesson/ for numbered PNG (or SVG) files.

    Example: attnviz lesson "The cat sat on the mat" -o lesson.pdf --lang es
    """
    from ..render.figures.lesson import write_lesson
    from .lessons import destination, pages

    fmt = destination(o, format)
    one_layer(o)
    if encoder_decoder(o):
        raise ConfigError("lesson compares one self-attention masked and unmasked; an "
                          "encoder-decoder's three kinds are heatmap --layer all's")  # fmt: skip
    first = head_list(str(head), *heads_count(o))[0]
    for name in write_lesson(pages(o, text_of(text, o), first), o.output, fmt, o.dpi):
        print(f"wrote {visible(name)}", file=sys.stderr)
