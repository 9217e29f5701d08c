import json

import numpy as np
import pytest
from panels import panels_of
from typer.testing import CliRunner

from attnviz import AttentionConfig, Seeded, run
from attnviz.cli import app
from attnviz.render.figures import compare_figure
from attnviz.stats import compare, row_entropy
from attnviz.trace import config_against
from attnviz.views.compare import compare_view

SENTENCE = "The cat sat on the mat"
runner = CliRunner()


def pair(against="none", heads=4, d_model=32, **options):
    config = AttentionConfig(**options, source=Seeded(heads=heads, d_model=d_model))
    return run(SENTENCE, config), run(SENTENCE, config_against(config, against))


def direct(a, b):
    """The summary numbers computed row by row, the slow way."""
    H, T, _ = a.weights.shape
    tv, moved, ent_a, ent_b = (np.zeros(H) for _ in range(4))
    for h in range(H):
        rows_tv, rows_moved, rows_a, rows_b = [], [], [], []
        for i in range(T):
            wa, wb = a.weights[h, i], b.weights[h, i]
            if a.allowed[i].any() and b.allowed[i].any():
                rows_tv.append(0.5 * sum(abs(x - y) for x, y in zip(wa, wb, strict=True)))
            if b.allowed[i].any():
                rows_moved.append(sum(wb[j] for j in range(T) if not a.allowed[i, j]))
                rows_b.append(-sum(w * np.log(w) for w in wb if w > 0))
            if a.allowed[i].any():
                rows_a.append(-sum(w * np.log(w) for w in wa if w > 0))
        tv[h], moved[h] = np.mean(rows_tv), np.mean(rows_moved)
        ent_a[h], ent_b[h] = np.mean(rows_a), np.mean(rows_b)
    out = [
        np.sqrt(sum((x - y) ** 2 for x, y in zip(ra, rb, strict=True)))
        for ra, rb in zip(a.output, b.output, strict=True)
    ]
    return tv, moved, ent_a, ent_b, np.array(out)


@pytest.mark.parametrize(
    "against, options",
    [
        ("none", {}),
        ("unscaled", {}),
        ("window=2", {"mask": ("prefix=2",)}),
        ("causal", {"mask": ("none",)}),
    ],
)
def test_summary_numbers_match_a_direct_computation(against, options):
    a, b = pair(against, **options)
    cmp = compare(a, b)
    tv, moved, ent_a, ent_b, out = direct(a, b)
    np.testing.assert_allclose(cmp.tv_distance, tv, atol=1e-12)
    np.testing.assert_allclose(cmp.mass_moved, moved, atol=1e-12)
    np.testing.assert_allclose(cmp.entropy_a, ent_a, atol=1e-12)
    np.testing.assert_allclose(cmp.entropy_b, ent_b, atol=1e-12)
    np.testing.assert_allclose(cmp.output_difference, out, atol=1e-9)


def test_causal_against_none_last_token_unchanged_first_changed():
    cmp = compare(*pair("none"))
    assert cmp.output_difference[-1] == pytest.approx(0, abs=1e-12)
    assert cmp.output_difference[0] > 1e-3
    # B keeps A's ratios on the keys A sees, so all that moves is what lands on hidden keys
    np.testing.assert_allclose(cmp.tv_distance, cmp.mass_moved, atol=1e-12)


def test_same_mask_moves_no_mass():
    cmp = compare(*pair("causal"))
    assert (cmp.mass_moved == 0).all() and (cmp.tv_distance == 0).all()
    assert (cmp.output_difference == 0).all()


def test_unscaled_sharpens_the_softmax():
    a, b = pair("unscaled", heads=8, d_model=512)
    cmp = compare(a, b)
    assert b.config.mask == a.config.mask and not b.config.scaled
    assert cmp.entropy_b.mean() < cmp.entropy_a.mean()


def test_row_entropy_by_hand():
    w = np.array([[1.0, 0, 0, 0], [0.25, 0.25, 0.25, 0.25], [0, 0, 0, 0]])
    np.testing.assert_allclose(row_entropy(w), [0, np.log(4), 0], atol=1e-15)


def test_compare_panels():
    a, b = pair("none")
    panels = compare_view(compare(a, b), [0, 2]).panels()
    assert len(panels) == 6
    pa, pb, pd = panels[:3]
    np.testing.assert_array_equal(pa.hidden, ~a.allowed)
    assert not pb.hidden.any() and not pd.hidden.any() and pd.signed
    np.testing.assert_allclose(pd.weights, b.weights[0] - a.weights[0])
    assert np.nanmin(pd.color) >= 0 and np.nanmax(pd.color) <= 1
    np.testing.assert_allclose(pd.color[pd.weights == 0], 0.5)  # no change is the centre


def test_compare_figure_rows_panels_and_bars():
    fig = compare_figure(compare(*pair("none")), [1, 3])
    titled = panels_of(fig)
    assert len(titled) == 6
    assert titled[0].get_title().startswith("head 1 · A: causal")
    assert titled[1].get_title().startswith("B: none")
    assert titled[2].get_title().startswith("B − A")
    (bars,) = [ax for ax in fig.axes if ax.patches and not ax.get_images()]
    assert len(bars.patches) == 6
    labels = [t.get_text() for t in bars.texts]
    assert labels[-1] == "0.00" and labels[0] != "0.00"
    (caption,) = [t.get_text() for t in fig.texts if t.get_gid() == "summary"]
    assert len(fig.axes) == 4  # the panels' canvas, two colour bars, the bars
    assert "TV distance" in caption and "mass moved by the mask" in caption


def invoke(*args, columns=100):
    return runner.invoke(
        app,
        ["compare", SENTENCE, "--heads", "2", "--d-model", "8", *args],
        env={"COLUMNS": str(columns)},
    )


def test_terminal_side_by_side_when_wide_one_after_the_other_when_not():
    wide = invoke("--head", "0").stdout.splitlines()
    assert wide[0].split() == ["A:", "causal", "B:", "none"]
    narrow = invoke("--head", "0", columns=60).stdout.splitlines()
    assert narrow[0].strip() == "A: causal"
    assert any(line.strip() == "B: none" for line in narrow[1:])
    for out in (wide, narrow):
        assert any(line.split()[:2] == ["head", "TV"] for line in out)
        assert any("‖output A − output B‖" in line for line in out)


def test_terminal_heat_form():
    result = invoke("--head", "0", "--format", "heat", columns=80)
    assert result.exit_code == 0 and "hidden by the mask" in result.stdout


def test_json():
    result = invoke("--format", "json", "--against", "unscaled")
    data = json.loads(result.stdout)
    assert list(data) == [
        "tokens",
        "config_a",
        "config_b",
        "heads",
        "tv_distance",
        "mass_moved",
        "entropy_a",
        "entropy_b",
        "jacobian_a",  # against unscaled: the median norms of the softmax's Jacobian
        "jacobian_b",
        "output_difference",
    ]
    assert data["config_b"]["scaled"] is False and data["config_a"]["scaled"] is True
    assert len(data["tv_distance"]) == 2 and len(data["output_difference"]) == 6


def test_figure_file(tmp_path):
    result = invoke("-o", str(tmp_path / "c.png"), "--head", "0")
    assert result.exit_code == 0 and (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_against():
    result = invoke("--against", "sideways")
    assert result.exit_code == 2 and "valid masks" in result.stderr


@pytest.mark.parametrize("options", [["--preset", "paper"], ["--preset", "slides"]])
def test_panels_too_small_to_read_are_refused_and_nothing_is_written(tmp_path, options):
    """Three panels side by side do not fit one paper column; eight rows of them do not fit
    a slide: a one-line error, exit 2, no file (nor a temporary one)."""
    out = tmp_path / "c.png"
    result = runner.invoke(app, ["compare", SENTENCE, "-o", str(out), *options])
    assert result.exit_code == 2, result.output
    assert (
        result.stderr.count("\n") == 1
        and "at a readable size" in result.stderr
        and "--preset screen" in result.stderr
    )
    assert list(tmp_path.iterdir()) == []


def test_a_slide_of_three_heads_fits(tmp_path):
    out = tmp_path / "c.png"
    args = ["compare", SENTENCE, "--head", "0,1,2", "--preset", "slides", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"\x89PNG"
