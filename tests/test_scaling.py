"""attnviz scaling: the numbers against loops and against the theory, reproducible, and the
command's outputs."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import scaling_measures
from typer.testing import CliRunner

from attnviz import ConfigError
from attnviz.cli import app
from attnviz.scaling import DKS, jacobian_norm, measures, scores, softmax, sweep

runner = CliRunner()


@pytest.fixture(scope="module")
def default():
    return sweep()


@pytest.mark.parametrize("dk", [4, 64, 512])
def test_every_measure_equals_loops(dk):
    s = scores(dk, rows=101, keys=16, seed=3)
    for of in (s, s / math.sqrt(dk)):
        got, expected = measures(of), scaling_measures(of.tolist())
        for m, value in expected.items():
            assert got[m] == pytest.approx(value, rel=1e-9, abs=1e-12), m


def test_the_scores_are_dot_products_of_the_drawn_vectors():
    """The stream of d_k's seed drawn again by hand (the queries of a chunk, then their keys),
    each row's query against its own keys by loops."""
    rng = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(8,)))
    q, k = rng.standard_normal((5, 8)), rng.standard_normal((5, 4, 8))
    by_hand = [[sum(q[r][d] * k[r][j][d] for d in range(8)) for j in range(4)] for r in range(5)]
    assert np.allclose(scores(8, rows=5, keys=4, seed=7), by_hand, rtol=1e-12, atol=0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-60, 60), min_size=2, max_size=12))
def test_the_jacobian_norm_keeps_every_digit(row):
    """Against the matrix diag(p) − p pᵀ summed entry by entry in 50-digit decimals: to the
    last few digits of a float64, saturated rows too (no cancellation)."""
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 50
        e = [(Decimal(v) - Decimal(max(row))).exp() for v in row]
        p = [x / sum(e) for x in e]
        n = len(p)
        total = sum(((p[i] if i == j else 0) - p[i] * p[j]) ** 2
                    for i in range(n) for j in range(n))  # fmt: skip
        exact = float(total.sqrt())
    assert jacobian_norm(softmax(np.array([row])))[0] == pytest.approx(exact, rel=1e-13)


def test_the_theory_holds_at_the_default_rows(default):
    """q·k of N(0, 1) entries has variance d_k, and 1 divided by √d_k; unscaled, the softmax
    saturates and the gradient through it vanishes at d_k = 512, scaled it does not."""
    assert default.dks == DKS
    for n, dk in enumerate(default.dks):
        assert default.unscaled["variance"][n] == pytest.approx(dk, rel=0.1)
        assert default.scaled["variance"][n] == pytest.approx(1.0, rel=0.1)
    last = len(default.dks) - 1
    assert default.unscaled["jacobian"][last] < default.scaled["jacobian"][last] / 10
    assert default.unscaled["saturated"][last] > 0.3
    assert default.scaled["saturated"].max() < 0.05
    assert default.unscaled["jacobian"][0] == pytest.approx(0.3, abs=0.06)
    assert np.all(np.diff(default.unscaled["entropy"]) < 0)  # sharper and sharper


def test_the_same_seed_gives_the_same_bytes_and_another_seed_others(tmp_path):
    args = ["scaling", "--rows", "300", "--format", "csv"]
    one, two = runner.invoke(app, args), runner.invoke(app, args)
    other = runner.invoke(app, [*args, "--seed", "1"])
    assert one.exit_code == 0 and one.stdout == two.stdout != other.stdout
    for name in ("a.png", "b.png"):
        assert (
            runner.invoke(app, ["scaling", "--rows", "300", "-o", str(tmp_path / name)]).exit_code
            == 0
        )
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_json_and_csv_hold_the_numbers_of_the_sweep():
    done = sweep((16, 4), rows=200, keys=8, seed=2)
    data = json.loads(runner.invoke(app, ["scaling", "--dk", "16", "--dk", "4", "--rows", "200",
                                          "--keys", "8", "--seed", "2", "--format", "json"]).stdout)  # fmt: skip
    assert data["dk"] == [4, 16] and data["rows"] == 200 and data["keys"] == 8
    for m in done.scaled:
        assert data["scaled"][m] == done.scaled[m].tolist()
        assert data["unscaled"][m] == done.unscaled[m].tolist()
    csv = runner.invoke(app, ["scaling", "--dk", "4", "--rows", "200", "--keys", "8",
                              "--seed", "2", "--format", "csv"]).stdout.splitlines()  # fmt: skip
    assert csv[0] == "dk,scaled,variance,entropy,top,jacobian,saturated"
    assert [float(v) for v in csv[2].split(",")[2:]] == [done.scaled[m][0] for m in done.scaled]


def test_the_table_fits_80_columns_and_speaks_spanish():
    shown = runner.invoke(app, ["scaling", "--rows", "100", "--lang", "es"],
                          env={"COLUMNS": "80"})  # fmt: skip
    assert shown.exit_code == 0
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80
    assert "sin escalar" in shown.stdout and "saturadas" in shown.stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (["--dk", "0"], "--dk must be a whole number from 1"),
        (["--rows", "1"], "--rows must be a whole number from 2"),
        (["--keys", "1"], "--keys must be a whole number from 2"),
        (["--cmap", "magma"], "--cmap changes nothing here"),
        (["-o", "x.png", "--annotate"], "--annotate changes nothing here"),
        (["--title", "x"], "--title changes nothing in --format table"),
    ],
)
def test_bad_values_are_refused(args, words):
    done = runner.invoke(app, ["scaling", *args])
    assert done.exit_code == 2 and words in done.stderr, done.stderr


def test_the_api_refuses_what_the_command_refuses():
    with pytest.raises(ConfigError, match="`dk` needs at least one value"):
        sweep(())


@pytest.mark.parametrize("preset", ["screen", "slides", "paper"])
def test_the_figure_has_its_panels_and_labels_at_every_preset(preset):
    from attnviz.render.figures import PRESETS, draw_scaling
    from attnviz.render.figures.layout import Style
    from attnviz.views.scaling import ScalingView

    fig = draw_scaling(ScalingView(sweep(rows=200)), Style(preset=preset))
    assert len(fig.axes) == 3
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["variance of s", "mean row entropy (nats)", "median ‖∂softmax/∂s‖_F"]
    for ax in fig.axes:  # unscaled, scaled and the paper's d_k = 64, and the theory
        assert {"unscaled", "scaled", "the paper's d_k = 64"} <= set(
            ax.get_legend_handles_labels()[1]
        )
    if PRESETS[preset].width:
        assert tuple(fig.get_size_inches()) == pytest.approx((PRESETS[preset].width,
                                                              PRESETS[preset].height or 7.2))  # fmt: skip


def _norm_by_loops(p):
    n = len(p)
    return math.sqrt(sum(((p[i] if i == j else 0.0) - p[i] * p[j]) ** 2
                         for i in range(n) for j in range(n)))  # fmt: skip


def test_compare_against_unscaled_gives_the_median_jacobian_of_each_head():
    import attnviz

    args = ["compare", "The cat sat on the mat", "--heads", "2", "--format", "json"]
    data = json.loads(runner.invoke(app, [*args, "--against", "unscaled"]).stdout)
    for which, scaled in (("jacobian_a", True), ("jacobian_b", False)):
        trace = attnviz.attend("The cat sat on the mat", heads=2, scaled=scaled)
        for h in range(2):
            norms = sorted(_norm_by_loops(row) for row in trace.weights[h].tolist())
            mid = len(norms) // 2
            median = norms[mid] if len(norms) % 2 else (norms[mid - 1] + norms[mid]) / 2
            assert data[which][h] == pytest.approx(median, rel=1e-9)
    assert min(data["jacobian_b"]) < min(data["jacobian_a"])  # unscaled: closer to saturation
    masks = json.loads(runner.invoke(app, [*args, "--against", "none"]).stdout)
    assert "jacobian_a" not in masks  # a comparison of masks leaves the scaling alone
    table = runner.invoke(app, [*args[:-2], "--against", "unscaled"], env={"COLUMNS": "100"})
    assert "‖J‖ A" in table.stdout and "‖J‖ B" in table.stdout


def test_steps_gives_the_jacobian_of_the_worked_row():
    import attnviz

    done = runner.invoke(
        app, ["steps", "The cat sat on the mat", "--query", "4", "--format", "json"]
    )
    row = attnviz.attend("The cat sat on the mat").weights[0, 4].tolist()
    assert json.loads(done.stdout)["query"]["jacobian"] == pytest.approx(
        _norm_by_loops(row), rel=1e-9
    )
    shown = runner.invoke(app, ["steps", "The cat sat on the mat", "--query", "4"],
                          env={"COLUMNS": "80"})  # fmt: skip
    assert "‖∂softmax/∂s‖_F of this row" in shown.stdout


def test_a_sweep_too_large_to_hold_is_refused_before_it_is_drawn():
    done = runner.invoke(app, ["scaling", "--rows", "1000000", "--keys", "4096"])
    assert done.exit_code == 2 and "--rows × --keys must be at most 16,777,216" in done.stderr
