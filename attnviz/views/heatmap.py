"""The heatmap of a run: a panel per selected head, cut to a crop or whole; the model view,
every layer × head; the attention rollout. Each with its JSON (and the heatmap's CSV).

Shapes: L layers, H heads, T tokens.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..display import Page, Picture
from ..errors import ConfigError
from ..pooling import Grid, Map, cell_size, check_pool, pool
from ..trace import Crop, Trace, cells, select_heads
from .labels import head_label, plain, strings, trace_line
from .panel import MAX_CELLS, Panel, limit, log_floor

if TYPE_CHECKING:  # (a dense run's view loads no streaming)
    from typing import TypeAlias

    from ..longrun import Streamed

    Run: TypeAlias = (
        Trace | Streamed
    )  # a run a view shows: its weights, or what a streamed run kept

SCALES = ("fixed", "head", "log")
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


def check_scale(scale: str | None) -> str | None:
    """``scale``, or ConfigError when it is not one of SCALES (None: by the map)."""
    if scale is not None and scale not in SCALES:
        raise ConfigError(f"unknown scale {scale!r}; choose one of: {', '.join(SCALES)}")
    return scale


def head_map(trace: Run, h: int, crop: Crop | None = None, layer: int | None = None,
             resolution: int = MAX_CELLS, how: str = "mean") -> Map:  # fmt: skip
    """Head h's attention in ``layer`` (None: the one the run shows) over ``crop`` (None:
    whole) as a view shows it: exact cells, or pooled by ``how`` to at most ``resolution``
    cells a side. A streamed run's map is the one it kept."""
    if not isinstance(trace, Trace):
        return trace.maps[(trace.layers[-1] if layer is None else layer, h)]
    w = trace.weights[h] if layer is None else trace.layer_weights[layer, h]  # (T,T) views
    allowed = trace.allowed if layer is None else trace.layer_allowed[layer]
    r = crop or whole(trace)
    grid = Grid(r.q0, r.q1, r.k0, r.k1, cell_size(r.q1 - r.q0, r.k1 - r.k0, resolution))
    if grid.f > 1:
        return pool(w, allowed, grid, how)
    rows, cols = cells(crop)
    return Map(w[rows, cols], ~allowed[rows, cols], None, grid, how)  # in the run's dtype


def cell_of(trace: Run, crop: Crop | None, resolution: int) -> int:
    """The tokens a side of the cells ``head_map`` makes (1: exact cells); a streamed run's
    maps share one grid."""
    if not isinstance(trace, Trace):
        return next(iter(trace.maps.values())).grid.f
    r = crop or whole(trace)
    return cell_size(r.q1 - r.q0, r.k1 - r.k0, resolution)


def key_names(trace: Run) -> tuple[str, ...] | None:
    """The keys' token texts when they are not the queries' (cross-attention's source)."""
    return tuple(trace.key_texts) if isinstance(trace, Trace) and trace.key_tokens else None


def whole(trace: Run) -> Crop:
    """The crop of every query and key of a run."""
    return Crop(0, len(trace.tokens), 0, trace.keys_count)


def dense(trace: Run) -> Trace | None:
    """The run's Trace, or None for a streamed run (it kept maps, not weights)."""
    return trace if isinstance(trace, Trace) else None


def map_panel(m: Map, h: int, title: str, scale: str, boundary: int | None = None,
              keys: tuple[str, ...] | None = None) -> Panel:  # fmt: skip
    """The Panel of a Map (its first query and key in the whole text when it is cut); on the
    log scale, its floor by the keys it covers; ``keys``: the keys' tokens when they are not
    the queries' (cross-attention's source)."""
    g = m.grid
    floor = log_floor(g.k1 - g.k0) if scale == "log" else None
    T = None if g.f == 1 else (g.q1 - g.q0, g.k1 - g.k0)
    cut = (g.q0, g.k0) if (g.q0, g.k0) != (0, 0) or g.f > 1 else (None, None)
    return Panel(h, title, m.values, m.hidden, limit=limit(m.values, scale), row0=cut[0],
                 col0=cut[1], boundary=boundary, cell=g.f, partly=m.partly, span=T,
                 pool=m.how, floor=floor, by_head=scale == "head", key_names=keys)  # fmt: skip


def pooled_line(cell: int, how: str, lang: str) -> str:
    """What a pooled view says of its cells ("" when they are single tokens)."""
    s = strings(lang)
    return "" if cell == 1 else s["pooled"].format(f=cell, how=s[f"pool_{how}"])


@dataclass(frozen=True, eq=False, repr=False)
class HeatmapView(Page):
    """The selected heads of a run; ``scale`` "fixed" colours [0, 1], "head" each panel to its
    own largest weight, "log" on a log scale (None: fixed, or log for pooled maps: the mean
    weights of a long run are small, about 1 / T);
    ``crop`` shows only its queries and keys (the weights as computed on the whole text);
    panels of more than ``resolution`` cells a side are pooled by ``pool``."""

    trace: Run
    heads: list[int]
    crop: Crop | None = None
    scale: str | None = None
    lang: str = "en"
    pool: str = "mean"
    resolution: int = MAX_CELLS

    def map(self, h: int) -> Map:
        return head_map(self.trace, h, self.crop, None, self.resolution, self.pool)

    @property
    def cell(self) -> int:
        """Tokens a cell side (1: exact cells)."""
        return cell_of(self.trace, self.crop, self.resolution)

    @property
    def shown_scale(self) -> str:
        return self.scale or ("log" if self.cell > 1 else "fixed")

    @property
    def side(self) -> int:
        """The larger side of a panel, in tokens."""
        r = self.crop or whole(self.trace)
        return max(r.q1 - r.q0, r.k1 - r.k0)

    def masked(self) -> tuple[bool, bool]:
        """Whether the mask hides some cell shown, and (pooled) some block in part."""
        trace = self.exact()
        if trace is not None and self.cell == 1:
            return not trace.allowed[cells(self.crop)].all(), False
        m = self.map(self.heads[0])
        return bool(m.hidden.any()), m.partly is not None and bool(m.partly.any())

    @property
    def title(self) -> str:
        line = trace_line(self.trace, self.lang, self.crop, shown=self.heads)
        pooled = pooled_line(self.cell, self.pool, self.lang)
        return f"{line} · {pooled}" if pooled else line

    def panels(self) -> Iterator[Panel]:
        """A Panel per head. A generator: a long text's panels (T² values each) are made one
        at a time, as drawn."""
        boundary = self.trace.model.prompt_tokens if self.trace.model else 0
        for h in self.heads:
            yield map_panel(self.map(h), h, head_label(self.trace, h, self.lang),
                            self.shown_scale, boundary or None, key_names(self.trace))  # fmt: skip

    def exact(self) -> Trace | None:
        """The dense Trace, or None when the run kept no weights but maps."""
        return dense(self.trace)

    def strongest(self, h: int, k: int) -> Strongest:
        """Head ``h``'s ``k`` strongest keys of each query shown (among the keys shown)."""
        crop = self.crop or whole(self.trace)
        queries, keys = range(crop.q0, crop.q1), range(crop.k0, crop.k1)
        trace = self.exact()
        if trace is not None:
            return strongest(trace.weights[h], trace.allowed, queries, keys, k)
        m = _exact(self.map(h))
        g = m.grid
        rows = strongest(m.values, ~m.hidden, range(g.q1 - g.q0), range(g.k1 - g.k0), k)
        return [(i + g.q0, [(j + g.k0, w) for j, w in best]) for i, best in rows]

    def to_json(self) -> dict[str, Any]:
        """Tokens, config, heads, (crop,) allowed and the weights of the selected heads."""
        return dict(plain(self.json_data()))

    def json_data(self) -> dict[str, Any]:
        """``to_json()``'s data, its arrays left as arrays (``write_json`` writes them a row
        at a time). A streamed run's pooled maps give ``pooled`` (the cell's side in tokens
        and the pooling), ``hidden`` and ``partly`` per cell, and the cells' values."""
        cut = cells(self.crop)
        keys = key_names(self.trace)  # cross-attention's: the source's tokens
        head = {"tokens": self.trace.texts, **({"key_tokens": list(keys)} if keys else {}),
                "config": self.trace.config.to_dict(), "heads": self.heads,
                **({"window": self.crop.to_dict()} if self.crop else {})}  # fmt: skip
        trace = self.exact()
        if trace is not None:
            return {**head, "allowed": trace.allowed[cut],
                    "weights": trace.weights[self.heads][:, cut[0], cut[1]]}  # fmt: skip
        maps = [self.map(h) for h in self.heads]
        return {**head, **map_json(maps)}

    def to_csv(self) -> str:
        """A long table, one row per cell: head,query_index,query,key_index,key,weight,allowed
        (the crop's cells only, with their indices in the whole text)."""
        return "".join(self.csv_lines())

    def csv_lines(self) -> Iterator[str]:
        """``to_csv()``'s text, a query's cells at a time."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["head", "query_index", "query", "key_index", "key", "weight", "allowed"])
        texts, key_texts = self.trace.texts, self.trace.key_texts
        for h in self.heads:
            m = _exact(self.map(h)) if self.exact() is None else head_map(self.trace, h, self.crop)
            q0, k0 = m.grid.q0, m.grid.k0
            for a, row in enumerate(np.asarray(m.values)):
                i = q0 + a
                for b, w in enumerate(row.tolist()):
                    j = k0 + b
                    writer.writerow([h, i, texts[i], j, key_texts[j], repr(w),
                                     int(not m.hidden[a, b])])  # fmt: skip
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()


def map_json(maps: Sequence[Map]) -> dict[str, Any]:
    """The JSON fields of maps of one mask: exact cells as ``allowed`` and ``weights``; pooled
    ones with ``pooled`` ({"cell", "pool"}), ``hidden``, ``partly`` and ``weights``."""
    g = maps[0].grid
    values = np.stack([m.values for m in maps])
    if g.f == 1:
        return {"allowed": ~maps[0].hidden, "weights": values}
    return {"pooled": {"cell": g.f, "pool": maps[0].how}, "hidden": maps[0].hidden,
            "partly": maps[0].partly, "weights": values}  # fmt: skip


def _exact(m: Map) -> Map:
    """``m``, or ConfigError when its cells are pooled (a list of cells needs exact ones)."""
    if m.grid.f > 1:
        raise ConfigError(f"a streamed run keeps pooled cells of {m.grid.f} x {m.grid.f} tokens: "
                          "for the exact weights, choose a smaller part with `crop` (--window)")  # fmt: skip
    return m


def heatmap_view(
    trace: Run,
    heads: Sequence[int] | None = None,
    *,
    crop: Crop | None = None,
    scale: str | None = None,
    lang: str = "en",
    pool: str = "mean",
    resolution: int = MAX_CELLS,
) -> HeatmapView:
    """The heatmap of ``heads`` (default all) of ``trace``, pooled by ``pool`` beyond
    ``resolution`` cells a side (a streamed run: as it was pooled)."""
    strings(lang)
    cell_size(1, 1, resolution)
    return HeatmapView(trace, _shown(trace, heads), crop, check_scale(scale), lang,
                       check_pool(pool), resolution)  # fmt: skip


def _shown(trace: Run, heads: Sequence[int] | None) -> list[int]:
    """The heads ``heads`` (None: all) of the run; of a streamed run, those it kept."""
    chosen = select_heads(heads, trace.heads)
    if not isinstance(trace, Trace):
        missing = [h for h in chosen if h not in trace.shown]
        if missing:
            raise ConfigError(f"the streamed run kept heads {list(trace.shown)}, not {missing[0]}")
    return chosen


class _EveryLayer:
    """What a view of every layer of a run says of it."""

    trace: Any
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
        if not isinstance(self.trace, Trace):
            return len(self.trace.layers)
        return int(self.trace.layer_weights.shape[0])


@dataclass(frozen=True, eq=False, repr=False)
class ModelView(_EveryLayer, Page):
    """Every layer (rows) × every selected head (columns) of a run: a checkpoint's layers, or a
    seeded run's one; panels of more than ``resolution`` cells a side pooled by ``pool``."""

    trace: Run
    heads: list[int]
    scale: str | None = None
    lang: str = "en"
    pool: str = "mean"
    resolution: int = MAX_CELLS

    @property
    def shown(self) -> list[int] | None:
        return self.heads

    @property
    def head_titles(self) -> list[str]:
        """The titles of the columns, the first row's panels': "head 0", "1", "2", ... (small
        panels side by side, numbered like an axis)."""
        t = self.trace
        return [head_label(t, h, self.lang, word=n == 0) for n, h in enumerate(self.heads)]

    def map(self, n: int, h: int) -> Map:
        return head_map(self.trace, h, None, n, self.resolution, self.pool)

    def exact(self) -> Trace | None:
        return dense(self.trace)

    @property
    def cell(self) -> int:
        """Tokens a cell side (1: exact cells)."""
        return cell_of(self.trace, None, self.resolution)

    @property
    def title(self) -> str:
        pooled = pooled_line(self.cell, self.pool, self.lang)
        return super().title + (f" · {pooled}" if pooled else "")

    @property
    def shown_scale(self) -> str:
        return self.scale or ("log" if self.cell > 1 else "fixed")

    def panels(self) -> Iterator[Panel]:
        """A Panel per layer and head, in reading order, each under its layer's mask; only the
        first row names its heads."""
        keys = key_names(self.trace)
        for n in range(self.layers):
            for h, title in zip(self.heads, self.head_titles, strict=True):
                yield map_panel(self.map(n, h), h, title if n == 0 else "", self.shown_scale,
                                keys=keys)  # fmt: skip

    def masked(self) -> tuple[bool, bool]:
        """Whether the mask of some layer hides a cell, and (pooled) some block in part."""
        maps = [self.map(n, self.heads[0]) for n in range(self.layers)]
        return (any(bool(m.hidden.any()) for m in maps),
                any(m.partly is not None and bool(m.partly.any()) for m in maps))  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """The heatmap's JSON of every head of the last layer, and ``layer_weights`` (L, heads,
        T, T)."""
        return dict(plain(self.json_data()))

    def json_data(self) -> dict[str, Any]:
        """``to_json()``'s data, its arrays left as arrays; of a streamed run, each layer's
        pooled maps (``layer_weights``, ``layer_hidden``, ``layer_partly``)."""
        data = HeatmapView(self.trace, self.heads, pool=self.pool,
                           resolution=self.resolution).json_data()  # fmt: skip
        if not isinstance(self.trace, Trace):
            per_layer = [map_json([self.map(n, h) for h in self.heads]) for n in range(self.layers)]
            data["layer_weights"] = np.stack([d["weights"] for d in per_layer])
            if "hidden" in per_layer[0]:
                data["layer_hidden"] = np.stack([d["hidden"] for d in per_layer])
                data["layer_partly"] = np.stack([d["partly"] for d in per_layer])
            return data
        data["layer_weights"] = self.trace.layer_weights[:, self.heads]
        if self.trace.model is not None and self.trace.model.layer_allowed is not None:
            data["layer_allowed"] = self.trace.model.layer_allowed  # layers differ
        return data


def model_view(
    trace: Run, heads: Sequence[int] | None = None, *, scale: str | None = None,
    lang: str = "en", pool: str = "mean", resolution: int = MAX_CELLS,
) -> ModelView:  # fmt: skip
    """The model view of ``heads`` (default all) of ``trace``, pooled by ``pool`` beyond
    ``resolution`` cells a side (a streamed run: as it was pooled)."""
    strings(lang)
    cell_size(1, 1, resolution)
    return ModelView(trace, _shown(trace, heads), check_scale(scale), lang, check_pool(pool),
                     resolution)  # fmt: skip


@dataclass(frozen=True, eq=False, repr=False)
class RolloutView(_EveryLayer, Picture):
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
    if trace.attention == "cross":
        raise ConfigError("the rollout multiplies a self-attention's layers, and cross-attention "
                          "maps the target onto the source: give `attention` encoder or decoder")  # fmt: skip
    return RolloutView(trace, rollout(trace.layer_weights), lang)
