"""The seeded model: token vectors, positional encoding and the attention weights.

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

import numpy as np

_TOKEN_STREAM = 0
_WEIGHT_STREAM = 1


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _text_hash(text: str) -> int:
    """A stable 128-bit hash of a token's text (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:16], "little")


def token_vectors(texts: Sequence[str], d_model: int, seed: int) -> np.ndarray:
    """One N(0, 1) vector per token; the same text always gets the same vector.

    Returns (T, D) float64.
    """
    cache: dict[str, np.ndarray] = {}
    for text in texts:
        if text not in cache:
            cache[text] = _rng(seed, _TOKEN_STREAM, _text_hash(text)).standard_normal(d_model)
    return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, d_model))


def sinusoidal_positions(T: int, d_model: int) -> np.ndarray:
    """The positional encoding of Vaswani et al. (2017), §3.5.

    PE[pos, 2i] = sin(pos / 10000^(2i/D)), PE[pos, 2i+1] = cos(pos / 10000^(2i/D)).
    Returns (T, D) float64.
    """
    pos = np.arange(T, dtype=np.float64)[:, None]  # (T,1)
    two_i = np.arange(0, d_model, 2, dtype=np.float64)  # (ceil(D/2),)
    angle = pos / 10000.0 ** (two_i / d_model)  # (T,1) / (D/2,) -> (T,D/2)
    pe = np.empty((T, d_model))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : d_model // 2])
    return pe


def embed(texts: Sequence[str], d_model: int, seed: int, positions: str) -> np.ndarray:
    """Token vectors plus (with positions="sinusoidal") the positional encoding. (T, D) float64."""
    x = token_vectors(texts, d_model, seed)
    if positions == "sinusoidal":
        x += sinusoidal_positions(len(texts), d_model)
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
    w_q, w_k, w_v = (
        _rng(seed, _WEIGHT_STREAM, i).standard_normal((heads, d_model, d_k)) / np.sqrt(d_model)
        for i in range(3)
    )
    w_o = _rng(seed, _WEIGHT_STREAM, 3).standard_normal((heads * d_k, d_model))
    return Weights(w_q, w_k, w_v, w_o / np.sqrt(heads * d_k))
