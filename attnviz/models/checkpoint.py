"""A checkpoint opened and run in NumPy: the Trace of one of its layers, every layer's
weights beside it.

Shapes: L layers, H heads (G for keys and values), T tokens, D hidden size, Dh a head's width.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..masks import build_mask, parse_masks
from ..tokens import Token
from ..trace import AttentionConfig, ModelInfo, Pretrained, Trace
from . import gguf_model
from .config import read_config
from .families import FAMILIES, Family
from .files import Tensors, TensorSource, find_model, overflow_held, setting
from .layers import Allowed, LayerRun, Params
from .seq2seq import KINDS, Seq2SeqRun
from .tokenizer import ModelToken, count, encode, load_tokenizer, over

SHORT = 256  # tokens: a text whose matrices BLAS gains nothing from sharing between threads


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
        s2s = ck.family.seq2seq
        if s2s and s2s.decoder_heads and setting(config, s2s.decoder_heads) != ck.heads:
            raise ConfigError(f"`model` {spec!r}: a decoder with other heads than its encoder's "
                              "is not supported")  # fmt: skip
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
        return setting(self.config, self.family.positions, self.family.positions_default)

    @property
    def decoder_layers(self) -> int:
        """An encoder-decoder's decoder layers (as many as the encoder's unless it says)."""
        s2s = self.family.seq2seq
        assert s2s is not None
        return setting(self.config, s2s.decoder_layers, self.layers)

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
                layers = self.family.forward(params, ids, masks, scaled, **more)
                for at, r in enumerate(iter(partial(_quietly, layers), None)):
                    if r.x.shape != (n, D) or r.output.shape != (n, D) or r.weights.ndim != 3:
                        raise ValueError(f"a layer made {r.output.shape} of {r.x.shape}")
                    if not np.isfinite(r.output).all():
                        raise self.overflowed(f"layer {at}'s attention", params.dtype)
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

    def overflowed(self, what: str, dtype: str) -> ConfigError:
        """The error of numbers that are not finite (``what``: "layer 3's attention"): weights,
        finite each, make sums past what ``dtype`` holds (inf − inf, then NaN, in the scores)."""
        more = ": --dtype float64 may hold them" if dtype != "float64" else ""
        return ConfigError(f"`model` {str(self.folder)!r}: {what} overflows {dtype} (its "
                           f"numbers are not finite){more}")  # fmt: skip

    def misfit(self, e: Exception) -> ConfigError:
        """The error of tensors that do not fit config.json (NumPy's error of their shapes)."""
        what = "metadata" if self.quant else "config.json"
        return ConfigError(f"`model`: the tensors in {str(self.folder)!r} do not fit its "
                           f"{what} ({e})")  # fmt: skip

    def check_kind(self, pre: Pretrained) -> None:
        """ConfigError when ``pre`` names a target or a kind of attention and the checkpoint is
        not an encoder-decoder."""
        for key in ("target", "attention"):
            if getattr(pre, key) is not None and self.family.seq2seq is None:
                raise ConfigError(f"`{key}` is an encoder-decoder's (t5, bart, marian); "
                                  f"{pre.model!r} is a {self.family.model_type}")  # fmt: skip

    def encode_target(self, text: str) -> tuple[list[int], list[ModelToken]]:
        """An encoder-decoder's decoder ids and tokens for the target ``text``, teacher-forced
        as in training: the decoder's start token, then the target's tokens."""
        ids, tokens = encode(self.target_tokenizer, text)
        return [self.decoder_start, *ids], [self.start_token(), *tokens]

    @property
    def decoder_start(self) -> int:
        """An encoder-decoder's decoder start token id: the first of every target."""
        return setting(self.config, "decoder_start_token_id", 0, least=0)

    def start_token(self) -> ModelToken:
        """The decoder's start token, as labels show it."""
        raw = self.target_tokenizer.id_to_token(self.decoder_start) or f"<{self.decoder_start}>"
        return ModelToken(raw, raw, 0, 0, True)

    @property
    def target_tokenizer(self) -> Any:
        """The tokenizer of an encoder-decoder's target (Marian's own; else the source's)."""
        return getattr(self.tokenizer, "target", self.tokenizer)

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

    def run_seq2seq(self, source: tuple[list[int], list[ModelToken]],
                    target: tuple[list[int], list[ModelToken]] | None, config: AttentionConfig,
                    truncated: int = 0, every_kind: bool = False,
                    kept: dict[str, Any] | None = None) -> list[Trace]:  # fmt: skip
        """An encoder-decoder's forward pass over the ``source`` (ids, tokens) and, teacher-
        forced, the ``target``'s: the Trace of the kind of attention ``config`` names
        (encoder, decoder, or cross by default) in its layer (the last by default); with
        ``every_kind``, the Traces of every kind the run has (the encoder's alone without a
        target), the named kind's in its layer, the others' in their last; ``kept``: tensors
        kept from run to run (a survey's)."""
        pre, s2s = config.pretrained, self.family.seq2seq
        assert pre is not None and s2s is not None
        kind = pre.attention or ("encoder" if every_kind and target is None else "cross")
        if target is None and kind != "encoder":
            raise ConfigError(f"`attention` {kind}: an encoder-decoder's {kind} attention reads "
                              "a target: give `target`, or `attention` encoder")  # fmt: skip
        if config.mask != ("none",):
            raise ConfigError("`mask`: an encoder-decoder runs with its own masks (none over "
                              "the source, causal over the target)")  # fmt: skip
        layer = self.seq2seq_layer(kind, pre)
        tgt = target[0] if target is not None else [self.decoder_start]
        try:
            with self._blas_held(max(len(source[0]), len(tgt))):
                run = self.seq2seq_pass(self.params(config.dtype, kept), source[0], tgt,
                                        config.scaled)  # fmt: skip
        except (ValueError, IndexError) as e:
            if isinstance(e, ConfigError):
                raise
            raise self.misfit(e) from None
        kinds = [kind] if not every_kind else ["encoder"] if target is None else list(KINDS)
        return [self._kind_trace(run, k, layer if k == kind else None, source, target, config,
                                 truncated) for k in kinds]  # fmt: skip

    def seq2seq_pass(self, params: Params, source: list[int], target: list[int],
                     scaled: bool) -> Seq2SeqRun:  # fmt: skip
        """An encoder-decoder's forward pass: a layer of any kind whose numbers are not finite
        is refused."""
        s2s = self.family.seq2seq
        assert s2s is not None
        with overflow_held():
            run = s2s.run(params, source, target, scaled, self.decoder_layers)
        for kind, runs in run.runs.items():
            bad = [n for n, r in enumerate(runs) if not np.isfinite(r.output).all()]
            if bad:
                raise self.overflowed(f"the {kind} attention of layer {bad[0]}", params.dtype)
        return run

    def logits(self, make: Callable[..., np.ndarray], *args: Any) -> np.ndarray:
        """The next token's logits ``make(*args)`` gives, refused when they are not finite
        (never a token drawn from NaN)."""
        with overflow_held():
            z = make(*args)
        if not np.isfinite(z).all():
            raise self.overflowed("the LM head (the next token's logits)", str(z.dtype))
        return z

    def seq2seq_layer(self, kind: str, pre: Pretrained) -> int:
        """The layer shown of an encoder-decoder's ``kind`` of attention, checked."""
        L = self.layers if kind == "encoder" else self.decoder_layers
        if pre.layer is not None and pre.layer >= L:
            raise ConfigError(f"no layer {pre.layer}: the {kind} attention of {pre.model!r} has "
                              f"layers 0 to {L - 1}")  # fmt: skip
        return L - 1 if pre.layer is None else pre.layer

    def _kind_trace(self, run: Any, kind: str, layer: int | None,
                    source: tuple[list[int], list[ModelToken]],
                    target: tuple[list[int], list[ModelToken]] | None, config: AttentionConfig,
                    truncated: int) -> Trace:  # fmt: skip
        """The Trace of ``kind`` of an encoder-decoder's ``run`` in ``layer`` (None: its last)."""
        runs = run.runs[kind]
        layer = len(runs) - 1 if layer is None else layer
        assert config.pretrained is not None
        c = replace(config, mask=("causal",) if kind == "decoder" else ("none",),
                    source=replace(config.pretrained, layer=layer, attention=kind))  # fmt: skip
        queries = source if kind == "encoder" else target
        assert queries is not None
        keys = source if kind == "cross" else None
        return self._trace(runs[layer], np.stack([r.weights for r in runs]), queries[1],
                           queries[0], c, truncated, (None, ()), kind=kind, keys=keys,
                           memory=run.memory if keys else None, bias=run.biases.get(kind))  # fmt: skip

    def _trace(self, r: LayerRun, layer_weights: np.ndarray, tokens: list[ModelToken],
               ids: list[int], c: AttentionConfig, truncated: int,
               masks: tuple[np.ndarray | None, tuple[tuple[str, ...], ...]], kind: str = "",
               keys: tuple[list[int], list[ModelToken]] | None = None,
               memory: np.ndarray | None = None, bias: np.ndarray | None = None) -> Trace:  # fmt: skip
        """The Trace of layer run ``r``, every layer's weights (L, H, T, T) and, when they
        differ, masks (L, T, T) and mask specs beside it; of an encoder-decoder, the ``kind``
        of attention, and cross-attention's ``keys`` (ids, tokens) and ``memory`` (S, D)."""
        assert c.pretrained is not None
        w_q, w_k, w_v, b_q, b_k, b_v = r.w.per_head
        key_tokens = (
            tuple(Token(t.text, t.start, t.end, t.special) for t in keys[1]) if keys else ()
        )
        if keys:  # cross-attention: every target token sees the whole source
            allowed = np.ones((len(ids), len(keys[0])), bool)
        else:
            allowed = build_mask(c.mask, np.zeros(len(ids), dtype=bool))
        return Trace(
            tokens=tuple(Token(t.text, t.start, t.end, t.special) for t in tokens),
            config=c,
            x=r.x,
            w_q=w_q,
            w_k=w_k,
            w_v=w_v,
            w_o=r.w.w_o,
            allowed=allowed,
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
                attention=kind,
                key_raw=tuple(t.raw for t in keys[1]) if keys else (),
                key_ids=tuple(keys[0]) if keys else (),
                position_bias=bias is not None,
            ),
            scale=r.scale,
            q_rot=r.q_rot,
            k_rot=r.k_rot,
            bias=bias,  # type: ignore[arg-type]  # None: zero
            key_tokens=key_tokens,
            memory=memory,
        )


def combined(own: str, asked: tuple[str, ...]) -> tuple[str, ...]:
    """A layer's own mask ANDed with the masks asked for, each once; "none" and a "causal"
    that a causal window already holds are left out."""
    specs = list(dict.fromkeys(s for s in (own, *asked) if s != "none"))
    if any(s.startswith("window=") for s in specs):
        specs = [s for s in specs if s != "causal"]
    return parse_masks(specs or ["none"])


def _quietly(layers: Iterator[LayerRun]) -> LayerRun | None:
    """The next layer of a forward pass (None after the last), overflow's warnings held for
    that step alone (a generator's errstate would hold them in its caller's code too)."""
    with overflow_held():
        return next(layers, None)
