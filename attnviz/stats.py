"""Numbers derived from Traces: row entropies and the comparison of two runs.

Shapes: H heads, T tokens. Only rows with at least one allowed key enter a mean; a query
with no allowed key has no distribution to measure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ConfigError
from .trace import Trace


def row_entropy(weights: np.ndarray) -> np.ndarray:
    """Entropy in nats of each row of attention weights, −Σ w log w: (..., T, T) -> (..., T).

    A row of zeros (a query with no allowed key) has entropy 0.
    """
    w = np.asarray(weights, dtype=np.float64)
    logs = np.log(w, out=np.zeros_like(w), where=w > 0)  # 0 log 0 = 0
    return -(w * logs).sum(axis=-1)


def _has_key(allowed: np.ndarray) -> np.ndarray:
    """(T,) bool: the queries with at least one allowed key."""
    return np.asarray(allowed.any(axis=1))


def _row_mean(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Mean over the selected rows of (H, T) values -> (H,); 0 when no row is selected."""
    if not rows.any():
        return np.zeros(values.shape[0])
    return values[:, rows].mean(axis=1)


def mean_entropy(weights: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Mean row entropy per head over the queries that have an allowed key: (H, T, T) -> (H,)."""
    return _row_mean(row_entropy(weights), _has_key(allowed))


@dataclass(frozen=True, eq=False)
class Comparison:
    """Two runs of the same text and weights that differ in one thing (the mask, or scaling).

    Per head (H,): ``tv_distance``, the mean total variation distance between A's and B's rows
    (½ Σ|a − b|); ``mass_moved``, the mean weight B puts on keys that A hides; ``entropy_a``
    and ``entropy_b``, the mean row entropies (nats). Per token (T,): ``output_difference``,
    ‖output_A[i] − output_B[i]‖.
    """

    a: Trace
    b: Trace
    tv_distance: np.ndarray
    mass_moved: np.ndarray
    entropy_a: np.ndarray
    entropy_b: np.ndarray
    output_difference: np.ndarray


def compare(a: Trace, b: Trace) -> Comparison:
    """The summary numbers of runs A and B of the same tokens."""
    if a.texts != b.texts or a.config.heads != b.config.heads:
        raise ConfigError("a comparison needs two runs of the same tokens and heads")
    wa = a.weights.astype(np.float64)  # (H,T,T)
    wb = b.weights.astype(np.float64)
    both = _has_key(a.allowed) & _has_key(b.allowed)  # (T,) rows with a distribution in each
    tv = 0.5 * np.abs(wa - wb).sum(axis=-1)  # (H,T)
    moved = (wb * ~a.allowed).sum(axis=-1)  # (H,T) weight of B on keys A hides
    diff = a.output.astype(np.float64) - b.output.astype(np.float64)  # (T,D)
    return Comparison(
        a=a,
        b=b,
        tv_distance=_row_mean(tv, both),
        mass_moved=_row_mean(moved, _has_key(b.allowed)),
        entropy_a=mean_entropy(wa, a.allowed),
        entropy_b=mean_entropy(wb, b.allowed),
        output_difference=np.sqrt((diff**2).sum(axis=1)),
    )
