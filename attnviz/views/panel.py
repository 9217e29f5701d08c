"""The panel: one matrix a view shows, with its mask and its colour scale; pooled to the
cells a figure shows when it has more.

Shapes: Tq query rows, Tk key columns (tokens); R x C cells, f tokens a side (pooled).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Panel:
    """What one heatmap panel shows.

    weights (Tq, Tk): the values (attention weights, or signed values when ``signed``);
    hidden (Tq, Tk) bool: the cells the mask hides. ``limit`` is the value at the top of the
    colour scale: a weight w is coloured at w / limit, a signed value v at (v / limit + 1) / 2.

    A pooled panel (``cell`` f > 1) holds R x C cells of f x f tokens over ``span`` (Tq, Tk)
    tokens: ``weights`` each block's mean or largest value (``pool``), ``hidden`` the blocks
    the mask hides whole, ``partly`` those it hides in part.
    """

    head: int
    title: str
    weights: np.ndarray
    hidden: np.ndarray
    limit: float = 1.0
    signed: bool = False  # a diverging scale centred at 0; numbers printed as +.12, −.05
    row0: int | None = None  # in a crop (--window): the index of the first query shown
    col0: int | None = None  # ... and of the first key shown
    boundary: int | None = None  # the first generated token (in the whole text), when any
    row_names: tuple[str, ...] | None = None  # rows that are not tokens (a token's layers)
    key_names: tuple[str, ...] | None = None  # the keys' tokens when not the queries' (cross)
    cell: int = 1  # tokens a cell side: 1, or f > 1 for a pooled panel
    partly: np.ndarray | None = None  # (R, C) of a pooled panel: blocks the mask hides in part
    span: tuple[int, int] | None = None  # (Tq, Tk) tokens a pooled panel covers
    pool: str = "mean"  # how its blocks are pooled: "mean", or "max" (the strongest value)
    floor: float | None = None  # a log colour scale from ``floor`` to ``limit`` (None: linear)
    by_head: bool = False  # ``limit`` is the head's largest weight (--scale head)

    @property
    def shape(self) -> tuple[int, int]:
        """(Tq, Tk): the tokens (or rows and columns) the panel covers."""
        return self.span if self.span is not None else self.weights.shape

    def generated_from(self, axis: str) -> int | None:
        """The panel's first row ("y") or column ("x") of a generated token, None if none."""
        if self.boundary is None or (axis == "y" and self.row_names is not None):
            return None
        if axis == "x" and self.key_names is not None:  # the keys are the source's: none made
            return None
        first = (self.row0 if axis == "y" else self.col0) or 0
        return max(self.boundary - first, 0)

    def to_color(self, values: np.ndarray) -> np.ndarray:
        """Values mapped to the colour scale, in [0, 1] (on a log scale: the floor and below
        at 0)."""
        v = np.asarray(values, dtype=np.float64)
        if self.floor is not None:
            low, span = np.log10(self.floor), np.log10(self.limit / self.floor)
            return np.clip((np.log10(np.maximum(v, self.floor)) - low) / span, 0, 1)
        scaled = v / self.limit
        return (scaled + 1) / 2 if self.signed else scaled

    @property
    def color(self) -> np.ndarray:
        """(Tq, Tk): each cell's place on the colour scale, NaN where hidden."""
        return np.where(self.hidden, np.nan, self.to_color(self.weights))


def log_floor(T: int) -> float:
    """The bottom of a log colour scale of weights over T keys: the power of ten at or below
    half the uniform weight 1 / T (1e-4 for 4,096 keys, 1e-6 for 65,536)."""
    return float(10 ** np.floor(np.log10(0.5 / max(T, 1))))


def limit(weights: np.ndarray, scale: str) -> float:
    """The top of a panel's colour scale: 1 ("fixed", "log"), or its largest weight ("head")."""
    top = float(weights.max(initial=0.0)) if scale == "head" else 1.0  # hidden weights are 0
    return top if top > 0 else 1.0


def signed_limit(values: np.ndarray) -> float:
    """The symmetric colour limit of signed values: their largest finite magnitude."""
    finite = values[np.isfinite(values)]
    return max(float(np.abs(finite).max(initial=0.0)), 1e-12)


MAX_CELLS = 512  # a figure's panel shows at most this many cells a side: more than its pixels


def pooled_panel(panel: Panel, resolution: int = MAX_CELLS) -> Panel:
    """``panel`` with at most ``resolution`` cells a side: pooled by its ``pool`` when it has
    more (a signed panel by the value of largest magnitude), else as it is."""
    from dataclasses import replace

    from ..pooling import Grid, cell_size, pool

    Tq, Tk = panel.shape
    f = cell_size(Tq, Tk, resolution)
    if f == 1 or panel.cell > 1:
        return panel
    m = pool(panel.weights, ~panel.hidden, Grid(0, Tq, 0, Tk, f), panel.pool, panel.signed)
    return replace(panel, weights=m.values, hidden=m.hidden, cell=f, partly=m.partly,
                   span=(Tq, Tk))  # fmt: skip
