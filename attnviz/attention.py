"""Scaled dot-product attention in NumPy, step by step with the names of the paper.

Shapes: H heads, T tokens (Tq queries, Tk keys), Dh = d_k, the width of one head.
The leading head axis is optional everywhere: (T, Dh) works as one head.
"""

from __future__ import annotations

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
    """Softmax along the last axis, max-subtracted; a row that is all −∞ gives all zeros."""
    row_max = masked.max(axis=-1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0)  # no allowed key: keep the −∞
    e = np.exp(masked - row_max)  # exp(−∞) is exactly 0
    total = e.sum(axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


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
) -> tuple[np.ndarray, np.ndarray]:
    """softmax(mask(Q·Kᵀ / √d_k))·V for one head (T, Dh) or many (H, T, Dh).

    allowed: (Tq, Tk) bool, True where query i may attend to key j; None allows all.
    Returns (weights (..., Tq, Tk), outputs (..., Tq, Dh)). Weights of hidden keys are
    exactly 0, and a query with no allowed key gets all-zero weights and a zero output.
    """
    if q.ndim not in (2, 3) or q.shape[-1] != k.shape[-1] or k.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"q, k, v shapes do not fit: {q.shape}, {k.shape}, {v.shape}")
    if allowed is not None and allowed.shape != (q.shape[-2], k.shape[-2]):
        raise ValueError(
            f"allowed has shape {allowed.shape}, expected {(q.shape[-2], k.shape[-2])}"
        )
    s = scores(q, k)  # (H,T,Dh) @ (H,Dh,T) -> (H,T,T)
    if scaled:
        s = scale(s, q.shape[-1])
    weights = softmax(apply_mask(s, allowed))  # (H,T,T)
    return weights, weights @ v  # (H,T,T) @ (H,T,Dh) -> (H,T,Dh)
