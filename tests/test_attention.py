import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from reference import attention_head

from attnviz import scaled_dot_product_attention, softmax
from attnviz.masks import causal, none, prefix, window

MASKS = {
    "none": none,
    "causal": causal,
    "window=2": lambda T: window(T, 2),
    "prefix=2": lambda T: prefix(T, 2),
    "empty rows": lambda T: causal(T) & (np.arange(T) % 3 != 1)[:, None],
}


def random_qkv(H, T, Dh, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((H, T, Dh)).astype(dtype) * 2 for _ in range(3)]


@pytest.mark.parametrize("H, T, Dh", [(1, 1, 1), (2, 5, 3), (3, 9, 8), (1, 17, 4)])
@pytest.mark.parametrize("mask", list(MASKS))
@pytest.mark.parametrize("scaled", [True, False])
def test_kernel_matches_the_loop_reference_float64(H, T, Dh, mask, scaled):
    q, k, v = random_qkv(H, T, Dh, seed=H * 100 + T)
    allowed = MASKS[mask](T)
    weights, outputs = scaled_dot_product_attention(q, k, v, allowed, scaled=scaled)
    for h in range(H):
        _, _, ref_w, ref_o = attention_head(q[h], k[h], v[h], allowed.tolist(), scaled)
        np.testing.assert_allclose(weights[h], ref_w, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(outputs[h], ref_o, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mask", list(MASKS))
def test_kernel_matches_the_loop_reference_float32(mask):
    q, k, v = random_qkv(4, 11, 16, seed=7, dtype=np.float32)
    allowed = MASKS[mask](11)
    weights, outputs = scaled_dot_product_attention(q, k, v, allowed)
    assert weights.dtype == outputs.dtype == np.float32
    for h in range(4):
        _, _, ref_w, ref_o = attention_head(q[h], k[h], v[h], allowed.tolist())
        np.testing.assert_allclose(weights[h], ref_w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(outputs[h], ref_o, rtol=1e-5, atol=1e-5)


def test_one_head_without_the_head_axis():
    q, k, v = random_qkv(1, 6, 4, seed=1)
    w3, o3 = scaled_dot_product_attention(q, k, v, causal(6))
    w2, o2 = scaled_dot_product_attention(q[0], k[0], v[0], causal(6))
    np.testing.assert_array_equal(w2, w3[0])
    np.testing.assert_array_equal(o2, o3[0])


def test_no_allowed_key_gives_zero_weights_and_zero_output_not_nan():
    q, k, v = random_qkv(2, 4, 3, seed=2)
    allowed = causal(4)
    allowed[2] = False
    weights, outputs = scaled_dot_product_attention(q, k, v, allowed)
    assert not np.isnan(weights).any() and not np.isnan(outputs).any()
    assert (weights[:, 2] == 0).all() and (outputs[:, 2] == 0).all()


def test_huge_logits_do_not_overflow():
    q = np.full((1, 3, 2), 1e150)
    weights, _ = scaled_dot_product_attention(q, q, q, causal(3))
    assert np.isfinite(weights).all()
    np.testing.assert_allclose(weights.sum(-1), 1)


def test_shape_errors():
    q, k, v = random_qkv(1, 4, 3, seed=0)
    with pytest.raises(ValueError, match="allowed has shape"):
        scaled_dot_product_attention(q, k, v, causal(3))
    with pytest.raises(ValueError, match="do not fit"):
        scaled_dot_product_attention(q, k[..., :2], v)


finite = st.floats(-1e3, 1e3, allow_nan=False)


@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 3), st.integers(1, 8), st.integers(1, 4)),
        elements=finite,
    ),
    st.data(),
)
def test_rows_sum_to_one_and_hidden_weights_are_exactly_zero(q, data):
    H, T, Dh = q.shape
    k = data.draw(arrays(np.float64, (H, T, Dh), elements=finite))
    allowed = data.draw(arrays(np.bool_, (T, T)))
    weights, outputs = scaled_dot_product_attention(q, k, k, allowed)
    assert np.isfinite(weights).all() and np.isfinite(outputs).all()
    assert (weights[:, ~allowed] == 0).all()
    assert (weights >= 0).all()
    has_key = allowed.any(axis=1)
    np.testing.assert_allclose(weights.sum(-1)[:, has_key], 1, rtol=1e-12)
    assert (weights[:, ~has_key] == 0).all() and (outputs[:, ~has_key] == 0).all()


def test_softmax_of_a_row_of_minus_infinity_is_zero():
    row = np.array([[-np.inf, -np.inf], [0.0, -np.inf]])
    assert softmax(row).tolist() == [[0.0, 0.0], [1.0, 0.0]]


def test_softmax_of_scores_that_overflowed_is_nan_not_zero():
    """NaN (inf − inf) or +∞ in a row is a row the numbers lost, not a row without keys: it
    stays NaN for the checks after it to see, beside a row of −∞ that is all zeros."""
    rows = np.array([[np.nan, 0.0], [np.inf, 0.0], [-np.inf, -np.inf], [0.0, 0.0]])
    with np.errstate(invalid="ignore"):
        w = softmax(rows)
    assert np.isnan(w[:2]).all() and w[2:].tolist() == [[0.0, 0.0], [0.5, 0.5]]


def straightforward(q, k, v, allowed, scaled=True, bias=None):
    """The textbook NumPy version the blocked kernel must equal."""
    s = q @ k.swapaxes(-2, -1)
    if scaled:
        s = s * s.dtype.type(1 / np.sqrt(q.shape[-1]))
    if bias is not None:
        s = s + bias
    s = np.where(allowed, s, -np.inf)
    top = s.max(-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    e = np.exp(s - top)
    total = e.sum(-1, keepdims=True)
    w = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return w, w @ v


BIG_MASKS = {
    **MASKS,
    "window=64": lambda T: window(T, 64),
    "prefix=300": lambda T: prefix(T, 300),
    "padding": lambda T: np.outer(np.arange(T) < T - 100, np.arange(T) < T - 100),
    "random": lambda T: np.random.default_rng(5).random((T, T)) < 0.3,
    "none hidden": lambda T: np.zeros((T, T), dtype=bool),
}


@pytest.mark.parametrize("mask", list(BIG_MASKS))
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_blocked_kernel_equals_the_straightforward_version(mask, dtype, tol):
    from attnviz import attention

    rng = np.random.default_rng(3)  # unit variance, as the benchmark's inputs
    q, k, v = (rng.standard_normal((2, 777, 16)).astype(dtype) for _ in range(3))
    assert 2 * 777 * 777 >= attention._BLOCKED_FROM  # this size takes the blocked path
    allowed = BIG_MASKS[mask](777)
    for scaled in (True, False):
        w, o = scaled_dot_product_attention(q, k, v, allowed, scaled=scaled)
        ref_w, ref_o = straightforward(q, k, v, allowed, scaled)
        assert w.dtype == o.dtype == dtype
        np.testing.assert_allclose(w, ref_w, rtol=tol, atol=tol)
        np.testing.assert_allclose(o, ref_o, rtol=tol, atol=tol * 10)
        assert (w[:, ~allowed] == 0).all()
        empty = ~allowed.any(axis=1)
        assert (w[:, empty] == 0).all() and (o[:, empty] == 0).all()


@pytest.mark.parametrize("mask", ["causal", "none", "window=64"])
def test_bias_is_added_before_the_mask_in_both_kernels(mask):
    """A bias (H, T, T), also a strided read-only view: the blocked kernel equals the textbook
    version, and a small case equals the loop reference."""
    rng = np.random.default_rng(9)
    q, k, v = (rng.standard_normal((2, 777, 16)) for _ in range(3))
    table = rng.standard_normal((2, 2 * 777 - 1)) * 3
    bias = np.lib.stride_tricks.sliding_window_view(table[:, ::-1], 777, axis=1)[:, ::-1]
    allowed = BIG_MASKS[mask](777)
    w, o = scaled_dot_product_attention(q, k, v, allowed, bias=bias)
    ref_w, ref_o = straightforward(q, k, v, allowed, bias=np.array(bias))
    np.testing.assert_allclose(w, ref_w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(o, ref_o, rtol=1e-12, atol=1e-11)
    assert not np.array_equal(w, straightforward(q, k, v, allowed)[0])  # the bias did count
    small = MASKS[mask](9) if mask in MASKS else window(9, 3)
    w, o = scaled_dot_product_attention(q[:, :9], k[:, :9], v[:, :9], small, bias=bias[:, :9, :9])
    for h in range(2):
        _, _, ref_w, ref_o = attention_head(q[h, :9], k[h, :9], v[h, :9], small.tolist(),
                                            bias=bias[h, :9, :9].tolist())  # fmt: skip
        np.testing.assert_allclose(w[h], ref_w, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(o[h], ref_o, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="bias has shape"):
        scaled_dot_product_attention(q, k, v, allowed, bias=bias[:, :5])


def test_blocked_kernel_with_one_head_splits_the_blocks():
    q, k, v = random_qkv(1, 1100, 8, seed=4)
    w, o = scaled_dot_product_attention(q[0], k[0], v[0], causal(1100))
    ref_w, ref_o = straightforward(q[0], k[0], v[0], causal(1100))
    np.testing.assert_allclose(w, ref_w, atol=1e-12)
    np.testing.assert_allclose(o, ref_o, atol=1e-11)


def packed(lengths, inner=none):
    """A mask of texts packed into one run: each text sees only itself (``inner`` inside)."""
    T, start = sum(lengths), 0
    allowed = np.zeros((T, T), dtype=bool)
    for n in lengths:
        allowed[start : start + n, start : start + n] = inner(n)
        start += n
    return allowed


@pytest.mark.parametrize("inner", [none, causal])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_texts_packed_into_one_run_equal_the_loop_reference(inner, dtype, tol):
    """A mask that falls apart into squares is computed a square at a time (joined up to 32
    rows): the loop reference's numbers, every other weight exactly 0, a bias kept, a row
    with no key all zero, an empty text; and a text that is a square of its own has the
    numbers of its own run."""
    lengths = [5, 17, 1, 40, 33, 3, 0, 12]
    T, H = sum(lengths), 3
    q, k, v = random_qkv(H, T, 6, seed=11, dtype=dtype)
    allowed = packed(lengths, inner)
    allowed[20, :] = False  # a row that sees nothing
    bias = np.random.default_rng(3).standard_normal((H, T, T)).astype(dtype)
    w, o = scaled_dot_product_attention(q, k, v, allowed, bias=bias)
    assert w.dtype == o.dtype == dtype and w.shape == (H, T, T) and o.shape == (H, T, 6)
    for h in range(H):
        _, _, ref_w, ref_o = attention_head(q[h], k[h], v[h], allowed.tolist(),
                                            bias=bias[h].tolist())  # fmt: skip
        np.testing.assert_allclose(w[h], ref_w, rtol=tol, atol=tol)
        np.testing.assert_allclose(o[h], ref_o, rtol=tol, atol=tol)
    assert (w[:, ~allowed] == 0).all() and (w[:, 20] == 0).all() and (o[:, 20] == 0).all()
    a, b = 63, 96  # the text of 33 tokens: a square of its own
    alone = scaled_dot_product_attention(q[:, a:b], k[:, a:b], v[:, a:b], allowed[a:b, a:b],
                                         bias=bias[:, a:b, a:b])  # fmt: skip
    np.testing.assert_array_equal(w[:, a:b, a:b], alone[0])
    np.testing.assert_array_equal(o[:, a:b], alone[1])


def test_where_a_mask_falls_apart():
    from attnviz.attention import _segments

    for whole in (none(50), causal(50), window(50, 3), prefix(50, 4)):
        assert _segments(whole) == [(0, 50)]
    assert _segments(packed([5, 17, 1, 40, 33, 3, 0, 12])) == [(0, 63), (63, 96), (96, 111)]
    assert _segments(window(70, 1)) == [(0, 32), (32, 64), (64, 70)]  # each row alone
    crossing = packed([40, 40])
    crossing[50, 10] = True  # a row of the second text sees a key of the first
    assert _segments(crossing) == [(0, 80)]
