"""The forward pass of the rotary decoders: Llama, Mistral, Qwen2, Qwen3 and Gemma 3 (text).

Pre-norm with RMSNorm: per layer x = x + attention(norm(x)) and x = x + MLP(norm(x)), the
MLP gated, down(act(gate(x)) · up(x)) (SwiGLU; GeGLU in Gemma). Queries and keys are
turned by the rotary embedding before the scores; K and V may have fewer heads than Q
(grouped-query attention). What the families add:

- Qwen2: biases on Q, K and V (read wherever the checkpoint has them);
- Qwen3 and Gemma 3: an RMSNorm of each head's query and key before the rotation;
- Gemma 3: norms of the form x · (1 + w), a norm after the attention and around the MLP,
  embeddings times √D, scores times query_pre_attn_scalar^−½, and layers of two kinds:
  sliding-window layers with their own rope base and global layers;
- Mistral (and Qwen with use_sliding_window): a causal window of sliding_window keys.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from .files import setting
from .layers import QK, Allowed, Cache, LayerRun, Params, attend, linear, projections, rms_norm
from .rope import Rope, rope, settings


@dataclass(frozen=True)
class Style:
    """What sets a family of rotary decoders apart."""

    gemma: bool = False  # (1 + w) norms, post norms, √D embeddings, query_pre_attn_scalar
    qk_norm: bool = False  # an RMSNorm of each head's query and key
    act_key: str = "hidden_act"  # the key of config.json that names the activation


LLAMA, QWEN3 = Style(), Style(qk_norm=True)
GEMMA3 = Style(gemma=True, qk_norm=True, act_key="hidden_activation")
KINDS = ("full_attention", "sliding_attention")


def layer_kinds(config: dict[str, Any], model_type: str, L: int) -> list[str]:
    """Each layer's kind, "full_attention" or "sliding_attention", as transformers reads them."""
    if model_type == "mistral":  # transformers' Mistral ignores layer_types
        return [KINDS[config.get("sliding_window") is not None]] * L
    kinds = config.get("layer_types")
    if kinds is None:
        if model_type == "gemma3_text":  # every sixth layer global, by default
            every = setting(config, "sliding_window_pattern", 6)
            return [KINDS[bool((i + 1) % every)] for i in range(L)]
        sliding = config.get("use_sliding_window")
        first = setting(config, "max_window_layers", L, least=0) if sliding else L
        return [KINDS[i >= first] for i in range(L)]
    if not isinstance(kinds, list) or len(kinds) != L or not set(kinds) <= set(KINDS):
        raise ConfigError(f"`model`: config.json's layer_types must list {L} of {', '.join(KINDS)}")
    return list(kinds)


def window(config: dict[str, Any], model_type: str) -> int | None:
    """The sliding window of the sliding layers (None: they see every earlier key)."""
    if model_type in ("qwen2", "qwen3") and not config.get("use_sliding_window"):
        return None
    w = config.get("sliding_window")
    if w is not None and (isinstance(w, bool) or not isinstance(w, int) or w < 1):
        raise ConfigError(f"`model`: config.json's 'sliding_window' must be a whole number >= 1, "
                          f"not {w!r}")  # fmt: skip
    return w


def masks(config: dict[str, Any], L: int, model_type: str) -> list[str]:
    """Each layer's own mask: "causal", or "window=W" for a sliding layer."""
    if config.get("use_bidirectional_attention"):
        raise ConfigError(
            "`model`: bidirectional Gemma 3 (use_bidirectional_attention) is not supported"
        )
    w = window(config, model_type)
    kinds = layer_kinds(config, model_type, L)
    return [f"window={w}" if k == KINDS[1] and w is not None else "causal" for k in kinds]


def ropes(config: dict[str, Any], model_type: str, L: int, head_dim: int) -> list[Rope]:
    """Each layer's rotary embedding (Gemma 3: one base for its sliding layers, one for its
    global layers)."""
    positions = config.get("max_position_embeddings", 2048)
    theta = config.get("rope_theta", 10000.0)
    if model_type != "gemma3_text":
        return [rope(settings(config, None, {"rope_theta": theta}), head_dim, positions)] * L
    local = config.get("rope_local_base_freq", 10000.0)
    bases = {KINDS[0]: config.get("rope_theta", 1_000_000.0), KINDS[1]: local}
    by_kind = {
        k: rope(settings(config, k, {"rope_theta": bases[k]}), head_dim, positions) for k in KINDS
    }
    return [by_kind[k] for k in layer_kinds(config, model_type, L)]


def _turner(norm: Callable[[np.ndarray, str], np.ndarray], b: str, r: Rope,
            tables: tuple[np.ndarray, np.ndarray], qk_norm: bool) -> QK:  # fmt: skip
    """Layer ``b``'s map from projected Q and K (H, T, Dh) to those its scores use."""
    cos, sin = tables

    def turn(q: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if qk_norm:
            q, k = norm(q, b + "self_attn.q_norm.weight"), norm(k, b + "self_attn.k_norm.weight")
        return r.rotate(q, cos, sin), r.rotate(k, cos, sin)

    return turn


def forward(
    p: Params, ids: list[int], allowed: Sequence[Allowed], scaled: bool, style: Style,
    cache: Cache | None = None,
) -> Iterator[LayerRun]:  # fmt: skip
    """Every layer's attention over the tokens ``ids``, layer n under ``allowed[n]``, one
    layer at a time (a layer's weights are read as it runs); with ``cache``, the tokens
    follow those cached (see ``Cache``)."""
    eps = p.number("rms_norm_eps", 1e-6)
    act = p.activation(style.act_key, "silu")
    if p.config.get("attn_logit_softcapping") is not None:
        raise ConfigError("`model`: attention logit soft-capping is not supported")

    def norm(x: np.ndarray, name: str) -> np.ndarray:
        return rms_norm(x, p(name), eps, style.gemma)

    x = p("embed_tokens.weight", ids)
    if style.gemma:
        x = x * x.dtype.type(math.sqrt(x.shape[1]))
    start = cache.start if cache else 0
    turns = ropes(p.config, p.config["model_type"], p.layers, p.head_dim)
    kinds = {id(r): r for r in turns}  # one or two kinds of layer: each kind's tables once
    tables = {key: r.tables(len(ids), p.dtype, start) for key, r in kinds.items()}
    scale = p.number("query_pre_attn_scalar", 256) ** -0.5 if style.gemma else p.head_dim**-0.5
    for n in range(p.layers):
        b = f"layers.{n}."
        turn = _turner(norm, b, turns[n], tables[id(turns[n])], style.qk_norm)
        w = projections(p, b + "self_attn.", ("q_proj", "k_proj", "v_proj", "o_proj"))
        run = attend(norm(x, b + "input_layernorm.weight"), w, allowed[n], scaled, scale, turn,
                     (cache, n) if cache else None)  # fmt: skip
        yield run
        out = norm(run.output, b + "post_attention_layernorm.weight") if style.gemma else run.output
        x = x + out
        if n == p.layers - 1 and not (cache and cache.full):
            break  # the last MLP changes no attention
        h = norm(x, b + ("pre_feedforward_layernorm" if style.gemma else "post_attention_layernorm")
                 + ".weight")  # fmt: skip
        h = linear(p, b + "mlp.down_proj", act(linear(p, b + "mlp.gate_proj", h))
                    * linear(p, b + "mlp.up_proj", h))  # fmt: skip
        x = x + (norm(h, b + "post_feedforward_layernorm.weight") if style.gemma else h)
    if cache and cache.full:
        cache.hidden = norm(x, "norm.weight")
