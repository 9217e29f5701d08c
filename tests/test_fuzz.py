"""The CLI driven with random text and random option values: it never crashes.

Runs a modest number of examples by default; HYPOTHESIS_PROFILE=thorough runs many more.
"""

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from attnviz.cli import app

runner = CliRunner()

texts = st.text(
    alphabet=st.characters(codec=None, exclude_categories=("Cs",)),  # every plane, no surrogates
    max_size=40,
) | st.sampled_from(
    ["The cat sat", "¿Qué es la atención?", "e\u0301 \u202eabc \x1b[31m", "مرحبا بالعالم"]
)

option_values = {
    "--heads": st.sampled_from(["1", "2", "0", "-1", "x", "3"]),
    "--d-model": st.sampled_from(["8", "6", "0", "7"]),
    "--seed": st.sampled_from(["0", "7", "-2", "1e3"]),
    "--mask": st.sampled_from(
        ["causal", "none", "window=2", "prefix=1", "padding", "window=0", "bad"]
    ),
    "--tokenizer": st.sampled_from(["word", "char", "whitespace", "bpe"]),
    "--dtype": st.sampled_from(["float32", "float64", "int8"]),
    "--pad-to": st.sampled_from(["4", "30", "0"]),
    "--head": st.sampled_from(["0", "1", "0,1", "9", "a"]),
    "--format": st.sampled_from(["json", "csv", "table", "heat", "xml"]),
    "--max-tokens": st.sampled_from(["3", "50", "0"]),
    "--plant": st.sampled_from(["0=previous", "1=same", "0=first", "7=self", "0=x", "uniform"]),
    "--window": st.sampled_from(["0:2", "1:", ":3", "3:1", "0:99", "x"]),
    "-o": st.sampled_from(["fuzz.png", "fuzz.svg", "fuzz.txt", "fuzz.html"]),
}
MODEL = {
    "--heads",
    "--d-model",
    "--seed",
    "--mask",
    "--tokenizer",
    "--dtype",
    "--pad-to",
    "--max-tokens",
    "--plant",
}
ACCEPTS = {
    "tokens": {"--tokenizer", "--pad-to"},
    "export": MODEL,
    "heatmap": MODEL | {"--head", "--format", "-o", "--window"},
    "compare": MODEL | {"--head", "--format", "-o", "--window"},
    "steps": MODEL | {"--head", "--format", "-o", "--window"},
    "stats": MODEL | {"--head", "--format"},
    "rollout": MODEL | {"--format", "-o"},
}


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    """Where the figures are written (pytest removes it, as it does every tmp_path)."""
    return tmp_path_factory.mktemp("fuzz")


@given(
    st.sampled_from(sorted(ACCEPTS)),
    texts,
    st.lists(st.sampled_from(sorted(option_values)), max_size=4, unique=True),
    st.data(),
)
def test_cli_never_crashes(out, command, text, options, data):
    chosen = {o: data.draw(option_values[o]) for o in options if o in ACCEPTS[command]}
    if command == "steps" and "--head" in chosen:
        chosen["--head"] = chosen["--head"].split(",")[0]  # steps follows one head
    if command != "tokens" and "--heads" not in chosen:
        chosen |= {"--heads": "2", "--d-model": "8"}  # small and fast
    if "-o" in chosen:
        chosen["-o"] = str(out / f"{command}-{chosen['-o']}")
        Path(chosen["-o"]).unlink(missing_ok=True)
    args = [command, text, *(x for pair in chosen.items() for x in pair)]
    if command == "export":
        args += ["-o", "/dev/null/x.npz"]  # a folder that cannot exist: never written
    result = runner.invoke(app, args, env={"COLUMNS": "80"})
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output)
    assert "Traceback" not in result.stderr, args
    if result.exit_code != 0:
        assert result.stderr.splitlines()[-1].startswith("attnviz: error: "), result.stderr
    else:
        if chosen.get("--format") == "json":
            json.loads(result.stdout)
        if "-o" in chosen:
            head = Path(chosen["-o"]).read_bytes()[:16]
            start = {".png": b"\x89PNG", ".svg": b"<?xml", ".html": b"<!DOCTYPE"}
            assert head.startswith(start[Path(chosen["-o"]).suffix])
