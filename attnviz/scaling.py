"""Why the scores are divided by √d_k: a sweep over d_k of what the division does to the
scores, to the softmax, and to the gradient that flows back through the softmax.

As in the footnote of Vaswani et al. (2017), queries and keys have independent N(0, 1)
entries, so q·k has mean 0 and variance d_k; divided by √d_k, variance 1. Each of ``rows``
queries meets its own ``keys`` keys (a sentence); for each d_k the same draw is measured
unscaled and scaled:

- ``variance``: the variance of all the scores;
- ``entropy``: the mean entropy of the softmax rows (nats), and ``top``: their mean largest
  weight;
- ``jacobian``: the median over the rows of the Frobenius norm of the softmax's Jacobian
  ∂p/∂s = diag(p) − p pᵀ, the factor every gradient is multiplied by on its way back to the
  scores (the median: the mean hides the collapse, a few unsaturated rows dominate it);
- ``saturated``: the share of rows whose largest weight is over 0.99.

Shapes: R rows (queries), N keys per row, d_k each vector's width.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError
from .trace import whole

DKS = (4, 8, 16, 32, 64, 128, 256, 512)
ROWS, KEYS = 2000, 16
SATURATED = 0.99  # a row whose largest weight is over this is saturated
MEASURES = ("variance", "entropy", "top", "jacobian", "saturated")
MOST_DK, MOST_ROWS, MOST_KEYS = 65536, 1_000_000, 4096
MOST_SCORES = 1 << 24  # rows × keys: a few arrays of them, under a gigabyte
_CHUNK = 1 << 20  # numbers of keys drawn at a time


def softmax(scores: np.ndarray) -> np.ndarray:
    """Each row's softmax (over the last axis), its largest score subtracted first."""
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _others(x: np.ndarray) -> np.ndarray:
    """Σ_{j≠i} x_j for each i (over the last axis), from sums before and after i: nothing is
    subtracted, so a row whose weight is almost all on one key keeps every digit."""
    zero = np.zeros_like(x[..., :1])
    before = np.concatenate([zero, np.cumsum(x[..., :-1], axis=-1)], axis=-1)
    after = np.concatenate([np.cumsum(x[..., :0:-1], axis=-1)[..., ::-1], zero], axis=-1)
    return before + after


def jacobian_norm(p: np.ndarray) -> np.ndarray:
    """‖diag(p) − p pᵀ‖_F of each row p (over the last axis), without the N × N matrix: its
    squares are p_i²(1 − p_i)² on the diagonal and p_i² p_j² off it, so the sum is
    Σ_i p_i² ((Σ_{j≠i} p_j)² + Σ_{j≠i} p_j²), 1 − p_i taken as the sum of the others."""
    p2 = p * p
    return np.sqrt((p2 * (_others(p) ** 2 + _others(p2))).sum(-1))


def entropy(p: np.ndarray) -> np.ndarray:
    """−Σ p log p of each row, in nats (0 · log 0 = 0)."""
    safe = np.where(p > 0, p, 1.0)
    return -(p * np.log(safe)).sum(-1)


def scores(dk: int, rows: int = ROWS, keys: int = KEYS, seed: int = 0) -> np.ndarray:
    """(R, N): q·k of ``rows`` queries, each with its own ``keys`` keys, all entries N(0, 1),
    drawn from one stream per d_k (the same d_k and seed give the same scores)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(dk,)))
    out = np.empty((rows, keys))
    step = max(1, _CHUNK // (keys * dk))  # rows drawn at a time: memory stays small
    for start in range(0, rows, step):
        n = min(step, rows - start)
        q = rng.standard_normal((n, dk))
        k = rng.standard_normal((n, keys, dk))
        out[start : start + n] = np.einsum("rd,rkd->rk", q, k)
    return out


def measures(s: np.ndarray) -> dict[str, float]:
    """The measures of one set of scores (R, N): see the module's docstring."""
    p = softmax(s)
    largest = p.max(axis=-1)
    return {
        "variance": float(s.var()),
        "entropy": float(entropy(p).mean()),
        "top": float(largest.mean()),
        "jacobian": float(np.median(jacobian_norm(p))),
        "saturated": float((largest > SATURATED).mean()),
    }


@dataclass(frozen=True)
class Sweep:
    """The measures for each d_k: ``unscaled[m]`` and ``scaled[m]`` are (len(dks),)."""

    dks: tuple[int, ...]
    rows: int
    keys: int
    seed: int
    unscaled: dict[str, np.ndarray]
    scaled: dict[str, np.ndarray]


def check(dks: Sequence[int], rows: int, keys: int, seed: int) -> tuple[int, ...]:
    """The d_k values, checked, sorted, each once; ConfigError for a bad value."""
    if not dks:
        raise ConfigError("`dk` needs at least one value")
    found = sorted({whole("dk", d, 1, MOST_DK) for d in dks})
    whole("rows", rows, 2, MOST_ROWS)
    whole("keys", keys, 2, MOST_KEYS)
    if rows * keys > MOST_SCORES:
        raise ConfigError(f"`rows` × `keys` must be at most {MOST_SCORES:,} (the scores of one "
                          f"d_k, held at once), not {rows * keys:,}")  # fmt: skip
    whole("seed", seed, 0, 2**64 - 1)
    return tuple(found)


def sweep(dks: Sequence[int] = DKS, rows: int = ROWS, keys: int = KEYS, seed: int = 0) -> Sweep:
    """The measures of scaled and unscaled scores for every d_k of ``dks`` (made once for the
    same arguments: the sweep a lesson draws is the default one, every time)."""
    return _sweep(check(dks, rows, keys, seed), rows, keys, seed)


@functools.lru_cache(maxsize=4)
def _sweep(chosen: tuple[int, ...], rows: int, keys: int, seed: int) -> Sweep:
    unscaled: dict[str, list[float]] = {m: [] for m in MEASURES}
    scaled: dict[str, list[float]] = {m: [] for m in MEASURES}
    for dk in chosen:
        s = scores(dk, rows, keys, seed)
        for into, of in ((unscaled, s), (scaled, s / np.sqrt(dk))):
            for m, v in measures(of).items():
                into[m].append(v)
    return Sweep(chosen, rows, keys, seed,
                 {m: np.array(v) for m, v in unscaled.items()},
                 {m: np.array(v) for m, v in scaled.items()})  # fmt: skip
