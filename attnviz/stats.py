"""Numbers derived from Traces: row entropies and the comparison of two runs.

Shapes: H heads, T tokens. Only rows with at least one allowed key enter a mean; a query
with no allowed key has no distribution to measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .display import Page
from .errors import ConfigError
from .rowstats import Keys, earlier_copy, of_matrix
from .tokens import Token
from .trace import Trace


def row_entropy(weights: np.ndarray) -> np.ndarray:
    """Entropy in nats of each row of attention weights, −Σ w log w: (..., T, T) -> (..., T).

    A row of zeros (a query with no allowed key) has entropy 0.
    """
    w = np.asarray(weights, dtype=np.float64)
    logs = np.log(w, out=np.zeros_like(w), where=w > 0)  # 0 log 0 = 0
    return -(w * logs).sum(axis=-1)


def _has_key(allowed: np.ndarray) -> np.ndarray:
    """(T,) bool: the queries with at least one allowed key."""
    return np.asarray(allowed.any(axis=1))


def _row_mean(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Mean over the selected rows of (H, T) values -> (H,); 0 when no row is selected."""
    if not rows.any():
        return np.zeros(values.shape[0])
    return values[:, rows].mean(axis=1)


def mean_entropy(weights: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Mean row entropy per head over the queries that have an allowed key: (H, T, T) -> (H,)."""
    return _row_mean(row_entropy(weights), _has_key(allowed))


def median_jacobian(weights: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Per head, the median over the queries that have an allowed key of ‖diag(p) − p pᵀ‖_F,
    the norm of the softmax's Jacobian at row p (what a gradient is multiplied by on its way
    back to the scores; see ``attnviz.scaling``): (H, T, T) -> (H,)."""
    from .scaling import jacobian_norm  # (the rest of scaling is the sweep's)

    rows = _has_key(allowed)
    if not rows.any():
        return np.zeros(weights.shape[0])
    # a head at a time: the norm's temporaries are a few (T, T), not a few (H, T, T)
    return np.array([np.median(jacobian_norm(np.asarray(w, dtype=np.float64)[rows]))
                     for w in weights])  # fmt: skip


@dataclass(frozen=True, eq=False, repr=False)
class Comparison(Page):
    """Two runs of the same text and weights that differ in one thing (the mask, or scaling).

    Per head (H,): ``tv_distance``, the mean total variation distance between A's and B's rows
    (½ Σ|a − b|); ``mass_moved``, the mean weight B puts on keys that A hides; ``entropy_a``
    and ``entropy_b``, the mean row entropies (nats); ``jacobian_a`` and ``jacobian_b``, the
    median norms of the softmax's Jacobian (``median_jacobian``). Per token (T,):
    ``output_difference``, ‖output_A[i] − output_B[i]‖.
    """

    a: Trace
    b: Trace
    tv_distance: np.ndarray
    mass_moved: np.ndarray
    entropy_a: np.ndarray
    entropy_b: np.ndarray
    output_difference: np.ndarray
    jacobian_a: np.ndarray
    jacobian_b: np.ndarray


def compare(a: Trace, b: Trace) -> Comparison:
    """The summary numbers of runs A and B of the same tokens."""
    if a.texts != b.texts or a.heads != b.heads:
        raise ConfigError("a comparison needs two runs of the same tokens and heads")
    wa = a.weights.astype(np.float64)  # (H,T,T)
    wb = b.weights.astype(np.float64)
    both = _has_key(a.allowed) & _has_key(b.allowed)  # (T,) rows with a distribution in each
    tv = 0.5 * np.abs(wa - wb).sum(axis=-1)  # (H,T)
    moved = (wb * ~a.allowed).sum(axis=-1)  # (H,T) weight of B on keys A hides
    diff = a.output.astype(np.float64) - b.output.astype(np.float64)  # (T,D)
    return Comparison(
        a=a,
        b=b,
        tv_distance=_row_mean(tv, both),
        mass_moved=_row_mean(moved, _has_key(b.allowed)),
        entropy_a=mean_entropy(wa, a.allowed),
        entropy_b=mean_entropy(wb, b.allowed),
        output_difference=np.sqrt((diff**2).sum(axis=1)),
        jacobian_a=median_jacobian(wa, a.allowed),
        jacobian_b=median_jacobian(wb, b.allowed),
    )


def rollout(layer_weights: np.ndarray) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020): (L, H, T, T) -> (T, T).

    Per layer, the heads' mean A is mixed with the identity for the residual connection,
    0.5·A + 0.5·I, its rows renormalised; the layers are multiplied from the first to the
    last, R = Â_L ··· Â_1. Row i says how much of token i's last representation flows, along
    every path of attention, from each input token.
    """
    w = np.asarray(layer_weights, dtype=np.float64)
    T = w.shape[-1]
    result = np.eye(T)
    for mean in w.mean(axis=1):  # (T,T) per layer, first to last
        mixed = 0.5 * mean + 0.5 * np.eye(T)
        mixed /= mixed.sum(axis=-1, keepdims=True)  # a row of zeros (no key) becomes I's row
        result = mixed @ result  # (T,T) @ (T,T)
    return result


def hide_special(trace: Trace) -> Trace:
    """``trace`` without its special tokens ([CLS], [SEP], <bos>, <pad>) as queries or keys:
    every row renormalised over the keys that remain (as a softmax over them alone would
    give), head outputs and output recomputed from them, ``special_hidden`` counting them
    (cross-attention's: the target's and the source's)."""
    from dataclasses import replace

    from .attention import concat_heads

    keep = np.array([not t.special for t in trace.tokens])
    keep_k = np.array([not t.special for t in trace.key_tokens]) if trace.key_tokens else keep
    if keep.all() and keep_k.all():
        return trace
    if not keep.any() or not keep_k.any():
        raise ConfigError("`hide_special` would hide every token: the text has only special ones")
    rows, cols = np.flatnonzero(keep), np.flatnonzero(keep_k)

    def renormalised(w: np.ndarray) -> np.ndarray:  # (..., T, S) -> (..., T', S')
        w = w[..., rows[:, None], cols]
        total = w.sum(axis=-1, keepdims=True)
        return np.divide(w, total, out=np.zeros_like(w), where=total > 0)

    def kept(items: Sequence[Any], which: np.ndarray) -> tuple[Any, ...]:
        return tuple(x for x, k in zip(items, which, strict=True) if k) if items else ()

    weights = renormalised(trace.weights)
    zero = np.broadcast_to(np.zeros((), dtype=trace.weights.dtype), weights.shape)  # no memory
    v = np.stack([trace.v(h)[cols] for h in range(trace.heads)])  # (H,S',Dh)
    head_outputs = weights @ v  # (H,T',S') @ (H,S',Dh)
    model = trace.model and replace(
        trace.model, raw_tokens=kept(trace.model.raw_tokens, keep),
        ids=kept(trace.model.ids, keep), key_raw=kept(trace.model.key_raw, keep_k),
        key_ids=kept(trace.model.key_ids, keep_k),
        layer_weights=renormalised(trace.model.layer_weights),
    )  # fmt: skip
    own = trace.config.planted or (trace.model is not None and trace.model.position_bias)
    cross = trace.memory is not None
    return replace(
        trace,
        tokens=kept(trace.tokens, keep),
        x=trace.x[rows],
        allowed=trace.allowed[rows[:, None], cols],
        weights=weights,
        head_outputs=head_outputs,
        output=concat_heads(head_outputs) @ trace.w_o + trace.b_o,
        bias=trace.bias[:, rows[:, None], cols] if own else zero,
        model=model,
        special_hidden=trace.special_hidden + int((~keep).sum()) + cross * int((~keep_k).sum()),
        key_tokens=kept(trace.key_tokens, keep_k),
        memory=None if trace.memory is None else trace.memory[cols],
        q_rot=None if trace.q_rot is None else trace.q_rot[:, rows],
        k_rot=None if trace.k_rot is None else trace.k_rot[:, cols],
    )


def words(trace: Trace) -> Trace:
    """``trace`` at the level of words, as Clark et al. (2019) make it: the pieces of a word
    (``attnviz.words.word_groups``) merged, attention *to* a word the sum over its pieces,
    *from* a word the mean over its pieces (its vectors and outputs the mean too; every
    layer's weights alike), ``pieces_merged`` counting the pieces that joined a word (of
    cross-attention: the target's words down, the source's across)."""
    from dataclasses import replace

    from .words import merge_words, word_groups

    groups = word_groups(trace.texts, [t.special for t in trace.tokens])
    cross = trace.memory is not None
    keys = word_groups(trace.key_texts, [t.special for t in trace.key_tokens]) if cross else groups
    if len(groups) == len(trace.tokens) and len(keys) == trace.keys_count:
        return trace
    dtype = trace.weights.dtype
    weights, allowed = merge_words(trace.weights, trace.allowed, groups, keys)
    model = trace.model and replace(
        trace.model, ids=(), key_ids=(), position_bias=False,
        layer_weights=merge_words(trace.model.layer_weights, trace.allowed, groups,
                                  keys)[0].astype(dtype),
        raw_tokens=tuple("".join(trace.model.raw_tokens[n] for n in g) for g in groups),
        key_raw=tuple("".join(trace.model.key_raw[n] for n in g) for g in keys) if cross else (),
        layer_allowed=None if trace.model.layer_allowed is None
        else merge_words(trace.model.layer_allowed, trace.model.layer_allowed, groups)[1],
    )  # fmt: skip
    mean = _mean(groups, len(trace.tokens))  # (W, T)
    merged = len(trace.tokens) - len(groups) + (trace.keys_count - len(keys) if cross else 0)
    return replace(
        trace, tokens=_word_tokens(trace.tokens, groups), x=(mean @ trace.x).astype(dtype),
        allowed=allowed, weights=weights.astype(dtype),
        head_outputs=(mean @ trace.head_outputs).astype(dtype),
        output=(mean @ trace.output).astype(dtype), q_rot=None, k_rot=None,
        bias=np.broadcast_to(np.zeros((), dtype), weights.shape),  # no planted head: zero
        model=model, pieces_merged=trace.pieces_merged + merged,
        key_tokens=_word_tokens(trace.key_tokens, keys) if cross else (),
        memory=(_mean(keys, trace.keys_count) @ trace.memory).astype(dtype) if cross else None,
    )  # fmt: skip


def _mean(groups: list[list[int]], T: int) -> np.ndarray:
    """(W, T): each word's mean over its pieces."""
    from .words import membership

    member = membership(groups, T)
    return member / member.sum(axis=1, keepdims=True)


def _word_tokens(tokens: Sequence[Token], groups: list[list[int]]) -> tuple[Token, ...]:
    """The words' tokens: each its pieces' texts joined, from its first piece's start to its
    last's end."""
    from .words import word_texts

    texts = word_texts([t.text for t in tokens], groups)
    return tuple(Token(text, tokens[g[0]].start, tokens[g[-1]].end,
                       len(g) == 1 and tokens[g[0]].special)
                 for text, g in zip(texts, groups, strict=True))  # fmt: skip


HEAD_METRICS = (
    "entropy", "normalized_entropy", "distance", "self", "previous", "first", "same",
    "max_weight", "keys_90",
)  # fmt: skip


STATS_MEASURES = ("keys", "entropy", "distance", "self", "previous", "first", "same", "max")
# cross-attention's: a target token's alignment over the source (no self, no distance)
CROSS_METRICS = ("entropy", "normalized_entropy", "end", "first", "max_weight", "keys_90")


def metrics_of(numbers: dict[str, np.ndarray]) -> tuple[str, ...]:
    """The metrics ``numbers`` holds: cross-attention's, or the heads' of self-attention."""
    return CROSS_METRICS if "end" in numbers else HEAD_METRICS


def _keys_90(w: np.ndarray) -> np.ndarray:
    """(h, T): the keys that together hold 90% of each row's weight."""
    top = -np.sort(-w, axis=-1)  # (h,T,S) each row's weights, largest first
    return (np.cumsum(top, axis=-1) < 0.9 - 1e-12).sum(axis=-1) + 1.0


def cross_stats(trace: Trace, heads: list[int]) -> dict[str, np.ndarray]:
    """Cross-attention's numbers per head (len(heads),), over every target row: the alignment
    ``entropy`` (nats) and ``normalized_entropy`` (÷ log S), the share on the source's end
    token (``end``: its last, </s> in T5, BART and Marian; where an idle head parks its
    weight) and on its first (``first``), the largest weight (``max_weight``) and the source
    tokens for 90% of the weight (``keys_90``)."""
    w = trace.weights[heads].astype(np.float64)  # (h,T,S)
    rows = _has_key(trace.allowed)
    entropy = row_entropy(w)
    S = w.shape[-1]
    return {
        "entropy": _row_mean(entropy, rows),
        "normalized_entropy": _row_mean(entropy / np.log(S), rows)
        if S > 1
        else np.zeros(len(heads)),
        "end": _row_mean(w[..., -1], rows),
        "first": _row_mean(w[..., 0], rows),
        "max_weight": _row_mean(w.max(axis=-1), rows),
        "keys_90": _row_mean(_keys_90(w), rows),
        "rows": np.full(len(heads), int(rows.sum())),
    }


def token_codes(texts: Sequence[str]) -> np.ndarray:
    """(T,) int: one code per distinct token text (the same text, the same code)."""
    return np.unique(np.array(texts, dtype=object), return_inverse=True)[1].reshape(-1)


def head_numbers(per_head: Sequence[dict[str, np.ndarray]], codes: np.ndarray
                 ) -> dict[str, np.ndarray]:  # fmt: skip
    """``head_stats``' numbers (but ``keys_90``) of the row measures of each head
    (``attnviz.rowstats``, each (T,)), averaged over the rows that see a key."""
    if not per_head:
        return {m: np.zeros(0) for m in (*HEAD_METRICS, "rows")}
    keys = per_head[0]["keys"]
    rows, index = keys > 0, np.arange(len(keys))
    stacked = {m: np.stack([r[m] for r in per_head]) for m in STATS_MEASURES}  # (h,T) each
    normalized = stacked["entropy"] / np.log(np.maximum(keys, 2))
    return {
        "entropy": _row_mean(stacked["entropy"], rows),
        "normalized_entropy": _row_mean(normalized, rows & (keys > 1)),
        "distance": _row_mean(stacked["distance"], rows),
        "self": _row_mean(stacked["self"], rows),
        "previous": _row_mean(stacked["previous"], rows & (index > 0)),
        "first": _row_mean(stacked["first"], rows),
        "same": _row_mean(stacked["same"], rows & earlier_copy(codes)),
        "max_weight": _row_mean(np.maximum(stacked["max"], 0), rows),
        "rows": np.full(len(per_head), int(rows.sum())),
    }


def head_stats(trace: Trace, heads: list[int] | None = None) -> dict[str, np.ndarray]:
    """Numbers that sum up each head, averaged over the query rows that have an allowed key.

    Per head (len(heads),): ``entropy`` (nats) and ``normalized_entropy`` (divided by the log
    of the row's number of allowed keys; rows with a single key are left out of it), mean
    attention ``distance`` Σ w_ij |i − j|, the share of weight on the query itself (``self``),
    on the token before it (``previous``; the first row, which has none, is left out) and on
    the first token (``first``), on earlier occurrences of the query's token (``same``; only
    rows whose token occurred before enter it, and it is 0 when none did), the largest
    weight of the row (``max_weight``), and the number of keys that together hold 90% of
    the row's weight (``keys_90``); of cross-attention, ``cross_stats``.
    ``rows`` says how many rows entered the means: rows with no allowed key are left out.
    """
    chosen = list(range(trace.heads)) if heads is None else list(heads)
    if trace.memory is not None:
        return cross_stats(trace, chosen)
    codes = token_codes(trace.texts)
    per_head = [of_matrix(trace.weights[h], trace.allowed, Keys(codes), STATS_MEASURES)
                for h in chosen]  # fmt: skip
    numbers = head_numbers(per_head, codes)
    w = trace.weights[chosen].astype(np.float64)  # (h,T,T)
    numbers["keys_90"] = _row_mean(_keys_90(w), _has_key(trace.allowed))
    return {m: numbers[m] for m in (*HEAD_METRICS, "rows")}
