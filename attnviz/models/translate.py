"""An encoder-decoder writes its target: the source encoded, then the decoder run over the
target so far at each step, its next token chosen from the language-model head, as
transformers' ``generate`` chooses it (greedy or sampled; the checkpoint's forced first and
last tokens, and its banned single tokens, as its generation_config.json says).

Each step runs the whole pass again, the encoder over the source and the decoder over the
target so far (no key/value cache): a target of n tokens costs n passes, each of tens of
tokens for a sentence; the tensors are read and converted once, kept from step to step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .checkpoint import Checkpoint
from .generate import (
    Generation,
    Sampling,
    eos_ids,
    generation_config,
    most_probable,
    probabilities,
)


def _forced(ck: Checkpoint, key: str) -> int | None:
    """A forced token id of generation_config.json (or config.json): None when it has none."""
    for source in (generation_config(ck), ck.config):
        value = source.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _banned(ck: Checkpoint) -> list[int]:
    """The single tokens generation_config.json bans (bad_words_ids of one token: Marian's pad)."""
    found = generation_config(ck).get("bad_words_ids") or ck.config.get("bad_words_ids") or []
    return [w[0] for w in found if isinstance(w, list) and len(w) == 1 and isinstance(w[0], int)]


def translate(
    ck: Checkpoint, source: list[int], n: int, sampling: Sampling | None = None,
    dtype: str = "float32", top: int = 5, on_token: Callable[[int], None] | None = None,
) -> Generation:  # fmt: skip
    """Up to ``n`` target tokens for the ``source`` ids, after the decoder's start token (the
    Generation's prompt), stopping after an end-of-text token; ``on_token`` hears of each;
    ``sampling`` None: greedy."""
    sampling = sampling or Sampling()
    s2s = ck.family.seq2seq
    assert s2s is not None
    kept: dict[str, Any] = {}  # the tensors, read and converted once for every step
    params = ck.params(dtype, kept)
    g = Generation([ck.decoder_start], kept=kept)
    stop, rng = eos_ids(ck), np.random.default_rng(sampling.seed)
    first, last, banned = (
        _forced(ck, "forced_bos_token_id"),
        _forced(ck, "forced_eos_token_id"),
        _banned(ck),
    )
    for step in range(n):
        run = ck.seq2seq_pass(params, source, g.ids, True)
        assert run.hidden is not None
        logits = ck.logits(s2s.logits, params, run.hidden[-1:])[0]
        p = probabilities(logits, np.empty(len(logits), np.float64))
        forced = first if step == 0 and first is not None else last if step == n - 1 else None
        if forced is not None and 0 <= forced < len(logits):
            token = forced
        else:
            token = sampling.choose(_without(logits, banned), rng)
        g.generated.append(token)
        g.chosen_prob.append(float(p[token]))
        g.top.append([(int(i), float(p[i])) for i in most_probable(p, top)])
        if on_token is not None:
            on_token(token)
        if token in stop:
            g.stopped = True
            break
    return g


def _without(logits: np.ndarray, banned: list[int]) -> np.ndarray:
    """The logits with the banned tokens' at −∞."""
    if not banned:
        return logits
    out = logits.copy()
    out[[b for b in banned if 0 <= b < len(out)]] = -np.inf
    return out


def labels(ck: Checkpoint, generated: list[int]) -> Any:
    """The generated target tokens as labels show them."""
    from .generate import pieces

    return pieces(ck, generated, " ")
