"""The attention-sink curve: per layer and head, the share of each query's weight that goes
to the first token, averaged over the queries that see a key. Over a long text a trained
decoder's heads put most of their weight there from the second or third layer on (Xiao et
al., 2023, "Efficient Streaming Language Models with Attention Sinks")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..display import Picture
from ..longrun import Streamed
from .labels import strings, trace_line

SINK_MEASURES = ("keys", "first")  # the row measures the curve needs


@dataclass(frozen=True, eq=False, repr=False)
class SinkView(Picture):
    """``shares`` (layers, heads): the mean first-token share of each head of each layer in
    ``layers``; ``uniform``, what a head spreading its weight evenly over the keys it sees
    would put there (the mean of 1 / keys)."""

    trace: Streamed
    heads: list[int]
    layers: list[int]
    shares: np.ndarray
    uniform: float
    lang: str = "en"

    @property
    def title(self) -> str:
        s = strings(self.lang)
        line = trace_line(self.trace, self.lang, every_layer=True, shown=self.heads)
        return f"{s['sink_title'].format(n=len(self.trace.tokens))} · {line}"

    def to_json(self) -> dict[str, Any]:
        return {"tokens": len(self.trace.tokens), "config": self.trace.config.to_dict(),
                "layers": self.layers, "heads": self.heads, "first": self.shares.tolist(),
                "mean": self.shares.mean(axis=1).tolist(), "uniform": self.uniform}  # fmt: skip

    def to_csv(self) -> str:
        """layer, head, first: a line per layer and head, the numbers in full."""
        lines = ["layer,head,first"]
        for n, layer in enumerate(self.layers):
            for c, h in enumerate(self.heads):
                lines.append(f"{layer},{h},{float(self.shares[n, c])!r}")
        return "\n".join(lines) + "\n"


def sink_view(run: Streamed, heads: Sequence[int], *, lang: str = "en") -> SinkView:
    """The first-token shares a streamed run measured (``SINK_MEASURES``) of ``heads``."""
    strings(lang)
    layers = list(run.layers)
    shares = np.zeros((len(layers), len(heads)))
    keys = run.rows[(layers[0], heads[0])]["keys"]
    seen = keys > 0
    for n, layer in enumerate(layers):
        for c, h in enumerate(heads):
            first = run.rows[(layer, h)]["first"]
            shares[n, c] = float(first[seen].mean()) if seen.any() else 0.0
    uniform = float((1 / keys[seen]).mean()) if seen.any() else 0.0
    return SinkView(run, list(heads), layers, shares, uniform, lang)
