"""The numbers that sum up each head (``attnviz.stats.head_stats``): a heads × metrics table,
its JSON and CSV."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..display import Picture
from ..longrun import Streamed
from ..stats import HEAD_METRICS, head_numbers, head_stats, metrics_of, token_codes
from ..trace import Trace, select_heads
from .labels import strings, trace_line


@dataclass(frozen=True, eq=False, repr=False)
class StatsView(Picture):
    """The statistics of the selected heads of a run: ``numbers`` has one array per metric
    (heads,), and ``rows``, how many query rows entered the means."""

    trace: Trace | Streamed
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

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics shown: cross-attention's (``CROSS_METRICS``), or the heads'."""
        return metrics_of(self.numbers)

    def to_json(self) -> dict[str, Any]:
        kv = {} if self.kv is None else {"kv": self.kv}
        keys = {"key_tokens": self.trace.key_texts} if self.trace.attention == "cross" else {}
        return {"tokens": self.trace.texts, **keys, "config": self.trace.config.to_dict(),
                "heads": self.heads, **kv,
                **{m: _listed(self.numbers[m]) for m in (*self.metrics, "rows")}}  # fmt: skip

    def to_csv(self) -> str:
        """head, (kv,) every metric, rows: one line per head, the numbers written in full."""
        kv = self.kv
        lines = [",".join(("head", *(["kv"] if kv else []), *self.metrics, "rows"))]
        for n, h in enumerate(self.heads):
            values = ("" if np.isnan(v) else repr(v)
                      for v in (float(self.numbers[m][n]) for m in self.metrics))  # fmt: skip
            group = [str(kv[n])] if kv else []
            lines.append(",".join((str(h), *group, *values, str(int(self.numbers["rows"][n])))))
        return "\n".join(lines) + "\n"


def stats_view(trace: Trace | Streamed, heads: Sequence[int] | None = None, *,
               lang: str = "en") -> StatsView:  # fmt: skip
    """The statistics of ``heads`` (default all) of ``trace``; of a streamed run, from the
    row measures it kept (``STATS_MEASURES``), but ``keys_90`` (NaN: it needs each row's
    weights sorted whole)."""
    strings(lang)
    chosen = select_heads(heads, trace.heads)
    if isinstance(trace, Trace):
        return StatsView(trace, chosen, head_stats(trace, chosen), lang)
    n = trace.layers[-1]
    numbers = head_numbers([trace.rows[(n, h)] for h in chosen], token_codes(trace.texts))
    numbers["keys_90"] = np.full(len(chosen), np.nan)
    return StatsView(trace, chosen, {m: numbers[m] for m in (*HEAD_METRICS, "rows")}, lang)


def _listed(values: np.ndarray) -> list[Any]:
    """Numbers for JSON: NaN (not measured) as null."""
    return [None if isinstance(v, float) and np.isnan(v) else v for v in values.tolist()]
