"""GPT-NeoX's forward pass (Pythia): pre-LayerNorm, rotary embeddings on a part of each
head (``rotary_pct``), Q, K and V fused per head, and the parallel residual.

One weight (3D, D) makes Q, K and V, laid out head by head: the rows of head h are its
query, key and value, Dh each. With ``use_parallel_residual`` (Pythia) the attention and
the MLP both read the layer's input: x = x + attention(LN_1(x)) + MLP(LN_2(x)).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial

import numpy as np

from .layers import Allowed, Cache, LayerRun, LayerWeights, Params, attend, layer_norm
from .rope import rope, settings


def _weights(p: Params, b: str) -> LayerWeights:
    """Layer ``b``'s Q, K and V from the fused weight, and W_O."""
    H, Dh = p.heads, p.head_dim
    w = p(b + "attention.query_key_value.weight").T  # (D, 3D): head h's q, k, v side by side
    D = w.shape[0]
    bias = p.maybe(b + "attention.query_key_value.bias")  # none with attention_bias false
    b4 = np.zeros((H, 3, Dh), w.dtype) if bias is None else bias.reshape(H, 3, Dh)
    w4 = w.reshape(D, H, 3, Dh)
    qkv = [(w4[:, :, i].reshape(D, H * Dh), b4[:, i].reshape(H * Dh)) for i in range(3)]
    b_o = p.maybe(b + "attention.dense.bias")
    return LayerWeights.from_projections(
        qkv, H, p(b + "attention.dense.weight").T, np.zeros(D, w.dtype) if b_o is None else b_o
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
    eps = p.number("layer_norm_eps", 1e-5)
    act = p.activation("hidden_act", "gelu")
    defaults = {
        "rope_theta": p.config.get("rotary_emb_base", 10000.0),
        "partial_rotary_factor": p.config.get("rotary_pct", 0.25),
    }
    r = rope(settings(p.config, None, defaults), p.head_dim,
             p.config.get("max_position_embeddings", 2048))  # fmt: skip
    cos, sin = r.tables(len(ids), p.dtype, cache.start if cache else 0)

    def turn(q: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return r.rotate(q, cos, sin), r.rotate(k, cos, sin)

    parallel = bool(p.config.get("use_parallel_residual", True))
    x = p("embed_in.weight", ids)
    for n in range(p.layers):
        b = f"layers.{n}."

        def ln(y: np.ndarray, name: str, b: str = b) -> np.ndarray:
            return layer_norm(y, p(b + name + ".weight"), p(b + name + ".bias"), eps)

        a = ln(x, "input_layernorm")
        run = attend(a, p.once(b, partial(_weights, p, b)), allowed[n], scaled, p.head_dim**-0.5, turn,
                     (cache, n) if cache else None)  # fmt: skip
        yield run
        if n == p.layers - 1 and not (cache and cache.full):
            break  # the last MLP changes no attention
        y = x if parallel else x + run.output
        h = act(ln(y, "post_attention_layernorm") @ p(b + "mlp.dense_h_to_4h.weight").T
                + p(b + "mlp.dense_h_to_4h.bias"))  # fmt: skip
        mlp = h @ p(b + "mlp.dense_4h_to_h.weight").T + p(b + "mlp.dense_4h_to_h.bias")
        x = x + run.output + mlp
    if cache and cache.full:
        cache.hidden = layer_norm(x, p("final_layer_norm.weight"), p("final_layer_norm.bias"), eps)
