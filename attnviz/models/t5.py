"""The forward pass of T5 (and T5 v1.1, Flan-T5), an encoder-decoder: pre-norm with T5's
RMSNorm, no scaling by √d_k, and no positions but a bias on the scores by the bucket of the
relative position (learnt by the first layer of each stack, shared by its others; none on
cross-attention); the MLP ReLU, or gated GELU in v1.1 (``feed_forward_proj``); the output
scaled by d_model^−½ before the tied output embedding (the original T5).

Shapes: S source tokens, T target tokens, H heads, D hidden size.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..masks import build_mask
from .layers import Params, attend, linear, projections, rms_norm
from .seq2seq import Seq2SeqRun


def buckets(relative: np.ndarray, bidirectional: bool, n: int, max_distance: int) -> np.ndarray:
    """T5's bucket of each relative position (key − query), as transformers computes it (its
    logarithm in float32): exact below n/4 (n/2 one way), logarithmic up to max_distance."""
    out = np.zeros(relative.shape, np.int64)
    if bidirectional:
        n //= 2
        out += (relative > 0) * n
        relative = np.abs(relative)
    else:
        relative = -np.minimum(relative, 0)
    exact = n // 2
    with np.errstate(divide="ignore"):
        far = np.log(relative.astype(np.float32) / np.float32(exact))
    far = far / np.float32(math.log(max_distance / exact)) * np.float32(n - exact)
    large = np.minimum(exact + np.where(relative < exact, 0, far).astype(np.int64), n - 1)
    return out + np.where(relative < exact, relative, large)


def position_bias(p: Params, stack: str, Tq: int, Tk: int) -> np.ndarray:
    """The bias (H, Tq, Tk) of the first layer's relative_attention_bias of ``stack``
    ("encoder": both ways; "decoder": keys before the query only)."""
    table = p(f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight")  # (n,H)
    relative = np.arange(Tk)[None, :] - np.arange(Tq)[:, None]  # (Tq,Tk)
    n = int(p.config.get("relative_attention_num_buckets", 32))
    far = int(p.config.get("relative_attention_max_distance", 128))
    return np.ascontiguousarray(
        table[buckets(relative, stack == "encoder", n, far)].transpose(2, 0, 1)
    )


def _t5_mlp(
    p: Params, b: str, x: np.ndarray, act: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    if p.tensors.has(b + "wi_0.weight"):  # gated (v1.1, Flan-T5)
        return linear(p, b + "wo", act(linear(p, b + "wi_0", x)) * linear(p, b + "wi_1", x))
    return linear(p, b + "wo", act(linear(p, b + "wi", x)))


def _t5_act(p: Params) -> Callable[[np.ndarray], np.ndarray]:
    """The MLP's activation: config.json's dense_act_fn, else by feed_forward_proj."""
    proj = str(p.config.get("feed_forward_proj", "relu"))
    default = "gelu_new" if proj == "gated-gelu" else proj.split("-")[-1]
    return p.activation("dense_act_fn", default)


ATTENTION = ("q", "k", "v", "o")


def forward(p: Params, source: list[int], target: list[int], scaled: bool,
            decoder_layers: int) -> Seq2SeqRun:  # fmt: skip
    """T5's encoder over ``source`` and its decoder over ``target``, every layer."""
    eps, act, out = p.number("layer_norm_epsilon", 1e-6), _t5_act(p), Seq2SeqRun()

    def norm(x: np.ndarray, name: str) -> np.ndarray:
        return rms_norm(x, p(name), eps)

    x = p("shared.weight", source)
    out.biases["encoder"] = bias = position_bias(p, "encoder", len(source), len(source))
    for n in range(p.layers):
        b = f"encoder.block.{n}.layer."
        w = projections(p, b + "0.SelfAttention.", ATTENTION)
        run = attend(norm(x, b + "0.layer_norm.weight"), w, None, scaled, 1.0, bias=bias)
        out.runs["encoder"].append(run)
        x = x + run.output
        x = x + _t5_mlp(p, b + "1.DenseReluDense.", norm(x, b + "1.layer_norm.weight"), act)
    out.memory = memory = norm(x, "encoder.final_layer_norm.weight")
    y = p("shared.weight", target)
    out.biases["decoder"] = bias = position_bias(p, "decoder", len(target), len(target))
    causal = build_mask(("causal",), np.zeros(len(target), dtype=bool))
    for n in range(decoder_layers):
        b = f"decoder.block.{n}.layer."
        w = projections(p, b + "0.SelfAttention.", ATTENTION)
        run = attend(norm(y, b + "0.layer_norm.weight"), w, causal, scaled, 1.0, bias=bias)
        y = y + run.output
        w = projections(p, b + "1.EncDecAttention.", ATTENTION)
        cross = attend(norm(y, b + "1.layer_norm.weight"), w, None, scaled, 1.0, memory=memory)
        y = y + cross.output
        y = y + _t5_mlp(p, b + "2.DenseReluDense.", norm(y, b + "2.layer_norm.weight"), act)
        out.runs["decoder"].append(run)
        out.runs["cross"].append(cross)
    out.hidden = norm(y, "decoder.final_layer_norm.weight")
    return out


def logits(p: Params, hidden: np.ndarray) -> np.ndarray:
    """The language-model head: (T, D) -> (T, V); the original T5 scales by d_model^−½ first
    (``scale_decoder_outputs``, or a tied output embedding in older config.json files)."""
    scale = p.config.get("scale_decoder_outputs", p.config.get("tie_word_embeddings", True))
    h = hidden * hidden.dtype.type(hidden.shape[1] ** -0.5) if scale else hidden
    return h @ p("lm_head.weight" if p.tensors.has("lm_head.weight") else "shared.weight").T
