import numpy as np
import pytest
from reference import sinusoidal

from attnviz import ConfigError, attend
from attnviz.seeded import embed, seeded_weights, sinusoidal_positions, token_vectors


def test_same_token_same_vector_in_any_text_and_position():
    a = token_vectors(["the", "cat", "the"], 16, seed=3)
    b = token_vectors(["a", "dog", "saw", "the"], 16, seed=3)
    np.testing.assert_array_equal(a[0], a[2])
    np.testing.assert_array_equal(a[0], b[3])
    assert not np.array_equal(a[0], a[1])


def test_token_vectors_depend_on_the_seed():
    assert not np.array_equal(token_vectors(["cat"], 8, 0), token_vectors(["cat"], 8, 1))


def test_token_vectors_are_standard_normal():
    v = token_vectors([f"w{i}" for i in range(200)], 64, seed=0)
    assert abs(v.mean()) < 0.02 and abs(v.std() - 1) < 0.02


@pytest.mark.parametrize("T, D", [(1, 2), (7, 10), (12, 5), (30, 64)])
def test_sinusoidal_positions_match_the_formula(T, D):
    np.testing.assert_allclose(sinusoidal_positions(T, D), sinusoidal(T, D), rtol=0, atol=1e-12)


def test_positions_none_is_just_the_token_vectors():
    texts = ["a", "b", "a"]
    np.testing.assert_array_equal(embed(texts, 8, 0, "none"), token_vectors(texts, 8, 0))
    np.testing.assert_allclose(
        embed(texts, 8, 0, "sinusoidal"), token_vectors(texts, 8, 0) + sinusoidal(3, 8), atol=1e-15
    )


def test_weight_shapes_and_scales():
    w = seeded_weights(heads=8, d_model=512, seed=0)
    assert w.w_q.shape == w.w_k.shape == w.w_v.shape == (8, 512, 64)
    assert w.w_o.shape == (512, 512)
    for a in (w.w_q, w.w_k, w.w_v, w.w_o):  # N(0, 1/512): std 0.0442
        assert abs(a.std() * np.sqrt(512) - 1) < 0.01 and abs(a.mean()) < 1e-3
    w2 = seeded_weights(heads=4, d_model=32, seed=0)
    assert abs(w2.w_o.std() * np.sqrt(32) - 1) < 0.1


def test_each_tensor_has_its_own_stream():
    w = seeded_weights(heads=2, d_model=8, seed=0)
    assert not np.array_equal(w.w_q, w.w_k) and not np.array_equal(w.w_k, w.w_v)
    again = seeded_weights(heads=2, d_model=8, seed=0)
    for name in ("w_q", "w_k", "w_v", "w_o"):
        np.testing.assert_array_equal(getattr(w, name), getattr(again, name))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"heads": 3}, "not a multiple of heads"),
        ({"heads": 0}, "`heads` must be"),
        ({"heads": -2}, "`heads` must be"),
        ({"d_model": 0}, "`d_model` must be"),
        ({"seed": -1}, "`seed` must be"),
        ({"seed": 1.5}, "`seed` must be"),
        ({"dtype": "float16"}, "unknown dtype"),
        ({"positions": "learned"}, "unknown positions"),
        ({"pad_to": 0}, "`pad_to` must be"),
    ],
)
def test_bad_options_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        attend("a b", **options)


def test_defaults_follow_the_paper():
    trace = attend("The cat sat on the mat")
    c = trace.config.source
    assert (c.heads, c.d_model, trace.d_k, c.seed) == (8, 512, 64, 0)
    assert trace.config.mask == ("causal",) and (trace.heads, trace.d_model) == (8, 512)
    assert trace.x.dtype == np.float64
