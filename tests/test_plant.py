"""Planted heads: known patterns from W_Q, W_K and a relative-position bias b(i − j)."""

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from panels import panels_of
from reference import multi_head, sinusoidal
from typer.testing import CliRunner

import attnviz
from attnviz import AttentionConfig, Seeded, run
from attnviz.cli import app
from attnviz.errors import ConfigError
from attnviz.export import trace_json
from attnviz.trace import MAX_PLANT_STRENGTH

runner = CliRunner()
ALL = ("0=previous", "1=self", "2=first", "3=same", "4=uniform")
VOCAB = "the cat sat on mat because was tired a dog ran and it is big red of".split()  # noqa: SIM905


def planted_run(words, seed=0, mask="causal", dtype="float64", strength=1.0):
    source = Seeded(seed=seed, plant=ALL, plant_strength=strength)
    config = AttentionConfig(mask=(mask,), dtype=dtype, source=source)
    return run(" ".join(words), config)


def check_targets(trace, words):
    """The targets of the issue, row by row."""
    w = trace.weights.astype(np.float64)
    T = len(words)
    for i in range(T):
        if i > 0:
            assert w[0, i, i - 1] >= 0.9, ("previous", i)
        assert w[1, i, i] >= 0.9, ("self", i)
        assert w[2, i, 0] >= 0.9, ("first", i)
        earlier = [j for j in range(i) if words[j] == words[i]]
        if earlier:
            assert w[3, i, earlier].sum() >= 0.9, ("same", i)
        allowed = trace.allowed[i]
        if trace.config.dtype == "float64":
            expected = np.where(allowed, 1 / allowed.sum(), 0.0)
            assert np.abs(w[4, i] - expected).max() <= 1e-12, ("uniform", i)


@pytest.mark.parametrize("seed", [0, 1, 7, 2024])
@pytest.mark.parametrize("mask", ["causal", "none"])
@pytest.mark.parametrize("T", [2, 3, 5, 16, 40, 64])
def test_targets_hold_for_every_length_seed_and_mask(seed, mask, T):
    rng = np.random.default_rng(seed * 1000 + T)
    words = list(rng.choice(VOCAB, T))  # 17 words: most texts repeat some
    check_targets(planted_run(words, seed, mask), words)


@settings(max_examples=40, deadline=None)
@given(
    words=st.lists(
        st.sampled_from(VOCAB[:6]) | st.text("abcxyz", min_size=1, max_size=4),
        min_size=2,
        max_size=64,
    ),
    seed=st.integers(0, 2**32 - 1),
    mask=st.sampled_from(["causal", "none"]),
)
def test_targets_hold_for_any_text(words, seed, mask):
    check_targets(planted_run(words, seed, mask), words)


def test_targets_hold_in_float32():
    words = "the cat sat on the mat because the cat was tired".split()  # noqa: SIM905
    check_targets(planted_run(words, dtype="float32"), words)


def test_bias_is_b_of_i_minus_j_and_zero_for_other_heads():
    trace = planted_run(["a", "b", "a", "c", "b"])
    T = 5
    b = trace.bias
    assert b.shape == (8, T, T) and not b.flags.writeable
    for i in range(T):
        for j in range(T):
            d = i - j
            assert b[0, i, j] == (10.0 if d == 1 else 0.0)  # previous
            assert b[1, i, j] == (10.0 if d == 0 else 0.0)  # self
            assert b[2, i, j] == 3.0 * d  # first
            assert b[3, i, j] == (-10.0 if d <= 0 else 0.0)  # same
    assert not b[4:].any()  # uniform, and the heads that are not planted


def test_planted_run_matches_the_loop_reference():
    config = AttentionConfig(source=Seeded(heads=4, d_model=16, plant=("1=previous", "2=same")))
    trace = run("the cat the cat sat", config)
    ref = multi_head(trace.x, trace.w_q, trace.w_k, trace.w_v, trace.w_o,
                     trace.allowed.tolist(), bias=trace.bias.tolist())  # fmt: skip
    np.testing.assert_allclose(trace.weights, ref["weights"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(trace.output, ref["output"], rtol=1e-12, atol=1e-12)


def test_heads_that_are_not_planted_do_not_change():
    text = "the cat sat on the mat"
    plain = attnviz.attend(text)
    planted = run(text, AttentionConfig(source=Seeded(plant=("2=same", "5=first"))))
    others = [0, 1, 3, 4, 6, 7]
    assert np.array_equal(planted.weights[others], plain.weights[others])
    assert np.array_equal(planted.w_v, plain.w_v) and np.array_equal(planted.w_o, plain.w_o)
    assert not np.array_equal(planted.weights[2], plain.weights[2])


def test_content_weights_of_planted_heads():
    trace = planted_run(VOCAB[:10])
    for h in (0, 1, 2, 4):  # position patterns and uniform: no content at all
        assert not trace.w_q[h].any()
    # same: K holds the d_k dimensions of X where the positional encoding stays nearest 0
    # (over 64 positions), and W_Q = 4 W_K
    k = trace.k(3)
    pe = sinusoidal(64, 512)
    chosen = [
        d for d in range(512) if any(np.array_equal(trace.x[:, d], k[:, c]) for c in range(64))
    ]
    assert len(chosen) == 64
    size = np.abs(pe).max(axis=0)  # the largest value of each dimension over 64 positions
    assert set(chosen) == set(np.argsort(size)[:64].tolist()) and size[chosen].max() < 0.065
    np.testing.assert_array_equal(trace.w_q[3], 4 * trace.w_k[3])


def test_strength_scales_the_bias_and_zero_makes_every_planted_head_uniform():
    words = ["a", "b", "a", "c"]
    one, two = planted_run(words), planted_run(words, strength=2.0)
    np.testing.assert_array_equal(two.bias, 2 * one.bias)
    np.testing.assert_array_equal(two.w_q[3], 2 * one.w_q[3])
    zero = planted_run(words, strength=0.0)
    uniform = np.where(zero.allowed, 1 / zero.allowed.sum(1, keepdims=True), 0)
    for h in range(5):
        np.testing.assert_allclose(zero.weights[h], uniform, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    strength=st.floats(0, MAX_PLANT_STRENGTH) | st.just(MAX_PLANT_STRENGTH),
    words=st.lists(st.sampled_from(VOCAB[:5]), min_size=1, max_size=40),
    dtype=st.sampled_from(["float64", "float32"]),
    scaled=st.booleans(),
    positions=st.sampled_from(["sinusoidal", "none"]),
)
def test_any_strength_allowed_gives_finite_weights_and_no_warning(
    strength, words, dtype, scaled, positions
):
    source = Seeded(heads=5, d_model=40, plant=ALL, plant_strength=strength, positions=positions)
    config = AttentionConfig(dtype=dtype, scaled=scaled, source=source)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow or 0/0 is a RuntimeWarning
        trace = run(" ".join(words), config)
        json.dumps(trace_json(trace), allow_nan=False)  # raises on NaN or Infinity
        stages = [trace.masked(h) for h in range(5)]
    for a in (*stages, trace.weights, trace.output):
        assert not np.isnan(a).any() and not np.isposinf(a).any()  # masked: -inf
    np.testing.assert_allclose(trace.weights.sum(-1), 1, rtol=1e-5)
    assert (trace.weights[:, ~trace.allowed] == 0).all()


def test_a_strength_past_the_largest_is_refused_naming_it():
    result = runner.invoke(app, ["heatmap", "the the the cat", "--plant", "0=same",
                                 "--plant-strength", "1e307", "--format", "json"])  # fmt: skip
    assert result.exit_code == 2 and result.stdout == ""
    assert "at most 1e+06" in result.stderr and "warning" not in result.stderr
    assert runner.invoke(app, ["heatmap", "the the the cat", "--plant", "0=same",
                               "--plant-strength", "1e6", "--format", "json"]).exit_code == 0  # fmt: skip


@pytest.mark.parametrize(
    "plant, strength, message",
    [
        (("0",), 1.0, "HEAD=PATTERN"),
        (("x=self",), 1.0, "HEAD=PATTERN"),
        (("0=diagonal",), 1.0, "unknown pattern 'diagonal'"),
        (("8=self",), 1.0, "no head 8"),
        (("1=self", "1=first"), 1.0, "planted twice"),
        ((), -1.0, "finite number >= 0"),
        ((), float("inf"), "finite number >= 0"),
        ((), 1e6 * (1 + 1e-15), "at most 1e\\+06"),
    ],
)
def test_bad_plants_are_config_errors(plant, strength, message):
    with pytest.raises(ConfigError, match=message):
        Seeded(plant=plant, plant_strength=strength)


def test_config_round_trip_and_normal_form():
    config = AttentionConfig(source=Seeded(plant=(" 3 = Same ", "0=previous"), plant_strength=2))
    assert config.source.plant == ("3=same", "0=previous")
    assert config.planted == {3: "same", 0: "previous"}
    assert AttentionConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_npz_and_json_carry_the_bias(tmp_path):
    trace = run(
        "the cat the", AttentionConfig(source=Seeded(heads=2, d_model=8, plant=("1=first",)))
    )
    attnviz.save(trace, tmp_path / "p.npz")
    back = attnviz.load(tmp_path / "p.npz")
    assert np.array_equal(back.bias, trace.bias) and back.config == trace.config
    assert np.array_equal(back.masked(1), trace.masked(1))
    attnviz.save(trace, tmp_path / "p.json")
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["bias"] == trace.bias.tolist() and data["config"]["plant"] == ["1=first"]
    plain = attnviz.attend("the cat", heads=2, d_model=8)
    attnviz.save(plain, tmp_path / "q.npz")
    assert "bias" not in np.load(tmp_path / "q.npz").files  # zero: not written
    assert not attnviz.load(tmp_path / "q.npz").bias.any()


def test_npz_of_a_planted_run_without_its_bias_is_refused(tmp_path):
    import zipfile

    trace = run("the cat", AttentionConfig(source=Seeded(heads=2, d_model=8, plant=("0=self",))))
    attnviz.save(trace, tmp_path / "p.npz")
    with (
        zipfile.ZipFile(tmp_path / "p.npz") as src,
        zipfile.ZipFile(tmp_path / "cut.npz", "w") as dst,
    ):
        for name in src.namelist():
            if name != "bias.npy":
                dst.writestr(name, src.read(name))
    with pytest.raises(ConfigError, match="missing bias"):
        attnviz.load(tmp_path / "cut.npz")


def test_steps_show_the_bias_as_stage_3b():
    from attnviz.views.steps import head_stages, worked_row

    trace = planted_run(["a", "b", "a", "c"])
    numbers = [st.number for st in head_stages(trace, 0)]
    assert numbers == ["1", "1", "1", "2", "3", "3b", "4", "5", "6", "7", "7"]
    stages = {st.number: st for st in head_stages(trace, 0)}
    np.testing.assert_array_equal(stages["3b"].values, trace.bias[0])
    masked = stages["4"].values
    expected = np.where(trace.allowed, stages["3"].values + trace.bias[0], -np.inf)
    np.testing.assert_array_equal(masked, expected)
    assert "3b" not in [st.number for st in head_stages(trace, 6)]  # not planted
    row = worked_row(trace, 0, 2)
    assert row.bias is not None and row.bias.tolist() == [0.0, 10.0, 0.0, 0.0]
    np.testing.assert_allclose(row.exp / row.exp.sum(), trace.weights[0, 2], atol=1e-15)
    assert worked_row(trace, 6, 2).bias is None


def test_cli_plants_titles_and_stats_confirm_them(tmp_path):
    text = "The cat sat on the mat because the cat was tired"
    plants = ["--plant", "0=previous", "--plant", "1=first", "--plant", "2=same"]
    result = runner.invoke(app, ["stats", text, *plants, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["config"]["plant"] == ["0=previous", "1=first", "2=same"]
    assert data["previous"][0] >= 0.9 and data["first"][1] >= 0.9 and data["same"][2] >= 0.9
    assert max(data["previous"][3:]) < 0.9 and max(data["first"][3:]) < 0.9
    table = runner.invoke(app, ["heatmap", text, *plants, "--head", "2"], env={"COLUMNS": "200"})
    assert "head 2 · same token" in table.stdout
    es = runner.invoke(app, ["heatmap", text, *plants, "--head", "0", "--lang", "es"],
                       env={"COLUMNS": "200"})  # fmt: skip
    assert "cabeza 0 · anterior" in es.stdout
    steps = runner.invoke(app, ["steps", text, *plants, "--head", "0", "--query", "3"],
                          env={"COLUMNS": "200"})  # fmt: skip
    assert "3b. position bias: biased = scaled + b(i − j)" in steps.stdout
    assert "+ bias" in steps.stdout
    out = tmp_path / "planted.png"
    result = runner.invoke(app, ["heatmap", text, *plants, "-o", str(out), "--head", "0,1,2,3"])
    assert result.exit_code == 0 and out.exists()


def test_planted_heatmap_figure_titles():
    from attnviz.render.figures import heatmap_figure

    trace = run(
        "the cat the", AttentionConfig(source=Seeded(heads=2, d_model=8, plant=("1=same",)))
    )
    fig = heatmap_figure(trace)
    titles = [ax.get_title() for ax in panels_of(fig)]
    assert titles == ["head 0", "head 1 · same token"]


def test_kept_weights_are_drawn_once_and_give_the_same_runs(monkeypatch):
    """A corpus's texts share one draw of the (planted) weights, in the run's dtype: each run
    equals a run of its own, bit for bit."""
    from attnviz import seeded
    from attnviz.tokens import tokenize

    config = AttentionConfig(dtype="float32", source=Seeded(heads=4, d_model=16,
                                                            plant=("1=previous", "2=same")))  # fmt: skip
    texts = ["the cat the cat sat", "a dog", "the mat the mat the mat"]
    alone = [seeded.run_seeded(tokenize(t, "word"), config) for t in texts]
    drawn, draw = [], seeded.seeded_weights
    monkeypatch.setattr(seeded, "seeded_weights", lambda *a: drawn.append(a) or draw(*a))
    kept: dict = {}
    for text, one in zip(texts, alone, strict=True):
        again = seeded.run_seeded(tokenize(text, "word"), config, kept=kept)
        for name in ("w_q", "w_k", "w_v", "w_o", "weights", "output"):
            assert getattr(again, name).dtype == np.float32
            np.testing.assert_array_equal(getattr(again, name), getattr(one, name))
    assert drawn == [(4, 16, 0)]
