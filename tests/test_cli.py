import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import attnviz
from attnviz.cli import app

runner = CliRunner()


def invoke(*args, input=None):
    return runner.invoke(app, list(args), input=input, env={"COLUMNS": "80"})


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"attnviz {attnviz.__version__}"


def test_tokens_table():
    result = invoke("tokens", "¿Qué es la atención?")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["#", "token", "start", "end"]
    assert [line.split() for line in lines[1:]] == [
        ["0", "¿", "0", "1"],
        ["1", "Qué", "1", "4"],
        ["2", "es", "5", "7"],
        ["3", "la", "8", "10"],
        ["4", "atención", "11", "19"],
        ["5", "?", "19", "20"],
    ]


def test_tokens_columns_line_up_with_wide_characters():
    """A terminal draws each of these in two cells (an emoji ZWJ sequence, a skin tone, a flag,
    a CJK character), "é" as e + a combining accent in one: with each token written as that
    many cells, every row ends at the same column."""
    wide = {"🐈\u200d⬛": 2, "👍🏽": 2, "🇪🇸": 2, "猫": 2, "e\u0301": 1, "cat": 3}
    result = invoke("tokens", " ".join(wide), "--tokenizer", "whitespace")
    assert result.exit_code == 0
    rows = result.stdout.splitlines()[1:]
    assert [row.split()[1] for row in rows] == list(wide)
    drawn = [row.replace(token, "x" * cells, 1) for row, (token, cells) in
             zip(rows, wide.items(), strict=True)]  # fmt: skip
    assert len({len(row.rstrip()) for row in drawn}) == 1, drawn


def test_tokens_shows_user_text_literally():
    result = invoke("tokens", "[bold]x[/b] a\x1b[31mb", "--tokenizer", "whitespace")
    assert result.exit_code == 0
    assert "[bold]x[/b]" in result.stdout
    assert "\x1b" not in result.stdout and "a␛[31mb" in result.stdout


def test_tokens_reads_standard_input_and_files(tmp_path):
    assert invoke("tokens", "-", input="hola mundo").stdout.split()[-3:] == ["mundo", "5", "10"]
    path = tmp_path / "t.txt"
    path.write_text("uno dos tres", encoding="utf-8")
    result = invoke("tokens", "--file", str(path), "--bos", "--pad-to", "5")
    assert [line.split()[1] for line in result.stdout.splitlines()[1:]] == [
        "<bos>",
        "uno",
        "dos",
        "tres",
        "<pad>",
    ]


def test_export_npz_matches_the_api(tmp_path):
    out = tmp_path / "run.npz"
    result = invoke(
        "export",
        "The cat sat on the mat",
        "-o",
        str(out),
        "--heads",
        "2",
        "--d-model",
        "8",
        "--mask",
        "causal",
        "--mask",
        "window=2",
        "--seed",
        "7",
        "--dtype",
        "float32",
    )
    assert result.exit_code == 0, result.stderr
    back = attnviz.load(out)
    expected = attnviz.attend(
        "The cat sat on the mat",
        heads=2,
        d_model=8,
        mask=["causal", "window=2"],
        seed=7,
        dtype="float32",
    )
    assert back.config == expected.config
    assert back.weights.tobytes() == expected.weights.tobytes()


def test_export_json_with_every_model_option(tmp_path):
    out = tmp_path / "run.json"
    result = invoke(
        "export",
        "a b c",
        "-o",
        str(out),
        "--heads",
        "1",
        "--d-model",
        "4",
        "--unscaled",
        "--positions",
        "none",
        "--tokenizer",
        "char",
        "--bos",
        "--pad-to",
        "6",
        "--mask",
        "padding",
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["tokens"] == ["<bos>", "a", "b", "c", "<pad>", "<pad>"]
    assert data["config"]["scaled"] is False and data["config"]["positions"] == "none"
    assert np.array(data["allowed"])[4:].sum() == 0


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["tokens", ""], 2, "the text is empty"),
        (["tokens", "   "], 2, "the text is empty"),
        (["tokens"], 2, "no text"),
        (["tokens", "a", "--tokenizer", "bpe"], 2, "unknown tokenizer"),
        (["export", "a", "-o", "x.txt"], 2, "attnviz writes .npz or .json here, not .txt"),
        (["export", "-o", "x.npz", "a", "--heads", "3"], 2, "not a multiple of heads"),
        (["export", "-o", "x.npz", "a", "--heads", "0"], 2, "heads must be"),
        (["export", "-o", "x.npz", "a", "--seed", "-1"], 2, "seed must be"),
        (["export", "-o", "x.npz", "a", "--seed", "x"], 2, "Invalid value for '--seed'"),
        (["export", "-o", "x.npz", "a", "--mask", "diagonal"], 2, "valid masks: none, causal"),
        (["export", "-o", "x.npz", "a", "--mask", "padding"], 2, "needs --pad-to"),
        (["export", "-o", "x.npz", "a b c", "--pad-to", "2"], 2, "smaller than the text"),
        (["export", "-o", "x.npz", "a", "--dtype", "float16"], 2, "unknown dtype"),
        (["export", "a", "-o", "no/such/folder/x.npz"], 1, "does not exist"),
        (["export", "-o", "x.npz", "a", "--bogus"], 2, "No such option: --bogus"),
        (["export", "a"], 2, "Missing option '--output'"),
        (["frobnicate"], 2, "No such command"),
    ],
)
def test_errors_are_one_line_with_the_right_exit_code(args, code, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == code
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("attnviz: error: ") and message in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_file_errors(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9")
    (tmp_path / "nul.bin").write_bytes(b"ab\x00cd")
    for args, message in [
        (["--file", str(tmp_path / "missing.txt")], "cannot read --file"),
        (["--file", str(tmp_path)], "is a folder"),
        (["--file", str(tmp_path / "bad.txt")], "not valid UTF-8 (byte 3)"),
        (["--file", str(tmp_path / "nul.bin")], "binary file"),
        (["-"], "the text is empty"),
        (["some text", "--file", str(tmp_path / "bad.txt")], "not both"),
    ]:
        result = invoke("tokens", *args, input="")
        assert result.exit_code == 2 and message in result.stderr, (args, result.stderr)


def test_debug_shows_the_traceback():
    result = invoke("tokens", "", "--debug")
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and result.stderr.splitlines()[-1].startswith(
        "attnviz: error:"
    )


def test_control_characters_in_an_error_are_made_visible():
    result = invoke("export", "-o", "x.npz", "a", "--mask", "evil\x1b]0;title\x07")
    assert result.exit_code == 2 and "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "bad mask 'evil\\x1b]0;title\\x07'" in result.stderr


def test_python_dash_m_and_the_console_script():
    done = subprocess.run(
        [sys.executable, "-m", "attnviz", "tokens", "hola"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "hola" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "attnviz", "tokens", ""], capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1


def test_the_api_speaks_python_and_the_command_line_its_flags():
    """A message of the API names its parameters; the command line shows its own flags."""
    from attnviz import ConfigError, attend
    from attnviz.cli.options import in_flags

    with pytest.raises(ConfigError, match=r"more tokens than `max_tokens=2`.*`truncate=True`"):
        attend("a b c", max_tokens=2)
    assert in_flags("more than `max_tokens=2`: cut it with `truncate=True`") == (
        "more than --max-tokens 2: cut it with --truncate"
    )
    assert in_flags("`scaled=False`, `dtype='float32'`, `pad_to`, `model` 'x'") == (
        "--unscaled, --dtype float32, --pad-to, --model 'x'"
    )
    assert in_flags("`unknown_word` and `b`") == "unknown_word and b"
    result = runner.invoke(app, ["heatmap", "a b c", "--max-tokens", "2"])
    assert result.exit_code == 2
    assert "more tokens than --max-tokens 2: shorten it, or cut it with --truncate" in result.stderr
