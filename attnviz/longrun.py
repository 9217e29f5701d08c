"""Runs over long texts, streamed: attention computed a block of queries at a time and
reduced as it comes (``attnviz.stream``), so that no (H, T, T) array is ever held.

What a streamed run keeps is said before it starts (``Wanted``): the pooled maps (or, for a
window small enough, the exact cells) of some heads of some layers, and row measures. A
seeded run computes only the heads it shows (they do not depend on one another) and none of
their outputs; a checkpoint runs its layers one at a time up to the last one shown, each
layer's attention streamed and its outputs passed on, one layer's keys and values at a time.

Shapes: L layers, H heads (G key/value heads), T tokens, D width, Dh a head's width.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from . import stream
from .display import Page
from .errors import ConfigError
from .masks import Mask
from .pooling import Cropper, Grid, Map, Pooler, cell_size
from .rowstats import Keys, RowStats
from .tokens import PAD, Token
from .trace import AttentionConfig, Crop, ModelInfo
from .wanted import Wanted


@dataclass(frozen=True, eq=False, repr=False)
class Streamed(Page):
    """What a streamed run kept. ``maps[(n, h)]``: layer n, head h's Map (pooled, or exact
    cells when the grid's cells are single tokens); ``rows[(n, h)]``: its row measures (T,)
    each; ``layer_specs``: each layer's mask specs. Like a Trace it says its tokens, config
    (with the layer shown), heads, widths and model; unlike one it holds no weights."""

    tokens: tuple[Token, ...]
    config: AttentionConfig
    heads: int
    d_model: int
    d_k: int
    kv_heads: int
    layers: tuple[int, ...]
    shown: tuple[int, ...]
    maps: dict[tuple[int, int], Map]
    rows: dict[tuple[int, int], dict[str, np.ndarray]]
    layer_specs: tuple[tuple[str, ...], ...]
    n_layers: int = 1
    truncated: int = 0
    model: ModelInfo | None = None
    tile_bytes: int = stream.TILE_BYTES
    special_hidden: int = 0
    pieces_merged: int = 0

    @property
    def texts(self) -> list[str]:
        return [t.text for t in self.tokens]

    key_texts = texts  # the keys are the queries' tokens (no cross-attention is streamed)

    @property
    def keys_count(self) -> int:
        return len(self.tokens)

    @property
    def attention(self) -> str:
        return ""

    def kv_group(self, h: int) -> tuple[int, list[int]]:
        """The key/value head query head h reads, and every query head of its group."""
        size = self.heads // self.kv_heads
        return h // size, list(range(h // size * size, (h // size + 1) * size))

    def mask(self, n: int) -> Mask:
        """Layer n's mask."""
        pad = [t.special and t.text == PAD for t in self.tokens]
        return Mask(self.layer_specs[n], np.array(pad, dtype=bool))


THREADS_AHEAD = (stream.AHEAD + 1) * 8  # tiles alive at most: ahead of the reduction, per thread
CHUNK = 4096  # tokens embedded and projected at a time (seeded)


@dataclass(eq=False)
class _Layer:
    """The reducers of one shown layer and what they make of it."""

    region: Crop
    grid: Grid | None
    pooler: Pooler | None
    cropper: Cropper | None
    rowstats: RowStats | None

    @classmethod
    def make(cls, wanted: Wanted, T: int, keys: Keys, dtype: str) -> _Layer:
        region = wanted.region(T)
        heads = wanted.heads
        grid, pooler, cropper = None, None, None
        if wanted.resolution is not None:
            f = cell_size(region.q1 - region.q0, region.k1 - region.k0, wanted.resolution)
            grid = Grid(region.q0, region.q1, region.k0, region.k1, f)
            if f > 1:
                pooler = Pooler(heads, grid, wanted.pool)
            else:
                cropper = Cropper(heads, region.q0, region.q1, region.k0, region.k1, dtype)
        rowstats = RowStats(heads, T, wanted.measures, keys) if wanted.measures else None
        return cls(region, grid, pooler, cropper, rowstats)

    @property
    def reducers(self) -> tuple[stream.Reducer, ...]:
        return tuple(r for r in (self.pooler, self.cropper, self.rowstats) if r is not None)

    @property
    def rows(self) -> tuple[int, int] | None:
        """The queries the reducers need (None: all)."""
        return None if self.rowstats is not None else (self.region.q0, self.region.q1)

    def maps(self, mask: Mask, how: str) -> dict[int, Map]:
        if self.pooler is not None:
            return self.pooler.maps()
        if self.cropper is None or self.grid is None:
            return {}
        r, g = self.region, self.grid
        hidden = ~mask.block(r.q0, r.q1, r.k0, r.k1)
        return {h: Map(w, hidden, None, g, how)
                for h, w in self.cropper.weights.items()}  # fmt: skip


def _keys(tokens: Sequence[Token], measures: Sequence[str]) -> Keys:
    """What the row measures must know of the keys: codes, separators, punctuation."""
    from .stats import token_codes
    from .survey import key_kinds

    texts, special = [t.text for t in tokens], [t.special for t in tokens]
    codes = token_codes(texts) if "same" in measures else None
    if "separator" not in measures and "punctuation" not in measures:
        return Keys(codes)
    return Keys(codes, *key_kinds(texts, special))


class TooSmall(ConfigError):
    """The memory budget is too small for even the smallest tiles of a streamed run of T
    tokens, which needs ``need`` bytes (and the output, ``extra``)."""

    def __init__(self, T: int, need: int, least: int, extra: int = 0) -> None:
        self.T, self.need, self.least = T, need, least
        super().__init__(f"`memory_budget` is too small for a streamed run of {T} tokens: it "
                         f"needs at least {(need + extra) / 2**20:.0f} MiB (the text's arrays, "
                         f"the smallest tiles of {least:,} bytes and the output)")  # fmt: skip


def stream_bytes(T: int, per_token: int, fixed: int, tile_bytes: int) -> int:
    """The memory a streamed run needs: ``per_token`` bytes per token (its (T, ·) arrays),
    ``fixed`` bytes (weights, maps), and the tiles alive at once."""
    return T * per_token + fixed + THREADS_AHEAD * 3 * tile_bytes  # scores, mask, float64


def tile_for(budget: int | None, T: int, per_token: int, fixed: int, dtype: str) -> int:
    """The largest tile (at most stream.TILE_BYTES) that keeps a streamed run within
    ``budget``; ConfigError when not even the smallest does."""
    if budget is None:
        return stream.TILE_BYTES
    room = (budget - T * per_token - fixed) // (THREADS_AHEAD * 3)
    least = stream.least_tile_bytes(dtype)
    if room < least:
        raise TooSmall(T, stream_bytes(T, per_token, fixed, least), least)
    return int(min(room, stream.TILE_BYTES))


def _wanted_bytes(wanted: Wanted, T: int, layers: int) -> int:
    """What the kept maps, cells and row measures take."""
    region = wanted.region(T)
    cells = 0
    if wanted.resolution is not None:
        f = cell_size(region.q1 - region.q0, region.k1 - region.k0, wanted.resolution)
        cells = 40 * (-(-(region.q1 - region.q0) // f)) * (-(-(region.k1 - region.k0) // f))
    return layers * len(wanted.heads) * (cells + 8 * T * len(wanted.measures))


def seeded(tokens: Sequence[Token], config: AttentionConfig, wanted: Wanted,
           budget: int | None, truncated: int = 0) -> Streamed:  # fmt: skip
    """The seeded model's run over ``tokens``, streamed: only the ``wanted`` heads."""
    from .seeded import _weights, embed, position_bias

    c = config.seeded
    assert c is not None
    T, H, D, dtype = len(tokens), c.heads, c.d_model, config.dtype
    Dh, item = D // H, np.dtype(dtype).itemsize
    per_token = 2 * Dh * item + 2 * D * 8 + 8 * H  # Q, K of a head; vectors kept; the bias
    tile = tile_for(budget, T, per_token, 3 * min(CHUNK, T) * D * 8 + _wanted_bytes(wanted, T, 1),
                    dtype)  # fmt: skip
    w_q, w_k, *_ = _weights(c, np.dtype(dtype))
    texts = [t.text for t in tokens]
    mask = Mask(config.mask, np.array([t.special and t.text == PAD for t in tokens], dtype=bool))
    bias = position_bias(c.planted, H, T, c.plant_strength, dtype) if c.plant else None
    layer = _Layer.make(wanted, T, _keys(tokens, wanted.measures), dtype)
    cache: dict[str, np.ndarray] = {}
    for n, h in enumerate(wanted.heads):
        q, k = np.empty((T, Dh), dtype), np.empty((T, Dh), dtype)
        for a in range(0, T, CHUNK):
            x = embed(texts[a : a + CHUNK], D, c.seed, c.positions, a, cache).astype(dtype)
            q[a : a + CHUNK], k[a : a + CHUNK] = x @ w_q[h], x @ w_k[h]  # (n,D) @ (D,Dh)
        stream.attend(q[None], k[None], None, mask, factor=1 / np.sqrt(Dh) if config.scaled
                      else None, bias=None if bias is None or h not in c.planted
                      else bias[h : h + 1], reducers=layer.reducers, rows=layer.rows,
                      head0=h, tile_bytes=tile, tick=_share(wanted, n, len(wanted.heads)))  # fmt: skip
    return Streamed(tuple(tokens), config, H, D, Dh, H, (0,), wanted.heads,
                    {(0, h): m for h, m in layer.maps(mask, wanted.pool).items()},
                    _rows(layer, 0), (config.mask,), 1, truncated, None, tile)  # fmt: skip


def _share(wanted: Wanted, n: int, of: int) -> Callable[[float], None] | None:
    """The tick of part n of ``of`` equal parts of a run, for ``wanted.progress``."""
    told = wanted.progress
    return None if told is None else (lambda done: told((n + done) / of))


def _rows(layer: _Layer, n: int) -> dict[tuple[int, int], dict[str, np.ndarray]]:
    return {} if layer.rowstats is None else {(n, h): r for h, r in layer.rowstats.rows.items()}


def checkpoint(ck: Any, ids: list[int], tokens: Sequence[Any], config: AttentionConfig,
               wanted: Wanted, budget: int | None, truncated: int = 0) -> Streamed:  # fmt: skip
    """A checkpoint's run over ``ids``, streamed: its layers one at a time up to the last
    ``wanted`` one, each under the model's own mask for it ANDed with ``config.mask``."""
    from .models.checkpoint import combined

    source = config.pretrained
    assert source is not None
    last = ck.layers - 1 if source.layer is None else source.layer
    shown = wanted.layers if wanted.layers is not None else (last,)
    bad = [n for n in shown if not 0 <= n < ck.layers]
    if bad:
        raise ConfigError(f"no layer {bad[0]}: {source.model!r} has layers 0 to {ck.layers - 1}")
    T, dtype = len(ids), config.dtype
    specs = [combined(o, config.mask) for o in ck.family.masks(ck.config, ck.layers)]
    masks = [Mask(s, np.zeros(T, dtype=bool)) for s in specs]
    tile = tile_for(budget, T, _checkpoint_per_token(ck, dtype),
                    2 * ck.tensors.layer_elements() * 4 + _wanted_bytes(wanted, T, len(shown)),
                    dtype)  # fmt: skip
    model_tokens = [Token(t.text, t.start, t.end, t.special) for t in tokens]
    kept = {n: _Layer.make(wanted, T, _keys(model_tokens, wanted.measures), dtype) for n in shown}
    end = max(shown)
    allowed = [stream.Streaming(m, kept[n].reducers if n in kept else (),
                                kept[n].rows if n == end else None, n < end, tile,
                                _share(wanted, n, end + 1))
               for n, m in enumerate(masks)]  # fmt: skip
    for n, _ in enumerate(ck.forward(ck.params(dtype), ids, allowed, config.scaled)):
        if n == end:
            break
    c = replace(config, mask=specs[last], source=ck.source(last))
    differ = len(set(specs)) > 1
    model = ModelInfo(source.model, ck.family.model_type, ck.config, tuple(t.raw for t in tokens),
                      np.zeros((0, 0, 0, 0), np.dtype(dtype)), tuple(ids), kv_heads=ck.kv_heads,
                      qk_norm=ck.family.qk_norm, layer_masks=tuple(specs) if differ else ())  # fmt: skip
    maps = {(n, h): m for n in shown for h, m in kept[n].maps(masks[n], wanted.pool).items()}
    rows = {key: r for n in shown for key, r in _rows(kept[n], n).items()}
    return Streamed(tuple(model_tokens), c, ck.heads, ck.d_model, ck.head_dim, ck.kv_heads,
                    tuple(shown), wanted.heads, maps, rows, tuple(specs), ck.layers, truncated,
                    model, tile)  # fmt: skip


def _checkpoint_per_token(ck: Any, dtype: str) -> int:
    """The bytes a checkpoint's streamed pass holds per token: the residual and its norms,
    one layer's Q, K, V (turned, and made contiguous), the heads' outputs, the MLP's."""
    H, G, Dh, D = ck.heads, ck.kv_heads, ck.head_dim, ck.d_model
    F = max((int(v) for k, v in ck.config.items() if "intermediate" in k or k == "n_inner"
             if isinstance(v, int) and not isinstance(v, bool)), default=4 * D)  # fmt: skip
    return np.dtype(dtype).itemsize * (6 * D + 3 * (H + 2 * G) * Dh + 2 * H * Dh + 4 * F)
