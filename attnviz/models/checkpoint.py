"""A checkpoint opened and run in NumPy: the Trace of one of its layers, every layer's
weights beside it.

Shapes: L layers, H heads (G for keys and values), T tokens, D hidden size, Dh a head's width.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..masks import build_mask, parse_masks
from ..tokens import Token
from ..trace import AttentionConfig, ModelInfo, Pretrained, Trace
from . import gguf_model
from .families import FAMILIES, Family
from .files import Tensors, TensorSource, find_model, read_json, setting
from .layers import Allowed, LayerRun, Params
from .tokenizer import ModelToken, count, encode, load_tokenizer, over

SHORT = 256  # tokens: a text whose matrices BLAS gains nothing from sharing between threads


def open_config(spec: str) -> dict[str, Any]:
    """The config of the checkpoint ``spec``: a folder's config.json, or what a GGUF file's
    metadata stands for."""
    path = gguf_model.spec_path(spec)
    if path is not None:
        return gguf_model.opened(path)[1]
    return read_config(spec, find_model(spec))


def read_config(spec: str, folder: Path) -> dict[str, Any]:
    """config.json of the checkpoint in ``folder``, checked to be of a supported family."""
    config = read_json(folder / "config.json", "config.json")
    kind = config.get("model_type") if isinstance(config, dict) else None
    if not isinstance(kind, str) or kind not in FAMILIES:
        runs = "; ".join(f"{f.model_type} ({f.about})" for f in FAMILIES.values())
        raise ConfigError(
            f"`model` {spec!r}: model_type {kind!r} is not supported; attnviz runs {runs}"
        )
    assert isinstance(config, dict)
    return config


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """An opened checkpoint: its folder (or GGUF file), config.json (or what the file's
    metadata stands for), family, tensors and tokenizer."""

    spec: str
    folder: Path
    config: dict[str, Any]
    family: Family
    tensors: TensorSource
    tokenizer: Any

    @classmethod
    def open(cls, spec: str) -> Checkpoint:
        path = gguf_model.spec_path(spec)
        if path is not None:
            _, config, tensors, tokenizer = gguf_model.opened(path)
            ck = cls(spec, path, config, FAMILIES[config["model_type"]], tensors, tokenizer)
        else:
            folder = find_model(spec)
            config = read_config(spec, folder)
            family = FAMILIES[config["model_type"]]
            ck = cls(spec, folder, config, family, Tensors(folder, family.prefixes),
                     load_tokenizer(folder, family.adjust_tokenizer))  # fmt: skip
        if ck.heads % ck.kv_heads:
            raise ConfigError(f"`model` {spec!r}: its {ck.heads} heads do not split into "
                              f"{ck.kv_heads} key/value groups")  # fmt: skip
        _ = ck.head_dim  # ConfigError unless config.json gives it or the heads divide the width
        return ck

    @property
    def heads(self) -> int:
        return setting(self.config, self.family.heads)

    @property
    def d_model(self) -> int:
        return setting(self.config, self.family.hidden)

    @property
    def layers(self) -> int:
        return setting(self.config, self.family.layers)

    @property
    def kv_heads(self) -> int:
        """G, the key/value heads: fewer than the heads with grouped-query attention."""
        key = self.family.kv_heads
        return self.heads if key is None else setting(self.config, key, self.heads)

    @property
    def head_dim(self) -> int:
        """Dh, a head's width: config.json's ``head_dim``, else the width / the heads."""
        key = self.family.head_dim
        if key is not None and self.config.get(key) is not None:
            return setting(self.config, key)
        if self.d_model % self.heads:
            raise ConfigError(f"`model` {self.spec!r}: its width {self.d_model} is not a "
                              f"multiple of its {self.heads} heads")  # fmt: skip
        return self.d_model // self.heads

    @property
    def quant(self) -> str | None:
        """A GGUF file's quantisation ("Q4_1"); None for a folder."""
        gguf = self.config.get("gguf")
        return gguf["quantization"] if isinstance(gguf, dict) else None

    def source(self, layer: int) -> Pretrained:
        """The options of a run of this checkpoint showing ``layer``."""
        return Pretrained(self.spec, layer, self.quant)

    @property
    def max_positions(self) -> int:
        return setting(self.config, self.family.positions)

    def kept_bytes(self, dtype: str) -> int:
        """What a run that keeps the tensors from text to text (or step to step) holds: every
        layer's tensors in ``dtype`` (its Q, K and V side by side), and the shown layer's
        attention in the Trace's shapes (W_K and W_V repeated for each query head), 3 H·D·Dh."""
        attention = 3 * self.heads * self.d_model * self.head_dim
        return (self.layers * self.tensors.layer_elements() + attention) * np.dtype(dtype).itemsize

    def layer_masks(self, asked: tuple[str, ...], T: int) -> list[np.ndarray]:
        """Each layer's allowed (T, T): the model's own mask for it ANDed with ``asked``."""
        specs = [combined(o, asked) for o in self.family.masks(self.config, self.layers)]
        built = {s: build_mask(s, np.zeros(T, dtype=bool)) for s in set(specs)}
        return [built[s] for s in specs]

    def params(self, dtype: str, kept: dict[str, Any] | None = None) -> Params:
        """What a forward pass reads, in ``dtype``; ``kept``: tensors kept from run to run."""
        return Params(self.tensors, self.config, dtype, self.heads, self.layers, self.kv_heads,
                      self.head_dim, kept)  # fmt: skip

    def encode(self, text: str, limit: int | None = None) -> tuple[list[int], list[ModelToken]]:
        """The ids and tokens of ``text`` (cut to ``limit`` tokens, special ones kept)."""
        return encode(self.tokenizer, text, limit)

    def forward(self, params: Params, ids: list[int], masks: Sequence[Allowed], scaled: bool,
                **more: Any) -> Iterator[LayerRun]:  # fmt: skip
        """The family's forward pass, layer by layer; tensors whose shapes do not fit
        config.json (NumPy's errors of shapes) end as ConfigError naming the folder."""
        n, D = len(ids), self.d_model
        try:
            with self._blas_held(n):
                for r in self.family.forward(params, ids, masks, scaled, **more):
                    if r.x.shape != (n, D) or r.output.shape != (n, D) or r.weights.ndim != 3:
                        raise ValueError(f"a layer made {r.output.shape} of {r.x.shape}")
                    yield r
        except (ValueError, IndexError) as e:
            if isinstance(e, ConfigError):
                raise
            raise self.misfit(e) from None

    @staticmethod
    def _blas_held(T: int) -> AbstractContextManager[object]:
        """BLAS held to one thread through the layers of a short text: its matrices are too
        small to share, and BLAS's waiting threads took the cores from a GGUF file's next layer
        being dequantised (a 20-word text on SmolLM2: 1.2 s, 0.75 s held). One rule for folders
        and files: a file's numbers are those of its dequantised folder, bit for bit."""
        if T > SHORT:
            return nullcontext()
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        return threadpool_limits(limits=1, user_api="blas")

    def misfit(self, e: Exception) -> ConfigError:
        """The error of tensors that do not fit config.json (NumPy's error of their shapes)."""
        what = "metadata" if self.quant else "config.json"
        return ConfigError(f"`model`: the tensors in {str(self.folder)!r} do not fit its "
                           f"{what} ({e})")  # fmt: skip

    def over(self, text: str, limit: int) -> int | None:
        """Where a prefix of ``text`` of more than ``limit`` tokens ends (None: it has no more)."""
        return over(self.tokenizer, text, limit)

    def count(self, text: str) -> int:
        """The number of tokens of ``text``, special ones counted."""
        return count(self.tokenizer, text)

    def run(
        self, ids: list[int], tokens: list[ModelToken], config: AttentionConfig, truncated: int = 0,
        kept: dict[str, Any] | None = None,
    ) -> Trace:  # fmt: skip
        """The forward pass over ``ids``: the Trace of the layer ``config`` names (the last by
        default), each layer under the model's own mask for it ANDed with ``config.mask``;
        ``kept``: the tensors a generation kept (in ``config``'s dtype), read from there."""
        source = config.pretrained
        assert source is not None
        layer = self.layers - 1 if source.layer is None else source.layer
        if layer >= self.layers:
            raise ConfigError(
                f"no layer {layer}: {source.model!r} has layers 0 to {self.layers - 1}"
            )
        own = self.family.masks(self.config, self.layers)
        specs = [combined(o, config.mask) for o in own]
        built = {s: build_mask(s, np.zeros(len(ids), dtype=bool)) for s in set(specs)}
        c = replace(config, mask=specs[layer], source=self.source(layer))
        params = self.params(c.dtype, kept)
        shown, weights = None, []
        for n, r in enumerate(self.forward(params, ids, [built[s] for s in specs], c.scaled)):
            weights.append(r.weights)  # of the other layers, only their weights are kept
            shown = r if n == layer else shown
        assert shown is not None
        differ = len(set(specs)) > 1  # then each layer's mask goes with the Trace
        layer_allowed = np.stack([built[s] for s in specs]) if differ else None
        return self._trace(shown, np.stack(weights), tokens, ids, c, truncated,
                           (layer_allowed, tuple(specs) if differ else ()))  # fmt: skip

    def _trace(self, r: LayerRun, layer_weights: np.ndarray, tokens: list[ModelToken],
               ids: list[int], c: AttentionConfig, truncated: int,
               masks: tuple[np.ndarray | None, tuple[tuple[str, ...], ...]]) -> Trace:  # fmt: skip
        """The Trace of layer run ``r``, every layer's weights (L, H, T, T) and, when they
        differ, masks (L, T, T) and mask specs beside it."""
        assert c.pretrained is not None
        w_q, w_k, w_v, b_q, b_k, b_v = r.w.per_head
        return Trace(
            tokens=tuple(Token(t.text, t.start, t.end, t.special) for t in tokens),
            config=c,
            x=r.x,
            w_q=w_q,
            w_k=w_k,
            w_v=w_v,
            w_o=r.w.w_o,
            allowed=build_mask(c.mask, np.zeros(len(ids), dtype=bool)),
            weights=r.weights,
            head_outputs=r.head_outputs,
            output=r.output,
            truncated=truncated,
            b_q=b_q,
            b_k=b_k,
            b_v=b_v,
            b_o=r.w.b_o,
            model=ModelInfo(
                c.pretrained.model,
                self.family.model_type,
                self.config,
                tuple(t.raw for t in tokens),
                layer_weights,
                tuple(ids),
                kv_heads=self.kv_heads,
                layer_allowed=masks[0],
                qk_norm=self.family.qk_norm,
                layer_masks=masks[1],
            ),
            scale=r.scale,
            q_rot=r.q_rot,
            k_rot=r.k_rot,
        )


def combined(own: str, asked: tuple[str, ...]) -> tuple[str, ...]:
    """A layer's own mask ANDed with the masks asked for, each once; "none" and a "causal"
    that a causal window already holds are left out."""
    specs = list(dict.fromkeys(s for s in (own, *asked) if s != "none"))
    if any(s.startswith("window=") for s in specs):
        specs = [s for s in specs if s != "causal"]
    return parse_masks(specs or ["none"])


def heads_of(spec: str) -> tuple[int, int]:
    """The number of heads of the checkpoint ``spec``, and of its key/value heads, from its
    config.json alone."""
    config = open_config(spec)
    family = FAMILIES[config["model_type"]]
    heads = setting(config, family.heads)
    return heads, heads if family.kv_heads is None else setting(config, family.kv_heads, heads)


def layers_of(spec: str) -> int:
    """The number of layers of the checkpoint ``spec``, from its config.json alone."""
    config = open_config(spec)
    return setting(config, FAMILIES[config["model_type"]].layers)
