"""The forward pass of BART and Marian, encoder-decoders: post-norm, x = LayerNorm(x +
attention(x)), learnt positions (BART, from position 2) or sinusoidal ones (Marian, sines then
cosines), embeddings times √D with ``scale_embedding``, a LayerNorm of the embeddings (BART),
scores times d_k^−½; the output embedding tied to the decoder's input one, plus
final_logits_bias.

Shapes: S source tokens, T target tokens, D hidden size.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..errors import ConfigError
from ..masks import build_mask
from .layers import Params, attend, layer_norm, linear, projections
from .seq2seq import Seq2SeqRun

BART_ATTENTION = ("q_proj", "k_proj", "v_proj", "out_proj")


def sinusoids(T: int, D: int) -> np.ndarray:
    """Marian's positions (T, D): sin(pos / 10000^(2⌊j/2⌋/D)) of the even j in the first half,
    cos of the odd j in the second, made in float64 and kept in float32 as transformers does."""
    angle = np.arange(T)[:, None] / np.power(10000, 2 * (np.arange(D) // 2) / D)[None, :]
    half = (D + 1) // 2
    out = np.empty((T, D), np.float32)
    out[:, :half], out[:, half:] = np.sin(angle[:, 0::2]), np.cos(angle[:, 1::2])
    return out


def _embed(p: Params, stack: str, ids: list[int]) -> np.ndarray:
    """The token embeddings (× √D with scale_embedding) plus the positions, then BART's norm."""
    name = f"{stack}.embed_tokens.weight"
    x = p(name if p.tensors.has(name) else "shared.weight", ids)
    if p.config.get("scale_embedding"):
        x = x * x.dtype.type(math.sqrt(x.shape[1]))
    if p.config["model_type"] == "marian":
        x = x + sinusoids(len(ids), x.shape[1]).astype(x.dtype)
    else:  # BART's learnt positions start at 2
        x = x + p(f"{stack}.embed_positions.weight", [i + 2 for i in range(len(ids))])
    if p.tensors.has(f"{stack}.layernorm_embedding.weight"):
        x = _norm(p, x, f"{stack}.layernorm_embedding")
    return x


def _norm(p: Params, x: np.ndarray, name: str) -> np.ndarray:
    return layer_norm(x, p(name + ".weight"), p(name + ".bias"), 1e-5)


def _mlp(p: Params, b: str, x: np.ndarray, act: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    return _norm(p, x + linear(p, b + "fc2", act(linear(p, b + "fc1", x))), b + "final_layer_norm")


def forward(p: Params, source: list[int], target: list[int], scaled: bool,
            decoder_layers: int) -> Seq2SeqRun:  # fmt: skip
    """BART's (or Marian's) encoder over ``source`` and decoder over ``target``, every layer."""
    act, out, scale = p.activation("activation_function", "gelu"), Seq2SeqRun(), p.head_dim**-0.5
    x = _embed(p, "encoder", source)
    for n in range(p.layers):
        b = f"encoder.layers.{n}."
        run = attend(x, projections(p, b + "self_attn.", BART_ATTENTION), None, scaled, scale)
        out.runs["encoder"].append(run)
        x = _mlp(p, b, _norm(p, x + run.output, b + "self_attn_layer_norm"), act)
    out.memory = memory = x
    y = _embed(p, "decoder", target)
    causal = build_mask(("causal",), np.zeros(len(target), dtype=bool))
    for n in range(decoder_layers):
        b = f"decoder.layers.{n}."
        run = attend(y, projections(p, b + "self_attn.", BART_ATTENTION), causal, scaled, scale)
        y = _norm(p, y + run.output, b + "self_attn_layer_norm")
        w = projections(p, b + "encoder_attn.", BART_ATTENTION)
        cross = attend(y, w, None, scaled, scale, memory=memory)
        y = _mlp(p, b, _norm(p, y + cross.output, b + "encoder_attn_layer_norm"), act)
        out.runs["decoder"].append(run)
        out.runs["cross"].append(cross)
    out.hidden = y
    return out


def logits(p: Params, hidden: np.ndarray) -> np.ndarray:
    """The language-model head (tied to the decoder's embeddings unless it has its own) plus
    final_logits_bias: (T, D) -> (T, V)."""
    for name in ("lm_head.weight", "decoder.embed_tokens.weight", "shared.weight"):
        if p.tensors.has(name):
            logits = hidden @ p(name).T
            bias = p.maybe("final_logits_bias")
            return logits if bias is None else logits + bias.reshape(-1)
    raise ConfigError("`model`: the checkpoint has no output embedding")
