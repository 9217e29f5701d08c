"""The heatmap of a run: a panel per selected head, cut to a crop or whole; the model view,
every layer × head; the attention rollout. Each with its JSON (and the heatmap's CSV).

Shapes: L layers, H heads, T tokens.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..trace import Crop, Trace, cells, select_heads
from .labels import head_label, plain, strings, trace_line
from .panel import Panel, limit

SCALES = ("fixed", "head")
Strongest = list[tuple[int, list[tuple[int, float]]]]  # per query: (key, weight), strongest first


def strongest(weights: np.ndarray, allowed: np.ndarray, queries: range, keys: range,
              k: int) -> Strongest:  # fmt: skip
    """For each of ``queries``, its ``k`` strongest keys among ``keys`` that it may see, with
    their weights: (T, T) -> [(query, [(key, weight), ...]), ...]."""
    seen = np.zeros(weights.shape[1], dtype=bool)
    seen[keys.start : keys.stop] = True
    rows = []
    for i in queries:
        candidates = np.flatnonzero(allowed[i] & seen)
        best = candidates[np.argsort(-weights[i, candidates], kind="stable")[:k]]
        rows.append((i, [(int(j), float(weights[i, j])) for j in best]))
    return rows


def check_scale(scale: str) -> str:
    """``scale``, or ConfigError when it is not one of SCALES."""
    if scale not in SCALES:
        raise ConfigError(f"unknown scale {scale!r}; choose one of: {', '.join(SCALES)}")
    return scale


@dataclass(frozen=True, eq=False)
class HeatmapView:
    """The selected heads of a run; ``scale`` "fixed" colours [0, 1], "head" each panel to its
    own largest weight; ``crop`` shows only its queries and keys (the weights as computed on
    the whole text)."""

    trace: Trace
    heads: list[int]
    crop: Crop | None = None
    scale: str = "fixed"
    lang: str = "en"

    @property
    def title(self) -> str:
        return trace_line(self.trace, self.lang, self.crop, shown=self.heads)

    def panels(self) -> Iterator[Panel]:
        """A Panel per head. A generator: a long text's panels (T² values each) are made one
        at a time, as drawn."""
        rows, cols = cells(self.crop)
        hidden = ~self.trace.allowed[rows, cols]
        start = (self.crop.q0, self.crop.k0) if self.crop else (None, None)
        boundary = self.trace.model.prompt_tokens if self.trace.model else 0
        for h in self.heads:
            w = self.trace.weights[h, rows, cols]  # a view, in the run's dtype: no T x T copy
            title = head_label(self.trace, h, self.lang)
            yield Panel(h, title, w, hidden, limit=limit(w, self.scale), row0=start[0],
                        col0=start[1], boundary=boundary or None)  # fmt: skip

    def strongest(self, h: int, k: int) -> Strongest:
        """Head ``h``'s ``k`` strongest keys of each query shown (among the keys shown)."""
        T = len(self.trace.tokens)
        crop = self.crop
        queries = range(crop.q0, crop.q1) if crop else range(T)
        keys = range(crop.k0, crop.k1) if crop else range(T)
        return strongest(self.trace.weights[h], self.trace.allowed, queries, keys, k)

    def to_json(self) -> dict[str, Any]:
        """Tokens, config, heads, (crop,) allowed and the weights of the selected heads."""
        return dict(plain(self.json_data()))

    def json_data(self) -> dict[str, Any]:
        """``to_json()``'s data, its arrays left as arrays (``write_json`` writes them a row
        at a time)."""
        cut = cells(self.crop)
        return {
            "tokens": self.trace.texts,
            "config": self.trace.config.to_dict(),
            "heads": self.heads,
            **({"window": self.crop.to_dict()} if self.crop else {}),
            "allowed": self.trace.allowed[cut],
            "weights": self.trace.weights[self.heads][:, cut[0], cut[1]],
        }

    def to_csv(self) -> str:
        """A long table, one row per cell: head,query_index,query,key_index,key,weight,allowed
        (the crop's cells only, with their indices in the whole text)."""
        return "".join(self.csv_lines())

    def csv_lines(self) -> Iterator[str]:
        """``to_csv()``'s text, a query's cells at a time."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["head", "query_index", "query", "key_index", "key", "weight", "allowed"])
        texts, allowed = self.trace.texts, self.trace.allowed
        q0, k0 = (self.crop.q0, self.crop.k0) if self.crop else (0, 0)
        cut = cells(self.crop)
        for h in self.heads:
            for a, row in enumerate(self.trace.weights[h][cut]):
                i = q0 + a
                for b, w in enumerate(row.tolist()):
                    j = k0 + b
                    writer.writerow([h, i, texts[i], j, texts[j], repr(w), int(allowed[i, j])])
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()


def heatmap_view(
    trace: Trace,
    heads: Sequence[int] | None = None,
    *,
    crop: Crop | None = None,
    scale: str = "fixed",
    lang: str = "en",
) -> HeatmapView:
    """The heatmap of ``heads`` (default all) of ``trace``."""
    strings(lang)
    return HeatmapView(trace, select_heads(heads, trace.heads), crop, check_scale(scale), lang)


class _EveryLayer:
    """What a view of every layer of a run says of it."""

    trace: Trace
    lang: str

    @property
    def title(self) -> str:
        """The run's line, with no layer named: every layer is shown."""
        return trace_line(self.trace, self.lang, every_layer=True, shown=self.shown)

    @property
    def shown(self) -> list[int] | None:
        """The heads shown (None: every one, as a rollout averages them)."""
        return None

    @property
    def layers(self) -> int:
        return int(self.trace.layer_weights.shape[0])


@dataclass(frozen=True, eq=False)
class ModelView(_EveryLayer):
    """Every layer (rows) × every selected head (columns) of a run: a checkpoint's layers, or a
    seeded run's one."""

    trace: Trace
    heads: list[int]
    scale: str = "fixed"
    lang: str = "en"

    @property
    def shown(self) -> list[int] | None:
        return self.heads

    @property
    def head_titles(self) -> list[str]:
        """The titles of the columns, the first row's panels': "head 0", "1", "2", ... (small
        panels side by side, numbered like an axis)."""
        t = self.trace
        return [head_label(t, h, self.lang, word=n == 0) for n, h in enumerate(self.heads)]

    def panels(self) -> Iterator[Panel]:
        """A Panel per layer and head, in reading order, each under its layer's mask; only the
        first row names its heads."""
        weights, hidden = self.trace.layer_weights, ~self.trace.layer_allowed  # (L,H,T,T), (L,T,T)
        for n in range(self.layers):
            for h, title in zip(self.heads, self.head_titles, strict=True):
                w = weights[n, h]
                yield Panel(h, title if n == 0 else "", w, hidden[n], limit=limit(w, self.scale))

    def to_json(self) -> dict[str, Any]:
        """The heatmap's JSON of every head of the last layer, and ``layer_weights`` (L, heads,
        T, T)."""
        return dict(plain(self.json_data()))

    def json_data(self) -> dict[str, Any]:
        """``to_json()``'s data, its arrays left as arrays."""
        data = HeatmapView(self.trace, self.heads).json_data()
        data["layer_weights"] = self.trace.layer_weights[:, self.heads]
        if self.trace.model is not None and self.trace.model.layer_allowed is not None:
            data["layer_allowed"] = self.trace.model.layer_allowed  # layers differ
        return data


def model_view(
    trace: Trace, heads: Sequence[int] | None = None, *, scale: str = "fixed", lang: str = "en"
) -> ModelView:
    """The model view of ``heads`` (default all) of ``trace``."""
    strings(lang)
    return ModelView(trace, select_heads(heads, trace.heads), check_scale(scale), lang)


@dataclass(frozen=True, eq=False)
class RolloutView(_EveryLayer):
    """The attention rollout of a run (``attnviz.stats.rollout``) as one panel; cells no path
    of attention reaches (exactly 0) are hidden."""

    trace: Trace
    flow: np.ndarray  # (T, T)
    lang: str = "en"

    @property
    def panel(self) -> Panel:
        name = strings(self.lang)["rollout_of"].format(n=self.layers)
        return Panel(0, name, self.flow, self.flow == 0)

    def strongest(self, k: int) -> Strongest:
        """Each token's ``k`` strongest inputs."""
        T = len(self.trace.tokens)
        return strongest(self.flow, self.flow > 0, range(T), range(T), k)

    def to_json(self) -> dict[str, Any]:
        return {"tokens": self.trace.texts, "config": self.trace.config.to_dict(),
                "layers": self.layers, "rollout": self.flow.tolist()}  # fmt: skip


def rollout_view(trace: Trace, *, lang: str = "en") -> RolloutView:
    """The rollout of every layer of ``trace``."""
    from ..stats import rollout

    strings(lang)
    return RolloutView(trace, rollout(trace.layer_weights), lang)
