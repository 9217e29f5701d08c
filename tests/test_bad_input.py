"""Every bad input: one line on stderr naming the problem, the right exit code, nothing written."""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from panels import panels_of
from typer.testing import CliRunner

import attnviz
from attnviz.cli import app
from attnviz.render.figures import heatmap_figure

runner = CliRunner()
TEXT = "The cat sat on the mat"
COMMANDS = ["tokens", "export", "heatmap", "compare", "steps"]

# (command line after the command name, exit code, words the one line must hold)
CASES = [
    # text
    (["", "-o", "out.png"], 2, "the text is empty"),
    (["  \t\n ", "-o", "out.png"], 2, "the text is empty"),
    (["\x01\x02\x7f", "-o", "out.png"], 2, "has no word token"),
    (["-", "-o", "out.png"], 2, "the text is empty"),  # standard input is empty
    (["--file", "missing.txt", "-o", "out.png"], 2, "cannot read --file"),
    (["--file", ".", "-o", "out.png"], 2, "is a folder"),
    (["--file", "latin1.txt", "-o", "out.png"], 2, "not valid UTF-8"),
    (["--file", "binary.bin", "-o", "out.png"], 2, "NUL bytes"),
    # model
    ([TEXT, "--heads", "0", "-o", "out.png"], 2, "heads must be"),
    ([TEXT, "--heads", "-3", "-o", "out.png"], 2, "heads must be"),
    ([TEXT, "--heads", "3", "-o", "out.png"], 2, "not a multiple of heads"),
    ([TEXT, "--d-model", "0", "-o", "out.png"], 2, "--d-model must be"),
    ([TEXT, "--seed", "-1", "-o", "out.png"], 2, "seed must be"),
    ([TEXT, "--seed", "1.5", "-o", "out.png"], 2, "--seed"),
    ([TEXT, "--dtype", "float16", "-o", "out.png"], 2, "unknown dtype"),
    ([TEXT, "--pad-to", "3", "-o", "out.png"], 2, "smaller than the text"),
    ([TEXT, "--max-tokens", "4", "-o", "out.png"], 2, "more tokens than --max-tokens 4"),
    ([TEXT, "--memory-budget", "lots", "-o", "out.png"], 2, "--memory-budget takes a size"),
    # planted heads
    ([TEXT, "--plant", "0", "-o", "out.png"], 2, "--plant takes HEAD=PATTERN"),
    ([TEXT, "--plant", "0=diagonal", "-o", "out.png"], 2, "unknown pattern 'diagonal'"),
    ([TEXT, "--plant", "8=self", "-o", "out.png"], 2, "no head 8"),
    ([TEXT, "--plant", "1=self", "--plant", "1=first", "-o", "out.png"], 2, "planted twice"),
    ([TEXT, "--plant-strength", "-1", "-o", "out.png"], 2, "plant strength must be"),
    ([TEXT, "--plant-strength", "x", "-o", "out.png"], 2, "--plant-strength"),
    # masks
    ([TEXT, "--mask", "diagonal", "-o", "out.png"], 2, "unknown mask"),
    ([TEXT, "--mask", "window=0", "-o", "out.png"], 2, "window must be at least 1"),
    ([TEXT, "--mask", "window=-1", "-o", "out.png"], 2, "window must be at least 1"),
    ([TEXT, "--mask", "window=x", "-o", "out.png"], 2, "not a whole number"),
    ([TEXT, "--mask", "prefix=-1", "-o", "out.png"], 2, "prefix must be at least 0"),
    ([TEXT, "--mask", "padding", "-o", "out.png"], 2, "needs --pad-to"),
    # output
    ([TEXT, "-o", "out.gif"], 2, "here, not .gif"),
    ([TEXT, "-o", "folder.png"], 1, "is a folder"),
    ([TEXT, "-o", "missing/out.png"], 1, "does not exist"),
    ([TEXT, "-o", "out.png", "--dpi", "0"], 2, "--dpi must be between 1 and 1200"),
    ([TEXT, "-o", "out.png", "--dpi", "100000"], 2, "--dpi must be between 1 and 1200"),
    ([TEXT, "-o", "out.png", "--cmap", "rainbowz"], 2, "unknown colour map"),
    ([TEXT, "-o", "out.png", "--head", "8"], 2, "no head 8"),
    ([TEXT, "-o", "out.png", "--head", "one"], 2, "--head"),
    ([TEXT, "-o", "out.png", "--lang", "fr"], 2, "unknown language"),
    ([TEXT, "-o", "out.png", "--memory-budget", "1MB"], 1, "over --memory-budget"),
    # combinations
    ([TEXT, "-o", "out.json", "--format", "table"], 2, "-o writes a figure"),
    ([TEXT, "-o", "out.png", "--format", "png"], 2, "unknown --format"),
    ([TEXT, "-o", "out.png", "--heads", "2", "--heads", "4"], 2, "--heads is given more than once"),
    ([TEXT, "-o", "out.png", "-o", "b.png"], 2, "--output is given more than once"),
    ([TEXT, "-o", "out.png", "--bogus"], 2, "No such option: --bogus"),
]


def _adapt(command, args):
    """The case for a command: export writes .npz, tokens takes no -o; None if it does not apply."""
    args = list(args)
    figure_only = {"--dpi", "--cmap", "--head", "--lang", "--format", "-o"} & set(args[2:])
    outputs = {"out.gif", "folder.png", "missing/out.png", "out.json", "b.png"}
    if command == "tokens":
        if figure_only or outputs & set(args) or {"--heads", "--d-model", "--seed", "--dtype", "--mask", "--max-tokens",
                           "--memory-budget", "--plant", "--plant-strength"} & set(args):  # fmt: skip
            return None
        if "-o" in args:
            i = args.index("-o")
            del args[i : i + 2]
        return args
    if command == "export":
        if (figure_only and not {"--heads"} & set(args)) or "out.gif" in args or "out.json" in args:
            return None
        return [a.replace(".png", ".npz") for a in args]
    if command == "steps" and "--head" in args:
        return None  # steps' --head takes one number: covered in test_steps.py
    if command == "steps" and "--dpi" in args and "100000" not in args and "0" not in args:
        return None
    return args


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "binary.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "folder.npz").mkdir()
    return tmp_path


APPLICABLE = [
    (command, adapted, code, words)
    for args, code, words in CASES
    for command in COMMANDS
    if (adapted := _adapt(command, args)) is not None
]


@pytest.mark.parametrize(
    "command, args, code, words",
    APPLICABLE,
    ids=[f"{c[0]}: {' '.join(c[1])[:40]}" for c in APPLICABLE],
)
def test_bad_input(workdir, command, args, code, words):
    before = set(os.listdir(workdir))
    result = runner.invoke(app, [command, *args], input="")
    assert result.exit_code == code, (result.exit_code, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("attnviz: error: ") and words in lines[0], lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert set(os.listdir(workdir)) == before  # nothing written, no temporary left


def test_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    target = folder if os.geteuid() != 0 else Path("/proc")  # root writes anywhere but /proc
    result = runner.invoke(app, ["heatmap", TEXT, "-o", str(target / "out.png")])
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
    assert "cannot write" in result.stderr


def test_debug_shows_the_traceback_for_developers():
    result = runner.invoke(app, ["heatmap", "", "--debug"])
    assert result.exit_code == 2 and "Traceback" in result.stderr


def test_a_mask_that_hides_everything_warns_and_still_draws():
    trace = attnviz.attend("a b c", heads=1, d_model=4)
    blind = attnviz.Trace(
        tokens=trace.tokens, config=trace.config, x=trace.x, w_q=trace.w_q, w_k=trace.w_k,
        w_v=trace.w_v, w_o=trace.w_o, allowed=np.zeros((3, 3), dtype=bool),
        weights=np.zeros((1, 3, 3)), head_outputs=np.zeros((1, 3, 4)), output=np.zeros((3, 4)),
    )  # fmt: skip
    fig = heatmap_figure(blind)
    (ax,) = panels_of(fig)
    assert np.ma.getmaskarray(ax.get_images()[0].get_array()).all()
    import io
    from contextlib import redirect_stderr

    from attnviz.cli.emit import _warn_blind_queries

    err = io.StringIO()
    with redirect_stderr(err):
        _warn_blind_queries(blind)
    assert (
        err.getvalue()
        == "attnviz: warning: the mask hides every key from every query: every weight is 0\n"
    )


def test_pad_queries_are_not_called_blind(capsys):
    from attnviz.cli.emit import _warn_blind_queries

    _warn_blind_queries(attnviz.attend("a b", heads=1, d_model=4, mask=["padding"], pad_to=4))
    assert capsys.readouterr().err == ""


# --- text that fights back ----------------------------------------------------------------------

HOSTILE = "[bold red]x[/] [link=http://e.vil]y[/link] \x1b[31mred \x1b]0;title\x07 a\rb c\bd \x00z \u202eevil"


@pytest.mark.parametrize(
    "args",
    [
        ["tokens", HOSTILE, "--tokenizer", "whitespace"],
        ["heatmap", HOSTILE, "--tokenizer", "whitespace", "--head", "0"],
        ["heatmap", HOSTILE, "--tokenizer", "whitespace", "--head", "0", "--format", "heat"],
        ["compare", HOSTILE, "--tokenizer", "whitespace", "--head", "0"],
        [
            "steps",
            HOSTILE,
            "--tokenizer",
            "whitespace",
            "--query",
            "1",
            "--heads",
            "2",
            "--d-model",
            "8",
        ],
    ],
)
def test_user_text_never_reaches_the_terminal_raw(args):
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for raw in ("\x1b", "\x07", "\r", "\b", "\x00", "\u202e"):
        assert raw not in out, repr(raw)
    assert "[bold" in out and "␛[31mred" in out


def test_error_messages_show_control_characters_visibly():
    result = runner.invoke(app, ["heatmap", TEXT, "--mask", "x\x1b[2J\u202e"])
    assert result.exit_code == 2 and "\x1b" not in result.stderr and "\u202e" not in result.stderr


def test_scripts_the_font_lacks_give_one_warning_line(tmp_path):
    result = runner.invoke(
        app, ["heatmap", "猫 が 座った 😀 مرحبا שלום", "--tokenizer", "whitespace", "-o",
              str(tmp_path / "x.png"), "--heads", "2", "--d-model", "8"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    warnings_ = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings_) <= 1
    assert (tmp_path / "x.png").read_bytes()[:4] == b"\x89PNG"


def test_long_tokens_are_cut_in_labels_and_whole_in_data():
    long = "supercalifragilisticexpialidocious"
    fig = heatmap_figure(attnviz.attend(f"a {long}", heads=1, d_model=4))
    (ax,) = panels_of(fig)
    labels = [t.get_text() for t in ax.texts if t.get_gid() == "query-label"]
    assert labels[1] == long[:11] + "…"
    result = runner.invoke(app, ["heatmap", f"a {long}", "--format", "csv"])
    assert long in result.stdout


# --- files, interrupts, pipes -------------------------------------------------------------------


def test_interrupted_figure_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "cat.png"
    target.write_bytes(b"old figure")

    def interrupted(self, f, **kwargs):
        f.write(b"half a png")
        raise KeyboardInterrupt

    monkeypatch.setattr("matplotlib.figure.Figure.savefig", interrupted)
    result = runner.invoke(app, ["heatmap", TEXT, "-o", str(target)])
    assert result.exit_code == 130 and result.stderr == "attnviz: error: interrupted\n"
    assert target.read_bytes() == b"old figure" and os.listdir(tmp_path) == ["cat.png"]


def test_ctrl_c_anywhere_exits_130_in_one_line(monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("attnviz.pipeline.run_long", interrupted)
    result = runner.invoke(app, ["heatmap", TEXT])
    assert result.exit_code == 130 and result.stderr == "attnviz: error: interrupted\n"


def test_a_closed_standard_output_ends_quietly():
    script = (
        f"{sys.executable} -m attnviz heatmap 'The cat sat on the mat' --format json | head -c 10"
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert done.stdout == '{"tokens":'
    assert done.stderr == ""


# --- memory and size ----------------------------------------------------------------------------


def test_memory_budget_gives_the_estimate_and_the_ways_out():
    result = runner.invoke(app, ["heatmap", " ".join(["w"] * 300), "--memory-budget", "2MB"])
    assert result.exit_code == 1
    line = result.stderr.strip()
    for words in (
        "needs about",
        "8 heads x 300² weights",
        "--dtype float32",
        "--heads",
        "--truncate",
    ):
        assert words in line


def test_truncate_cuts_and_says_so(tmp_path):
    text = " ".join(f"w{i}" for i in range(30))
    config = attnviz.AttentionConfig(source=attnviz.Seeded(heads=1, d_model=4))
    trace = attnviz.run(text, config, attnviz.Limits(max_tokens=10, truncate=True))
    assert len(trace.tokens) == 10 and trace.truncated == 20
    assert "truncated to 10 tokens (20 cut)" in heatmap_figure(trace).get_suptitle()
    result = runner.invoke(app, ["export", text, "--max-tokens", "10", "--truncate", "-o",
                                 str(tmp_path / "t.npz"), "--heads", "1", "--d-model", "4"])  # fmt: skip
    assert result.exit_code == 0 and attnviz.load(tmp_path / "t.npz").truncated == 20


def test_float32_unscaled_wide_model_stays_finite_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trace = attnviz.attend(TEXT, d_model=4096, heads=8, dtype="float32", scaled=False)
    for name in ("weights", "head_outputs", "output"):
        assert np.isfinite(getattr(trace, name)).all()
    np.testing.assert_allclose(trace.weights.sum(-1), 1, rtol=1e-5)


def test_the_font_warning_names_the_packages_that_draw_the_glyphs(tmp_path, monkeypatch):
    """With no fallback font, the one warning line says which Debian packages would draw the
    missing characters (CJK: fonts-noto-cjk; emoji: fonts-symbola; Devanagari: fonts-noto-core)."""
    from attnviz.render.figures import layout

    monkeypatch.setattr(layout, "font_families", lambda: ("sans-serif",))
    result = runner.invoke(
        app, ["heatmap", "猫 🐈 कमल cat", "--tokenizer", "whitespace", "-o",
              str(tmp_path / "x.png"), "--heads", "1", "--d-model", "4"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("attnviz: warn")]
    assert "no glyph for 5 characters (猫 🐈 क म ल)" in line and "empty boxes" in line
    assert "apt install fonts-noto-cjk fonts-noto-core fonts-symbola" in line


@pytest.mark.parametrize("family, text", [("Noto Sans CJK JP", "猫 cat"), ("Symbola", "🐈 cat")])
def test_an_installed_fallback_font_draws_what_the_default_lacks(tmp_path, monkeypatch, family,
                                                                 text):  # fmt: skip
    """Where a fallback font is installed (Debian's fonts-noto-cjk, fonts-symbola), the figure
    draws 猫 or 🐈 with it: no warning, and the picture differs from the one with the empty
    box the default font draws."""
    from attnviz.render.figures import layout, save_figure

    if family not in layout.font_families():
        pytest.skip(f"{family} is not installed (apt install {layout.font_package(text[0])})")
    trace = attnviz.attend(text, heads=1, d_model=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save_figure(heatmap_figure(trace), tmp_path / "with.png")
    monkeypatch.setattr(layout, "font_families", lambda: ("sans-serif",))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        save_figure(heatmap_figure(trace), tmp_path / "without.png")
    assert (tmp_path / "with.png").read_bytes() != (tmp_path / "without.png").read_bytes()


@pytest.mark.parametrize(
    "char, package",
    [("猫", "fonts-noto-cjk"), ("한", "fonts-noto-cjk"), ("カ", "fonts-noto-cjk"),
     ("😀", "fonts-symbola"), ("⬛", "fonts-symbola"), ("ש", "fonts-noto-core"),
     ("م", "fonts-noto-core"), ("क", "fonts-noto-core")],
)  # fmt: skip
def test_the_package_of_a_character(char, package):
    from attnviz.render.figures.layout import font_package

    assert font_package(char) == package
