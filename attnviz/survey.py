"""What every head does over a corpus, with the measures of the studies of heads (Clark et
al. 2019, Kovaleva et al. 2019, Voita et al. 2019, Olsson et al. 2022, Xiao et al. 2023).

Each text adds to running sums (a ``Tally``): per layer and head, the sum over its query rows
of each measure, and the number of rows; the means are taken over every row of every text
(each row weighs the same). Only rows with at least one allowed key enter.

Shapes: L layers, H heads, T tokens (or words).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .stats import row_entropy
from .words import is_punctuation

# per row: the weight on the first token, on separators (special tokens after the first), on
# punctuation, on the token before, after and itself; the row's entropy (nats), attention
# distance Σ w·|i − j| and largest weight; and the share of rows whose largest weight falls
# at the head's most frequent offset (``positional``, its offset in ``offset``)
MEASURES = ("first", "separator", "punctuation", "previous", "next", "self", "entropy",
            "distance", "confidence", "positional")  # fmt: skip
# of cross-attention, a target token's over the source: no previous, next, self, distance or
# position (``separator`` is the share on the source's end token, its </s>)
CROSS_MEASURES = ("first", "separator", "punctuation", "entropy", "confidence")
OFFSETS = 8  # the offsets counted for ``positional``: -8 to +8
SHARE, POSITIONAL, INDUCTION = 0.5, 0.9, 0.4  # the thresholds of the labels
LABELS = {"first": "sink", "separator": "separator", "punctuation": "punctuation",
          "previous": "previous", "next": "next", "self": "self"}  # fmt: skip


@dataclass(eq=False)
class Tally:
    """Running sums over texts: per measure the (L, H) sum of its per-row values and the rows
    that entered; ``offsets`` (L, H, 2·OFFSETS + 1), how many rows had their largest weight
    at each offset j − i; ``texts``, how many texts were added."""

    sums: dict[str, np.ndarray]
    rows: dict[str, np.ndarray]
    offsets: np.ndarray
    texts: int = 1

    def __iadd__(self, other: Tally) -> Tally:
        for m in self.sums:
            self.sums[m] = self.sums[m] + other.sums[m]
            self.rows[m] = self.rows[m] + other.rows[m]
        self.offsets = self.offsets + other.offsets
        self.texts += other.texts
        return self

    def means(self) -> dict[str, np.ndarray]:
        """Each measure's mean over the rows (L, H); ``positional``, the share of rows whose
        largest weight is at the head's most frequent offset, and that ``offset``."""
        out = {}
        for m in self.sums:
            out[m] = np.divide(self.sums[m], self.rows[m], out=np.zeros_like(self.sums[m]),
                               where=self.rows[m] > 0)  # fmt: skip
        rows = self.rows["first"]  # every row with a key
        most = self.offsets.max(axis=-1)
        out["positional"] = np.divide(most, rows, out=np.zeros_like(most), where=rows > 0)
        out["offset"] = self.offsets.argmax(axis=-1) - OFFSETS
        return out


def tally(w: np.ndarray, allowed: np.ndarray, separator: np.ndarray, punctuation: np.ndarray
          ) -> Tally:  # fmt: skip
    """One text's sums: ``w`` (L, H, T, T) its attention, ``allowed`` (L, T, T) each layer's
    mask, ``separator`` and ``punctuation`` (T,) bool, the keys that are."""
    w = w.astype(np.float64)
    T = w.shape[-1]
    i = np.arange(T)
    has = np.asarray(allowed.any(axis=-1))  # (L, T) the rows with a key
    before, after = np.zeros_like(w[..., 0]), np.zeros_like(w[..., 0])
    before[..., 1:], after[..., :-1] = w[..., i[1:], i[1:] - 1], w[..., i[:-1], i[:-1] + 1]
    values = {
        "first": (w[..., 0], has),
        "separator": (w[..., separator].sum(axis=-1), has),
        "punctuation": (w[..., punctuation].sum(axis=-1), has),
        "previous": (before, has & (i > 0)),
        "next": (after, has & (i < T - 1)),
        "self": (w[..., i, i], has),
        "entropy": (row_entropy(w), has),
        "distance": ((w * np.abs(i[:, None] - i[None, :])).sum(axis=-1), has),
        "confidence": (w.max(axis=-1), has),
    }
    return tally_values(
        {m: v for m, (v, _) in values.items()},
        {m: r for m, (_, r) in values.items()},
        w.argmax(axis=-1),
        has,
    )


def cross_tally(w: np.ndarray, separator: np.ndarray, punctuation: np.ndarray) -> Tally:
    """One pair's sums of cross-attention: ``w`` (L, H, T, S), the target's rows over the
    source's keys, ``separator`` and ``punctuation`` (S,) bool, the source's keys that are;
    the measures of self-attention alone (previous, next, self, distance, positional) are
    counted over no row."""
    w = w.astype(np.float64)
    L, _, T, _ = w.shape
    has = np.ones((L, T), dtype=bool)  # every target token sees the source
    none = np.zeros_like(has)
    values = {
        "first": w[..., 0], "separator": w[..., separator].sum(axis=-1),
        "punctuation": w[..., punctuation].sum(axis=-1), "entropy": row_entropy(w),
        "confidence": w.max(axis=-1),
    }  # fmt: skip
    zero = np.zeros(w.shape[:-1])
    values |= {m: zero for m in ("previous", "next", "self", "distance")}
    rows = {m: has if m in CROSS_MEASURES else none for m in values}
    return tally_values(values, rows, w.argmax(axis=-1), none)


def tally_values(values: dict[str, np.ndarray], rows: dict[str, np.ndarray], argmax: np.ndarray,
                 has: np.ndarray) -> Tally:  # fmt: skip
    """One text's sums of its per-row ``values`` (L, H, T) of each measure, over the ``rows``
    (L, T) each measure takes; ``argmax`` (L, H, T) each row's largest weight's key, ``has``
    (L, T) the rows with a key."""
    H = argmax.shape[1]
    sums, counted = {}, {}
    for m, v in values.items():
        r = rows[m]
        sums[m] = (v * r[:, None, :]).sum(axis=-1)  # (L, H)
        counted[m] = np.repeat(r.sum(axis=-1)[:, None], H, axis=1).astype(np.float64)
    return Tally(sums, counted, _offsets(argmax, has))


STREAMED_ROWS = (
    "keys",
    "first",
    "separator",
    "punctuation",
    "previous",
    "next",
    "self",
    "entropy",
    "distance",
    "max",
    "argmax",
)  # what a streamed text measures


def streamed_tally(run: Any) -> Tally:
    """One streamed text's sums (``attnviz.longrun.Streamed`` with the ``STREAMED_ROWS`` of
    every layer and head): the sums ``tally`` makes of the dense weights."""
    T, H, layers = len(run.tokens), run.heads, run.layers
    i = np.arange(T)

    def stacked(m: str) -> np.ndarray:  # (L, H, T)
        return np.stack([np.stack([run.rows[(n, h)][m] for h in range(H)]) for n in layers])

    has = np.stack([run.rows[(n, 0)]["keys"] > 0 for n in layers])  # (L, T)
    values = {m: stacked(m) for m in ("first", "separator", "punctuation", "previous", "next",
                                       "self", "entropy", "distance")}  # fmt: skip
    values["confidence"] = np.maximum(stacked("max"), 0)  # a row with no key: 0, not −∞
    rows = {m: has for m in values} | {"previous": has & (i > 0), "next": has & (i < T - 1)}
    return tally_values(values, rows, stacked("argmax"), has)


def _offsets(argmax: np.ndarray, has: np.ndarray) -> np.ndarray:
    """(L, H, 2·OFFSETS + 1): per head, the rows whose largest weight is at each offset."""
    L, H, T = argmax.shape
    width = 2 * OFFSETS + 1
    offset = argmax - np.arange(T)  # (L, H, T), the first largest
    counted = has[:, None, :] & (np.abs(offset) <= OFFSETS)
    cell = np.arange(L * H).reshape(L, H, 1) * width + offset + OFFSETS  # (head, offset) cells
    return np.bincount(cell[counted], minlength=L * H * width).reshape(L, H, width).astype(float)


def key_kinds(texts: Sequence[str], special: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    """(T,) bool each: the separators (special tokens after the first: [SEP], </s>, an
    end-of-text) and the punctuation."""
    separator = np.array([s and n > 0 for n, s in enumerate(special)], dtype=bool)
    punct = np.array([not s and is_punctuation(t) for t, s in zip(texts, special, strict=True)],
                     dtype=bool)  # fmt: skip
    return separator, punct


def labels(means: dict[str, np.ndarray], induction: np.ndarray | None = None
           ) -> list[list[str]]:  # fmt: skip
    """A label per head (L lists of H): ``induction`` when its prefix-matching score reaches
    INDUCTION; else the share (first → sink, separator, punctuation, previous, next, self)
    that is largest, when it reaches SHARE; else ``positional k`` when the largest weight
    falls at offset k in at least POSITIONAL of the rows; else ``broad``."""
    L, H = means["first"].shape
    out = []
    for n in range(L):
        row = []
        for h in range(H):
            best = max(LABELS, key=lambda m: means[m][n, h])
            if induction is not None and induction[n, h] >= INDUCTION:
                row.append("induction")
            elif means[best][n, h] >= SHARE:
                row.append(LABELS[best])
            elif means["positional"][n, h] >= POSITIONAL:
                row.append(f"positional {int(means['offset'][n, h]):+d}")
            else:
                row.append("broad")
        out.append(row)
    return out


INDUCTION_TOKENS, INDUCTION_REPEATS, INDUCTION_SAMPLES = 25, 4, 10


def induction_ids(ck: Any, seed: int) -> list[list[int]]:
    """The sequences of Olsson et al.'s induction test: INDUCTION_SAMPLES times, the model's
    BOS (when it has one) and INDUCTION_TOKENS distinct random ids (none special, drawn with
    ``seed``) repeated INDUCTION_REPEATS times."""
    bos = ck.config.get("bos_token_id")
    first = [bos] if isinstance(bos, int) and not isinstance(bos, bool) else []
    special = set(ck.tokenizer.get_added_tokens_decoder()) | set(first)
    size = ck.config.get("vocab_size")
    vocab = min(size if isinstance(size, int) and size > 0 else 1 << 62,
                ck.tokenizer.get_vocab_size(with_added_tokens=True))  # fmt: skip
    pool = np.setdiff1d(np.arange(vocab), sorted(special))
    rng = np.random.default_rng(seed)
    return [first + [int(t) for t in rng.choice(pool, INDUCTION_TOKENS, replace=False)]
            * INDUCTION_REPEATS for _ in range(INDUCTION_SAMPLES)]  # fmt: skip


def induction(ck: Any, seed: int, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """Olsson et al.'s scores of every head of the decoder ``ck`` (L, H), averaged over the
    tokens of every repeat but the first of each sequence of ``induction_ids``: the
    prefix-matching score, the weight on the token that followed the token's earlier
    occurrence (i − 24), and the previous-token score (i − 1). The tensors are read and
    converted once for all the sequences."""
    from .models.tokenizer import ModelToken
    from .trace import AttentionConfig, Pretrained

    n = INDUCTION_TOKENS
    config = AttentionConfig(mask=("none",), dtype=dtype, source=Pretrained(ck.spec))
    prefix, previous = 0.0, 0.0
    kept: dict[str, Any] = {}  # the tensors, converted once for every sequence
    sequences = induction_ids(ck, seed)
    for ids in sequences:
        tokens = [ModelToken(str(t), str(t), 0, 0, False) for t in ids]
        w = ck.run(ids, tokens, config, kept=kept).layer_weights  # (L, H, T, T)
        i = np.arange(len(ids) - (INDUCTION_REPEATS - 1) * n, len(ids))
        prefix = prefix + w[:, :, i, i - n + 1].astype(np.float64).mean(axis=-1)
        previous = previous + w[:, :, i, i - 1].astype(np.float64).mean(axis=-1)
    return np.asarray(prefix) / len(sequences), np.asarray(previous) / len(sequences)
