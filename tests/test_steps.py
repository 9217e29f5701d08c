import json
import math

import numpy as np
import pytest
from panels import panels_of
from typer.testing import CliRunner

from attnviz import attend
from attnviz.cli import app
from attnviz.render.figures import steps_figure
from attnviz.views.steps import head_stages, worked_row

SENTENCE = "The cat sat on the mat"
runner = CliRunner()


@pytest.fixture(scope="module")
def trace():
    return attend(SENTENCE, heads=4, d_model=32, mask=["causal", "window=4"])


def test_stages_are_the_traces_intermediates_in_order(trace):
    stages = head_stages(trace, 2)
    assert [s.number for s in stages] == ["1", "1", "1", "2", "3", "4", "5", "6", "7", "7"]
    expected = [
        trace.q(2),
        trace.k(2),
        trace.v(2),
        trace.scores(2),
        trace.scaled(2),
        trace.masked(2),
        trace.weights[2],
        trace.head_outputs[2],
        trace.concat(),
        trace.output,
    ]
    for stage, values in zip(stages, expected, strict=True):
        np.testing.assert_array_equal(stage.values, values)
    assert stages[3].shape == (6, 6) and stages[0].shape == (6, 8) and stages[-2].shape == (6, 32)
    assert stages[4].formula == "scaled = scores / √8"


def test_minus_infinity_exactly_where_the_mask_hides(trace):
    masked = head_stages(trace, 0)[5].values
    np.testing.assert_array_equal(np.isneginf(masked), ~trace.allowed)


def test_worked_row_is_the_softmax_by_hand(trace):
    for i in range(6):
        row = worked_row(trace, 1, i)
        assert row.weights.sum() == pytest.approx(1, abs=1e-12)
        np.testing.assert_allclose(row.exp / row.exp.sum(), row.weights, atol=1e-12)
        assert row.exp[row.allowed].max() == 1.0 and (row.exp[~row.allowed] == 0).all()
        np.testing.assert_allclose(row.scaled, row.scores / math.sqrt(8), atol=1e-12)
        by_hand = sum(row.weights[j] * row.v[j] for j in range(6))
        np.testing.assert_allclose(by_hand, row.output, atol=1e-12)


def steps(*args, columns=100):
    return runner.invoke(app, ["steps", SENTENCE, "--heads", "4", "--d-model", "32",
                               "--mask", "causal", "--mask", "window=4", *args],
                         env={"COLUMNS": str(columns)})  # fmt: skip


def test_terminal_shows_every_stage_titled_with_its_shape():
    result = steps("--head", "2")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for title in ("1. queries: Q = X·W_Q[2]", "2. attention scores: scores = Q·Kᵀ",
                  "3. scaling: scaled = scores / √8", "4. mask:", "5. attention weights",
                  "6. head output: head = weights·V", "7. concatenated heads",
                  "7. multi-head attention output: output = concat·W_O"):  # fmt: skip
        assert title in out
    assert "(6 × 8)" in out and "(6 × 32) · 24 more columns not shown" in out
    hidden = int(
        (~attend(SENTENCE, heads=4, d_model=32, mask=["causal", "window=4"]).allowed).sum()
    )
    assert out.count("−∞") == hidden + 1  # each hidden cell, and the formula of stage 4


def test_columns_and_precision():
    out = steps("--columns", "3", "--precision", "4").stdout
    assert "5 more columns not shown" in out
    q_row = next(line for line in out.splitlines() if line.startswith("The "))
    assert len(q_row.split()) == 4 and len(q_row.split()[1].split(".")[1]) == 4


def test_worked_row_in_the_terminal():
    out = steps("--query", "5", "--head", "1").stdout
    assert "query 5 (mat), head 1: the row by hand" in out
    sum_line = next(line for line in out.splitlines() if line.split()[:1] == ["sum"])
    assert sum_line.split()[-1] == "1.0000"
    assert out.count("hidden → −∞") == 2  # window=4: keys 0 and 1 are out of reach of query 5


def test_json_has_every_stage_with_null_for_minus_infinity():
    data = json.loads(steps("--format", "json", "--query", "2").stdout)
    assert [st["number"] for st in data["stages"]] == list("1112345677")
    masked = data["stages"][5]
    assert masked["shape"] == [6, 6] and masked["values"][0][1] is None
    assert data["query"]["index"] == 2 and sum(data["query"]["weights"]) == pytest.approx(1)


def test_steps_figure_has_a_numbered_panel_per_stage(trace):
    fig = steps_figure(trace, 3)
    titles = [panel.get_title() for panel in panels_of(fig)]
    assert [title.split(".")[0] for title in titles] == list("1112345677")
    assert "head 3" in fig.get_suptitle()


def test_bad_steps_options():
    assert steps("--head", "9").exit_code == 2
    result = steps("--query", "6")
    assert result.exit_code == 2 and "no query 6" in result.stderr
    assert steps("--columns", "0").exit_code == 2


def test_on_screen_every_stage_labels_its_rows():
    """Screen figures grow to hold them: each of the ten stages has the tokens beside its rows,
    not only the first of each row of stages."""
    trace = attend("The cat sat on the mat")
    fig = steps_figure(trace, 0)
    rows = [t.get_text() for t in fig.findobj() if getattr(t, "get_gid", None)
            and t.get_gid() == "query-label"]  # fmt: skip
    assert rows == trace.texts * 10
