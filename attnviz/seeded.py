"""The seeded model: token vectors, positional encoding, the attention weights, and its run.

Shapes: T tokens, H heads, D = d_model, Dh = D / H (d_k in the paper).

All randomness comes from ``np.random.SeedSequence(seed, spawn_key=...)``, one stream per
use, so that each tensor depends only on the seed (and, for token vectors, on the token's
text), never on what else was drawn before it:

    spawn_key (0, h)       the vector of a token whose text has the 128-bit SHA-256 prefix h
    spawn_key (1, 0..3)    W_Q, W_K, W_V, W_O
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import attention
from .masks import build_mask
from .tokens import PAD, Token
from .trace import AttentionConfig, Seeded, Trace

_TOKEN_STREAM = 0
_WEIGHT_STREAM = 1


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _text_hash(text: str) -> int:
    """A stable 128-bit hash of a token's text (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:16], "little")


def token_vectors(texts: Sequence[str], d_model: int, seed: int,
                  cache: dict[str, np.ndarray] | None = None) -> np.ndarray:  # fmt: skip
    """One N(0, 1) vector per token; the same text always gets the same vector (drawn once
    for the ``cache``, kept from call to call when given).

    Returns (T, D) float64.
    """
    cache = {} if cache is None else cache
    for text in texts:
        if text not in cache:
            cache[text] = _rng(seed, _TOKEN_STREAM, _text_hash(text)).standard_normal(d_model)
    return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, d_model))


def sinusoidal_positions(T: int, d_model: int, start: int = 0) -> np.ndarray:
    """The positional encoding of Vaswani et al. (2017), §3.5, of positions start..start+T−1.

    PE[pos, 2i] = sin(pos / 10000^(2i/D)), PE[pos, 2i+1] = cos(pos / 10000^(2i/D)).
    Returns (T, D) float64.
    """
    pos = np.arange(start, start + T, dtype=np.float64)[:, None]  # (T,1)
    two_i = np.arange(0, d_model, 2, dtype=np.float64)  # (ceil(D/2),)
    angle = pos / 10000.0 ** (two_i / d_model)  # (T,1) / (D/2,) -> (T,D/2)
    pe = np.empty((T, d_model))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : d_model // 2])
    return pe


def embed(texts: Sequence[str], d_model: int, seed: int, positions: str, start: int = 0,
          cache: dict[str, np.ndarray] | None = None) -> np.ndarray:  # fmt: skip
    """Token vectors plus (with positions="sinusoidal") the positional encoding, the first
    token at position ``start`` (``cache``: token vectors kept from call to call).
    (T, D) float64."""
    x = token_vectors(texts, d_model, seed, cache)
    if positions == "sinusoidal":
        x += sinusoidal_positions(len(texts), d_model, start)
    return x


@dataclass(frozen=True, eq=False)
class Weights:
    """The projections of one multi-head attention layer.

    w_q, w_k, w_v: (H, D, Dh); w_o: (H*Dh, D).
    """

    w_q: np.ndarray
    w_k: np.ndarray
    w_v: np.ndarray
    w_o: np.ndarray


def seeded_weights(heads: int, d_model: int, seed: int) -> Weights:
    """W_Q, W_K, W_V with entries N(0, 1/D) and W_O with entries N(0, 1/(H*Dh)), all float64."""
    d_k = d_model // heads

    def normal(i: int, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        w = _rng(seed, _WEIGHT_STREAM, i).standard_normal(shape)
        w /= np.sqrt(fan_in)  # in place: the same numbers as w / √fan_in, no copy
        return w

    w_q, w_k, w_v = (normal(i, (heads, d_model, d_k), d_model) for i in range(3))
    return Weights(w_q, w_k, w_v, normal(3, (heads * d_k, d_model), heads * d_k))


# --- planted heads ----------------------------------------------------------------------------
#
# A planted head has a pattern known in advance, made with the two mechanisms trained models
# use. Content: the head's W_Q and W_K. Position: a relative-position bias b(i − j) added to
# the head's scaled scores before the mask (Shaw et al., 2018; T5; ALiBi). Token vectors are
# N(0, 1) in every dimension, so no linear map pulls the position out of x cleanly: the
# position patterns switch content off (W_Q = 0) and use the bias alone.
#
#   uniform   W_Q = 0, no bias: every allowed key scores 0, the same weight on each
#   self      W_Q = 0, b(0) = 10: weight e^10 / (e^10 + n − 1) >= 0.997 on itself, n <= 64 keys
#   previous  W_Q = 0, b(1) = 10: the same on the token before; the first query keeps uniform
#   first     W_Q = 0, b(d) = 3d: a query's farthest key to the left, the first token, gets
#             at least 1 − e^−3 = 0.95 of the weight, whatever the length
#   same      W_K reads the d_k dimensions where the positional encoding stays nearest 0,
#             W_Q = 4·W_K, so x_i·W_Q·W_Kᵀ·x_j / √d_k is about 4√d_k (32) for the same token
#             and N(0, 4²) for another; b(d) = −10 for d <= 0 turns the query itself and
#             later keys away, leaving the earlier occurrences
#
# --plant-strength multiplies every one of these numbers (W_Q and the bias).

_PEAK = 10.0  # self, previous: the bias on the target
_SLOPE = 3.0  # first: the bias per token of distance
_MATCH = 4.0  # same: W_Q = _MATCH · W_K
_AWAY = -10.0  # same: the bias on the query itself and on later keys


def slow_dimensions(d_model: int, count: int) -> np.ndarray:
    """The ``count`` dimensions where the sinusoidal encoding stays nearest 0, so that K holds
    the token and hardly its position: the sines of the lowest frequencies (sin(pos·ω) <= 0.065
    for 64 positions at d_model 512, d_k 64), then, when d_k > d_model / 2, the cosines of the
    lowest frequencies. Returns (count,) int."""
    sines = np.arange(0, d_model, 2)[::-1]
    cosines = np.arange(1, d_model, 2)[::-1]
    return np.concatenate([sines, cosines])[:count]


def planted_weights(w: Weights, planted: dict[int, str], strength: float) -> Weights:
    """``w`` with the W_Q (and, for ``same``, W_K) of each planted head replaced."""
    if not planted:
        return w
    w_q, w_k = w.w_q.copy(), w.w_k.copy()
    D, Dh = w_q.shape[1:]
    for h, pattern in planted.items():
        w_q[h] = 0.0
        if pattern == "same":
            w_k[h] = 0.0
            w_k[h, slow_dimensions(D, Dh), np.arange(Dh)] = 1.0  # K = the slow dimensions of X
            w_q[h] = strength * _MATCH * w_k[h]
    return Weights(w_q, w_k, w.w_v, w.w_o)


def relative_bias(pattern: str, T: int, strength: float) -> np.ndarray:
    """b(d) of one head for d = i − j from −(T − 1) to T − 1: (2T − 1,) float64."""
    d = np.arange(-(T - 1), T, dtype=np.float64)
    if pattern == "self":
        return np.where(d == 0, strength * _PEAK, 0.0)
    if pattern == "previous":
        return np.where(d == 1, strength * _PEAK, 0.0)
    if pattern == "first":
        return strength * _SLOPE * d
    if pattern == "same":
        return np.where(d <= 0, strength * _AWAY, 0.0)
    return np.zeros_like(d)


def position_bias(
    planted: dict[int, str], heads: int, T: int, strength: float, dtype: str = "float64"
) -> np.ndarray:
    """The bias of every head, B[h, i, j] = b_h(i − j): (H, T, T), read-only.

    A view of an (H, 2T − 1) table of b(d), not T x T numbers per head.
    """
    if T == 0:
        return np.zeros((heads, 0, 0), dtype=dtype)
    table = np.zeros((heads, 2 * T - 1), dtype=dtype)  # table[h, d + T − 1] = b_h(d)
    for h, pattern in planted.items():
        table[h] = relative_bias(pattern, T, strength)
    # window s of the reversed table is b(T − 1 − s − j) over j: window T − 1 − i is row i
    windows = np.lib.stride_tricks.sliding_window_view(table[:, ::-1], T, axis=1)  # (H,T,T)
    return windows[:, ::-1, :]


def _weights(c: Seeded, dtype: np.dtype) -> tuple[np.ndarray, ...]:
    """W_Q, W_K, W_V and W_O of ``c`` (its planted heads in place), in ``dtype``."""
    w = planted_weights(seeded_weights(c.heads, c.d_model, c.seed), c.planted, c.plant_strength)
    return tuple(a.astype(dtype, copy=False) for a in (w.w_q, w.w_k, w.w_v, w.w_o))


def run_seeded(tokens: Sequence[Token], config: AttentionConfig, truncated: int = 0,
               kept: dict[str, Any] | None = None) -> Trace:  # fmt: skip
    """The seeded model's attention over ``tokens``, as ``config`` says: the Trace
    (``truncated``: how many tokens were cut from the end of the text). ``kept`` holds the
    weights from one run to the next of the same config (drawn once for a corpus)."""
    c = config.source
    assert isinstance(c, Seeded)
    texts = [t.text for t in tokens]
    dtype = np.dtype(config.dtype)
    x = embed(texts, c.d_model, c.seed, c.positions).astype(dtype)
    kept = {} if kept is None else kept
    if "seeded" not in kept:
        kept["seeded"] = _weights(c, dtype)
    w_q, w_k, w_v, w_o = kept["seeded"]
    allowed = build_mask(config.mask, np.array([t.special and t.text == PAD for t in tokens]))
    bias = position_bias(c.planted, c.heads, len(tokens), c.plant_strength, config.dtype)
    q, k, v = x @ w_q, x @ w_k, x @ w_v  # (T,D) @ (H,D,Dh) -> (H,T,Dh)
    weights, head_outputs = attention.scaled_dot_product_attention(
        q, k, v, allowed, scaled=config.scaled, bias=bias if c.plant else None
    )
    return Trace(
        tokens=tuple(tokens),
        config=config,
        x=x,
        w_q=w_q,
        w_k=w_k,
        w_v=w_v,
        w_o=w_o,
        allowed=allowed,
        weights=weights,
        head_outputs=head_outputs,
        output=attention.concat_heads(head_outputs) @ w_o,  # (T,H*Dh) @ (H*Dh,D) -> (T,D)
        truncated=truncated,
        bias=bias,
    )
