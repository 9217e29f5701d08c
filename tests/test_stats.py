import dataclasses
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from attnviz import attend
from attnviz.cli import app
from attnviz.stats import HEAD_METRICS, head_stats

runner = CliRunner()


@pytest.fixture
def hand_made():
    """One head over 4 tokens with rows worked out by hand:
    row 0 sees one key; row 1 is one-hot on key 0; row 2 is uniform over 3 keys; row 3 sees none.
    """
    trace = attend("a b c d", heads=1, d_model=4)
    allowed = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 0, 0]], dtype=bool)
    third = 1 / 3
    weights = np.array([[[1, 0, 0, 0], [1, 0, 0, 0], [third, third, third, 0], [0, 0, 0, 0]]])
    return dataclasses.replace(trace, allowed=allowed, weights=weights)


def test_every_metric_by_hand(hand_made):
    stats = head_stats(hand_made)
    expected = {
        "entropy": math.log(3) / 3,  # rows 0, 1 are certain; row 2 is log 3
        "normalized_entropy": 0.5,  # rows with two keys or more: row 1 (0) and row 2 (1)
        "distance": 2 / 3,  # 0, 1, (2 + 1 + 0) / 3
        "self": 4 / 9,  # 1, 0, 1/3
        "previous": 2 / 3,  # row 0 has no previous token: row 1 (1) and row 2 (1/3)
        "first": 7 / 9,  # 1, 1, 1/3
        "max_weight": 7 / 9,  # 1, 1, 1/3
        "keys_90": 5 / 3,  # 1, 1, 3
    }
    for metric, value in expected.items():
        assert stats[metric][0] == pytest.approx(value, abs=1e-12), metric
    assert stats["rows"][0] == 3  # row 3, with no allowed key, is left out and counted out


def test_same_token_share_by_hand():
    """Tokens a b a a: row 2 has an earlier a at key 0, row 3 at keys 0 and 2; rows 0 and 1
    have none and are left out of the mean."""
    trace = attend("a b a a", heads=1, d_model=4, mask="none")
    weights = np.array(
        [
            [
                [0.1, 0.2, 0.3, 0.4],
                [0.25, 0.25, 0.25, 0.25],
                [0.5, 0.3, 0.2, 0.0],
                [0.1, 0.2, 0.3, 0.4],
            ]
        ]
    )
    stats = head_stats(dataclasses.replace(trace, weights=weights))
    assert stats["same"][0] == pytest.approx((0.5 + (0.1 + 0.3)) / 2, abs=1e-12)
    no_repeat = attend("a b c", heads=1, d_model=4)
    assert head_stats(no_repeat)["same"][0] == 0  # no row has an earlier copy: 0, as documented


def test_stats_match_a_loop_over_a_real_run():
    trace = attend("The cat sat on the mat because the cat was tired", heads=3, d_model=12)
    stats = head_stats(trace, [2, 0])
    for n, h in enumerate([2, 0]):
        w = trace.weights[h]
        rows = range(w.shape[0])
        ent = [-sum(x * math.log(x) for x in w[i] if x > 0) for i in rows]
        assert stats["entropy"][n] == pytest.approx(np.mean(ent), abs=1e-12)
        dist = [sum(w[i, j] * abs(i - j) for j in rows) for i in rows]
        assert stats["distance"][n] == pytest.approx(np.mean(dist), abs=1e-12)
        k90 = [
            next(k for k in range(1, 12) if sum(sorted(w[i])[::-1][:k]) >= 0.9 - 1e-12)
            for i in rows
        ]
        assert stats["keys_90"][n] == pytest.approx(np.mean(k90))


def test_stats_command_formats():
    text = "The cat sat on the mat"
    result = runner.invoke(app, ["stats", text, "--format", "json", "--head", "1,3"])
    data = json.loads(result.stdout)
    assert data["heads"] == [1, 3] and set(HEAD_METRICS) <= set(data)
    expected = head_stats(attend(text), [1, 3])
    np.testing.assert_array_equal(data["entropy"], expected["entropy"])
    csv = runner.invoke(app, ["stats", text, "--format", "csv"]).stdout.splitlines()
    assert csv[0].split(",") == ["head", *HEAD_METRICS, "rows"] and len(csv) == 9
    table = runner.invoke(app, ["stats", text, "--head", "0"], env={"COLUMNS": "120"})
    assert table.exit_code == 0 and "means over the 6 query rows" in table.stdout
    bad = runner.invoke(app, ["stats", text, "--format", "xml"])
    assert bad.exit_code == 2 and "unknown --format" in bad.stderr


def test_stats_figure_shades_each_column_and_prints_every_value(tmp_path):
    from attnviz.render.figures import stats_figure
    from attnviz.render.figures.stats import column_shades

    trace = attend("The cat sat on the mat because the cat", heads=4, d_model=16)
    stats = head_stats(trace)
    shades = column_shades(stats)
    assert shades.shape == (4, len(HEAD_METRICS))
    np.testing.assert_allclose(shades.min(axis=0), 0) and np.testing.assert_allclose(
        shades.max(axis=0), 1
    )
    fig = stats_figure(trace, [0, 1, 2, 3])
    (ax,) = fig.axes
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), shades)
    assert len(ax.texts) == 4 * len(HEAD_METRICS)
    assert ax.texts[0].get_text() == f"{stats['entropy'][0]:.2f}"
    result = runner.invoke(
        app, ["stats", "The cat sat", "-o", str(tmp_path / "s.png"), "--lang", "es"]
    )
    assert result.exit_code == 0 and (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    assert result.stdout == ""  # with -o and no --format, nothing on standard output
