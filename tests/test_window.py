"""--window, --queries, --keys: a part of a long run, computed on the whole text."""

import json

import numpy as np
import pytest
from panels import panels_of
from typer.testing import CliRunner

from attnviz import AttentionConfig, ConfigError, Seeded, attend, run
from attnviz.cli import app
from attnviz.cli.options import parse_crop
from attnviz.render.figures import compare_figure, heatmap_figure, steps_figure
from attnviz.stats import compare
from attnviz.trace import Crop
from attnviz.views.heatmap import heatmap_view
from attnviz.views.steps import head_stages

runner = CliRunner()
WORDS = [f"w{i % 7}" for i in range(40)]  # 40 tokens, words repeat
TEXT = " ".join(WORDS)


def invoke(*args, columns=200):
    return runner.invoke(app, list(args), env={"COLUMNS": str(columns), "NO_COLOR": "1"})


@pytest.mark.parametrize(
    "args, expected",
    [
        (("10:20",), Crop(10, 20, 10, 20)),
        ((":5",), Crop(0, 5, 0, 5)),
        (("35:",), Crop(35, 40, 35, 40)),
        ((None, "3:9", None), Crop(3, 9, 0, 40)),
        ((None, None, "0:2"), Crop(0, 40, 0, 2)),
        ((None, "30:", ":31"), Crop(30, 40, 0, 31)),
        ((None,), Crop(0, 40, 0, 40)),
    ],
)
def test_parse_window(args, expected):
    assert parse_crop(40, *args) == expected


@pytest.mark.parametrize(
    "args, message",
    [
        (("5:3",), "takes A:B such as 10:20"),
        (("5",), "takes A:B"),
        (("a:b",), "takes A:B"),
        (("-2:3",), "takes A:B"),
        (("0:41",), "this text has 40 tokens, 0 to 39"),
        (("40:",), "this text has 40 tokens"),
        (("1:2", "1:2"), "not both"),
    ],
)
def test_bad_windows(args, message):
    with pytest.raises(ConfigError, match=message):
        parse_crop(40, *args)


def test_a_window_shows_the_whole_run_not_a_run_of_the_cut_text():
    trace = attend(TEXT, heads=2, d_model=16)
    crop = Crop(20, 30, 15, 30)
    panels = list(heatmap_view(trace, [0, 1], crop=crop).panels())
    for h, panel in enumerate(panels):
        assert panel.weights.shape == (10, 15) and (panel.row0, panel.col0) == (20, 15)
        np.testing.assert_array_equal(panel.weights, trace.weights[h, 20:30, 15:30])
        np.testing.assert_array_equal(panel.hidden, ~trace.allowed[20:30, 15:30])
    cut = attend(" ".join(WORDS[15:30]), heads=2, d_model=16)  # what a window must not be
    assert not np.allclose(panels[0].weights, cut.weights[0, 5:15])


def test_window_figure_labels_are_indexed_and_the_title_says_which_window():
    trace = attend(TEXT, heads=2, d_model=16)
    fig = heatmap_figure(trace, [0], crop=Crop(20, 26, 18, 26))
    (ax,) = panels_of(fig)
    rows = [t.get_text() for t in ax.texts if t.get_gid() == "query-label"]
    cols = [t.get_text() for t in ax.texts if t.get_gid() == "key-label"]
    assert rows == [f"{i} {WORDS[i]}" for i in range(20, 26)]
    assert cols == [f"{j} {WORDS[j]}" for j in range(18, 26)]
    title = fig.get_suptitle().replace("\n", " ")
    assert "window: queries 20–25, keys 18–25 of 40" in title
    assert ax.get_images()[0].get_array().shape == (6, 8)


def test_compare_and_steps_figures_take_a_window():
    trace = attend(TEXT, heads=2, d_model=16)
    crop = Crop(10, 16, 4, 16)
    cmp = compare(
        trace, run(TEXT, AttentionConfig(mask=("none",), source=Seeded(heads=2, d_model=16)))
    )
    fig = compare_figure(cmp, [1], crop=crop)
    images = [panel.get_images()[0].get_array().shape for panel in panels_of(fig)]
    assert images == [(6, 12)] * 3
    bars = [ax for ax in fig.axes if ax.patches and not ax.get_images()]
    assert len(bars[0].patches) == 6  # the output difference of the window's queries
    fig = steps_figure(trace, 0, crop=crop)
    shapes = [panel.get_images()[0].get_array().shape for panel in panels_of(fig)]
    assert shapes[:5] == [(6, 8), (12, 8), (12, 8), (6, 12), (6, 12)]  # Q, K, V, scores, scaled


def test_stages_in_a_window_are_the_parts_of_the_whole_stages():
    trace = attend(TEXT, heads=2, d_model=16)
    crop = Crop(10, 16, 4, 16)
    whole = head_stages(trace, 1)
    part = head_stages(trace, 1, crop=crop)
    for a, b in zip(whole, part, strict=True):
        if b.kind != "matrix":
            np.testing.assert_array_equal(b.values, a.values[10:16, 4:16])
        elif b.keys:
            np.testing.assert_array_equal(b.values, a.values[4:16])
        else:
            np.testing.assert_array_equal(b.values, a.values[10:16])


def test_cli_window_formats():
    args = ("heatmap", TEXT, "--heads", "2", "--d-model", "16", "--head", "1")
    trace = attend(TEXT, heads=2, d_model=16)
    data = json.loads(invoke(*args, "--window", "5:9", "--format", "json").stdout)
    assert data["window"] == {"queries": [5, 9], "keys": [5, 9]}
    np.testing.assert_array_equal(data["weights"], trace.weights[[1], 5:9, 5:9])
    assert len(data["tokens"]) == 40  # every token, so that the indices mean something
    csv = invoke(*args, "--queries", "38:", "--keys", "0:2", "--format", "csv").stdout
    rows = [line.split(",") for line in csv.splitlines()[1:]]
    assert [(int(r[1]), int(r[3])) for r in rows] == [(38, 0), (38, 1), (39, 0), (39, 1)]
    assert [float(r[5]) for r in rows] == trace.weights[1, 38:40, 0:2].ravel().tolist()
    table = invoke(*args, "--window", "30:34").stdout
    assert "30 w2" in table and "33 w5" in table and "29 w1" not in table
    assert "window: queries 30–33, keys 30–33 of 40" in table
    top = invoke(*args, "--queries", "30:33", "--keys", "30:", "--format", "top").stdout
    lines = [line for line in top.splitlines()[1:] if "->" in line]
    assert [line.split()[0] for line in lines] == ["30", "31", "32"]
    keys = [int(part.split()[-3]) for line in lines for part in line.split(" · ")]
    assert min(keys) >= 30  # only the window's keys


def test_cli_steps_and_compare_windows():
    args = (TEXT, "--heads", "2", "--d-model", "16")
    data = json.loads(invoke("steps", *args, "--window", "3:7", "--format", "json").stdout)
    assert data["window"] == {"queries": [3, 7], "keys": [3, 7]}
    assert [st["shape"] for st in data["stages"][:4]] == [[4, 8], [4, 8], [4, 8], [4, 4]]
    table = invoke("steps", *args, "--queries", "3:5").stdout
    assert "3 w3" in table and "5 w5" not in table.split("2. attention scores")[1].split("\n\n")[0]
    out = invoke("compare", *args, "--window", "10:14").stdout
    assert "window: queries 10–13, keys 10–13 of 40" in out
    digits = [line.split()[0] for line in out.split("per token")[-1].splitlines()[1:] if line]
    assert digits == ["10", "11", "12", "13"]  # the output difference of the window's queries


@pytest.mark.parametrize("command", ["heatmap", "compare", "steps"])
@pytest.mark.parametrize(
    "option, message",
    [
        (["--window", "9:3"], "--window takes A:B"),
        (["--window", "0:99"], "this text has 40 tokens"),
        (["--window", "1:3", "--keys", "1:2"], "not both"),
        (["--keys", "x"], "--keys takes A:B"),
    ],
)
def test_bad_window_options_exit_2_and_write_nothing(tmp_path, command, option, message):
    out = tmp_path / "view.png"
    result = invoke(command, TEXT, *option, "-o", str(out))
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()
