"""The scaling lesson (``attnviz.scaling.sweep``): for each d_k, the measures of the scores
unscaled and divided by √d_k, as a table, JSON and CSV."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..display import Picture
from ..scaling import MEASURES, Sweep
from .labels import strings


@dataclass(frozen=True, eq=False, repr=False)
class ScalingView(Picture):
    """A sweep over d_k, with the language of its labels."""

    sweep: Sweep
    lang: str = "en"

    @property
    def title(self) -> str:
        w = self.sweep
        return strings(self.lang)["scaling_title"].format(rows=w.rows, keys=w.keys, seed=w.seed)

    def to_json(self) -> dict[str, Any]:
        """d_k, the draw's sizes and seed, and each measure unscaled and scaled, per d_k."""
        w = self.sweep
        return {"dk": list(w.dks), "rows": w.rows, "keys": w.keys, "seed": w.seed,
                "unscaled": {m: w.unscaled[m].tolist() for m in MEASURES},
                "scaled": {m: w.scaled[m].tolist() for m in MEASURES}}  # fmt: skip

    def to_csv(self) -> str:
        """One line per d_k and scaling: dk, scaled (0 or 1), every measure written in full."""
        w = self.sweep
        lines = [",".join(("dk", "scaled", *MEASURES))]
        for n, dk in enumerate(w.dks):
            for flag, values in ((0, w.unscaled), (1, w.scaled)):
                lines.append(",".join((str(dk), str(flag),
                                       *(repr(float(values[m][n])) for m in MEASURES))))  # fmt: skip
        return "\n".join(lines) + "\n"
