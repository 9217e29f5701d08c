"""GPT-2's forward pass (GPT2Model, and the transformer of GPT2LMHeadModel).

Pre-LN: token and position embeddings, then per block x = x + attention(LN_1(x)) and
x = x + MLP(LN_2(x)). Conv1D weights are stored (in, out): x @ w + b as they are.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

import numpy as np

from .files import need
from .layers import Allowed, Cache, LayerRun, LayerWeights, Params, attend, layer_norm


def _weights(p: Params, b: str, D: int) -> LayerWeights:
    """Block ``b``'s attention weights: Q, K and V from the fused c_attn, and c_proj."""
    w_qkv, b_qkv = p(b + "attn.c_attn.weight"), p(b + "attn.c_attn.bias")  # (D,3D), (3D,)
    qkv = [(w_qkv[:, i * D : (i + 1) * D], b_qkv[i * D : (i + 1) * D]) for i in range(3)]
    return LayerWeights.from_projections(
        qkv, p.heads, p(b + "attn.c_proj.weight"), p(b + "attn.c_proj.bias")
    )


def forward(
    p: Params,
    ids: list[int],
    allowed: Sequence[Allowed],
    scaled: bool,
    cache: Cache | None = None,
) -> Iterator[LayerRun]:
    """Every layer's attention over the tokens ``ids``, layer n under ``allowed[n]``, one
    layer at a time (a layer's weights are read as it runs); with ``cache``, the tokens
    follow those cached (see ``Cache``)."""
    eps = p.number("layer_norm_epsilon", 1e-5)
    act = p.activation("activation_function", "gelu_new")
    start = cache.start if cache else 0
    x = p("wte.weight", ids) + p("wpe.weight", list(range(start, start + len(ids))))
    D = x.shape[1]
    for n in range(p.layers):
        b = f"h.{n}."
        w = p.once(b, partial(_weights, p, b, D))
        scale = (
            1.0 / float(np.sqrt(D // p.heads)) if p.config.get("scale_attn_weights", True) else 1.0
        )
        if p.config.get("scale_attn_by_inverse_layer_idx", False):
            scale /= n + 1
        a = layer_norm(x, p(b + "ln_1.weight"), p(b + "ln_1.bias"), eps)
        run = attend(a, w, allowed[n], scaled, scale, cache=(cache, n) if cache else None)
        yield run
        x = x + run.output
        m = layer_norm(x, p(b + "ln_2.weight"), p(b + "ln_2.bias"), eps)
        mid = act(m @ p(b + "mlp.c_fc.weight") + p(b + "mlp.c_fc.bias"))  # (T,D) @ (D,F)
        x = x + mid @ p(b + "mlp.c_proj.weight") + p(b + "mlp.c_proj.bias")  # (T,F) @ (F,D)
    if cache and cache.full:
        cache.hidden = layer_norm(x, p("ln_f.weight"), p("ln_f.bias"), eps)


def tokenizer(tok: Any, found: dict[str, Any]) -> None:
    """What transformers' GPT2Tokenizer does with tokenizer_config.json: no normalizer, the
    byte-level pre-tokenizer with add_prefix_space (default false), the post-processor of
    tokenizer.json (add_bos_token and add_eos_token change nothing)."""
    t = need("tokenizers")
    tok.normalizer = None
    tok.pre_tokenizer = t.pre_tokenizers.ByteLevel(
        add_prefix_space=bool(found.get("add_prefix_space", False))
    )
