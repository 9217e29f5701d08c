"""Measures of each query row of attention weights, taken a tile of keys at a time: the same
numbers from a dense matrix (one tile) as from a streamed run (``RowStats``, a reducer of
``attnviz.stream``), for ``stats``, ``survey`` and the sink curve.

Per row: ``keys`` the keys it may see, ``entropy`` −Σ w log w (nats), ``distance``
Σ w·|i − j|, the weight on itself (``self``), the token before (``previous``) and after
(``next``), the first token (``first``), earlier copies of its token (``same``), the
separator and punctuation keys, and its largest weight (``max``) and where (``argmax``, the
first such key). Sums are taken in float64.

Shapes: B rows (queries i0..), C keys (j0..), T tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # (a dense run loads no streaming)
    from .stream import Tile


ROW_MEASURES = ("keys", "entropy", "distance", "self", "previous", "next", "first", "same",
                "separator", "punctuation", "max", "argmax")  # fmt: skip


@dataclass(frozen=True, eq=False)
class Keys:
    """What some measures must know of the keys: each token's code (the same code: the same
    token; for ``same``), the separator and punctuation keys (T,) bool."""

    codes: np.ndarray | None = None
    separator: np.ndarray | None = None
    punctuation: np.ndarray | None = None


def empty(n: int, measures: Sequence[str]) -> dict[str, np.ndarray]:
    """Running values of ``measures`` for n rows."""
    out = {m: np.zeros(n) for m in (*measures, *(["max"] if "argmax" in measures else []))}
    if "max" in out:
        out["max"] -= 1  # below any weight: the first tile's maximum replaces it
    if "argmax" in out:
        out["argmax"] = np.full(n, -1, dtype=np.int64)
    return out


def _single(rows: dict[str, np.ndarray], w: np.ndarray, i: np.ndarray, j0: int,
            measures: Sequence[str]) -> None:  # fmt: skip
    """The measures of one key per row: itself, the one before, after, the first token."""
    C = w.shape[1]
    for name, target in (("self", i), ("previous", i - 1), ("next", i + 1),
                         ("first", np.zeros_like(i))):  # fmt: skip
        if name in measures:
            inside = np.flatnonzero((target >= j0) & (target < j0 + C))
            rows[name][inside] += w[inside, target[inside] - j0]


def _distance(w: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Σ_j w·|i − j| per row: Σ w·(i − j) over every key, plus twice Σ w·(j − i) over the keys
    after the row (a causal tile has them only on its diagonal part)."""
    d = i * w.sum(axis=1) - w @ j.astype(np.float64)  # (B,C) @ (C,) -> (B,)
    later = max(0, int(i[0]) + 1 - int(j[0]))  # the first column some row sees ahead of it
    if later < len(j):
        ahead = np.maximum(j[later:][None, :] - i[:, None], 0)  # (B, C')
        d += 2 * np.einsum("ij,ij->i", w[:, later:], ahead)
    return d


def take(rows: dict[str, np.ndarray], w: np.ndarray, allowed: np.ndarray | None, i0: int,
         j0: int, keys: Keys, measures: Sequence[str]) -> None:  # fmt: skip
    """Add the weights w (B, C) of queries i0.. and keys j0.. (``allowed`` their visible cells,
    None: all) to the running values ``rows`` of those B queries."""
    B, C = w.shape
    i, j = np.arange(i0, i0 + B), np.arange(j0, j0 + C)
    if "max" in measures or "argmax" in measures:
        top, at = w.max(axis=1), w.argmax(axis=1)
        better = top > rows["max"]  # strictly: an earlier tile's equal maximum stays first
        rows["max"][better] = top[better]
        if "argmax" in rows:
            rows["argmax"][better] = at[better] + j0
    if "keys" in measures:
        rows["keys"] += C if allowed is None else allowed.sum(axis=1)
    w = np.asarray(w, dtype=np.float64)
    if "entropy" in measures:
        logs = np.log(w, out=np.zeros_like(w), where=w > 0)  # 0 log 0 = 0
        rows["entropy"] -= np.einsum("ij,ij->i", w, logs)
    if "distance" in measures:
        rows["distance"] += _distance(w, i, j)
    _single(rows, w, i, j0, measures)
    if "same" in measures and keys.codes is not None:
        same = (keys.codes[i][:, None] == keys.codes[j][None, :]) & (j[None, :] < i[:, None])
        rows["same"] += np.einsum("ij,ij->i", w, same)
    for name in ("separator", "punctuation"):
        kind = getattr(keys, name)
        if name in measures and kind is not None:
            rows[name] += w @ kind[j0 : j0 + C].astype(np.float64)


def of_matrix(w: np.ndarray, allowed: np.ndarray, keys: Keys, measures: Sequence[str]
              ) -> dict[str, np.ndarray]:  # fmt: skip
    """The measures of every row of a dense matrix w (T, T) under ``allowed``: each (T,)."""
    rows = empty(w.shape[0], measures)
    take(rows, w, allowed, 0, 0, keys, measures)
    return rows


def earlier_copy(codes: np.ndarray) -> np.ndarray:
    """(T,) bool: the tokens whose code occurred before."""
    _, first = np.unique(codes, return_index=True)
    seen = np.ones(len(codes), dtype=bool)
    seen[first] = False
    return seen


@dataclass(eq=False)
class _RowPart:
    head: int
    i0: int
    rows: dict[str, np.ndarray]
    keys: Keys
    measures: tuple[str, ...]

    def take(self, tile: Tile) -> None:
        take(self.rows, tile.weights, tile.allowed, tile.i0, tile.j0, self.keys, self.measures)


@dataclass(eq=False)
class RowStats:
    """A reducer of a streamed run that takes ``measures`` of every row of ``heads`` (T
    tokens): ``rows[h][measure]`` (T,) when the run is done; rows no block reached (they see
    no key) keep 0 keys."""

    heads: tuple[int, ...]
    T: int
    measures: tuple[str, ...]
    keys: Keys = field(default_factory=Keys)
    rows: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rows = {h: empty(self.T, self.measures) for h in self.heads}

    def start(self, head: int, i0: int, i1: int) -> _RowPart | None:
        if head not in self.rows:
            return None
        return _RowPart(head, i0, empty(i1 - i0, self.measures), self.keys, self.measures)

    def add(self, part: Any) -> None:
        kept = self.rows[part.head]
        for m, values in part.rows.items():
            kept[m][part.i0 : part.i0 + len(values)] = values
