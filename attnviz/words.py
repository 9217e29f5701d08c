"""Words from word pieces, as Clark et al. (2019) make them: which pieces form a word, and
attention at the level of words (to a word: the sum over its pieces; from a word: the mean).

Shapes: T tokens, W words.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np


def is_punctuation(text: str) -> bool:
    """Whether a token's text (its ‿ mark aside) is punctuation only, as Unicode says."""
    core = text.lstrip("‿").strip()
    return bool(core) and all(unicodedata.category(c).startswith("P") for c in core)


def word_groups(texts: Sequence[str], special: Sequence[bool]) -> list[list[int]]:
    """The tokens of each word: a piece marked as continuing the word before it (‿) joins
    that word unless either is punctuation; a special token is a word of its own."""
    groups: list[list[int]] = []
    for n, (text, s) in enumerate(zip(texts, special, strict=True)):
        joins = (groups and text.startswith("‿") and not s and not special[n - 1]
                 and not is_punctuation(text) and not is_punctuation(texts[n - 1]))  # fmt: skip
        if joins:
            groups[-1].append(n)
        else:
            groups.append([n])
    return groups


def merge_words(w: np.ndarray, allowed: np.ndarray, groups: list[list[int]],
                key_groups: list[list[int]] | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Word-level attention as Clark et al. make it: attention *to* a word is the sum over its
    pieces, attention *from* a word the mean over its pieces. ``w`` (..., T, S), ``allowed``
    (..., T, S) -> (..., W, V) each, W the words of the queries (``groups``), V those of the
    keys (``key_groups``; None: the queries'); a word may attend to another when any of its
    pieces may attend to any of the other's."""
    queries = membership(groups, w.shape[-2])  # (W, T)
    keys = queries if key_groups is None else membership(key_groups, w.shape[-1])  # (V, S)
    to = w.astype(np.float64) @ keys.T  # (..., T, V)
    merged = (queries / queries.sum(axis=1, keepdims=True)) @ to  # (..., W, V)
    return merged, (queries @ allowed.astype(np.float64) @ keys.T) > 0


def membership(groups: list[list[int]], T: int) -> np.ndarray:
    """(W, T): 1 where token t is a piece of word w."""
    member = np.zeros((len(groups), T))
    for g, pieces in enumerate(groups):
        member[g, pieces] = 1.0
    return member


def word_texts(texts: Sequence[str], groups: list[list[int]]) -> list[str]:
    """Each word's text: its pieces joined, their ‿ marks dropped, and SentencePiece's word
    start (▁) when it is a piece of its own before the others."""
    first = [texts[g[0]] if len(g) == 1 or texts[g[0]] != "▁" else "" for g in groups]
    return [
        f + "".join(texts[n].removeprefix("‿") for n in g[1:])
        for f, g in zip(first, groups, strict=True)
    ]
