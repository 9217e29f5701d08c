import json
import subprocess
import sys

import matplotlib.colors
import numpy as np
import pytest
from matplotlib.collections import LineCollection
from panels import panels_of
from typer.testing import CliRunner

import attnviz
from attnviz import ConfigError, attend
from attnviz.cli import app
from attnviz.cli.options import head_list
from attnviz.render import colors
from attnviz.render.figures import (
    boundary_segments,
    cell_text,
    compare_figure,
    heatmap_figure,
    hidden_runs,
    steps_figure,
    tick_labels,
)
from attnviz.render.figures.draw import cell_numbers
from attnviz.stats import compare
from attnviz.trace import select_heads
from attnviz.views.heatmap import heatmap_view

SENTENCE = "The cat sat on the mat"
SPANISH = "El gato se sentó en la alfombra porque estaba cansado"
runner = CliRunner()


def invoke(*args, columns=80):
    return runner.invoke(app, list(args), env={"COLUMNS": str(columns), "NO_COLOR": None})


@pytest.fixture(scope="module")
def trace():
    return attend(SENTENCE, heads=4, d_model=32)


# --- prepared data --------------------------------------------------------------------------


@pytest.mark.parametrize("mask", ["causal", "none", "window=2", "prefix=3", ["causal", "padding"]])
def test_panel_data_follows_the_weights_and_the_mask(mask):
    trace = attend(SENTENCE, heads=2, d_model=8, mask=mask, pad_to=8)
    panels = list(heatmap_view(trace, [1, 0], scale="fixed").panels())
    assert [p.head for p in panels] == [1, 0] and [p.title for p in panels] == ["head 1", "head 0"]
    for p in panels:
        np.testing.assert_array_equal(p.weights, trace.weights[p.head])
        np.testing.assert_array_equal(p.hidden, ~trace.allowed)
        assert np.isnan(p.color[p.hidden]).all()
        np.testing.assert_array_equal(p.color[~p.hidden], p.weights[~p.hidden])


def test_head_scale_stretches_each_panel_to_its_max(trace):
    for p in heatmap_view(trace, [0, 1, 2, 3], scale="head").panels():
        visible = p.color[~p.hidden]
        assert visible.max() == 1.0
        np.testing.assert_allclose(visible, p.weights[~p.hidden] / p.weights[~p.hidden].max())


def test_select_heads():
    assert select_heads(None, 3) == [0, 1, 2] and select_heads([2, 0, 2], 3) == [2, 0]
    assert head_list("2", 3) == [2]
    assert head_list("0, 2,0", 3) == [0, 2]
    with pytest.raises(ConfigError, match="no head 3: this run has heads 0 to 2"):
        head_list("0,3", 3)
    with pytest.raises(ConfigError, match="head numbers"):
        head_list("first", 3)


def test_every_label_when_they_fit_every_kth_with_index_when_not():
    texts = [f"t{i}" for i in range(40)]
    assert tick_labels(texts[:5], axis_points=200, font=10) == ([0, 1, 2, 3, 4], texts[:5])
    positions, labels = tick_labels(texts, axis_points=130, font=10)  # 10 fit
    assert positions == list(range(0, 40, 4))
    assert labels[:2] == ["0 t0", "4 t4"]
    long = ["a" * 30]
    assert tick_labels(long, 100, 10)[1] == ["a" * 11 + "…"]


def test_hidden_runs_and_the_causal_staircase():
    hidden = ~np.tri(3, 3, 0, dtype=bool)
    assert hidden_runs(hidden) == [(0, 1, 3), (1, 2, 3)]
    assert sorted(boundary_segments(hidden)) == sorted(
        [
            ((0.5, -0.5), (0.5, 0.5)),  # right of cell (0, 0)
            ((1.5, 0.5), (1.5, 1.5)),  # right of cell (1, 1)
            ((0.5, 0.5), (1.5, 0.5)),  # below cell (0, 1)
            ((1.5, 1.5), (2.5, 1.5)),  # below cell (1, 2)
        ]
    )
    assert boundary_segments(np.zeros((4, 4), dtype=bool)) == []


def test_window_boundary_is_merged_into_long_segments():
    trace = attend("a b c d e f g h", heads=1, d_model=4, mask="window=3")
    segments = boundary_segments(~trace.allowed)
    # 2 edges per row for the band's two sides, merged where collinear: fewer than T² edges
    assert 0 < len(segments) <= 4 * 8


def test_cell_text():
    assert [cell_text(w) for w in (0.0, 0.004, 0.25, 0.996, 1.0)] == [
        ".00",
        ".00",
        ".25",
        "1.0",
        "1.0",
    ]


def test_embedded_viridis_is_matplotlibs():
    import matplotlib

    for name in ("viridis", "RdBu_r"):
        expected = (matplotlib.colormaps[name](np.arange(256))[:, :3] * 255).round()
        np.testing.assert_array_equal(colors.lut(name), expected)
    assert colors.rgb(colors.lut(), 1.0) == (253, 231, 37)
    with pytest.raises(ConfigError, match="unknown colour map"):
        colors.lut("no-such-map")


def test_ink_contrasts_with_the_cell():
    assert colors.ink((253, 231, 37)) == "#000000"  # yellow: black text
    assert colors.ink((68, 1, 84)) == "#ffffff"  # dark purple: white text


# --- the figure's artists --------------------------------------------------------------------


def query_title(ax):
    return "".join(t.get_text() for t in ax.texts if t.get_gid() == "query-title")


def row_labels(ax):
    return [t.get_text() for t in ax.texts if t.get_gid() == "query-label"]


def col_labels(ax):
    return [t.get_text() for t in ax.texts if t.get_gid() == "key-label"]


def test_figure_grid_titles_labels_and_colour_bar():
    trace = attend(SENTENCE)  # 8 heads: 2 rows x 4
    fig = heatmap_figure(trace)
    axes = panels_of(fig)
    assert len(fig.axes) == 2  # every panel on one canvas, and the colour bar
    assert [ax.get_title() for ax in axes] == [f"head {h}" for h in range(8)]
    rows = {round(ax.get_position().y0, 3) for ax in axes}
    cols = {round(ax.get_position().x0, 3) for ax in axes}
    assert len(rows) == 2 and len(cols) == 4
    left = [ax for ax in axes if query_title(ax)]
    bottom = [ax for ax in axes if ax.get_xlabel()]
    assert len(left) == 2 and {query_title(ax) for ax in left} == {"query"}
    assert len(bottom) == 4 and {ax.get_xlabel() for ax in bottom} == {"key"}
    assert row_labels(left[0]) == trace.texts and row_labels(axes[1]) == []
    assert col_labels(bottom[0]) == trace.texts and col_labels(axes[0]) == []
    bars = [ax for ax in fig.axes if ax not in axes and ax.get_ylabel()]
    assert len(bars) == 1 and bars[0].get_ylabel() == "attention weight"
    assert bars[0].get_ylim() == (0.0, 1.0)
    title = fig.get_suptitle()
    for part in ("8 heads", "d_model 512", "mask causal", "seed 0", "tokenizer word"):
        assert part in title
    assert "unscaled" not in title


def overlaps(fig):
    """Pairs of texts (or a text and a panel) whose boxes overlap by more than a pixel, and
    texts running off the figure's edge ("edge"), once the figure is drawn."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    ticks = {
        id(t)
        for ax in fig.axes
        for axis in (ax.xaxis, ax.yaxis)
        for t in axis.get_ticklabels(which="both")
    }  # an axis keeps labels it never draws
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in fig.findobj(Text)
             if t.get_text() and t.get_visible() and id(t) not in ticks]  # fmt: skip
    boxes += [(f"panel {n}", p.get_images()[0].get_window_extent())
              for n, p in enumerate(panels_of(fig))]  # fmt: skip

    def shrunk(b):
        return b.x0 + 1, b.y0 + 1, b.x1 - 1, b.y1 - 1

    width, height = fig.canvas.get_width_height()
    found = [(a, "edge") for a, b in boxes
             if b.x0 < -1 or b.y0 < -1 or b.x1 > width + 1 or b.y1 > height + 1]  # fmt: skip
    for n, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[n + 1 :]:
            ax0, ay0, ax1, ay1 = shrunk(box_a)
            bx0, by0, bx1, by1 = shrunk(box_b)
            if ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1:
                found.append((a, b))
    return found


@pytest.mark.parametrize(
    "draw",
    [
        lambda: heatmap_figure(attend(SENTENCE)),
        lambda: heatmap_figure(
            attend("a dozen tokens here, each word a label of its own length"),
            preset="slides",
            lang="es",
        ),
        lambda: heatmap_figure(attend(" ".join(f"w{i}" for i in range(60)), heads=3, d_model=12)),
        lambda: attnviz.model_figure(attend(SENTENCE, heads=4, d_model=8)),
        lambda: attnviz.rollout_figure(attend(SENTENCE, heads=4, d_model=8)),
        lambda: attnviz.rollout_figure(attend("The cat sat", heads=4, d_model=8)),
        lambda: compare_figure(compare(attend(SENTENCE), attend(SENTENCE, mask="none")), [0, 1]),
        lambda: compare_figure(
            compare(attend(SPANISH), attend(SPANISH, mask="none")), [0], preset="slides", lang="es"
        ),
        lambda: compare_figure(
            compare(attend(SENTENCE), attend(SENTENCE, mask="none")), [0, 1, 2], preset="slides"
        ),
        lambda: steps_figure(attend(SENTENCE), 0),
        lambda: steps_figure(attend(SENTENCE), 0, preset="paper"),
    ],
    ids=[
        "8 heads",
        "slides es",
        "60 tokens",
        "model view",
        "rollout",
        "rollout of three tokens",
        "compare",
        "compare slides es",
        "compare slides 3 heads",
        "steps",
        "steps paper",
    ],
)
def test_no_text_overlaps_another_or_a_panel(draw):
    assert overlaps(draw()) == []


def test_the_overlap_check_would_catch_one():
    fig = heatmap_figure(attend(SENTENCE, heads=2, d_model=8))
    (title,) = [t for t in fig.texts if t.get_text() == fig.get_suptitle()]
    title.set_position((0.2, 0.5))  # moved onto a panel
    assert overlaps(fig)
    title.set_position((0.0, 1.0))  # half off the left edge
    assert (title.get_text(), "edge") in overlaps(fig)


def hatch_of(ax):
    found = [p for p in ax.patches if p.get_gid() == "hidden-cells"]
    return found[0] if found else None


def covered_cells(path, shape):
    """The cells whose centres lie inside one of the path's rectangles."""
    covered = np.zeros(shape, dtype=bool)
    for box in path.to_polygons(closed_only=False):
        (x0, y0), (x1, y1) = box.min(axis=0), box.max(axis=0)
        covered[round(y0 + 0.5) : round(y1 + 0.5), round(x0 + 0.5) : round(x1 + 0.5)] = True
    return covered


def test_hatch_covers_exactly_the_hidden_cells():
    trace = attend(SENTENCE, heads=2, d_model=8, mask=["causal", "window=3"])
    for ax in panels_of(heatmap_figure(trace)):
        hatch = hatch_of(ax)
        assert hatch.get_hatch() == "///"
        np.testing.assert_array_equal(covered_cells(hatch.get_path(), (6, 6)), ~trace.allowed)
        (outline,) = [c for c in ax.collections if isinstance(c, LineCollection)]
        assert len(outline.get_segments()) == len(boundary_segments(~trace.allowed))
        image = ax.get_images()[0].get_array()
        np.testing.assert_array_equal(np.ma.getmaskarray(image), ~trace.allowed)


def test_long_panels_are_pooled_by_their_mean_or_their_strongest_cell():
    from attnviz.views.panel import MAX_CELLS, Panel, pooled_panel

    T = 3 * MAX_CELLS // 2 + 7  # pooled by 2, with a ragged edge
    w = np.zeros((T, T))
    w[700, 5] = 0.9  # one strong cell among zeros, below the diagonal
    hidden = ~np.tri(T, T, dtype=bool)
    strongest = pooled_panel(Panel(0, "", w, hidden, pool="max"))
    R = -(-T // 2)
    assert strongest.cell == 2 and strongest.weights.shape == strongest.hidden.shape == (R, R)
    assert strongest.shape == (T, T)  # the tokens it covers, for its labels
    assert strongest.weights[350, 2] == 0.9 and strongest.weights.max() == 0.9
    # a block is hidden only when all its cells are: the diagonal blocks stay visible, marked
    diagonal = np.arange(R)
    assert not strongest.hidden[diagonal, diagonal].any()
    assert strongest.partly[diagonal[:-1], diagonal[:-1]].all()  # the last block is 1 x 1
    assert not strongest.partly[diagonal[-1], diagonal[-1]]
    assert strongest.hidden[0, 1] and np.isnan(strongest.color[0, 1])
    assert not strongest.partly[1:, 0].any()  # blocks below the diagonal are whole
    mean = pooled_panel(Panel(0, "", w, hidden))
    assert mean.weights[350, 2] == pytest.approx(0.9 / 4)  # four cells seen, one of them 0.9
    signed = pooled_panel(Panel(0, "", -w, np.zeros((T, T), dtype=bool), signed=True, pool="max"))
    assert signed.color[350, 2] == pytest.approx((-0.9 + 1) / 2)  # the sign survives


def test_no_mask_no_hatch():
    fig = heatmap_figure(attend(SENTENCE, heads=1, d_model=4, mask="none"), annotate=False)
    assert not panels_of(fig)[0].collections and hatch_of(panels_of(fig)[0]) is None


def numbers_of(ax):
    found = [c for c in ax.collections if c.get_gid() == "cell-numbers"]
    return found[0] if found else None


def test_annotations_are_the_allowed_weights_in_contrasting_ink():
    trace = attend(SENTENCE, heads=2, d_model=8)
    ax = panels_of(heatmap_figure(trace, [1]))[0]
    numbers = numbers_of(ax)
    offsets = [tuple(xy) for xy in numbers.get_offsets()]
    assert sorted(offsets) == sorted((j, i) for i, j in np.argwhere(trace.allowed))
    (panel,) = heatmap_view(trace, [1]).panels()
    cells = cell_numbers(panel, colors.lut())
    assert [c[2] for c in cells] == [cell_text(trace.weights[1, i, j]) for i, j, _, _ in cells]
    inks = [matplotlib.colors.to_hex(c) for c in numbers.get_facecolors()]
    for (i, j, _, ink), shown in zip(cells, inks, strict=True):
        assert shown == ink == colors.ink(colors.rgb(colors.lut(), trace.weights[1, i, j]))


def test_annotation_defaults_to_short_texts_only():
    long = attend(" ".join(f"w{i}" for i in range(13)), heads=1, d_model=4)
    assert numbers_of(panels_of(heatmap_figure(long))[0]) is None
    assert numbers_of(panels_of(heatmap_figure(long, annotate=True))[0]) is not None
    short = attend(SENTENCE, heads=4, d_model=8)
    assert numbers_of(panels_of(heatmap_figure(short, annotate=False))[0]) is None
    assert numbers_of(panels_of(heatmap_figure(short, preset="paper"))[0]) is None  # too small


def test_options_change_the_figure():
    trace = attend(SENTENCE, heads=2, d_model=8, scaled=False)
    fig = heatmap_figure(
        trace, scale="head", title="My title", theme="dark", preset="slides", lang="es"
    )
    assert fig.get_suptitle() == "My title"
    assert abs(fig.get_figwidth() / fig.get_figheight() - 16 / 9) < 0.01
    assert [ax.get_title() for ax in panels_of(fig)] == ["cabeza 0", "cabeza 1"]
    assert query_title(panels_of(fig)[0]) == "consulta"
    bar = next(ax for ax in fig.axes if ax.get_ylabel() and ax not in panels_of(fig))
    assert "÷" in bar.get_ylabel()
    assert fig.get_facecolor()[0] < 0.2  # dark background
    assert "unscaled" in heatmap_figure(trace).get_suptitle()


def test_paper_preset_is_one_column_wide():
    fig = heatmap_figure(attend(SENTENCE, heads=4, d_model=8), preset="paper")
    assert fig.get_figwidth() == pytest.approx(3.4)
    assert len({round(ax.get_position().x0, 3) for ax in panels_of(fig)}) == 2


def test_accents_survive_in_labels():
    fig = heatmap_figure(attend("¿Qué es la atención?", heads=1, d_model=4))
    labels = row_labels(panels_of(fig)[0])
    assert labels == ["¿", "Qué", "es", "la", "atención", "?"]


def test_figure_is_in_the_public_api():
    assert attnviz.heatmap_figure is heatmap_figure


# --- the command line ------------------------------------------------------------------------


def test_table_is_the_default_output():
    result = invoke("heatmap", SENTENCE, "--head", "0")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["query", "\\", "key", "The", "cat", "sat", "on", "the", "mat"]
    assert lines[1].split() == ["The", "1.00", "·", "·", "·", "·", "·"]
    assert "0.00" not in result.stdout
    assert lines[7].startswith("head 0 · mean row entropy") and "mask causal" in lines[7]


def test_table_numbers_are_the_weights():
    result = invoke("heatmap", SENTENCE, "--head", "2", "--heads", "4", "--d-model", "32")
    trace = attend(SENTENCE, heads=4, d_model=32)
    rows = [line.split()[1:] for line in result.stdout.splitlines()[1:7]]
    for i, row in enumerate(rows):
        shown = [float(x) for x in row if x != "·"]
        np.testing.assert_allclose(shown, trace.weights[2, i, : i + 1], atol=0.005)


def test_one_table_per_selected_head():
    result = invoke("heatmap", SENTENCE, "--head", "1,3")
    assert [line.split()[:2] for line in result.stdout.splitlines() if "entropy" in line] == [
        ["head", "1"],
        ["head", "3"],
    ]


def test_narrow_terminal_switches_to_heat():
    result = invoke("heatmap", SENTENCE, "--head", "0", columns=30)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("too wide for 30 columns")
    assert "hidden by the mask" in result.stdout  # the heat legend


def test_heat_format_fits_80_columns_for_35_tokens():
    text = " ".join(f"w{i}" for i in range(35))
    result = invoke(
        "heatmap", text, "--format", "heat", "--head", "0", "--heads", "1", "--d-model", "4"
    )
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "do not fit" not in result.stdout
    assert sum(1 for line in lines if line.lstrip()[:2].strip().isdigit()) >= 35


def test_json_format():
    result = invoke("heatmap", SENTENCE, "--format", "json", "--head", "3,1")
    data = json.loads(result.stdout)
    assert list(data) == ["tokens", "config", "heads", "allowed", "weights"]
    assert data["heads"] == [3, 1] and data["tokens"] == SENTENCE.split()
    w = np.array(data["weights"])
    assert w.shape == (2, 6, 6)
    np.testing.assert_allclose(w.sum(-1), 1, rtol=1e-12)
    np.testing.assert_array_equal(w, attend(SENTENCE).weights[[3, 1]])


def test_csv_format():
    result = invoke(
        "heatmap", "a [b]", "--format", "csv", "--head", "0", "--heads", "1", "--d-model", "4"
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "head,query_index,query,key_index,key,weight,allowed"
    assert len(lines) == 1 + 16
    assert lines[1].split(",")[:5] == ["0", "0", "a", "0", "a"] and lines[1].endswith(",1.0,1")
    assert lines[2].endswith(",0.0,0")


def test_user_text_is_shown_literally_in_the_table():
    result = invoke("heatmap", "[b]x[/b] \x1b[31m", "--tokenizer", "whitespace", "--head", "0")
    assert result.exit_code == 0
    assert "[b]x[/b]" in result.stdout and "\x1b" not in result.stdout and "␛[31m" in result.stdout


@pytest.mark.parametrize(
    "ext, magic", [(".png", b"\x89PNG\r\n\x1a\n"), (".svg", b"<?xml"), (".pdf", b"%PDF-")]
)
def test_figure_files_are_valid_and_byte_identical(tmp_path, ext, magic):
    paths = [tmp_path / f"a{ext}", tmp_path / f"b{ext}"]
    for path in paths:
        result = invoke("heatmap", SENTENCE, "-o", str(path), "--heads", "2", "--d-model", "8")
        assert result.exit_code == 0, result.stderr
        assert result.stdout == ""  # with -o and no --format, nothing on stdout
    data = [p.read_bytes() for p in paths]
    assert data[0].startswith(magic) and data[0] == data[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a" + ext, "b" + ext]


def test_svg_and_pdf_keep_text_as_text(tmp_path):
    invoke(
        "heatmap", "la atención", "-o", str(tmp_path / "f.svg"), "--heads", "1", "--d-model", "4"
    )
    svg = (tmp_path / "f.svg").read_text(encoding="utf-8")
    assert "atención" in svg and "<text" in svg
    invoke(
        "heatmap", "la atención", "-o", str(tmp_path / "f.pdf"), "--heads", "1", "--d-model", "4"
    )
    assert b"/FontFile2" in (tmp_path / "f.pdf").read_bytes()  # TrueType embedded (type 42)


def test_format_and_output_together(tmp_path):
    result = invoke(
        "heatmap", SENTENCE, "-o", str(tmp_path / "x.png"), "--format", "json", "--head", "0"
    )
    assert result.exit_code == 0 and json.loads(result.stdout)["heads"] == [0]
    assert (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["-o", "x.gif"], 2, "writes .png, .svg, .pdf or .html here, not .gif"),
        (["--head", "8"], 2, "no head 8"),
        (["--head", "x"], 2, "head numbers"),
        (["--cmap", "nope"], 2, "unknown colour map"),
        (["--mask", "diagonal"], 2, "valid masks"),
        (["--format", "xml"], 2, "unknown --format"),
        (["--lang", "fr"], 2, "unknown language"),
        (["-o", "x.png", "--theme", "blue"], 2, "unknown theme"),
        (["-o", "x.png", "--preset", "poster"], 2, "unknown preset"),
        (["-o", "x.png", "--scale", "linear"], 2, "unknown scale"),
        (["-o", "x.png", "--dpi", "0"], 2, "--dpi must be between"),
        (["-o", "x.png", "--dpi", "100000"], 2, "--dpi must be between"),
        (["-o", "missing/x.png"], 1, "does not exist"),
    ],
)
def test_bad_heatmap_options(args, code, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("heatmap", SENTENCE, *args)
    assert result.exit_code == code, result.stderr
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_terminal_path_does_not_import_matplotlib():
    code = (
        "import sys; from typer.testing import CliRunner; from attnviz.cli import app;"
        "r = CliRunner().invoke(app, ['heatmap', 'The cat sat', '--format', '{}']);"
        "assert r.exit_code == 0, r.output; print('matplotlib' in sys.modules)"
    )
    for fmt in ("table", "heat", "json", "csv"):
        done = subprocess.run(
            [sys.executable, "-c", code.format(fmt)], capture_output=True, text=True
        )
        assert done.stdout.strip() == "False", (fmt, done.stderr)


def test_top_format_lists_the_strongest_keys_of_each_query():
    text = "The cat sat on the mat because the cat was tired"
    result = invoke("heatmap", text, "--format", "top", "--top", "2", "--head", "3", columns=200)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("head 3 ·")
    w = attend(text).weights[3]
    tokens = text.split()
    for i, line in enumerate(lines[1:12]):
        number, query, arrow, rest = line.split(maxsplit=3)
        assert (int(number), query, arrow) == (i, tokens[i], "->")
        shown = [part.split(" ") for part in rest.split(" · ")]
        best = np.argsort(-w[i, : i + 1], kind="stable")[:2]
        assert [(int(j), key) for j, key, _ in shown] == [(j, tokens[j]) for j in best]
        assert [float(x) for _, _, x in shown] == pytest.approx(w[i, best], abs=0.005)
    assert invoke("heatmap", text, "--format", "top", "--top", "0").exit_code == 2


def test_top_format_reads_a_long_text_line_by_line():
    text = " ".join(f"w{i}" for i in range(500))
    result = invoke(
        "heatmap", text, "--format", "top", "--head", "0", "--heads", "1", "--d-model", "8"
    )
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 1 + 500 + 1
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_labels_option_overrides_the_thinning():
    texts = [f"t{i}" for i in range(40)]
    assert tick_labels(texts, 130, 10, "none") == ([], [])
    assert tick_labels(texts, 130, 10, "all") == (list(range(40)), texts)
    assert tick_labels(texts, 130, 10, "every:5")[1][:2] == ["0 t0", "5 t5"]
    trace = attend(" ".join(texts), heads=1, d_model=4)
    ax = panels_of(heatmap_figure(trace, labels="every:10"))[0]
    assert row_labels(ax) == ["0 t0", "10 t10", "20 t20", "30 t30"]
    assert row_labels(panels_of(heatmap_figure(trace, labels="none"))[0]) == []
    for bad in ("some", "every:0", "every:x"):
        with pytest.raises(ConfigError, match="bad `labels`"):
            heatmap_figure(trace, labels=bad)
    result = invoke("heatmap", "a b", "-o", "x.png", "--labels", "most")
    assert result.exit_code == 2 and "bad --labels" in result.stderr


def test_a_slide_refuses_more_heads_than_it_can_show_readably(tmp_path):
    """16 heads fit a slide in four rows; 32 would need panels under half an inch."""
    fits = runner.invoke(app, ["heatmap", SENTENCE, "--heads", "16", "--d-model", "64",
                               "--preset", "slides", "-o", str(tmp_path / "16.png")])  # fmt: skip
    assert fits.exit_code == 0, fits.output
    crowded = runner.invoke(app, ["heatmap", SENTENCE, "--heads", "32", "--d-model", "64",
                                  "--preset", "slides", "-o", str(tmp_path / "32.png")])  # fmt: skip
    assert crowded.exit_code == 2 and "readable size" in crowded.stderr
    assert not (tmp_path / "32.png").exists()


@pytest.mark.parametrize(
    "heads, lang, says",
    [
        (None, "en", "8 heads ·"),
        ([0, 1], "en", "heads 0, 1 of 8 ·"),
        ([3], "en", "head 3 of 8 ·"),
        ([0, 1, 2, 3, 6], "en", "heads 0–3, 6 of 8 ·"),
        ([0, 2], "es", "cabezas 0, 2 de 8 ·"),
    ],
)
def test_the_title_counts_the_heads_shown(heads, lang, says):
    """The title names the heads a figure shows, not only how many the model has."""
    trace = attend(SENTENCE)
    assert (
        heatmap_figure(trace, heads, lang=lang).get_suptitle().replace("\n", " ").startswith(says)
    )
    cmp = compare(trace, attend(SENTENCE, mask="none"))
    assert (
        compare_figure(cmp, heads or list(range(8)), lang=lang)
        .get_suptitle()
        .replace("\n", " ")
        .startswith(says)
    )
