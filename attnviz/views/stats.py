"""The numbers that sum up each head (``attnviz.stats.head_stats``): a heads × metrics table,
its JSON and CSV."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..stats import HEAD_METRICS, head_stats
from ..trace import Trace, select_heads
from .labels import strings, trace_line


@dataclass(frozen=True, eq=False)
class StatsView:
    """The statistics of the selected heads of a run: ``numbers`` has one array per metric
    (heads,), and ``rows``, how many query rows entered the means."""

    trace: Trace
    heads: list[int]
    numbers: dict[str, np.ndarray]
    lang: str = "en"

    @property
    def title(self) -> str:
        return trace_line(self.trace, self.lang, shown=self.heads)

    @property
    def kv(self) -> list[int] | None:
        """Each head's key/value head, for a model with grouped-query attention (else None)."""
        t = self.trace
        return [t.kv_group(h)[0] for h in self.heads] if t.kv_heads < t.heads else None

    def to_json(self) -> dict[str, Any]:
        kv = {} if self.kv is None else {"kv": self.kv}
        return {"tokens": self.trace.texts, "config": self.trace.config.to_dict(),
                "heads": self.heads, **kv,
                **{m: self.numbers[m].tolist() for m in (*HEAD_METRICS, "rows")}}  # fmt: skip

    def to_csv(self) -> str:
        """head, (kv,) every metric, rows: one line per head, the numbers written in full."""
        kv = self.kv
        lines = [",".join(("head", *(["kv"] if kv else []), *HEAD_METRICS, "rows"))]
        for n, h in enumerate(self.heads):
            values = (repr(float(self.numbers[m][n])) for m in HEAD_METRICS)
            group = [str(kv[n])] if kv else []
            lines.append(",".join((str(h), *group, *values, str(int(self.numbers["rows"][n])))))
        return "\n".join(lines) + "\n"


def stats_view(trace: Trace, heads: Sequence[int] | None = None, *, lang: str = "en") -> StatsView:
    """The statistics of ``heads`` (default all) of ``trace``."""
    strings(lang)
    chosen = select_heads(heads, trace.heads)
    return StatsView(trace, chosen, head_stats(trace, chosen), lang)
