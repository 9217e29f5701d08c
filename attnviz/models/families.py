"""The architecture table: one record per kind of checkpoint (config.json's ``model_type``).

Everything attnviz decides by the model's family is here or in the family's module (its
forward pass, with its tensor names, norms and activation, and its tokenizer settings):
adding a family is one record and one module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import bert, gpt2
from .layers import LayerRun, Params


@dataclass(frozen=True)
class Family:
    """What attnviz must know of one family of checkpoints."""

    model_type: str
    about: str  # the checkpoints it covers, for messages
    forward: Callable[[Params, list[int], np.ndarray, bool], list[LayerRun]]
    tokenizer: Callable[[Any, dict[str, Any]], None]  # tokenizer_config.json's settings
    own_mask: str  # the model's own mask: "none" (sees both ways) or "causal"
    prefixes: tuple[str, ...]  # tensor-name prefixes: none, and the task models' own
    heads: str  # the names config.json gives the number of heads, the hidden size, the
    hidden: str  # number of layers and of positions
    layers: str
    positions: str


FAMILIES = {
    f.model_type: f
    for f in (
        Family(
            "bert", "BERT, MiniLM and other BertModel checkpoints", bert.forward, bert.tokenizer,
            own_mask="none", prefixes=("", "bert."), heads="num_attention_heads",
            hidden="hidden_size", layers="num_hidden_layers", positions="max_position_embeddings",
        ),
        Family(
            "gpt2", "GPT-2", gpt2.forward, gpt2.tokenizer, own_mask="causal",
            prefixes=("", "transformer."), heads="n_head", hidden="n_embd", layers="n_layer",
            positions="n_positions",
        ),
    )
}  # fmt: skip
