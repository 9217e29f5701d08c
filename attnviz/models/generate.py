"""A decoder continues a text: the language-model head, greedy or seeded sampling, and a
key/value cache (each new token's queries attend to the keys and values kept from the
tokens before it, so a step costs one token's pass, not the whole sequence's).

Shapes: L layers, H heads, T tokens, D hidden size, V the vocabulary.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..attention import softmax
from ..errors import ConfigError
from ..masks import build_mask
from .checkpoint import Checkpoint
from .families import FAMILIES
from .layers import Cache, Params
from .tokenizer import JOIN, ModelToken, shown


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen: the most probable (``temperature`` 0, the default), or
    drawn from the softmax of logits / temperature, kept to the ``top_k`` most probable and
    to the smallest set whose probability reaches ``top_p``, with a generator seeded by
    ``seed`` (the same tokens run after run)."""

    temperature: float = 0.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t < float("inf"):
            raise ConfigError(f"`temperature` must be a number >= 0, not {t!r}")
        if self.top_k is not None and (isinstance(self.top_k, bool) or
                                       not isinstance(self.top_k, int) or self.top_k < 1):  # fmt: skip
            raise ConfigError(f"`top_k` must be a whole number >= 1, not {self.top_k!r}")
        if self.top_p is not None and not (isinstance(self.top_p, (int, float))
                                           and 0 < self.top_p <= 1):  # fmt: skip
            raise ConfigError(f"`top_p` must be a number in (0, 1], not {self.top_p!r}")
        if (self.top_k is not None or self.top_p is not None) and t == 0:
            raise ConfigError(
                "`top_k` and `top_p` choose among samples: give a `temperature` above 0 too"
            )

    def choose(self, logits: np.ndarray, rng: np.random.Generator) -> int:
        """The next token, from the logits (V,) of the last position."""
        if self.temperature == 0:
            return int(np.argmax(logits))
        z = logits.astype(np.float64) / self.temperature
        if self.top_k is not None and self.top_k < len(z):
            z = np.where(z >= np.sort(z)[-self.top_k], z, -np.inf)
        p = softmax(z)
        if self.top_p is not None:
            order = np.argsort(-p, kind="stable")
            keep = np.cumsum(p[order]) - p[order] < self.top_p  # the first always kept
            p = np.where(np.isin(np.arange(len(p)), order[keep]), p, 0.0)
            p /= p.sum()
        return int(rng.choice(len(p), p=p))


@dataclass(eq=False)
class Generation:
    """A continuation: the prompt's ids, the generated ids, the probability the model gave
    each generated token, its ``top`` most probable next tokens at each step (id,
    probability), each step's attention rows of the token fed in (L, H, t), whether it
    stopped at an end-of-text token, and the tensors it kept in its dtype (``Checkpoint.run``
    reuses them)."""

    prompt: list[int]
    generated: list[int] = field(default_factory=list)
    chosen_prob: list[float] = field(default_factory=list)
    top: list[list[tuple[int, float]]] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)
    stopped: bool = False
    kept: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ids(self) -> list[int]:
        return self.prompt + self.generated


def decoders() -> str:
    """The families with a language-model head, for messages: "gpt2, llama, ..."."""
    return ", ".join(f.model_type for f in FAMILIES.values() if f.lm_head)


def lm_head(ck: Checkpoint, params: Params) -> np.ndarray:
    """The output embedding, transposed and contiguous (D, V): the checkpoint's own, or the
    input one when tied. Kept with the other tensors (``params.kept``) in this layout only
    (only a step's logits use it): one hidden state times it reads the 113 MB of SmolLM's at
    32 GB/s, where the transpose of the (V, D) layout read at 24 GB/s."""
    names = ck.family.lm_head
    if not names:
        raise ConfigError(
            f"`model` {ck.spec!r}: a {ck.family.model_type} checkpoint has no language-model "
            f"head to generate with; generate runs decoders ({decoders()})"
        )
    kept = params.kept if params.kept is not None else {}
    for name in names:
        if name + ".T" in kept:
            head: np.ndarray = kept[name + ".T"]
            return head
        if ck.tensors.has(name):
            head = params(name)
            if head.ndim != 2 or head.shape[1] != ck.d_model:
                raise ConfigError(f"`model`: {name} has shape {head.shape}, not (vocabulary, "
                                  f"{ck.d_model}) as config.json says")  # fmt: skip
            kept.pop(name, None)  # kept once, as (D, V)
            kept[name + ".T"] = head = _transposed(head)
            return head
    raise ConfigError(f"`model`: the checkpoint has no {' or '.join(names)}")


def _transposed(a: np.ndarray, rows: int = 512) -> np.ndarray:
    """a.T as a contiguous array, copied ``rows`` rows of ``a`` at a time: the block stays in
    cache (65 ms for SmolLM's output embedding, where np.ascontiguousarray(a.T) took 190)."""
    out = np.empty(a.shape[::-1], a.dtype)
    for i in range(0, len(a), rows):
        out[:, i : i + rows] = a[i : i + rows].T
    return out


def eos_ids(ck: Checkpoint) -> set[int]:
    """The end-of-text ids of config.json and generation_config.json."""
    found: set[int] = set()
    for source in (ck.config, generation_config(ck)):
        value = source.get("eos_token_id")
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, int) and not isinstance(v, bool):
                found.add(v)
    return found


def generation_config(ck: Checkpoint) -> dict[str, Any]:
    path = ck.folder / "generation_config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class Decoder:
    """A checkpoint run token by token: a pass over some tokens adds them to the cache and
    gives the next token's logits and the attention rows of the tokens passed. ``kept``: the
    tensors an earlier decoder of ``ck`` kept in the same dtype (read again otherwise)."""

    def __init__(
        self, ck: Checkpoint, dtype: str = "float32", kept: dict[str, Any] | None = None
    ) -> None:
        self.ck = ck
        self.params = Params(ck.tensors, ck.config, dtype, ck.heads, ck.layers, ck.kv_heads,
                             ck.head_dim, kept={} if kept is None else kept)  # fmt: skip
        self.head = lm_head(ck, self.params)
        self.cache = Cache(full=True)
        self.own = ck.family.masks(ck.config, ck.layers)
        cap = ck.config.get("final_logit_softcapping")
        self.softcap = float(cap) if isinstance(cap, (int, float)) and cap > 0 else None

    def step(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Pass ``ids`` after the cached tokens: the logits (V,) of the next token, and the
        attention of the passed tokens over all tokens so far (L, H, len(ids), t)."""
        start, T = self.cache.start, self.cache.start + len(ids)
        masks: dict[str, np.ndarray | None] = {}
        for s in set(self.own):
            m = build_mask((s,), np.zeros(T, dtype=bool))[start:]
            masks[s] = None if m.all() else m  # None: a causal step sees every key
        runs = self.ck.forward(self.params, ids, [masks[s] for s in self.own], True,
                               cache=self.cache)  # fmt: skip
        weights = np.stack([r.weights for r in runs])  # (L,H,len(ids),T)
        assert self.cache.hidden is not None
        if self.cache.hidden.shape != (len(ids), self.ck.d_model):
            raise self.ck.misfit(ValueError(f"the last hidden state is {self.cache.hidden.shape}"))
        logits = self.ck.logits(np.matmul, self.cache.hidden[-1], self.head)  # (D,) @ (D,V)
        if self.softcap is not None:
            logits = np.tanh(logits / self.softcap) * self.softcap
        self.cache.start = T
        return logits, weights


def check_length(ck: Checkpoint, prompt: list[int], n: int) -> None:
    """ConfigError unless ``n`` is a whole number >= 1 and the prompt and n tokens fit the
    model's positions."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"`max_new_tokens` must be a whole number >= 1, not {n!r}")
    if len(prompt) + n > ck.max_positions:
        raise ConfigError(
            f"the prompt's {len(prompt)} tokens and {n} new ones are more than the "
            f"{ck.max_positions} positions of {ck.spec!r}: ask for fewer `max_new_tokens`"
        )


def generate(
    ck: Checkpoint, prompt: list[int], n: int, sampling: Sampling = Sampling(),
    dtype: str = "float32", top: int = 5, on_token: Callable[[int], None] | None = None,
    kept: dict[str, Any] | None = None,
) -> Generation:  # fmt: skip
    """Up to ``n`` tokens after ``prompt``, stopping after an end-of-text token;
    ``on_token`` hears of each token as it is chosen. ``kept``: an earlier generation's
    ``kept`` (of ``ck``, in ``dtype``), whose tensors are then not read again."""
    check_length(ck, prompt, n)
    decoder, stop = Decoder(ck, dtype, kept), eos_ids(ck)
    decoder.cache.room = len(prompt) + n
    rng = np.random.default_rng(sampling.seed)
    assert decoder.params.kept is not None  # a decoder keeps what it reads
    g = Generation(list(prompt), kept=decoder.params.kept)
    logits, rows = decoder.step(list(prompt))
    buffer = np.empty(len(logits), np.float64)
    for _ in range(n):
        token = sampling.choose(logits, rng)
        p = probabilities(logits, buffer)
        best = most_probable(p, top)
        g.generated.append(token)
        g.chosen_prob.append(float(p[token]))
        g.top.append([(int(i), float(p[i])) for i in best])
        if on_token is not None:
            on_token(token)
        if token in stop:
            g.stopped = True
            break
        if len(g.generated) < n:
            logits, rows = decoder.step([token])
            g.rows.append(rows[:, :, 0])
    return g


def probabilities(logits: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The softmax of the logits in float64, the numbers of ``softmax(logits.astype(float64))``
    computed in ``out``, one buffer for every step: a fresh array of the vocabulary's size
    faults its pages in again at each step."""
    top = logits.max()
    if not np.isfinite(top):
        return softmax(logits.astype(np.float64))
    np.subtract(logits, top, out=out, dtype=np.float64)
    np.exp(out, out=out)
    out /= out.sum()
    return out


def most_probable(p: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` most probable ids, most probable first (ties: the lower id first); a
    partition, then a sort of those k only (a sort of the whole vocabulary took a tenth
    of a step)."""
    if k >= len(p):
        return np.argsort(-p, kind="stable")
    kth = np.partition(p, len(p) - k)[len(p) - k]  # the k-th largest probability
    ids = np.flatnonzero(p >= kth)  # in id order: ties keep the lower ids first
    return ids[np.argsort(-p[ids], kind="stable")][:k]


def pieces(ck: Checkpoint, tokens: list[int], before: str = " ") -> list[ModelToken]:
    """Generated tokens as labels show them: a token that starts with a space, or follows
    one (``before``: the text before the first), starts a word; any other is joined to the
    one before it (‿). Special tokens as the vocabulary spells them."""
    specials, out = _specials(ck), []
    for token in tokens:
        raw = ck.tokenizer.id_to_token(token) or f"<{token}>"
        text = raw if raw in specials else ck.tokenizer.decode([token])
        word = shown(text)
        starts = raw in specials or text[:1].isspace() or before[-1:].isspace()
        out.append(ModelToken(raw, word if starts else JOIN + word, 0, 0, raw in specials))
        before = text
    return out


def _specials(ck: Checkpoint) -> set[str]:
    added = ck.tokenizer.get_added_tokens_decoder()
    return {t.content for t in added.values() if getattr(t, "special", False)}
