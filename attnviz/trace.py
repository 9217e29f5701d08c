"""AttentionConfig, Trace and the pipeline text -> tokens -> X -> attention -> Trace.

Shapes: T tokens, H heads, D = d_model, Dh = d_k = D / H.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from . import attention
from .errors import ConfigError, RunError
from .masks import build_mask, parse_masks
from .model import PATTERNS, embed, planted_weights, position_bias, seeded_weights
from .tokens import TOKENIZERS, Token, tokenize

POSITIONS = ("sinusoidal", "none")
DTYPES = ("float64", "float32")


def _whole(name: str, value: object, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ConfigError(f"{name} must be a whole number >= {least}, not {value!r}")
    return int(value)


def _one_of(name: str, value: object, choices: Sequence[str]) -> str:
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
            raise ConfigError(f"--plant takes HEAD=PATTERN such as 0=previous, not {spec!r}")
        h = int(head)
        if h >= heads:
            raise ConfigError(f"--plant {spec!r}: no head {h}, this run has heads 0 to {heads - 1}")
        _one_of("pattern", pattern, PATTERNS)
        if h in planted:
            raise ConfigError(f"head {h} is planted twice: give one pattern per head")
        planted[h] = pattern
    return tuple(f"{h}={p}" for h, p in planted.items())


@dataclass(frozen=True)
class AttentionConfig:
    """Every option of a run. Defaults follow the paper: d_model 512, 8 heads (d_k 64)."""

    heads: int = 8
    d_model: int = 512
    seed: int = 0
    mask: tuple[str, ...] = ("causal",)
    tokenizer: str = "word"
    positions: str = "sinusoidal"
    scaled: bool = True
    dtype: str = "float64"
    bos: bool = False
    pad_to: int | None = None
    plant: tuple[str, ...] = ()  # planted heads, "HEAD=PATTERN"
    plant_strength: float = 1.0
    model: str | None = None  # a checkpoint (folder or model id) instead of seeded weights
    layer: int | None = None  # the checkpoint's layer shown (None: the last)

    def __post_init__(self) -> None:
        heads = _whole("heads", self.heads, 1)
        d_model = _whole("d_model", self.d_model, 1)
        if d_model % heads:
            raise ConfigError(
                f"d_model {d_model} is not a multiple of heads {heads}: each head gets d_model / heads"
            )
        _whole("seed", self.seed, 0)
        object.__setattr__(self, "mask", parse_masks(self.mask))
        _one_of("tokenizer", self.tokenizer, TOKENIZERS)
        _one_of("positions", self.positions, POSITIONS)
        _one_of("dtype", self.dtype, DTYPES)
        if self.pad_to is not None:
            _whole("pad_to", self.pad_to, 1)
        if "padding" in self.mask and self.pad_to is None:
            raise ConfigError("mask 'padding' needs --pad-to N: without it there is no <pad> token")
        object.__setattr__(self, "plant", parse_plants(self.plant, heads))
        strength = self.plant_strength
        if isinstance(strength, bool) or not isinstance(strength, (int, float)):
            raise ConfigError(f"plant strength must be a number, not {strength!r}")
        if not (np.isfinite(strength) and strength >= 0):
            raise ConfigError(f"plant strength must be a finite number >= 0, not {strength!r}")
        object.__setattr__(self, "plant_strength", float(strength))
        if self.model is not None and self.plant:
            raise ConfigError("--plant plants patterns in seeded weights, not in a --model")
        if self.layer is not None:
            _whole("layer", self.layer, 0)

    @property
    def planted(self) -> dict[int, str]:
        """The planted heads: head -> pattern."""
        return {int(h): p for h, _, p in (spec.partition("=") for spec in self.plant)}

    @property
    def d_k(self) -> int:
        """Width of one head, Dh = d_model / heads."""
        return self.d_model // self.heads

    def to_dict(self) -> dict[str, Any]:
        """The options as JSON-ready values."""
        d = asdict(self)
        d["mask"] = list(self.mask)
        d["plant"] = list(self.plant)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AttentionConfig:
        """Inverse of to_dict; unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(unknown)}")
        values: dict[str, Any] = {
            k: tuple(v) if k in ("mask", "plant") else v for k, v in d.items()
        }
        return cls(**values)


_ARRAYS = (
    "x", "w_q", "w_k", "w_v", "w_o", "allowed", "weights", "head_outputs", "output", "bias",
    "b_q", "b_k", "b_v", "b_o",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class ModelInfo:
    """What a run of a real checkpoint adds: its name (as given), model_type, config.json,
    the tokens as the model spells them, and every layer's weights (L, H, T, T)."""

    name: str
    model_type: str
    config: dict[str, Any]
    raw_tokens: tuple[str, ...]
    layer_weights: np.ndarray


@dataclass(frozen=True, eq=False)
class Trace:
    """Everything a renderer may show about one run. Arrays are read-only.

    x (T, D); w_q, w_k, w_v (H, D, Dh); w_o (H*Dh, D); allowed (T, T) bool;
    weights (H, T, T); head_outputs (H, T, Dh); output (T, D); bias (H, T, T), the position
    bias of planted heads (zero for the others; None when building means zero everywhere).
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
    truncated: int = 0  # tokens cut from the end of the text (max_tokens with truncate=True)
    bias: np.ndarray = None  # type: ignore[assignment]  # made zero in __post_init__
    # the projections' biases of a real checkpoint (zero for seeded weights)
    b_q: np.ndarray = None  # type: ignore[assignment]
    b_k: np.ndarray = None  # type: ignore[assignment]
    b_v: np.ndarray = None  # type: ignore[assignment]
    b_o: np.ndarray = None  # type: ignore[assignment]
    model: ModelInfo | None = None
    special_hidden: int = 0  # special tokens left out of the picture (--hide-special)

    def __post_init__(self) -> None:
        T, H, D, Dh = len(self.tokens), self.config.heads, self.config.d_model, self.config.d_k
        zero = np.zeros((), dtype=self.config.dtype)
        for name, dims in (("bias", (H, T, T)), ("b_q", (H, Dh)), ("b_k", (H, Dh)),
                            ("b_v", (H, Dh)), ("b_o", (D,))):  # fmt: skip
            if getattr(self, name) is None:  # zero, without the memory
                object.__setattr__(self, name, np.broadcast_to(zero, dims))
        expected: dict[str, tuple[int, ...]] = {
            "x": (T, D),
            "w_q": (H, D, Dh),
            "w_k": (H, D, Dh),
            "w_v": (H, D, Dh),
            "w_o": (H * Dh, D),
            "allowed": (T, T),
            "weights": (H, T, T),
            "head_outputs": (H, T, Dh),
            "output": (T, D),
            "bias": (H, T, T),
            "b_q": (H, Dh),
            "b_k": (H, Dh),
            "b_v": (H, Dh),
            "b_o": (D,),
        }
        for name in _ARRAYS:
            array = getattr(self, name)
            if not isinstance(array, np.ndarray) or array.shape != expected[name]:
                shape = getattr(array, "shape", type(array).__name__)
                raise ConfigError(f"{name} has shape {shape}, expected {expected[name]}")
            want = np.bool_ if name == "allowed" else np.dtype(self.config.dtype)
            if array.dtype != want:
                raise ConfigError(f"{name} has dtype {array.dtype}, expected {np.dtype(want)}")
            array.setflags(write=False)

    @property
    def texts(self) -> list[str]:
        """The token texts, in order."""
        return [t.text for t in self.tokens]

    def q(self, h: int) -> np.ndarray:
        """Q = X·W_Q[h] (+ b_Q[h] in a checkpoint): (T, D) @ (D, Dh) -> (T, Dh)."""
        return self.x @ self.w_q[h] + self.b_q[h]

    def k(self, h: int) -> np.ndarray:
        """K = X·W_K[h] (+ b_K[h]): (T, Dh)."""
        return self.x @ self.w_k[h] + self.b_k[h]

    def v(self, h: int) -> np.ndarray:
        """V = X·W_V[h] (+ b_V[h]): (T, Dh)."""
        return self.x @ self.w_v[h] + self.b_v[h]

    @property
    def layer_weights(self) -> np.ndarray:
        """Every layer's weights (L, H, T, T): a checkpoint's, or this run's as one layer."""
        return self.model.layer_weights if self.model else self.weights[None]

    def scores(self, h: int) -> np.ndarray:
        """scores = Q·Kᵀ of head h: (T, T)."""
        return attention.scores(self.q(h), self.k(h))

    def scaled(self, h: int) -> np.ndarray:
        """scaled = scores / √d_k of head h (the scores themselves when unscaled): (T, T)."""
        s = self.scores(h)
        return attention.scale(s, self.config.d_k) if self.config.scaled else s

    def biased(self, h: int) -> np.ndarray:
        """scaled + the position bias of head h (the scaled scores of an unplanted head): (T, T)."""
        s = self.scaled(h)
        return s + self.bias[h] if h in self.config.planted else s

    def masked(self, h: int) -> np.ndarray:
        """masked = biased where allowed, −∞ elsewhere, of head h: (T, T)."""
        return attention.apply_mask(self.biased(h), self.allowed)

    def concat(self) -> np.ndarray:
        """The heads' outputs side by side: (H, T, Dh) -> (T, H*Dh)."""
        return attention.concat_heads(self.head_outputs)


@dataclass(frozen=True)
class Window:
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
        """Whether the window is the whole T x T run."""
        return (self.q0, self.q1, self.k0, self.k1) == (0, T, 0, T)


def cells(window: Window | None) -> tuple[slice, slice]:
    """The (queries, keys) slices a view takes of a T x T array: the window's, or all."""
    return (window.queries, window.keys) if window else (slice(None), slice(None))


def _span(option: str, spec: str, T: int | None) -> tuple[int, int]:
    start, colon, end = spec.partition(":")
    try:
        a = int(start) if start.strip() else 0
        b = int(end) if end.strip() else None
    except ValueError:
        a = b = -1
    if not colon or a < 0 or (b is not None and b <= a):
        raise ConfigError(f"{option} takes A:B such as 10:20 (tokens 10 to 19), not {spec!r}")
    if T is None:
        return a, a + 1 if b is None else b
    if a >= T or (b is not None and b > T):
        raise ConfigError(f"{option} {spec!r}: this text has {T} tokens, 0 to {T - 1}")
    return a, T if b is None else b


def parse_window(
    T: int | None, window: str | None = None, queries: str | None = None, keys: str | None = None
) -> Window:
    """The Window of ``--window A:B`` (queries and keys A..B−1), or of ``--queries A:B`` and
    ``--keys A:B`` (each axis on its own; the whole axis when not given). Either part of A:B
    may be left out: ``:20``, ``480:``. With T None, only the form of the specs is checked
    (the CLI does so before it computes anything)."""
    if window is not None and (queries is not None or keys is not None):
        raise ConfigError("give --window, or --queries and --keys, not both")
    q = k = _span("--window", window, T) if window is not None else (0, T or 0)
    if queries is not None:
        q = _span("--queries", queries, T)
    if keys is not None:
        k = _span("--keys", keys, T)
    return Window(*q, *k)


def select_heads(spec: str | Sequence[int] | None, n_heads: int) -> list[int]:
    """Selected heads from "0,3" or [0, 3] (None: all), checked against the number of heads."""
    if spec is None:
        return list(range(n_heads))
    if isinstance(spec, str):
        try:
            heads = [int(part) for part in spec.split(",") if part.strip()]
        except ValueError:
            raise ConfigError(f"--head takes head numbers such as 0 or 0,3, not {spec!r}") from None
    else:
        heads = [int(h) for h in spec]
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


def estimate_bytes(config: AttentionConfig, n_tokens: int) -> int:
    """The memory a run needs, roughly: the (H, T, T) weights it keeps (the blocked kernel's
    temporaries are a few blocks; small runs make three T x T temporaries per head), the
    weights of the model, the (T, D) arrays and the masks."""
    T, H, D = n_tokens, config.heads, config.d_model
    item = np.dtype(config.dtype).itemsize
    temporaries = 0 if H * T * T >= attention._BLOCKED_FROM else 3 * H * T * T
    return item * (H * T * T + temporaries + 4 * D * D + 4 * T * D) + 2 * T * T


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def cut(tokens: list[Any], max_tokens: int | None, truncate: bool) -> tuple[list[Any], int]:
    """``tokens`` refused (ConfigError) or cut when longer than ``max_tokens``; how many were cut."""
    if max_tokens is None or len(tokens) <= _whole("max_tokens", max_tokens, 1):
        return tokens, 0
    if not truncate:
        raise ConfigError(
            f"the text has {len(tokens)} tokens, more than --max-tokens {max_tokens}: "
            "raise --max-tokens, or cut the text with --truncate"
        )
    return tokens[:max_tokens], len(tokens) - max_tokens


def check_budget(
    c: AttentionConfig,
    T: int,
    memory_budget: int | None,
    extra_bytes: Callable[[int], int] | None,
    layers: int = 1,
) -> None:
    """RunError when the run's estimate (times ``layers``, plus ``extra_bytes(T)``) is over
    ``memory_budget``."""
    need = layers * estimate_bytes(c, T) + (extra_bytes(T) if extra_bytes else 0)
    if memory_budget is not None and need > memory_budget:
        raise RunError(
            f"this run needs about {_gib(need)} ({c.heads} heads x {T}² weights, "
            f"{c.dtype}), over --memory-budget {_gib(memory_budget)}: try fewer --heads, "
            "--head for fewer panels, --dtype float32, or a shorter text (--max-tokens N --truncate)"
        )


def run(
    text: str,
    config: AttentionConfig,
    *,
    max_tokens: int | None = None,
    truncate: bool = False,
    memory_budget: int | None = None,
    extra_bytes: Callable[[int], int] | None = None,
) -> Trace:
    """Tokenise ``text`` and run the seeded multi-head attention that ``config`` describes.

    A text of more than ``max_tokens`` tokens is refused (ConfigError), or cut to that length
    with ``truncate``. With ``memory_budget`` (bytes), a run whose estimate (plus
    ``extra_bytes(T)``, such as a figure's) exceeds it is refused with RunError before
    anything is computed.
    """
    c = config
    if c.model is not None:
        from .checkpoint import run_model

        return run_model(text, c, max_tokens=max_tokens, truncate=truncate,
                         memory_budget=memory_budget, extra_bytes=extra_bytes)  # fmt: skip
    tokens = tokenize(text, c.tokenizer, bos=c.bos, pad_to=c.pad_to)
    tokens, truncated = cut(tokens, max_tokens, truncate)
    check_budget(c, len(tokens), memory_budget, extra_bytes)
    texts = [t.text for t in tokens]
    dtype = np.dtype(c.dtype)
    x = embed(texts, c.d_model, c.seed, c.positions).astype(dtype)
    w = planted_weights(seeded_weights(c.heads, c.d_model, c.seed), c.planted, c.plant_strength)
    w_q, w_k, w_v, w_o = (a.astype(dtype) for a in (w.w_q, w.w_k, w.w_v, w.w_o))
    allowed = build_mask(c.mask, np.array([t.special and t.text == "<pad>" for t in tokens]))
    bias = position_bias(c.planted, c.heads, len(tokens), c.plant_strength, c.dtype)
    q, k, v = x @ w_q, x @ w_k, x @ w_v  # (T,D) @ (H,D,Dh) -> (H,T,Dh)
    weights, head_outputs = attention.scaled_dot_product_attention(
        q, k, v, allowed, scaled=c.scaled, bias=bias if c.plant else None
    )
    return Trace(
        tokens=tuple(tokens),
        config=c,
        x=x,
        w_q=w_q,
        w_k=w_k,
        w_v=w_v,
        w_o=w_o,
        allowed=allowed,
        weights=weights,
        head_outputs=head_outputs,
        output=attention.concat_heads(head_outputs) @ w_o,  # (T,H*Dh) @ (H*Dh,D) -> (T,D)
        truncated=truncated,
        bias=bias,
    )


def attend(
    text: str,
    *,
    heads: int = 8,
    d_model: int = 512,
    seed: int = 0,
    mask: str | Sequence[str] = "causal",
    tokenizer: str = "word",
    positions: str = "sinusoidal",
    scaled: bool = True,
    dtype: str = "float64",
    bos: bool = False,
    pad_to: int | None = None,
    max_tokens: int | None = None,
    truncate: bool = False,
    plant: str | Sequence[str] = (),
    plant_strength: float = 1.0,
) -> Trace:
    """Run seeded multi-head masked attention on ``text`` and return the Trace.

    ``plant`` gives heads known patterns: "0=previous" or ["0=previous", "2=same"] (patterns
    previous, self, first, uniform, same); ``plant_strength`` scales them.

    >>> trace = attend("The cat sat on the mat", heads=2, d_model=16)
    >>> trace.weights.shape            # (H, T, T)
    (2, 6, 6)
    """
    config = AttentionConfig(
        heads=heads,
        d_model=d_model,
        seed=seed,
        mask=parse_masks(mask),
        tokenizer=tokenizer,
        positions=positions,
        scaled=scaled,
        dtype=dtype,
        bos=bos,
        pad_to=pad_to,
        plant=(plant,) if isinstance(plant, str) else tuple(plant),
        plant_strength=plant_strength,
    )
    return run(text, config, max_tokens=max_tokens, truncate=truncate)
