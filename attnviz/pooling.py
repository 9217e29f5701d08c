"""Pooled maps: a head's attention at the resolution a figure or a terminal can show, each
cell the mean (or the largest) weight of the block of f x f queries and keys it covers.

One pooling for both ways out of the kernel: ``pool`` pools a dense matrix, and ``Pooler``
(a reducer of ``attnviz.stream``) pools the tiles of a streamed run as they come, through
the same ``_cells`` — the same sums whichever way the weights arrive. A mean is taken over
the cells the mask lets the query see; a block the mask hides whole is hidden, a block it
hides in part is marked as such (``partly``).

Shapes: Tq queries and Tk keys covered, R x C cells, f tokens a cell side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError
from .trace import Crop

if TYPE_CHECKING:  # (a dense run loads no streaming)
    from .stream import Tile

POOLS = ("mean", "max")


def check_pool(how: str) -> str:
    """``how``, or ConfigError when it is not one of POOLS."""
    if how not in POOLS:
        raise ConfigError(f"unknown pool {how!r}; choose one of: {', '.join(POOLS)}")
    return how


def cell_size(Tq: int, Tk: int, resolution: int) -> int:
    """f, the tokens a cell side, for at most ``resolution`` cells along either axis."""
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or (
            resolution < 1):  # fmt: skip
        raise ConfigError(f"`resolution` must be a whole number of cells >= 1, not {resolution!r}")
    return max(1, -(-max(Tq, Tk) // int(resolution)))


@dataclass(frozen=True)
class Grid(Crop):
    """Cells of ``f`` x ``f`` tokens over the crop's queries q0..q1−1 and keys k0..k1−1 (the
    last row and column of cells may be smaller)."""

    f: int

    @property
    def shape(self) -> tuple[int, int]:
        """(R, C): the cells."""
        return -(-(self.q1 - self.q0) // self.f), -(-(self.k1 - self.k0) // self.f)

    def area(self) -> np.ndarray:
        """(R, C): the tokens x tokens each cell covers."""
        rows = np.minimum(self.f, self.q1 - self.q0 - self.f * np.arange(self.shape[0]))
        cols = np.minimum(self.f, self.k1 - self.k0 - self.f * np.arange(self.shape[1]))
        return rows[:, None] * cols[None, :]


def _starts(a: int, b: int, origin: int, f: int) -> np.ndarray:
    """Where cells begin within a..b−1 (cells of f from ``origin``), relative to a: (n,)."""
    first = origin + ((a - origin) // f + 1) * f
    return np.concatenate([[0], np.arange(first, b, f) - a]).astype(np.intp)


@dataclass(eq=False)
class Sums:
    """One head's running sums over a grid's cells (or over the rows r0.. of them that one
    block of queries touches): the weights, the visible cells, the largest and (for signed
    values) the smallest value."""

    r0: int
    sums: np.ndarray  # (r, C) float64
    seen: np.ndarray  # (r, C) int64
    top: np.ndarray  # (r, C)
    low: np.ndarray  # (r, C)

    @classmethod
    def empty(cls, rows: int, cols: int, r0: int = 0) -> Sums:
        return cls(r0, np.zeros((rows, cols)), np.zeros((rows, cols), np.int64),
                   np.full((rows, cols), -np.inf), np.full((rows, cols), np.inf))  # fmt: skip

    def add(self, other: Sums) -> None:
        """``other``'s cells added to these (in place)."""
        at = slice(other.r0 - self.r0, other.r0 - self.r0 + len(other.sums))
        self.sums[at] += other.sums
        self.seen[at] += other.seen
        np.maximum(self.top[at], other.top, out=self.top[at])
        np.minimum(self.low[at], other.low, out=self.low[at])


def _lengths(starts: np.ndarray, n: int) -> np.ndarray:
    return np.diff(np.append(starts, n))


def _cells(sums: Sums, grid: Grid, w: np.ndarray, allowed: np.ndarray | None, i0: int, j0: int,
           how: str = "mean", signed: bool = False) -> None:  # fmt: skip
    """Add the values ``w`` (B, C) of queries i0.. and keys j0.. (``allowed`` their visible
    cells; None: all) to the cells of ``grid`` they fall in, ``sums`` holding rows r0..:
    their sum ("mean") or their largest ("max"; and smallest, when ``signed``). A hidden
    weight is 0; a signed value where the mask hides the cell is left out."""
    a, b = max(i0, grid.q0), min(i0 + w.shape[0], grid.q1)
    c, d = max(j0, grid.k0), min(j0 + w.shape[1], grid.k1)
    if a >= b or c >= d:
        return
    part = w[a - i0 : b - i0, c - j0 : d - j0]
    seen = None if allowed is None else allowed[a - i0 : b - i0, c - j0 : d - j0]
    rows, cols = _starts(a, b, grid.q0, grid.f), _starts(c, d, grid.k0, grid.f)
    r, k = (a - grid.q0) // grid.f - sums.r0, (c - grid.k0) // grid.f
    at = (slice(r, r + len(rows)), slice(k, k + len(cols)))
    if seen is None:
        sums.seen[at] += np.outer(_lengths(rows, b - a), _lengths(cols, d - c))
    else:
        sums.seen[at] += np.add.reduceat(np.add.reduceat(seen, cols, axis=1, dtype=np.int64),
                                         rows, axis=0)  # fmt: skip
        if signed:
            part = np.where(seen, part, 0)
    if how == "mean":
        sums.sums[at] += np.add.reduceat(np.add.reduceat(part, cols, axis=1, dtype=np.float64),
                                         rows, axis=0)  # fmt: skip
        return
    top = np.maximum.reduceat(np.maximum.reduceat(part, cols, axis=1), rows, axis=0)
    np.maximum(sums.top[at], top, out=sums.top[at])
    if signed:
        low = np.minimum.reduceat(np.minimum.reduceat(part, cols, axis=1), rows, axis=0)
        np.minimum(sums.low[at], low, out=sums.low[at])


@dataclass(frozen=True, eq=False)
class Map:
    """A head's attention as a view shows it: ``values`` (R, C), each cell the mean of the
    visible weights of its block (``how`` "mean"), or the largest ("max"; for signed values
    the one of largest magnitude); ``hidden`` (R, C) the blocks the mask hides whole,
    ``partly`` (R, C) those it hides in part (None for exact cells: ``grid.f`` 1); over
    ``grid``."""

    values: np.ndarray
    hidden: np.ndarray
    partly: np.ndarray | None
    grid: Grid
    how: str


def finish(sums: Sums, grid: Grid, how: str, signed: bool = False) -> Map:
    """The Map of a grid's sums."""
    hidden = sums.seen == 0
    if how == "mean":
        values = np.divide(sums.sums, sums.seen, out=np.zeros_like(sums.sums), where=~hidden)
    elif signed:
        values = np.where(sums.top >= -sums.low, sums.top, sums.low)
    else:
        values = sums.top.astype(np.float64)
    values = np.where(hidden, 0.0, values)
    return Map(values, hidden, ~hidden & (sums.seen < grid.area()), grid, how)


def pool(w: np.ndarray, allowed: np.ndarray, grid: Grid, how: str = "mean",
         signed: bool = False) -> Map:  # fmt: skip
    """A dense matrix ``w`` (T, T) (and its ``allowed``) pooled over ``grid``: (R, C) cells."""
    sums = Sums.empty(*grid.shape)
    _cells(sums, grid, w, allowed, 0, 0, check_pool(how), signed)
    return finish(sums, grid, how, signed)


@dataclass(eq=False)
class _PoolPart:
    grid: Grid
    head: int
    sums: Sums
    how: str

    def take(self, tile: Tile) -> None:
        _cells(self.sums, self.grid, tile.weights, tile.allowed, tile.i0, tile.j0, self.how)


@dataclass(eq=False)
class Pooler:
    """A reducer that pools the weights of ``heads`` over ``grid`` as a streamed run makes
    them; ``maps()`` when the run is done."""

    heads: tuple[int, ...]
    grid: Grid
    how: str = "mean"
    sums: dict[int, Sums] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_pool(self.how)
        self.sums = {h: Sums.empty(*self.grid.shape) for h in self.heads}

    def start(self, head: int, i0: int, i1: int) -> _PoolPart | None:
        g = self.grid
        if head not in self.sums or i1 <= g.q0 or i0 >= g.q1:
            return None
        r0, r1 = (max(i0, g.q0) - g.q0) // g.f, (min(i1, g.q1) - 1 - g.q0) // g.f + 1
        return _PoolPart(g, head, Sums.empty(r1 - r0, g.shape[1], r0), self.how)

    def add(self, part: Any) -> None:
        self.sums[part.head].add(part.sums)

    def maps(self) -> dict[int, Map]:
        return {h: finish(s, self.grid, self.how) for h, s in self.sums.items()}


@dataclass(eq=False)
class _CropPart:
    head: int
    q0: int
    k0: int
    cells: np.ndarray

    def take(self, tile: Tile) -> None:
        B, C = self.cells.shape
        a, b = max(tile.i0, self.q0), min(tile.i1, self.q0 + B)
        c, d = max(tile.j0, self.k0), min(tile.j1, self.k0 + C)
        if a < b and c < d:
            self.cells[a - self.q0 : b - self.q0, c - self.k0 : d - self.k0] = tile.weights[
                a - tile.i0 : b - tile.i0, c - tile.j0 : d - tile.j0
            ]


@dataclass(eq=False)
class Cropper:
    """A reducer that keeps the exact weights of ``heads`` in queries q0..q1−1 and keys
    k0..k1−1 (a window of a streamed run): ``weights[h]`` (q1 − q0, k1 − k0)."""

    heads: tuple[int, ...]
    q0: int
    q1: int
    k0: int
    k1: int
    dtype: str = "float64"
    weights: dict[int, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = (self.q1 - self.q0, self.k1 - self.k0)
        self.weights = {h: np.zeros(shape, self.dtype) for h in self.heads}

    def start(self, head: int, i0: int, i1: int) -> _CropPart | None:
        if head not in self.weights or i1 <= self.q0 or i0 >= self.q1:
            return None
        a, b = max(i0, self.q0), min(i1, self.q1)
        return _CropPart(head, a, self.k0, np.zeros((b - a, self.k1 - self.k0), self.dtype))

    def add(self, part: Any) -> None:
        at = part.q0 - self.q0
        self.weights[part.head][at : at + len(part.cells)] = part.cells
