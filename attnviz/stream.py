"""Attention a block of queries at a time, never the whole (H, T, T): the streaming way out
of attnviz's kernel, for texts of tens of thousands of tokens.

For each block of queries and each head, the keys the mask lets the block see are taken in
tiles. When the block's span of keys fits one tile, its scores are computed once: row
maximum and sum first, then the exact weights. When it does not, a first pass over the tiles
finds each row's maximum m and sum l of exp(s − m) with the online softmax of FlashAttention
(l is rescaled by exp(m_old − m_new) as the maximum grows), and a second pass computes each
tile's exact weights exp(s − m) / l. Either way the weights are exactly those the dense
kernel returns (to rounding), and only a few tiles exist at a time.

Consumers (``Reducer``) reduce the tiles as they come — a pooled map, row statistics, the
exact cells of a window — and the heads' outputs weights·V are summed tile by tile. Blocks
run on every core; each block's reduction is added in a fixed order, so that the result does
not depend on which thread ran what.

Shapes: H query heads (G key/value heads, each serving H / G of them), T tokens, Dh a head's
width, B a block's queries, C a tile's keys.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .errors import ConfigError
from .masks import Mask

TILE_BYTES = 16 << 20  # the scores of one tile: a block of queries and its keys
MIN_ROWS, MAX_ROWS = 16, 256  # the queries of a block
MIN_COLS = 256  # the fewest keys of a tile
AHEAD = 2  # units computed ahead of the reduction, per thread


def least_tile_bytes(dtype: str | np.dtype) -> int:
    """The memory of the smallest tile the stream makes (MIN_ROWS x MIN_COLS scores)."""
    return MIN_ROWS * MIN_COLS * np.dtype(dtype).itemsize


@dataclass(frozen=True, eq=False)
class Tile:
    """The exact weights of head ``head`` for queries i0.. and keys j0..: ``weights`` (B, C);
    ``allowed`` (B, C) bool, None where the mask hides none of them. The weights of keys
    outside a row's tiles are 0."""

    head: int
    i0: int
    j0: int
    weights: np.ndarray
    allowed: np.ndarray | None

    @property
    def i1(self) -> int:
        return self.i0 + self.weights.shape[0]

    @property
    def j1(self) -> int:
        return self.j0 + self.weights.shape[1]


class Part(Protocol):
    """What a reducer gathers of one block of one head, in the thread that computed it."""

    def take(self, tile: Tile) -> None: ...


class Reducer(Protocol):
    """A consumer of the stream: ``start`` a part for head ``head`` and queries i0..i1−1
    (None: it wants nothing of them), which takes that block's tiles in key order; ``add``
    each part, in the order of the blocks, in the calling thread."""

    def start(self, head: int, i0: int, i1: int) -> Part | None: ...

    def add(self, part: Any) -> None: ...


@dataclass(frozen=True)
class Plan:
    """How the stream cuts a run: ``rows`` queries a block, at most ``cols`` keys a tile."""

    rows: int
    cols: int


def plan(Tk: int, dtype: str | np.dtype, tile_bytes: int = TILE_BYTES) -> Plan:
    """Blocks and tiles for ``Tk`` keys whose scores take at most ``tile_bytes`` a tile:
    a block's whole span of keys in one tile where it fits (one pass), else tiles of keys
    (two passes). ConfigError when not even the smallest tile fits."""
    item = np.dtype(dtype).itemsize
    if tile_bytes < least_tile_bytes(dtype):
        raise ConfigError(
            f"a tile of the stream needs at least {least_tile_bytes(dtype):,} bytes "
            f"({MIN_ROWS} queries x {MIN_COLS} keys), not {tile_bytes:,}: raise "
            "`memory_budget`"
        )
    rows = max(MIN_ROWS, min(MAX_ROWS, tile_bytes // (item * max(Tk, 1))))
    return Plan(rows, max(MIN_COLS, tile_bytes // (item * rows)))


def _tiles(mask: Mask | None, i0: int, i1: int, Tk: int, cols: int
           ) -> list[tuple[int, int, np.ndarray | None]]:  # fmt: skip
    """The key tiles (j0, j1, allowed or None) of queries i0..i1−1 that show some key."""
    lo, hi = (0, Tk) if mask is None else mask.span(i0, i1)
    lo, hi = max(lo, 0), min(hi, Tk)
    out = []
    for j0 in range(lo, hi, cols):
        j1 = min(j0 + cols, hi)
        allowed = None if mask is None else mask.block(i0, i1, j0, j1)
        if allowed is not None and not allowed.any():
            continue
        out.append((j0, j1, None if allowed is None or allowed.all() else allowed))
    return out


@dataclass(frozen=True, eq=False)
class _Inputs:
    q: np.ndarray  # (H, T, Dh)
    k: np.ndarray  # (G, Tk, Dh)
    v: np.ndarray | None  # (G, Tk, Dh), None: no outputs wanted
    factor: np.floating | None
    bias: np.ndarray | None  # (H, T, Tk) or None
    head0: int

    def scores(self, h: int, i0: int, i1: int, tile: tuple[int, int, np.ndarray | None]
               ) -> np.ndarray:  # fmt: skip
        """The tile's masked scores (B, C): Q·Kᵀ, times the factor, plus the bias, −∞ where
        hidden (in the order and the float type of the dense kernel)."""
        j0, j1, allowed = tile
        g = h // (self.q.shape[0] // self.k.shape[0])
        s = self.q[h, i0:i1] @ self.k[g, j0:j1].T  # (B,Dh) @ (Dh,C) -> (B,C)
        if self.factor is not None:
            s *= self.factor
        if self.bias is not None:
            s += self.bias[h, i0:i1, j0:j1]
        if allowed is not None:
            np.copyto(s, -np.inf, where=~allowed)
        return s


def _finite(m: np.ndarray) -> np.ndarray:
    """A row maximum where −∞ (no key seen yet) is 0: exp(−∞ − 0) = 0, never NaN."""
    return np.where(np.isneginf(m), 0, m)


def _exact(x: _Inputs, h: int, i0: int, i1: int, tiles: list[tuple[int, int, np.ndarray | None]]
           ) -> Iterator[Tile]:  # fmt: skip
    """The exact weight tiles of head h, queries i0..i1−1: one pass when one tile holds the
    span, else the row maxima and sums first (online), then each tile's weights."""
    if len(tiles) == 1:
        s = x.scores(h, i0, i1, tiles[0])
        s -= _finite(s.max(axis=1, keepdims=True))
        np.exp(s, out=s)
        total = s.sum(axis=1, keepdims=True)
        total[total == 0] = 1
        s /= total
        yield Tile(h + x.head0, i0, tiles[0][0], s, tiles[0][2])
        return
    m = np.full((i1 - i0, 1), -np.inf, dtype=x.q.dtype)
    total = np.zeros((i1 - i0, 1), dtype=x.q.dtype)
    for tile in tiles:  # the online softmax: maximum and sum, rescaled as the maximum grows
        s = x.scores(h, i0, i1, tile)
        grown = np.maximum(m, s.max(axis=1, keepdims=True))
        s -= _finite(grown)
        total *= np.exp(m - _finite(grown))
        total += np.exp(s, out=s).sum(axis=1, keepdims=True)
        m = grown
    total[total == 0] = 1
    for tile in tiles:
        s = x.scores(h, i0, i1, tile)
        s -= _finite(m)
        np.exp(s, out=s)
        s /= total
        yield Tile(h + x.head0, i0, tile[0], s, tile[2])


def _unit(x: _Inputs, h: int, i0: int, i1: int, tiles: list[tuple[int, int, np.ndarray | None]],
          parts: list[Part | None]) -> np.ndarray | None:  # fmt: skip
    """One head's block: its tiles handed to each part; its outputs weights·V (B, Dh)."""
    out = None if x.v is None else np.zeros((i1 - i0, x.v.shape[2]), dtype=x.q.dtype)
    g = h // (x.q.shape[0] // x.k.shape[0])
    for tile in _exact(x, h, i0, i1, tiles):
        for part in parts:
            if part is not None:
                part.take(tile)
        if out is not None and x.v is not None:
            out += tile.weights @ x.v[g, tile.j0 : tile.j1]  # (B,C) @ (C,Dh) -> (B,Dh)
    return out


def attend(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray | None,
    mask: Mask | None,
    *,
    factor: float | None,
    bias: np.ndarray | None = None,
    reducers: Sequence[Reducer] = (),
    rows: tuple[int, int] | None = None,
    head0: int = 0,
    tile_bytes: int = TILE_BYTES,
    tick: Callable[[float], None] | None = None,
) -> np.ndarray | None:
    """softmax(mask(Q·Kᵀ · factor + bias))·V by blocks of queries, the weights handed to the
    ``reducers`` tile by tile and never kept: q (H, T, Dh), k and v (G, Tk, Dh) (G divides H;
    v None: no outputs), ``mask`` (None: every key seen), ``factor`` None: not scaled,
    ``bias`` (H, T, Tk) or None, ``rows`` the queries computed (default all), ``head0``
    the number of q's first head in the tiles. Returns the outputs (H, T, Dh), zero outside
    ``rows`` and for queries that see no key, or None without v; ``tick`` hears the share of
    the blocks done."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    H, T, _ = q.shape
    if k.shape[0] == 0 or H % k.shape[0] or (v is not None and v.shape[:2] != k.shape[:2]):
        raise ValueError(
            f"q, k, v shapes do not fit: {q.shape}, {k.shape}, {None if v is None else v.shape}"
        )
    dtype = np.result_type(q, k)
    x = _Inputs(q, k, v, None if factor is None else dtype.type(factor), bias, head0)
    p = plan(k.shape[1], dtype, tile_bytes)
    q0, q1 = rows or (0, T)
    outputs = None if v is None else np.zeros((H, T, v.shape[2]), dtype=dtype)
    threads = max(1, min(len(os.sched_getaffinity(0)), 8))
    waiting: deque[tuple[int, int, list[Any], Any]] = deque()
    blocks = -(-(q1 - q0) // p.rows)

    def settle() -> None:
        h, i0, parts, future = waiting.popleft()
        if tick is not None:
            tick(((i0 - q0) // p.rows * H + h + 1) / (blocks * H))
        out = future.result()
        if outputs is not None and out is not None:
            outputs[h, i0 : i0 + len(out)] = out
        for reducer, part in zip(reducers, parts, strict=True):
            if part is not None:
                reducer.add(part)

    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
        try:
            for i0 in range(q0, q1, p.rows):
                i1 = min(i0 + p.rows, q1)
                tiles = _tiles(mask, i0, i1, k.shape[1], p.cols)
                for h in range(H):
                    parts = [r.start(h + head0, i0, i1) for r in reducers]
                    if not tiles or (v is None and all(part is None for part in parts)):
                        continue
                    waiting.append((h, i0, parts, pool.submit(_unit, x, h, i0, i1, tiles,
                                                              parts)))  # fmt: skip
                    while len(waiting) > AHEAD * threads:
                        settle()
            while waiting:
                settle()
        except BaseException:
            for *_, future in waiting:
                future.cancel()
            raise
    return outputs


@dataclass(frozen=True, eq=False)
class Streaming:
    """A layer's attention streamed rather than kept: its ``mask``, the ``reducers`` of its
    weights, the queries computed (``rows``, None: all), whether its outputs are needed
    (a layer whose output no later layer reads: not), the size of a tile."""

    mask: Mask
    reducers: tuple[Reducer, ...] = ()
    rows: tuple[int, int] | None = None
    outputs: bool = True
    tile_bytes: int = TILE_BYTES
    tick: Callable[[float], None] | None = None
