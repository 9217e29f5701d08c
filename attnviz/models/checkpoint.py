"""A checkpoint opened and run in NumPy: the Trace of one of its layers, every layer's
weights beside it.

Shapes: L layers, H heads, T tokens, D hidden size, Dh = D / H.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..masks import build_mask, parse_masks
from ..tokens import Token
from ..trace import AttentionConfig, ModelInfo, Trace
from .families import FAMILIES, Family
from .files import Tensors, find_model, read_json, setting
from .layers import Params
from .tokenizer import ModelToken, encode, load_tokenizer


def read_config(spec: str, folder: Path) -> dict[str, Any]:
    """config.json of the checkpoint in ``folder``, checked to be of a supported family."""
    config = read_json(folder / "config.json", "config.json")
    kind = config.get("model_type") if isinstance(config, dict) else None
    if kind not in FAMILIES:
        runs = "; ".join(f"{f.model_type} ({f.about})" for f in FAMILIES.values())
        raise ConfigError(
            f"`model` {spec!r}: model_type {kind!r} is not supported; attnviz runs {runs}"
        )
    assert isinstance(config, dict)
    return config


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """An opened checkpoint: its folder, config.json, family, tensors and tokenizer."""

    spec: str
    folder: Path
    config: dict[str, Any]
    family: Family
    tensors: Tensors
    tokenizer: Any

    @classmethod
    def open(cls, spec: str) -> Checkpoint:
        folder = find_model(spec)
        config = read_config(spec, folder)
        family = FAMILIES[config["model_type"]]
        ck = cls(spec, folder, config, family, Tensors(folder, family.prefixes),
                 load_tokenizer(folder, family.tokenizer))  # fmt: skip
        if ck.d_model % ck.heads:
            raise ConfigError(f"`model` {spec!r}: its width {ck.d_model} is not a multiple of "
                              f"its {ck.heads} heads")  # fmt: skip
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
    def max_positions(self) -> int:
        return setting(self.config, self.family.positions)

    def encode(self, text: str, limit: int | None = None) -> tuple[list[int], list[ModelToken]]:
        """The ids and tokens of ``text`` (cut to ``limit`` tokens, special ones kept)."""
        return encode(self.tokenizer, text, limit)

    def run(
        self, ids: list[int], tokens: list[ModelToken], config: AttentionConfig, truncated: int = 0
    ) -> Trace:
        """The forward pass over ``ids``: the Trace of the layer ``config`` names (the last by
        default), under the model's own mask ANDed with ``config.mask``."""
        source = config.pretrained
        assert source is not None
        layer = self.layers - 1 if source.layer is None else source.layer
        if layer >= self.layers:
            raise ConfigError(
                f"no layer {layer}: {source.model!r} has layers 0 to {self.layers - 1}"
            )
        specs = dict.fromkeys(s for s in (self.family.own_mask, *config.mask) if s != "none")
        c = replace(config, mask=parse_masks(list(specs) or ["none"]),
                    source=replace(source, layer=layer))  # fmt: skip
        allowed = build_mask(c.mask, np.zeros(len(ids), dtype=bool))
        params = Params(self.tensors, self.config, c.dtype, self.heads, self.layers)
        runs = self.family.forward(params, ids, allowed, c.scaled)
        r = runs[layer]
        return Trace(
            tokens=tuple(Token(t.text, t.start, t.end, t.special) for t in tokens),
            config=c,
            x=r.x,
            w_q=r.w.w_q,
            w_k=r.w.w_k,
            w_v=r.w.w_v,
            w_o=r.w.w_o,
            allowed=allowed,
            weights=r.weights,
            head_outputs=r.head_outputs,
            output=r.output,
            truncated=truncated,
            b_q=r.w.b_q,
            b_k=r.w.b_k,
            b_v=r.w.b_v,
            b_o=r.w.b_o,
            model=ModelInfo(
                source.model,
                self.family.model_type,
                self.config,
                tuple(t.raw for t in tokens),
                np.stack([r.weights for r in runs]),
                tuple(ids),
            ),
            scale=r.scale,
        )


def heads_of(spec: str) -> int:
    """The number of heads of the checkpoint ``spec``, from its config.json alone."""
    folder = find_model(spec)
    config = read_config(spec, folder)
    return setting(config, FAMILIES[config["model_type"]].heads)
