import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import multi_head, sinusoidal

from attnviz import AttentionConfig, ConfigError, Seeded, attend
from attnviz.seeded import token_vectors

SENTENCE = "The cat sat on the mat"


def check_against_reference(trace, rtol, atol):
    ref = multi_head(
        trace.x,
        trace.w_q,
        trace.w_k,
        trace.w_v,
        trace.w_o,
        trace.allowed.tolist(),
        trace.config.scaled,
    )
    for name in ("weights", "head_outputs", "output"):
        np.testing.assert_allclose(
            getattr(trace, name), ref[name], rtol=rtol, atol=atol, err_msg=name
        )
    np.testing.assert_allclose(trace.concat(), ref["concat"], rtol=rtol, atol=atol)
    for h in range(trace.heads):
        for step in ("q", "k", "v", "scores", "scaled"):
            got = getattr(trace, step)(h)
            np.testing.assert_allclose(
                got, ref[step][h], rtol=rtol, atol=atol, err_msg=f"{step}({h})"
            )
        masked = trace.masked(h)
        assert (masked[~trace.allowed] == -np.inf).all()
        np.testing.assert_allclose(
            masked[trace.allowed], ref["scaled"][h][trace.allowed], rtol=rtol, atol=atol
        )


@pytest.mark.parametrize(
    "options",
    [
        {"heads": 2, "d_model": 8},
        {"heads": 3, "d_model": 12, "mask": "none", "positions": "none"},
        {"heads": 1, "d_model": 5, "mask": ["causal", "window=2"], "bos": True},
        {"heads": 4, "d_model": 16, "mask": ["causal", "padding"], "pad_to": 9, "scaled": False},
        {"heads": 2, "d_model": 64, "mask": "prefix=3", "seed": 12345},
    ],
)
def test_every_step_matches_the_loop_reference(options):
    check_against_reference(attend(SENTENCE, **options), rtol=1e-12, atol=1e-12)


def test_default_model_matches_the_loop_reference():
    check_against_reference(attend("The cat sat"), rtol=1e-12, atol=1e-12)


def test_float32_matches_the_loop_reference():
    trace = attend(SENTENCE, heads=4, d_model=32, dtype="float32")
    for name in ("x", "w_q", "weights", "head_outputs", "output"):
        assert getattr(trace, name).dtype == np.float32
    check_against_reference(trace, rtol=1e-4, atol=1e-5)


def test_x_is_token_vectors_plus_positions():
    trace = attend(SENTENCE, heads=2, d_model=10)
    expected = token_vectors(trace.texts, 10, 0) + sinusoidal(6, 10)
    np.testing.assert_allclose(trace.x, expected, rtol=0, atol=1e-15)


def test_trace_arrays_are_read_only():
    trace = attend(SENTENCE, heads=2, d_model=8)
    with pytest.raises(ValueError):
        trace.weights[0, 0, 0] = 1.0


def test_unscaled_scaled_is_the_scores():
    trace = attend(SENTENCE, heads=2, d_model=8, scaled=False)
    np.testing.assert_array_equal(trace.scaled(1), trace.scores(1))


def test_config_round_trips_through_a_dict():
    c = AttentionConfig(mask=("causal", "window=3"), source=Seeded(heads=2, d_model=8, pad_to=12))
    assert AttentionConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ConfigError, match="unknown config keys: colour"):
        AttentionConfig.from_dict({**c.to_dict(), "colour": 1})


words = st.lists(
    st.sampled_from(
        [
            "the",
            "cat",
            "sat",
            "on",
            "mat",
            "a",
            "dog",
            "ran",
            "¿",
            "qué",
            "es",
            "la",
            "atención",
            "?",
            ",",
        ]
    ),
    min_size=1,
    max_size=10,
)
masks = st.sampled_from(
    ["none", "causal", "window=1", "window=3", "prefix=2", ["causal", "window=2"]]
)
shapes = st.tuples(st.integers(1, 4), st.integers(1, 6)).map(lambda hd: (hd[0], hd[0] * hd[1]))


@given(words, st.integers(0, 2**32), shapes, masks, st.booleans())
def test_properties_of_every_run(ws, seed, shape, mask, bos):
    heads, d_model = shape
    trace = attend(" ".join(ws), heads=heads, d_model=d_model, seed=seed, mask=mask, bos=bos)
    w, allowed = trace.weights, trace.allowed
    has_key = allowed.any(axis=1)
    np.testing.assert_allclose(w.sum(-1)[:, has_key], 1, rtol=1e-12)
    assert (w[:, ~allowed] == 0).all()
    assert (w[:, ~has_key] == 0).all()
    assert np.isfinite(trace.output).all()
    again = attend(" ".join(ws), heads=heads, d_model=d_model, seed=seed, mask=mask, bos=bos)
    for name in ("x", "w_q", "w_k", "w_v", "w_o", "weights", "head_outputs", "output"):
        np.testing.assert_array_equal(getattr(trace, name), getattr(again, name))


@given(words, words, st.integers(0, 1000))
def test_causal_output_of_a_token_ignores_later_tokens(prefix, suffix, seed):
    a = attend(" ".join(prefix + suffix), heads=2, d_model=8, seed=seed)
    b = attend(" ".join([*prefix, "zebra", *suffix[::-1]]), heads=2, d_model=8, seed=seed)
    n = len(a.tokens) - len(suffix)  # tokens of the shared prefix
    np.testing.assert_allclose(a.output[:n], b.output[:n], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a.weights[:, :n, :n], b.weights[:, :n, :n], rtol=1e-12, atol=1e-12)


@given(words, st.randoms(use_true_random=False), st.integers(0, 1000))
def test_without_positions_or_mask_permuting_tokens_permutes_outputs(ws, rnd, seed):
    order = list(range(len(ws)))
    rnd.shuffle(order)
    options = {"heads": 2, "d_model": 8, "seed": seed, "mask": "none", "positions": "none"}
    a = attend(" ".join(ws), **options)
    b = attend(" ".join(ws[i] for i in order), **options)
    np.testing.assert_allclose(b.output, a.output[order], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.weights, a.weights[:, order][:, :, order], rtol=1e-12, atol=1e-12)
