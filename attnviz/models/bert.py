"""BERT's forward pass (BertModel: BERT, MiniLM and the sentence-transformers built on it).

Post-LN: embeddings (word + position + token type 0) and LayerNorm, then per layer
x = LN(x + attention(x)) and x = LN(x + MLP(x)). Shapes: T tokens, D hidden, F the MLP's width.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

import numpy as np

from ..errors import ConfigError
from .files import need
from .layers import Allowed, LayerRun, LayerWeights, Params, attend, layer_norm
from .tokenizer import special, token_id


def forward(
    p: Params, ids: list[int], allowed: Sequence[Allowed], scaled: bool,
    positions: list[int] | None = None,
) -> Iterator[LayerRun]:  # fmt: skip
    """Every layer's attention over the tokens ``ids``, layer n under ``allowed[n]``, one
    layer at a time (a layer's weights are read as it runs); ``positions``, each token's
    (default 0, 1, 2, ...: texts packed into one run each start again at 0)."""
    if p.config.get("position_embedding_type", "absolute") != "absolute":
        kind = p.config["position_embedding_type"]
        raise ConfigError(f"`model`: position_embedding_type {kind!r} is not supported (absolute)")
    eps = p.number("layer_norm_eps", 1e-12)
    act = p.activation("hidden_act", "gelu")
    e = "embeddings."
    where = list(range(len(ids))) if positions is None else positions
    x = p(e + "word_embeddings.weight", ids) + p(e + "position_embeddings.weight", where)
    x = x + p(e + "token_type_embeddings.weight", [0])[0]  # one segment: type 0
    x = layer_norm(x, p(e + "LayerNorm.weight"), p(e + "LayerNorm.bias"), eps)
    for n in range(p.layers):
        a, m = f"encoder.layer.{n}.attention.", f"encoder.layer.{n}."
        w = p.once(a, partial(_weights, p, a))
        run = attend(x, w, allowed[n], scaled, 1.0 / float(np.sqrt(x.shape[1] // p.heads)))
        yield run
        x = layer_norm(
            run.output + x, p(a + "output.LayerNorm.weight"), p(a + "output.LayerNorm.bias"), eps
        )
        mid = act(x @ p(m + "intermediate.dense.weight").T + p(m + "intermediate.dense.bias"))
        y = mid @ p(m + "output.dense.weight").T + p(m + "output.dense.bias")  # (T,F) @ (F,D)
        x = layer_norm(y + x, p(m + "output.LayerNorm.weight"), p(m + "output.LayerNorm.bias"), eps)


def _weights(p: Params, a: str) -> LayerWeights:
    """A layer's attention weights ``a`` in the Trace's shapes (nn.Linear's (out, in) turned)."""
    qkv = [
        (p(a + f"self.{k}.weight").T, p(a + f"self.{k}.bias")) for k in ("query", "key", "value")
    ]
    return LayerWeights.from_projections(
        qkv, p.heads, p(a + "output.dense.weight").T, p(a + "output.dense.bias")
    )


def tokenizer(tok: Any, found: dict[str, Any]) -> None:
    """What transformers' BertTokenizer does with tokenizer_config.json: the normalizer from
    do_lower_case, strip_accents and tokenize_chinese_chars (their defaults when absent),
    BERT's pre-tokenizer, and [CLS] text [SEP]."""
    t = need("tokenizers")
    tok.normalizer = t.normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=bool(found.get("tokenize_chinese_chars", True)),
        strip_accents=found.get("strip_accents"),
        lowercase=bool(found.get("do_lower_case", True)),
    )
    tok.pre_tokenizer = t.pre_tokenizers.BertPreTokenizer()
    cls, sep = special(found, "cls_token", "[CLS]"), special(found, "sep_token", "[SEP]")
    tok.post_processor = t.processors.TemplateProcessing(
        single=f"{cls}:0 $A:0 {sep}:0",
        pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
        special_tokens=[(cls, token_id(tok, cls)), (sep, token_id(tok, sep))],
    )
