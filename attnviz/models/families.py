"""The architecture table: one record per kind of checkpoint (config.json's ``model_type``).

Everything attnviz decides by the model's family is here or in the family's module (its
forward pass, with its tensor names, norms and activation, and its tokenizer settings):
adding a family is one record and one module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from . import bart, bert, decoder, gpt2, neox, seq2seq, t5
from .layers import LayerRun
from .tokenizer import as_trained, qwen2
from .tokenizer import neox as neox_tokenizer

# (params, ids, each layer's mask, scaled, cache=None) -> each layer's run
Forward = Callable[..., Iterator[LayerRun]]
Adjust = Callable[[Any, dict[str, Any]], None]


def _every(spec: str) -> Callable[[dict[str, Any], int], list[str]]:
    return lambda config, L: [spec] * L


@dataclass(frozen=True)
class Family:
    """What attnviz must know of one family of checkpoints."""

    model_type: str
    about: str  # the checkpoints it covers, for messages
    forward: Forward  # every layer's attention, one at a time, each under its own mask
    tokenizer: Adjust  # tokenizer_config.json's settings, when it names no tokenizer class
    masks: Callable[[dict[str, Any], int], list[str]]  # each layer's own mask spec
    prefixes: tuple[str, ...]  # tensor-name prefixes: none, and the task models' own
    heads: str  # the names config.json gives the number of heads, the hidden size, the
    hidden: str  # number of layers and of positions
    layers: str
    positions: str
    kv_heads: str | None = None  # the number of key/value heads (grouped-query attention)
    head_dim: str | None = None  # a head's width, when it need not be hidden / heads
    qk_norm: bool = False  # an RMSNorm of each head's query and key (Qwen3, Gemma 3)
    lm_head: tuple[str, ...] = ()  # the output embedding, then the input one (tied); () none
    packs: bool = False  # forward takes ``positions``: texts packed into one run (survey)
    seq2seq: seq2seq.Seq2Seq | None = None  # an encoder-decoder's forward pass and head
    positions_default: int | None = None  # the positions when config.json names none (T5)

    def adjust_tokenizer(self, tok: Any, found: dict[str, Any]) -> None:
        """Set the tokenizer up as transformers does: by the class tokenizer_config.json names
        (``found``), else as the family's tokenizer is."""
        name = str(found.get("tokenizer_class") or "").removesuffix("Fast")
        TOKENIZER_CLASSES.get(name, self.tokenizer)(tok, found)


def _rotary(model_type: str, about: str, style: decoder.Style, adjust: Adjust) -> Family:
    """A rotary decoder: the Llama layout of tensors and settings."""
    return Family(
        model_type, about, partial(decoder.forward, style=style), adjust,
        masks=partial(decoder.masks, model_type=model_type), prefixes=("", "model."),
        heads="num_attention_heads", hidden="hidden_size", layers="num_hidden_layers",
        positions="max_position_embeddings", kv_heads="num_key_value_heads", head_dim="head_dim",
        qk_norm=style.qk_norm, lm_head=("lm_head.weight", "embed_tokens.weight"),
    )  # fmt: skip


T5 = seq2seq.Seq2Seq(t5.forward, t5.logits, "num_decoder_layers")
BART = seq2seq.Seq2Seq(bart.forward, bart.logits, "decoder_layers", "decoder_attention_heads")


def _encoder_decoder(model_type: str, about: str, kind: seq2seq.Seq2Seq, **keys: Any) -> Family:
    """An encoder-decoder: ``forward`` is its decoder-only pass, which it has not."""
    return Family(model_type, about, seq2seq.no_forward, as_trained, masks=_every("none"),
                  prefixes=("", "model."), seq2seq=kind, **keys)  # fmt: skip


FAMILIES = {
    f.model_type: f
    for f in (
        Family(
            "bert", "BERT, MiniLM and other BertModel checkpoints", bert.forward, bert.tokenizer,
            masks=_every("none"), prefixes=("", "bert."), heads="num_attention_heads",
            hidden="hidden_size", layers="num_hidden_layers", positions="max_position_embeddings",
            packs=True,
        ),
        Family(
            "gpt2", "GPT-2", gpt2.forward, gpt2.tokenizer, masks=_every("causal"),
            prefixes=("", "transformer."), heads="n_head", hidden="n_embd", layers="n_layer",
            positions="n_positions", lm_head=("lm_head.weight", "wte.weight"),
        ),
        _rotary("llama", "Llama, SmolLM, TinyLlama", decoder.LLAMA, as_trained),
        _rotary("mistral", "Mistral", decoder.LLAMA, as_trained),
        _rotary("qwen2", "Qwen2, Qwen2.5", decoder.LLAMA, qwen2),
        _rotary("qwen3", "Qwen3", decoder.QWEN3, qwen2),
        _rotary("gemma3_text", "Gemma 3 (text)", decoder.GEMMA3, as_trained),
        Family(
            "gpt_neox", "GPT-NeoX, Pythia", neox.forward, neox_tokenizer, masks=_every("causal"),
            prefixes=("", "gpt_neox."), heads="num_attention_heads", hidden="hidden_size",
            layers="num_hidden_layers", positions="max_position_embeddings",
            lm_head=("embed_out.weight", "embed_in.weight"),
        ),
        _encoder_decoder("t5", "T5, T5 v1.1, Flan-T5 (encoder-decoder)", T5,
                         heads="num_heads", hidden="d_model", layers="num_layers",
                         positions="n_positions", positions_default=512, head_dim="d_kv"),
        *(_encoder_decoder(kind, about + " (encoder-decoder)", BART,
                           heads="encoder_attention_heads", hidden="d_model",
                           layers="encoder_layers", positions="max_position_embeddings")
          for kind, about in (("bart", "BART"), ("marian", "Marian (Opus-MT)"))),
    )
}  # fmt: skip

# tokenizer_config.json's tokenizer_class -> what transformers' class does to tokenizer.json
TOKENIZER_CLASSES: dict[str, Adjust] = {
    "BertTokenizer": bert.tokenizer,
    "GPT2Tokenizer": gpt2.tokenizer,
    "GPTNeoXTokenizer": neox_tokenizer,
    "Qwen2Tokenizer": qwen2,
    "PreTrainedTokenizer": as_trained,
    "TokenizersBackend": as_trained,
}
