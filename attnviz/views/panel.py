"""The panel: one matrix a view shows, with its mask and its colour scale.

Shapes: Tq query rows, Tk key columns.
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

    def generated_from(self, axis: str) -> int | None:
        """The panel's first row ("y") or column ("x") of a generated token, None if none."""
        if self.boundary is None or (axis == "y" and self.row_names is not None):
            return None
        first = (self.row0 if axis == "y" else self.col0) or 0
        return max(self.boundary - first, 0)

    def to_color(self, values: np.ndarray) -> np.ndarray:
        """Values mapped to the colour scale, in [0, 1]."""
        scaled = np.asarray(values, dtype=np.float64) / self.limit
        return (scaled + 1) / 2 if self.signed else scaled

    @property
    def color(self) -> np.ndarray:
        """(Tq, Tk): each cell's place on the colour scale, NaN where hidden."""
        return np.where(self.hidden, np.nan, self.to_color(self.weights))


def limit(weights: np.ndarray, scale: str) -> float:
    """The top of a panel's colour scale: 1 ("fixed"), or its largest weight ("head")."""
    top = float(weights.max(initial=0.0)) if scale == "head" else 1.0  # hidden weights are 0
    return top if top > 0 else 1.0


def signed_limit(values: np.ndarray) -> float:
    """The symmetric colour limit of signed values: their largest finite magnitude."""
    finite = values[np.isfinite(values)]
    return max(float(np.abs(finite).max(initial=0.0)), 1e-12)
