"""No option is accepted and ignored: every option of every command, given where it cannot act,
is refused (a non-zero exit naming it), and given where it can, changes what comes out.

The options are read from the commands themselves, so a new option without a case here fails
the test. An option of the run (the model, the text, the limits: what the group ``RUN`` holds)
acts on the Trace, the same for every output, so it is tried on one output per command, with
the seeded model and with a checkpoint; every other option is tried on every output the
command has. Figures are compared by what was built (texts, images, colours, sizes, the dpi
asked for) rather than drawn: drawing them all would take minutes, and every figure is
drawn and opened by other tests.
"""

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import attnviz.render.figures
from attnviz.cli import app
from attnviz.cli.options import RUN

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BERT = str(FIXTURES / "bert-tiny")
TEXT = "a cat saw a dog"
OTHER = "the dog saw a cat"
COMMANDS = typer.main.get_command(app).commands
RUN_OPTIONS = {opt.name for opt in RUN}
runner = CliRunner()

# What each command writes: its standard output formats and its files.
OUTPUTS = {
    "tokens": [[]],
    "export": [["-o", "{tmp}/out.npz"], ["-o", "{tmp}/out.json"]],
    "heatmap": [*(["--format", f] for f in ("table", "heat", "top", "json", "csv")),
                *(["-o", f"{{tmp}}/out.{e}"] for e in ("png", "svg", "pdf", "html")),
                *(["--layer", "all", *o] for o in (["--format", "table"], ["--format", "json"],
                                                   ["-o", "{tmp}/out.png"], ["-o", "{tmp}/out.html"]))],
    "compare": [*(["--format", f] for f in ("table", "heat", "json")),
                *(["-o", f"{{tmp}}/out.{e}"] for e in ("png", "svg", "pdf", "html"))],
    "steps": [*(["--format", f] for f in ("table", "json")),
              *(["-o", f"{{tmp}}/out.{e}"] for e in ("png", "svg", "pdf", "html"))],
    "stats": [*(["--format", f] for f in ("table", "json", "csv")),
              *(["-o", f"{{tmp}}/out.{e}"] for e in ("png", "svg", "pdf"))],
    "rollout": [*(["--format", f] for f in ("table", "top", "json")),
                *(["-o", f"{{tmp}}/out.{e}"] for e in ("png", "svg", "pdf"))],
    "generate": [*(["--format", f] for f in ("top", "table", "heat", "json")),
                 *(["-o", f"{{tmp}}/out.{e}"] for e in ("png", "svg", "pdf", "html", "npz", "json")),
                 *(["--layer", "all", *o] for o in (["--format", "table"], ["--format", "heat"],
                                                    ["--format", "json"], ["-o", "{tmp}/out.png"]))],
    "survey": [*(["--format", f] for f in ("table", "json", "csv")),
               *(["-o", f"{{tmp}}/out.{e}"] for e in ("png", "svg", "pdf", "html"))],
    "scaling": [*(["--format", f] for f in ("table", "json", "csv")),
                *(["-o", f"{{tmp}}/out.{e}"] for e in ("png", "svg", "pdf"))],
    "lesson": [["-o", "{tmp}/out.pdf"], ["-o", "{tmp}/out/"]],
    "sink": [*(["--format", f] for f in ("table", "json", "csv")),
             *(["-o", f"{{tmp}}/out.{e}"] for e in ("png", "svg", "pdf"))],
}  # fmt: skip
# The one output on which an option of the run is tried.
RUN_OUTPUT = {"tokens": [], "export": ["-o", "{tmp}/out.npz"], "heatmap": ["--format", "json"],
              "compare": ["--format", "json"], "steps": ["--format", "json"],
              "stats": ["--format", "json"], "rollout": ["--format", "json"],
              "generate": ["--format", "json"], "survey": ["--format", "json"],
              "scaling": ["--format", "json"], "lesson": ["-o", "{tmp}/out/"],
              "sink": ["--format", "json"]}  # fmt: skip
# Where the run comes from: the seeded model, or a checkpoint (compare needs a B that differs).
SOURCES = {"seeded": [], "model": ["--model", BERT]}
# generate runs a decoder only: every option of it is tried with one
SOURCES_OF = {"scaling": {"seeded": []},  # it runs no model, reads no text
              "generate": {"model": ["--model", str(FIXTURES / "llama-tiny"),
                                     "--max-new-tokens", "3"]}}  # fmt: skip
SETUP = {("compare", "model"): ["--against", "causal"], ("scaling", "seeded"): ["--dk", "8"]}

# For each option, what to add: (setup given to both runs, the option itself), or a dict of
# them by source. "FILE" stands for a file holding OTHER, given instead of the text.
CASES = {
    "file": ([], ["--file", "FILE"]),
    "heads": ([], ["--heads", "4"]),
    "d_model": ([], ["--d-model", "256"]),
    "seed": ([], ["--seed", "1"]),
    "mask": ([], ["--mask", "window=2"]),
    "tokenizer": ([], ["--tokenizer", "char"]),
    "positions": ([], ["--positions", "none"]),
    "unscaled": ([], ["--unscaled"]),
    "dtype": {"seeded": ([], ["--dtype", "float32"]), "model": ([], ["--dtype", "float64"])},
    "bos": ([], ["--bos"]),
    "pad_to": ([], ["--pad-to", "8"]),
    "plant": ([], ["--plant", "0=previous"]),
    "plant_strength": {
        "seeded": (["--plant", "0=first"], ["--plant-strength", "2"]),
        "model": ([], ["--plant-strength", "2"]),
    },
    "model": {"seeded": ([], ["--model", BERT, "--mask", "causal"])},  # compare: A causal, B none
    "layer": ([], ["--layer", "0"]),
    "target": ([], ["--target", "le chat"]),  # acts on an encoder-decoder: test_seq2seq.py
    "attention": ([], ["--attention", "encoder"]),
    "hide_special": ([], ["--hide-special"]),
    "max_tokens": ([], ["--max-tokens", "2"]),
    "truncate": (["--max-tokens", "3"], ["--truncate"]),
    "memory_budget": ([], ["--memory-budget", "1KB"]),
    "max_bytes": ([], ["--max-bytes", "5"]),
    "title": ([], ["--title", "Another title"]),
    "annotate": ([], ["--no-annotate"]),
    "cmap": ([], ["--cmap", "magma"]),
    "dpi": ([], ["--dpi", "50"]),
    "theme": ([], ["--theme", "dark"]),
    "preset": ([], ["--preset", "slides"]),
    "lang": ([], ["--lang", "es"]),
    "labels": ([], ["--labels", "none"]),
    "window": ([], ["--window", "1:3"]),
    "queries": ([], ["--queries", "1:3"]),
    "keys": ([], ["--keys", "1:3"]),
    "head": ([], ["--head", "1"]),
    "scale": ([], ["--scale", "head"]),
    "top": ([], ["--top", "1"]),
    "against": ([], ["--against", "window=2"]),
    "query": ([], ["--query", "2"]),
    "columns": ([], ["--columns", "2"]),
    "precision": ([], ["--precision", "4"]),
    "max_new_tokens": ([], ["--max-new-tokens", "2"]),
    "temperature": ([], ["--temperature", "5"]),
    "top_k": (["--temperature", "5"], ["--top-k", "2"]),
    "top_p": (["--temperature", "5"], ["--top-p", "0.1"]),
    "show_probs": ([], ["--show-probs"]),
    "step": ([], ["--step", "2"]),
    "jsonl": ([], ["--jsonl"]),
    "limit": ([], ["--limit", "1"]),
    "words": {"model": ([], ["--words"]), "seeded": ([], ["--words"])},
    "induction": {"model": ([], ["--induction"]), "seeded": ([], ["--induction"])},
    "jobs": ([], ["--jobs", "2"]),
    "scheduler": ([], ["--scheduler", "nowhere"]),  # a real cluster's: test_cluster.py
    "dk": ([], ["--dk", "32"]),
    "rows": ([], ["--rows", "300"]),
    "stream": ([], ["--stream"]),
    "resolution": ([], ["--resolution", "2"]),
    "pool": (["--resolution", "2"], ["--pool", "max"]),
}
# Options one command means otherwise: scaling's --keys is a number of keys, not a range;
# tokens has no --mask to give beside --model.
COMMAND_CASES = {("scaling", "keys"): ([], ["--keys", "8"]),
                 ("tokens", "model"): {"seeded": ([], ["--model", BERT])}}  # fmt: skip
NO_TEXT = {"survey", "scaling"}  # commands that take no TEXT
CONTEXT = {"text", "output", "format"}  # what the outputs above are made of
SAME_RESULT = {"jobs", "stream"}  # options that change how, not what: the same bytes come out
NOT_SAME = {("stats", "stream")}  # a streamed run does not count the keys for 90%


def artists(artist):
    """``artist`` and everything in it; an axis gives only its label and the tick labels set
    on it (its ticks are made on demand, at a cost)."""
    from matplotlib.axis import Axis
    from matplotlib.text import Text

    yield artist
    if isinstance(artist, Axis):
        yield artist.label
        yield from (Text(text=t) for t in getattr(artist.major.formatter, "seq", ()))
        return
    for child in artist.get_children():
        yield from artists(child)


def fingerprint(fig, path, dpi=None):
    """Stands in for save_figure: writes what the figure is made of, undrawn."""
    h = hashlib.sha256(repr((tuple(fig.get_size_inches()), dpi, fig.dpi, Path(path).suffix,
                             fig.get_facecolor())).encode())  # fmt: skip
    for artist in artists(fig):
        h.update(type(artist).__name__.encode())
        if hasattr(artist, "get_fontsize"):
            h.update(repr((artist.get_text(), artist.get_fontsize(), artist.get_color())).encode())
        if hasattr(artist, "get_array") and artist.get_array() is not None:
            h.update(np.ascontiguousarray(np.asarray(artist.get_array(), dtype=float)).tobytes())
        if hasattr(artist, "get_cmap"):
            h.update(repr((artist.get_cmap().name, artist.get_clim())).encode())
        for get in ("get_facecolor", "get_edgecolor"):
            if hasattr(artist, get):
                h.update(np.asarray(getattr(artist, get)(), dtype=float).tobytes())
        h.update(repr((getattr(artist, "get_hatch", str)(), artist.get_visible())).encode())
        if hasattr(artist, "get_xydata"):  # a line's points
            h.update(np.ascontiguousarray(artist.get_xydata(), dtype=float).tobytes())
        for outline in artist.get_paths() if hasattr(artist, "get_paths") else ():
            h.update(np.ascontiguousarray(outline.vertices, dtype=float).tobytes())
    Path(path).write_text(h.hexdigest(), encoding="utf-8")


def outcome(command, args, tmp):
    """(exit code, standard output, standard error, the file written) of one run."""
    for f in tmp.glob("out*"):
        shutil.rmtree(f) if f.is_dir() else f.unlink()
    result = runner.invoke(app, [command, *args],
                           env={"COLUMNS": "120", "FORCE_COLOR": "1", "COLORTERM": "truecolor",
                                "NO_COLOR": None})  # fmt: skip
    files = {
        str(f.relative_to(tmp)): f.read_bytes() for f in tmp.glob("out*/**/*") if f.is_file()
    } | {f.name: f.read_bytes() for f in tmp.glob("out.*") if f.is_file()}
    return result.exit_code, result.stdout, result.stderr, files


def cases():
    """(command, option, source, output) for every option of every command."""
    for command, cmd in COMMANDS.items():
        for param in cmd.params:
            name = param.name
            if name in CONTEXT:
                continue
            assert (command, name) in COMMAND_CASES or name in CASES, (
                f"{command} {name}: an option without a case in this test"
            )
            run_option = name in RUN_OPTIONS or command == "tokens"
            sources = SOURCES_OF.get(command, SOURCES)
            outputs = [RUN_OUTPUT[command]] if run_option else OUTPUTS[command]
            for source in sources:
                if source == "model" and not run_option and "seeded" in sources:
                    continue  # how an output is drawn does not depend on where the run came from
                spec = COMMAND_CASES.get((command, name), CASES.get(name))
                if isinstance(spec, dict) and source not in spec:
                    continue  # --model makes the checkpoint run itself
                for output in outputs:
                    yield command, name, source, output


def case_id(case):
    command, name, source, output = case
    return f"{command} {name} {source} {' '.join(output).replace('{tmp}/', '')}"


BEFORE: dict[tuple[str, ...], tuple] = {}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """One folder for every case: the same paths, so the run without an option is made once."""
    return tmp_path_factory.mktemp("options")


@pytest.mark.parametrize("case", list(cases()), ids=case_id)
def test_no_option_is_accepted_and_ignored(case, workdir, monkeypatch):
    command, name, source, output = case
    monkeypatch.setattr(attnviz.render.figures, "save_figure", fingerprint)
    spec = COMMAND_CASES.get((command, name), CASES.get(name))
    setup, option = spec[source] if isinstance(spec, dict) else spec
    tmp_path = workdir
    (tmp_path / "text.txt").write_text(OTHER, encoding="utf-8")
    out = [a.replace("{tmp}", str(tmp_path)) for a in output]
    sources = SOURCES_OF.get(command, SOURCES)
    base = [*sources[source], *SETUP.get((command, source), []), *setup, *out]
    text = [] if command in NO_TEXT else [TEXT]
    if option[0] == "--file":
        option, text = ["--file", str(tmp_path / "text.txt")], []
    if command == "survey":  # a corpus: the text and the other on lines of their own
        (tmp_path / "corpus.txt").write_text(f"{TEXT}\n{OTHER}\n", encoding="utf-8")
        base += [] if name == "file" else ["--file", str(tmp_path / "corpus.txt")]
        text = []
    key = (command, *base)
    if key not in BEFORE:  # the run without the option, once for every option tried on it
        BEFORE[key] = outcome(command, [*([] if command in NO_TEXT else [TEXT]), *base], tmp_path)
    before = BEFORE[key]
    after = outcome(command, [*text, *base, *option], tmp_path)
    flag = option[0] if option[0] != "--no-annotate" else "--annotate"
    if after[0] != 0:
        assert flag in after[2], f"refused without naming {flag}: {after[2]}"
        assert len(after[2].strip().splitlines()) == 1
    elif name in SAME_RESULT and (command, name) not in NOT_SAME:
        assert after == before, f"{' '.join(option)} changed the result"
    else:  # the run without it may have been refused: --truncate makes it run
        assert after != before, f"{' '.join(option)} was accepted and changed nothing"
