"""Scaled dot-product attention in NumPy, step by step with the names of the paper.

Shapes: H heads, T tokens (Tq queries, Tk keys), Dh = d_k, the width of one head.
The leading head axis is optional everywhere: (T, Dh) works as one head.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np


def scores(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Q·Kᵀ: (..., Tq, Dh) @ (..., Dh, Tk) -> (..., Tq, Tk)."""
    return q @ k.swapaxes(-2, -1)


def scale(s: np.ndarray, d_k: int) -> np.ndarray:
    """scores / √d_k, in the dtype of the scores."""
    return s * s.dtype.type(1.0 / np.sqrt(d_k))


def apply_mask(s: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    """−∞ where the key is not allowed: (..., Tq, Tk) with allowed (Tq, Tk) bool."""
    if allowed is None:
        return s
    return np.where(allowed, s, s.dtype.type(-np.inf))


def softmax(masked: np.ndarray) -> np.ndarray:
    """Softmax along the last axis, max-subtracted; a row that is all −∞ gives all zeros, a
    row with NaN or +∞ (scores that overflowed) NaN."""
    row_max = masked.max(axis=-1, keepdims=True)
    keyless = row_max == -np.inf
    every = not keyless.any()  # every row has a key, and a total of at least e⁰ = 1
    e = masked - (row_max if every else np.where(keyless, 0, row_max))  # no key: keep the −∞
    np.exp(e, out=e)  # exp(−∞) is exactly 0
    total = e.sum(axis=-1, keepdims=True)
    if every:
        e /= total  # in place: no fresh pages to fault
        return e
    return np.divide(e, total, out=np.zeros_like(e), where=~keyless)


def concat_heads(head_outputs: np.ndarray) -> np.ndarray:
    """The heads' outputs side by side: (H, T, Dh) -> (T, H*Dh)."""
    H, T, Dh = head_outputs.shape
    return head_outputs.swapaxes(0, 1).reshape(T, H * Dh)  # (T,H,Dh) -> (T,H*Dh)


def scaled_dot_product_attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    allowed: np.ndarray | None = None,
    *,
    scaled: bool = True,
    scale: float | None = None,
    bias: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """softmax(mask(Q·Kᵀ / √d_k + bias))·V for one head (T, Dh) or many (H, T, Dh).

    allowed: (Tq, Tk) bool, True where query i may attend to key j; None allows all.
    scale: the factor on the scores when ``scaled`` (None: 1/√d_k); unscaled, there is none.
    bias: (..., Tq, Tk) added to the scaled scores before the mask (planted heads); None: 0.
    Returns (weights (..., Tq, Tk), outputs (..., Tq, Dh)). Weights of hidden keys are
    exactly 0, and a query with no allowed key gets all-zero weights and a zero output.

    Large inputs go through a blocked kernel (``_blocked``): the same numbers, computed a
    block of queries at a time so that the temporaries stay in cache, only over the span of
    keys the mask allows each block, on every core. A mask that falls apart into squares
    (texts packed into one run, each seeing only itself) is computed a square at a time.
    """
    if q.ndim not in (2, 3) or q.shape[-1] != k.shape[-1] or k.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"q, k, v shapes do not fit: {q.shape}, {k.shape}, {v.shape}")
    if allowed is not None and allowed.shape != (q.shape[-2], k.shape[-2]):
        raise ValueError(
            f"allowed has shape {allowed.shape}, expected {(q.shape[-2], k.shape[-2])}"
        )
    if bias is not None and bias.shape != (*q.shape[:-1], k.shape[-2]):
        raise ValueError(f"bias has shape {bias.shape}, expected {(*q.shape[:-1], k.shape[-2])}")
    if q.ndim == 2:
        weights, outputs = scaled_dot_product_attention(
            q[None], k[None], v[None], allowed, scaled=scaled, scale=scale,
            bias=None if bias is None else bias[None],
        )  # fmt: skip
        return weights[0], outputs[0]
    factor = (1.0 / np.sqrt(q.shape[-1]) if scale is None else scale) if scaled else None
    if q.shape[0] * q.shape[1] * k.shape[1] >= _BLOCKED_FROM:
        return _blocked(q, k, v, allowed, factor, bias)
    if allowed is not None and q.shape[1] == k.shape[1] and len(parts := _segments(allowed)) > 1:
        return _in_squares(q, k, v, allowed, factor, bias, parts)
    return _straightforward(q, k, v, allowed, factor, bias)


def _straightforward(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, allowed: np.ndarray | None,
    factor: float | None, bias: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The kernel over (H, T, Dh) inputs as the paper writes it, the scores times ``factor``
    (None: not scaled)."""
    s = scores(q, k)  # (H,T,Dh) @ (H,Dh,T) -> (H,T,T)
    if factor is not None:
        s = s * s.dtype.type(factor)
    if bias is not None:
        s = s + bias
    weights = softmax(apply_mask(s, allowed))  # (H,T,T)
    return weights, weights @ v  # (H,T,T) @ (H,T,Dh) -> (H,T,Dh)


def _in_squares(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, allowed: np.ndarray, factor: float | None,
    bias: np.ndarray | None, parts: list[tuple[int, int]],
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The kernel a square of ``parts`` at a time (texts packed into one run: each text's
    square, not all T × T); the weights outside the squares are 0."""
    weights = np.zeros((*q.shape[:2], k.shape[1]), np.result_type(q, k, v))
    outputs = np.zeros((*q.shape[:2], v.shape[2]), weights.dtype)
    for i, j in parts:
        weights[:, i:j, i:j], outputs[:, i:j] = _straightforward(
            q[:, i:j], k[:, i:j], v[:, i:j], allowed[i:j, i:j], factor,
            None if bias is None else bias[:, i:j, i:j],
        )  # fmt: skip
    return weights, outputs


_BLOCKED_FROM = 1 << 20  # H·Tq·Tk from which the blocked kernel pays for its set-up
_SEGMENT_ROWS = 32  # the fewest rows of a square the straightforward path takes at once


def _segments(allowed: np.ndarray) -> list[tuple[int, int]]:
    """Where a square mask falls apart: rows i..j−1 that see only keys i..j−1 and that no
    other row sees (texts packed into one run), joined into ranges of at least
    _SEGMENT_ROWS rows (a call costs as much as a few thousand cells); one range when it
    does not fall apart (a causal mask, or a window wider than one key: each row sees the
    key before it)."""
    T = len(allowed)
    seen = allowed.any(axis=1)
    first = np.where(seen, allowed.argmax(axis=1), T)  # each row's first and last key
    last = np.where(seen, T - 1 - allowed[:, ::-1].argmax(axis=1), -1)
    at = np.arange(1, T)  # a cut before row i: no row above sees a key from i on, ...
    above, below = np.maximum.accumulate(last)[:-1], np.minimum.accumulate(first[::-1])[::-1]
    cuts = np.flatnonzero((above < at) & (below[1:] >= at)) + 1  # ... none below one before
    parts, start = [], 0
    for cut in cuts.tolist():
        if cut - start >= _SEGMENT_ROWS:
            parts.append((start, cut))
            start = cut
    return [*parts, (start, T)]


_BLOCK_BYTES = 1 << 20  # one block of scores: about the 1 MiB L2 cache of a core


@dataclass(frozen=True)
class _Block:
    """Queries i0..i1-1 and the keys j0..j1-1 that any of them may see; ``hidden`` marks the
    cells the mask hides in the rectangle's columns from ``c0`` on (None: it hides none; for
    a causal mask only the last square of the span has hidden cells)."""

    i0: int
    i1: int
    j0: int
    j1: int
    hidden: np.ndarray | None
    c0: int = 0


def _blocks(allowed: np.ndarray | None, Tq: int, Tk: int, rows: int) -> list[_Block]:
    blocks = []
    for i0 in range(0, Tq, rows):
        i1 = min(i0 + rows, Tq)
        if allowed is None:
            blocks.append(_Block(i0, i1, 0, Tk, None))
            continue
        seen = np.flatnonzero(allowed[i0:i1].any(axis=0))
        if seen.size == 0:
            continue  # no query of the block sees a key: its weights and outputs stay 0
        j0, j1 = int(seen[0]), int(seen[-1]) + 1
        hidden = ~allowed[i0:i1, j0:j1]
        cols = np.flatnonzero(hidden.any(axis=0))
        if cols.size == 0:
            blocks.append(_Block(i0, i1, j0, j1, None))
        else:
            c0 = int(cols[0])
            blocks.append(_Block(i0, i1, j0, j1, np.ascontiguousarray(hidden[:, c0:]), c0))
    return blocks


def _attend_block(
    q: np.ndarray,  # (Tq, Dh)
    kt: np.ndarray,  # (Dh, Tk)
    v: np.ndarray,  # (Tk, Dh)
    w: np.ndarray,  # (Tq, Tk) out: zeros outside the blocks' spans
    out: np.ndarray,  # (Tq, Dh) out
    b: _Block,
    factor: np.floating | None,  # 1/√d_k, or None when unscaled
    scratch: np.ndarray,  # flat, at least rows x Tk
    bias: np.ndarray | None,  # (Tq, Tk) or None
) -> None:
    """One block of one head, in place: scores, bias, mask, softmax into ``w``, then ``w``·V."""
    rows, span = b.i1 - b.i0, b.j1 - b.j0
    s = scratch[: rows * span].reshape(rows, span)
    np.matmul(q[b.i0 : b.i1], kt[:, b.j0 : b.j1], out=s)  # (B,Dh) @ (Dh,S) -> (B,S)
    if factor is not None:
        s *= factor  # scores scaled as the straightforward version scales them, to the bit
    if bias is not None:
        s += bias[b.i0 : b.i1, b.j0 : b.j1]
    if b.hidden is not None:
        np.copyto(s[:, b.c0 :], -np.inf, where=b.hidden)
    top = s.max(axis=1, keepdims=True)  # (B,1)
    if b.hidden is not None:
        top[np.isneginf(top)] = 0  # a row with no allowed key: exp(−∞) = 0 everywhere
    s -= top
    np.exp(s, out=s)
    total = s.sum(axis=1, keepdims=True)  # (B,1)
    total[total == 0] = 1
    ws = w[b.i0 : b.i1, b.j0 : b.j1]
    np.multiply(s, 1 / total, out=ws)  # one division a row, then multiplications
    np.matmul(ws, v[b.j0 : b.j1], out=out[b.i0 : b.i1])  # (B,S) @ (S,Dh) -> (B,Dh)


def _blocked(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    allowed: np.ndarray | None,
    scale: float | None,
    bias: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The blocked kernel over (H, T, Dh) inputs, the scores times ``scale`` (None: not
    scaled); see scaled_dot_product_attention."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    H, Tq, Dh = q.shape
    Tk = k.shape[1]
    dtype = np.result_type(q, k, v)
    factor = None if scale is None else dtype.type(scale)
    rows = max(16, min(256, _BLOCK_BYTES // (Tk * dtype.itemsize)))
    blocks = _blocks(allowed, Tq, Tk, rows)
    # zeros come from the allocator untouched: cells outside every span cost nothing
    weights = np.zeros((H, Tq, Tk), dtype=dtype)
    outputs = np.zeros((H, Tq, Dh), dtype=dtype)
    kt = k.swapaxes(-2, -1)
    threads = max(1, min(len(os.sched_getaffinity(0)), H * len(blocks)))
    # task t takes every threads-th block of every head: a causal mask's cheap early
    # blocks and dear late ones are shared out evenly
    tasks = (
        [(t, h) for h in range(H) for t in range(threads)]
        if H < threads
        else [(None, h) for h in range(H)]
    )

    def work(task: tuple[int | None, int]) -> None:
        t, h = task
        scratch = np.empty(rows * Tk, dtype=dtype)
        for b in blocks if t is None else blocks[t::threads]:
            _attend_block(
                q[h], kt[h], v[h], weights[h], outputs[h], b, factor, scratch,
                None if bias is None else bias[h],
            )  # fmt: skip

    with threadpool_limits(limits=1, user_api="blas"):  # our threads, not BLAS's, use the cores
        if threads == 1:
            for task in tasks:
                work(task)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(work, tasks))
    return weights, outputs
