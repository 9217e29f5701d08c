"""The pipeline of a run: text -> tokens -> the seeded model or a checkpoint -> Trace.

This module picks the backend, cuts or refuses a text that is too long, and refuses a run
whose memory estimate is over the budget before anything is computed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import attention
from .errors import ConfigError, RunError
from .masks import parse_masks
from .tokens import Token, count_tokens, tokenize
from .trace import AttentionConfig, Seeded, Trace, whole

if TYPE_CHECKING:  # (imported where a run is streamed: a dense one loads none of it)
    from .longrun import Streamed
    from .wanted import Wanted


@dataclass(frozen=True)
class Limits:
    """How far a run may go: at most ``max_tokens`` tokens (None: no limit but the model's
    positions), cut to it with ``truncate`` rather than refused; at most ``memory_budget``
    bytes (None: no budget), counting ``extra_bytes(T)`` for what the output will take."""

    max_tokens: int | None = None
    truncate: bool = False
    memory_budget: int | None = None
    extra_bytes: Callable[[int], int] | None = None

    def __post_init__(self) -> None:
        if self.max_tokens is not None:
            whole("max_tokens", self.max_tokens, 1)
        if self.memory_budget is not None:
            whole("memory_budget", self.memory_budget, 1, 2**63 - 1)


def estimate_bytes(heads: int, d_model: int, dtype: str, T: int) -> int:
    """The memory one layer of a run needs, roughly: the (H, T, T) weights it keeps (the
    blocked kernel's temporaries are a few blocks; small runs make three T x T temporaries
    per head), the layer's weights, the (T, D) arrays and the masks."""
    H, D = heads, d_model
    item = np.dtype(dtype).itemsize
    temporaries = 0 if H * T * T >= attention._BLOCKED_FROM else 3 * H * T * T
    return item * (H * T * T + temporaries + 4 * D * D + 4 * T * D) + 2 * T * T


def _gib(n: float) -> str:
    """A size as a person reads it: 2.0 GiB, 350 MiB, 1,000 bytes."""
    if n < 2**20:
        return f"{int(n):,} bytes"
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def check_budget(
    limits: Limits, heads: int, d_model: int, dtype: str, T: int, layers: int = 1,
    layer_elements: int | None = None,
) -> None:  # fmt: skip
    """RunError when the estimate of ``layers`` layers (plus the output's) is over the budget.

    A checkpoint (``layer_elements``: the numbers of its largest layer's tensors) keeps every
    layer's (H, T, T) weights but runs and reads one layer at a time: the estimate counts the
    weights of all layers, one layer's run, and that layer's tensors as read (converted from
    16 bits, a copy beside each)."""
    if layer_elements is None:
        need = layers * estimate_bytes(heads, d_model, dtype, T)
    else:
        item = np.dtype(dtype).itemsize
        need = (layers - 1) * heads * T * T * item + estimate_bytes(heads, d_model, dtype, T)
        need += 2 * layer_elements * max(item, 4)
    need += limits.extra_bytes(T) if limits.extra_bytes else 0
    if limits.memory_budget is not None and need > limits.memory_budget:
        fewer = "fewer panels" if layer_elements is not None else "fewer `heads`, fewer panels"
        if limits.extra_bytes is not None:
            fewer += " (or a smaller output: a lower `dpi`, --window)"
        raise RunError(
            f"this run needs about {_gib(need)} ({heads} heads x {T}² weights, {dtype}"
            f"{f', {layers} layers' if layers > 1 else ''}), over `memory_budget="
            f"{_gib(limits.memory_budget)}`: try {fewer}, `dtype='float32'`, "
            "or a shorter text (`max_tokens=N` and `truncate=True`)"
        )


def _too_long(limit: str) -> ConfigError:
    """The error of a text over ``limit`` (it was not split to its end: how many tokens it
    has is not known)."""
    return ConfigError(f"the text has more tokens than {limit}: shorten it, or cut it with "
                       "`truncate=True`")  # fmt: skip


def run(text: str, config: AttentionConfig, limits: Limits = Limits()) -> Trace:
    """Tokenise ``text`` and run the attention ``config`` describes, seeded or a checkpoint.

    A text longer than ``limits.max_tokens`` (or than a checkpoint's positions) is refused
    (ConfigError), or cut to that length with ``limits.truncate``. A run whose memory
    estimate is over ``limits.memory_budget`` is refused (RunError) before it computes.
    """
    trace = run_long(text, config, limits, stream=False)
    assert isinstance(trace, Trace)
    return trace


def run_kinds(text: str, config: AttentionConfig, limits: Limits = Limits()) -> list[Trace]:
    """An encoder-decoder's run of the source ``text`` (and ``config``'s target): the Traces
    of its encoder's, decoder's and cross-attention (only the encoder's without a target),
    from one forward pass; ``config``'s kind of attention in its layer, the others' last."""
    got = _prepared(text, config, limits)
    if got.ck is None or got.ck.family.seq2seq is None:
        raise ConfigError("the three kinds of attention are an encoder-decoder's (t5, bart, "
                          "marian): give one as `model`")  # fmt: skip
    got.check(limits)
    assert got.ids is not None
    traces: list[Trace] = got.ck.run_seq2seq((got.ids, got.tokens), got.target, config,
                                             got.truncated, every_kind=True)  # fmt: skip
    return traces


def run_long(
    text: str, config: AttentionConfig, limits: Limits = Limits(), wanted: Wanted | None = None,
    stream: bool | None = None,
) -> Trace | Streamed:  # fmt: skip
    """``run``, or, where the dense run would be over ``limits.memory_budget`` (``stream``
    None) or when asked (``stream`` True), the run streamed (``attnviz.longrun``), keeping
    what ``wanted`` says; its own estimate is checked against the budget, less
    ``limits.extra_bytes(0)`` (what the process and its output hold whatever the length)."""
    got = _prepared(text, config, limits)
    over: RunError | None = None
    if stream is not True:
        try:
            got.check(limits)
        except RunError as e:
            if stream is False or wanted is None:
                raise
            over = e
        else:
            return got.dense(config)
    if wanted is None:
        raise ConfigError("a streamed run needs `wanted`: the maps and measures it keeps")
    from .longrun import TooSmall

    budget = limits.memory_budget
    if budget is not None and limits.extra_bytes is not None:
        budget -= limits.extra_bytes(0)
    try:
        return got.streamed(config, wanted, budget)
    except TooSmall as e:
        if over is not None:
            raise over from None  # not even streamed: the dense run's estimate and ways out
        extra = limits.memory_budget - budget if limits.memory_budget and budget else 0
        raise TooSmall(e.T, e.need, e.least, extra) from None


@dataclass(frozen=True, eq=False)
class _Prepared:
    """A text cut into tokens within the limits (a checkpoint's: ids and its opened model)."""

    tokens: list[Any]
    truncated: int
    ck: Any = None
    ids: list[int] | None = None
    heads: int = 0  # of the seeded model
    d_model: int = 0
    dtype: str = "float64"
    target: tuple[list[int], Any] | None = None  # an encoder-decoder's target: ids, tokens

    def check(self, limits: Limits) -> None:
        """RunError when the dense run is over the budget."""
        T, ck = len(self.tokens), self.ck
        if ck is None:
            return check_budget(limits, self.heads, self.d_model, self.dtype, T)
        check_budget(limits, ck.heads, ck.d_model, self.dtype, T, ck.layers,
                     ck.tensors.layer_elements())  # fmt: skip

    def dense(self, config: AttentionConfig) -> Trace:
        if self.ck is None:
            from .seeded import run_seeded

            return run_seeded(self.tokens, config, self.truncated)
        assert self.ids is not None
        if self.ck.family.seq2seq is not None:
            return self.ck.run_seq2seq((self.ids, self.tokens), self.target, config,
                                       self.truncated)[0]  # fmt: skip
        return self.ck.run(self.ids, self.tokens, config, self.truncated)

    def streamed(self, config: AttentionConfig, wanted: Wanted, budget: int | None) -> Streamed:
        from . import longrun

        if self.ck is None:
            return longrun.seeded(self.tokens, config, wanted, budget, self.truncated)
        if self.ck.family.seq2seq is not None:
            raise ConfigError("an encoder-decoder's run is shown whole, never streamed (nor "
                              "measured by sink, which streams)")  # fmt: skip
        assert self.ids is not None
        return longrun.checkpoint(self.ck, self.ids, self.tokens, config, wanted, budget,
                                  self.truncated)  # fmt: skip


def _prepared(text: str, config: AttentionConfig, limits: Limits) -> _Prepared:
    """The tokens of ``text`` for ``config``'s model, within ``limits``."""
    if config.pretrained is not None:
        return _encoded(text, config, limits)
    c = config.seeded
    assert c is not None
    if c.pad_to is not None:  # checked before the padding is made
        _check_pad(c.pad_to, limits.max_tokens)
        check_budget(limits, c.heads, c.d_model, config.dtype, c.pad_to)
    tokens, truncated = cut(text, c.tokenizer, c.bos, c.pad_to, limits)
    return _Prepared(tokens, truncated, heads=c.heads, d_model=c.d_model, dtype=config.dtype)


def _check_pad(pad_to: int, limit: int | None) -> None:
    if limit is not None and pad_to > limit:
        raise ConfigError(f"`pad_to={pad_to}` is over `max_tokens={limit}`: pad to fewer "
                          "tokens, or raise `max_tokens`")  # fmt: skip


def cut(text: str, tokenizer: str, bos: bool, pad_to: int | None,
        limits: Limits) -> tuple[list[Token], int]:  # fmt: skip
    """The tokens of ``text`` within ``limits.max_tokens`` (split no further than that), and
    how many were cut (with ``limits.truncate``; a longer text is refused without it)."""
    limit = limits.max_tokens
    if pad_to is not None:
        _check_pad(pad_to, limit)
    tokens = tokenize(text, tokenizer, bos=bos, pad_to=pad_to, limit=limit)
    if limit is None or len(tokens) <= limit:
        return tokens, 0
    if not limits.truncate:
        raise _too_long(f"`max_tokens={limit}`")
    if pad_to is not None and pad_to < limit:
        raise ConfigError(f"`pad_to={pad_to}` is smaller than the text, which is cut to "
                          f"{limit} tokens")  # fmt: skip
    return tokens[:limit], count_tokens(text, tokenizer) + bos - limit


def model_tokens(text: str, model: str, limits: Limits) -> tuple[list[int], list[Any], int]:
    """The ids and tokens a checkpoint's tokenizer makes of ``text`` within ``limits`` (and
    its positions), and how many were cut."""
    from .trace import Pretrained

    p = _encoded(text, AttentionConfig(source=Pretrained(model)), limits)
    assert p.ids is not None
    return p.ids, p.tokens, p.truncated


def _encoded(text: str, config: AttentionConfig, limits: Limits) -> _Prepared:
    """Open the checkpoint and encode the text within the limits."""
    from .models import Checkpoint

    assert config.pretrained is not None
    if not text.strip():
        raise ConfigError("the text is empty: there is nothing to attend to")
    ck = Checkpoint.open(config.pretrained.model)
    ck.check_kind(config.pretrained)
    limit, what = (
        ck.max_positions,
        f"the {ck.max_positions} positions of {config.pretrained.model!r}",
    )
    if limits.max_tokens is not None and limits.max_tokens < limit:
        limit, what = limits.max_tokens, f"`max_tokens={limits.max_tokens}`"
    end, truncated = ck.over(text, limit), 0  # a long text is not tokenised whole
    if end is None:
        ids, tokens = ck.encode(text)
    elif not limits.truncate:
        raise _too_long(what)
    else:
        ids, tokens = ck.encode(text[:end], limit)
        truncated = ck.count(text) - limit
    target = _target(ck, config.pretrained.target, limit, what)
    return _Prepared(tokens, truncated, ck, ids, dtype=config.dtype, target=target)


def _target(ck: Any, text: str | None, limit: int, what: str) -> tuple[list[int], Any] | None:
    """An encoder-decoder's target ids and tokens (its decoder's start token first), refused
    when longer than ``limit``; None without a target."""
    if text is None:
        return None
    ids, tokens = ck.encode_target(text)
    if len(ids) > limit:
        raise ConfigError(f"the target has {len(ids)} tokens, more than {what}")
    return ids, tokens


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
    seeded: dict[str, Any] = dict(
        heads=heads, d_model=d_model, seed=seed, tokenizer=tokenizer, positions=positions,
        bos=bos, pad_to=pad_to, plant=(plant,) if isinstance(plant, str) else tuple(plant),
        plant_strength=plant_strength,
    )  # fmt: skip
    config = AttentionConfig(mask=parse_masks(mask), scaled=scaled, dtype=dtype,
                             source=Seeded(**seeded))  # fmt: skip
    return run(text, config, Limits(max_tokens=max_tokens, truncate=truncate))
