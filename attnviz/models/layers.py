"""The pieces every family's forward pass is made of: norms, activations, one layer's
multi-head attention through attnviz's kernel, and what a layer records.

Shapes: T tokens, H heads (G of them for keys and values), D hidden size, Dh one head's width
(D / H unless config.json says otherwise).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import stream
from ..attention import apply_mask, concat_heads, scaled_dot_product_attention, scores, softmax
from ..errors import ConfigError
from .files import TensorSource


@dataclass(frozen=True)
class Params:
    """What a forward pass reads: the tensors (cast to ``dtype``), config.json, and the
    numbers of heads, key/value heads and layers, and a head's width. With ``kept`` (a
    dict), whole tensors read once are kept there: a generation passes through every layer
    at every step, and reading them again (from 16 bits) cost four times the step itself."""

    tensors: TensorSource
    config: dict[str, Any]
    dtype: str
    heads: int
    layers: int
    kv_heads: int
    head_dim: int
    kept: dict[str, Any] | None = None

    def __call__(self, name: str, rows: list[int] | None = None) -> np.ndarray:
        if self.kept is None or rows is not None:
            return self.tensors(name, rows).astype(self.dtype, copy=False)
        if name not in self.kept:
            self.kept[name] = self.tensors(name).astype(self.dtype, copy=False)
        return self.kept[name]

    def once(self, layer: str, make: Callable[[], LayerWeights]) -> LayerWeights:
        """Layer ``layer``'s attention weights in the Trace's shapes, made once when tensors
        are kept (kept under the layer's prefix, "layers.3.", which names no tensor)."""
        if self.kept is None:
            return make()
        if layer not in self.kept:
            before = set(self.kept)
            self.kept[layer] = make()
            for name in set(self.kept) - before - {layer}:  # read to make it: not kept twice
                del self.kept[name]
        weights: LayerWeights = self.kept[layer]
        return weights

    def maybe(self, name: str) -> np.ndarray | None:
        """The tensor ``name``, or None when the checkpoint has none (a bias it goes without);
        with ``kept``, its absence is kept too (asked at every step of a generation)."""
        if self.kept is not None and name in self.kept:
            found: np.ndarray | None = self.kept[name]
            return found
        found = self(name) if self.tensors.has(name) else None
        if self.kept is not None:
            self.kept[name] = found
        return found

    def number(self, key: str, default: float) -> float:
        """A positive number of config.json (``default`` when absent)."""
        value = self.config.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ConfigError(f"`model`: config.json's {key!r} must be a number > 0, not {value!r}")
        return float(value)

    def activation(self, key: str, default: str) -> Callable[[np.ndarray], np.ndarray]:
        """The activation config.json names under ``key``."""
        name = self.config.get(key, default)
        if name not in ACTIVATIONS:
            raise ConfigError(
                f"`model`: activation {name!r} is not supported ({', '.join(ACTIVATIONS)})"
            )
        return ACTIVATIONS[name]


def linear(p: Params, name: str, x: np.ndarray) -> np.ndarray:
    """x @ Wᵀ (+ b when the checkpoint has one) of the nn.Linear ``name``."""
    y = x @ p(name + ".weight").T
    bias = p.maybe(name + ".bias")
    return y if bias is None else y + bias


def projections(p: Params, b: str, names: tuple[str, str, str, str]) -> LayerWeights:
    """The attention weights under prefix ``b``, its Q, K, V and output projections named
    ``names`` (nn.Linear stores (out, in): transposed here; a bias missing is zero); made once
    when tensors are kept (``Params.once``)."""

    def made() -> LayerWeights:
        parts = []
        for name in names:
            w = p(f"{b}{name}.weight").T
            bias = p.maybe(f"{b}{name}.bias")
            parts.append((w, np.zeros(w.shape[1], w.dtype) if bias is None else bias))
        return LayerWeights.from_projections(parts[:3], p.heads, *parts[3], p.kv_heads)

    return p.once(b, made)


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """(x − mean) / √(var + eps) · weight + bias over the last axis (biased variance)."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float, plus_one: bool = False) -> np.ndarray:
    """x / √(mean(x²) + eps) · weight over the last axis; · (1 + weight) in Gemma's form."""
    ms = np.add.reduce(x * x, axis=-1, keepdims=True) / x.dtype.type(x.shape[-1])  # as mean
    y = x / np.sqrt(ms + x.dtype.type(eps))
    return y * (1 + weight) if plus_one else y * weight


ERF_WIDTH, ERF_DEGREE, ERF_END = 1 / 32, 10, 6.0  # erf(x) rounds to ±1 from |x| = 6 on


@functools.cache
def _erf_taylor() -> np.ndarray:
    """(pieces, degree + 1): erf's Taylor coefficients, highest first, about the centre of each
    [k·w, (k+1)·w) (the first about 0, keeping erf(x)/x exact near 0): erf(c), then
    erf⁽ⁿ⁾(c)/n! = (2/√π)·e^(−c²)·(−1)ⁿ⁻¹·Hₙ₋₁(c)/n! with Hermite's Hₙ₊₁ = 2c·Hₙ − 2n·Hₙ₋₁."""
    rows = []
    for k in range(round(ERF_END / ERF_WIDTH)):
        c = 0.0 if k == 0 else (k + 0.5) * ERF_WIDTH
        h, previous, scale = 1.0, 0.0, 2 / math.sqrt(math.pi) * math.exp(-c * c)
        row = [math.erf(c)]
        for n in range(1, ERF_DEGREE + 1):  # h is H_{n-1}(c)
            row.append(scale * (-1) ** (n - 1) * h / math.factorial(n))
            h, previous = 2 * c * h - 2 * (n - 1) * previous, h
        rows.append(row[::-1])
    return np.array(rows)


# Abramowitz and Stegun 7.1.26, the formula of PyTorch's vectorised float32 erf: for x ≥ 0,
# erf(x) = 1 − t·(a₁ + a₂t + a₃t² + a₄t³ + a₅t⁴)·e^(−x²), t = 1 / (1 + p·x), |error| ≤ 1.5e-7
ERF32_P, ERF32_A = 0.3275911, (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
ERF32_CHUNK = 1 << 14  # values at a time: the temporaries stay in a core's cache


def _erf32(x: np.ndarray) -> np.ndarray:
    """erf of float32 values in float32, within 3e-7 of the exact value (the tests check):
    Abramowitz and Stegun's 7.1.26, as PyTorch's CPU kernels take it, but evaluated in
    float64 (in float32, 1 − … loses the digits of small x); ERF32_CHUNK values at a time.
    A Chebyshev series of degree 18 did as well at twice the cost."""
    if x.size > ERF32_CHUNK:
        flat, out = x.reshape(-1), np.empty(x.size, np.float32)
        for s in range(0, x.size, ERF32_CHUNK):
            out[s : s + ERF32_CHUNK] = _erf32(flat[s : s + ERF32_CHUNK])
        return out.reshape(x.shape)
    a = x.astype(np.float64)
    t = 1 / (ERF32_P * np.abs(a) + 1)
    r = ERF32_A[4] * t + ERF32_A[3]
    for c in ERF32_A[2::-1]:
        r *= t
        r += c
    r *= t
    r *= np.exp(-(a * a))
    return np.copysign(1 - r, a).astype(np.float32)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, element by element. float32 values in float32 (``_erf32``); others
    in float64: on each 1/32 of [0, 6) its Taylor polynomial of degree 10 (within 2 ulp of
    ``math.erf``; the tests check), ±1 beyond. A loop over ``math.erf`` took half of a BERT
    layer's time."""
    if isinstance(x, np.ndarray) and x.dtype == np.float32:
        return _erf32(x)
    a = np.abs(np.asarray(x, dtype=np.float64)).ravel()
    out = np.empty_like(a)
    coef = _erf_taylor()
    for s in range(0, a.size, 1 << 16):  # in chunks: the gathered coefficients stay small
        part = a[s : s + (1 << 16)]
        inside = np.where(part < ERF_END, part, 0.0)  # beyond (and NaN): set below
        k = np.minimum(inside / ERF_WIDTH, len(coef) - 1).astype(np.intp)
        d = inside - np.where(k == 0, 0.0, (k + 0.5) * ERF_WIDTH)
        c = coef[k]  # (n, degree + 1)
        y = c[:, 0].copy()
        for j in range(1, ERF_DEGREE + 1):
            y *= d
            y += c[:, j]
        out[s : s + (1 << 16)] = np.where(part < ERF_END, y, np.where(part == part, 1.0, part))
    return np.copysign(out.reshape(np.shape(x)), x)


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU with the exact erf: x · Φ(x)."""
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)).astype(x.dtype))


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    """GELU's tanh approximation (GPT-2's "gelu_new")."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def _silu(x: np.ndarray) -> np.ndarray:
    """SiLU (swish): x · σ(x) = x / (1 + e^−x); e^−x may overflow to ∞ (giving −0)."""
    with np.errstate(over="ignore"):
        return x / (1 + np.exp(-x))


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gelu": _gelu,
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "gelu_fast": _gelu_tanh,
    "relu": lambda x: np.maximum(x, 0),
    "silu": _silu,
    "swish": _silu,
}


@dataclass(frozen=True, eq=False)
class LayerWeights:
    """One layer's attention weights: W_Q and the distinct W_K and W_V side by side, ``qkv``
    (D, (H + 2G)·Dh), with their biases ``b_qkv`` (one matrix product makes every head's Q, K
    and V: 27 small ones cost three times as much, and each shared K/V head is read once);
    w_o (H·Dh, D), b_o (D,); H query heads, G key/value heads. ``per_head`` gives them in the
    shapes of attnviz's Trace."""

    qkv: np.ndarray
    b_qkv: np.ndarray
    w_o: np.ndarray
    b_o: np.ndarray
    heads: int
    kv_heads: int

    @property
    def group(self) -> int:
        """Query heads per key/value head (1 without grouped-query attention)."""
        return self.heads // self.kv_heads

    @property
    def head_dim(self) -> int:
        """Dh, one head's width."""
        return self.qkv.shape[1] // (self.heads + 2 * self.kv_heads)

    @functools.cached_property
    def per_head(self) -> tuple[np.ndarray, ...]:
        """w_q, w_k, w_v (H, D, Dh) and b_q, b_k, b_v (H, Dh), contiguous, as a saved Trace
        loads them; each key/value head repeated for its group of query heads, so that every
        query head has its own (shared) W_K and W_V. Made when asked: one layer's, for its
        Trace, not every layer's of a run."""
        H, G, Dh, D = self.heads, self.kv_heads, self.head_dim, self.qkv.shape[0]
        weights, biases, start = [], [], 0
        for n in (H, G, G):
            w = self.qkv[:, start : start + n * Dh].reshape(D, n, Dh).swapaxes(0, 1)
            weights.append(np.ascontiguousarray(np.repeat(w, H // n, 0)))  # (H, D, Dh)
            biases.append(np.repeat(self.b_qkv[start : start + n * Dh].reshape(n, Dh), H // n, 0))
            start += n * Dh
        return (*weights, *biases)

    @classmethod
    def from_projections(
        cls,
        qkv: list[tuple[np.ndarray, np.ndarray]],
        H: int,
        w_o: np.ndarray,
        b_o: np.ndarray,
        G: int | None = None,
    ) -> LayerWeights:
        """From the weights (D, n·Dh) and biases (n·Dh,) of Q, K and V (for x @ w + b; n is H
        for Q, G for K and V), and W_O (H·Dh, D), b_O (D,)."""
        w = np.ascontiguousarray(np.concatenate([w for w, _ in qkv], axis=1))  # in C order
        b = np.concatenate([b.reshape(-1) for _, b in qkv])
        return cls(w, b, np.ascontiguousarray(w_o), b_o, H, G or H)


@dataclass(frozen=True, eq=False)
class LayerRun:
    """One layer's attention as it ran: its input x (T, D), its weights, the factor on its
    scores (when scaled), the attention weights (H, T, T; (H, 0, 0) when streamed: the
    reducers took them), the heads' outputs (H, T, Dh),
    the output concat·W_O + b_O (T, D), and, when the family turns or normalises the
    queries and keys before the scores, Q and K as the scores use them (H, T, Dh; with a
    cache, K's G distinct heads)."""

    x: np.ndarray
    w: LayerWeights
    scale: float
    weights: np.ndarray
    head_outputs: np.ndarray
    output: np.ndarray
    q_rot: np.ndarray | None = None
    k_rot: np.ndarray | None = None


QK = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
Allowed = np.ndarray | stream.Streaming | None  # a layer's mask: dense, streamed, or none


@dataclass(eq=False)
class Cache:
    """What a decoding run keeps from one pass to the next: each layer's keys (as the scores
    use them) and values (G, t, Dh: each distinct head once) of the tokens so far, the
    position of the pass's first token, and, with ``full``, the pass's hidden states after
    the last layer and the final norm (T, D), for the language-model head. ``room``: how
    many tokens it will hold."""

    start: int = 0
    keys: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    full: bool = False
    hidden: np.ndarray | None = None
    room: int = 0

    def extend(self, n: int, k: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Layer ``n``'s keys and values of the tokens so far and of k and v (G, T, Dh) after
        them. They live in buffers of ``room`` tokens (doubled if more come): a step writes
        its own token's, where joining arrays copied every token's before it."""
        end = self.start + k.shape[1]
        kept = self.keys.get(n)
        if kept is None or kept[0].shape[1] < end:
            room = max(end, self.room, 2 * kept[0].shape[1] if kept else 0)
            grown = tuple(np.empty((a.shape[0], room, a.shape[2]), a.dtype) for a in (k, v))
            for old, new in zip(kept or (), grown, strict=False):
                new[:, : self.start] = old[:, : self.start]
            self.keys[n] = kept = (grown[0], grown[1])
        kept[0][:, self.start : end], kept[1][:, self.start : end] = k, v
        return kept[0][:, :end], kept[1][:, :end]


def _grouped(q: np.ndarray, k: np.ndarray, v: np.ndarray, allowed: np.ndarray | None,
             factor: float | None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The kernel's steps for one query of each head q (H, 1, Dh) over keys and values
    (G, t, Dh) shared by groups of H / G query heads: a group's queries in one product with
    their keys, not a copy of K and V for each query head (4% of a generation's step)."""
    G, t, Dh = k.shape
    s = scores(q.reshape(G, -1, Dh), k).reshape(q.shape[0], -1, t)  # (H,1,t)
    if factor is not None:
        s = s * s.dtype.type(factor)
    w = softmax(apply_mask(s, allowed))
    return w, (w.reshape(G, -1, t) @ v).reshape(q.shape)


def attend(
    x: np.ndarray,
    w: LayerWeights,
    allowed: np.ndarray | stream.Streaming | None,
    scaled: bool,
    scale: float,
    turn: QK | None = None,
    cache: tuple[Cache, int] | None = None,
    memory: np.ndarray | None = None,
    bias: np.ndarray | None = None,
) -> LayerRun:
    """One layer's multi-head attention over x (T, D), with attnviz's kernel; ``turn`` maps
    the projected Q and K to those the scores use (q/k norms, rotary embeddings). With
    ``cache`` (the cache and the layer), the queries of x also attend to the keys and values
    of the tokens before them, and x's are added to them; ``allowed`` is then (T, t + T).
    ``allowed`` None: every query sees every key; a ``Streaming``: the weights go to its
    reducers block by block, never whole. ``memory`` (S, D): cross-attention, the keys and
    values made of it (an encoder's output), not of x; ``bias`` (H, T, S): added to the
    scaled scores (T5's relative positions)."""
    H, Dh, T, r = w.heads, w.head_dim, x.shape[0], w.group
    if memory is None:
        qkv = (x @ w.qkv + w.b_qkv).reshape(T, -1, Dh).swapaxes(0, 1)  # (H+2G,T,Dh)
        q, k, v = qkv[:H], qkv[H : H + H // r], qkv[H + H // r :]
    else:
        n, S = H * Dh, memory.shape[0]
        q = (x @ w.qkv[:, :n] + w.b_qkv[:n]).reshape(T, H, Dh).swapaxes(0, 1)  # (H,T,Dh)
        kv = (memory @ w.qkv[:, n:] + w.b_qkv[n:]).reshape(S, -1, Dh).swapaxes(0, 1)  # (2G,S,Dh)
        k, v = kv[: H // r], kv[H // r :]
    q_rot, k_rot = turn(q, k) if turn else (None, None)  # each distinct key head turned once
    q_used, k_used = q if q_rot is None else q_rot, k if k_rot is None else k_rot
    if isinstance(allowed, stream.Streaming):
        return _streamed(x, w, allowed, (q_used, k_used, v), scale, scaled)
    if cache is not None:  # the cache keeps each distinct key/value head once
        k_used, v = cache[0].extend(cache[1], k_used, v)
    if cache is not None and T == 1:  # a step: each group's queries with their shared keys
        weights, head_outputs = _grouped(q_used, k_used, v, allowed, scale if scaled else None)
    else:
        if r > 1:  # each key/value head serves its group of query heads (the keys as used)
            k_used, v = k_used.repeat(r, axis=0), v.repeat(r, axis=0)
            if cache is None and k_rot is not None:
                k_rot = k_used  # the Trace's keys: one per query head
        weights, head_outputs = scaled_dot_product_attention(
            q_used, k_used, v, allowed, scaled=scaled, scale=scale, bias=bias
        )
    output = concat_heads(head_outputs) @ w.w_o + w.b_o  # (T,H*Dh) @ (H*Dh,D) -> (T,D)
    return LayerRun(x, w, scale, weights, head_outputs, output, q_rot, k_rot)


def _streamed(x: np.ndarray, w: LayerWeights, how: stream.Streaming,
              qkv: tuple[np.ndarray, np.ndarray, np.ndarray], scale: float, scaled: bool
              ) -> LayerRun:  # fmt: skip
    """A layer's attention streamed (``how``): q (H, T, Dh), k and v (G, T, Dh) each shared
    head once; the weights to the reducers, the output made when a later layer reads it."""
    q, k, v = (np.ascontiguousarray(a) for a in qkv)
    H, T, Dh = q.shape
    out = stream.attend(q, k, v if how.outputs else None, how.mask,
                        factor=scale if scaled else None,
                        reducers=how.reducers, rows=how.rows, tile_bytes=how.tile_bytes,
                        tick=how.tick)  # fmt: skip
    head_outputs = np.zeros((H, T, Dh), q.dtype) if out is None else out
    output = concat_heads(head_outputs) @ w.w_o + w.b_o  # (T,H*Dh) @ (H*Dh,D) -> (T,D)
    return LayerRun(x, w, scale, np.zeros((H, 0, 0), q.dtype), head_outputs, output)
