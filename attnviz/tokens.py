"""Tokens and the tokenisers: text -> list of Token(text, start, end).

For every token cut from the text, ``text[start:end] == token.text``. Special tokens
(``<bos>``, ``<pad>``) are not in the text: their span is empty (start == end).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

BOS = "<bos>"
PAD = "<pad>"
TOKENIZERS = ("word", "char", "whitespace")
APOSTROPHES = "'\u2019"  # ' and ’, kept inside a word as in "don't"


@dataclass(frozen=True)
class Token:
    """One token and where it came from: ``text[start:end]``; special tokens have start == end."""

    text: str
    start: int
    end: int
    special: bool = False


def _kind(ch: str) -> str:
    """Classify a character: "word" (letter, digit), "mark" (combining), "space", "punct", "drop"."""
    cat = unicodedata.category(ch)
    if ch.isspace():
        return "space"
    if cat[0] in "LN":
        return "word"
    if cat[0] == "M":
        return "mark"
    if cat[0] in "PS":
        return "punct"
    return "drop"  # control, format, private use, unassigned: separators, never tokens


ZWJ = "\u200d"  # the zero-width joiner of emoji sequences: 🐈 + ZWJ + ⬛ is one picture


def _regional(ch: str) -> bool:
    """A regional indicator letter: two of them make a flag (🇪🇸)."""
    return "\U0001f1e6" <= ch <= "\U0001f1ff"


def _extends(ch: str) -> bool:
    """Whether ``ch`` belongs to the character before it: a combining mark (variation
    selectors and the keycap included), an emoji skin tone, or a tag of a flag's sequence."""
    return (
        unicodedata.category(ch)[0] == "M"
        or "\U0001f3fb" <= ch <= "\U0001f3ff"
        or "\U000e0020" <= ch <= "\U000e007f"
    )


def grapheme_end(text: str, i: int) -> int:
    """Where the user-perceived character (the extended grapheme cluster, as far as emoji,
    flags and combining marks go) that starts at ``i`` ends."""
    n = len(text)
    end = i + 1
    if _regional(text[i]) and end < n and _regional(text[end]):
        return end + 1
    while end < n:
        if _extends(text[end]):
            end += 1
        elif text[end] == ZWJ:  # the joiner belongs here, and joins the next picture to it
            end += 2 if end + 1 < n and unicodedata.category(text[end + 1]) == "So" else 1
        else:
            break
    return end


def _word_tokens(text: str) -> Iterator[Token]:
    """Words (letters, digits, inner apostrophes) and each punctuation mark or symbol alone."""
    i, n = 0, len(text)
    while i < n:
        kind = _kind(text[i])
        if kind in ("space", "drop"):
            i += 1
            continue
        start = i
        i += 1
        if kind == "word":
            while i < n:
                k = _kind(text[i])
                if k in ("word", "mark"):
                    i += 1
                elif (
                    text[i] in APOSTROPHES and i + 1 < n and _kind(text[i + 1]) == "word"
                ):  # an inner apostrophe: "don't", "l’homme"
                    i += 2
                else:
                    break
        else:  # a punctuation mark or symbol (an emoji) is one user-perceived character
            i = grapheme_end(text, start)
        yield Token(text[start:i], start, i)


def _char_tokens(text: str) -> Iterator[Token]:
    """Every user-perceived character that is not white space: a combining mark stays with
    its base, an emoji sequence (ZWJ, skin tone) and a flag are one token."""
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        end = grapheme_end(text, i)
        yield Token(text[i:end], i, end)
        i = end


def _whitespace_tokens(text: str) -> Iterator[Token]:
    """Runs of characters between white space."""
    return (Token(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", text))


_SCHEMES = {"word": _word_tokens, "char": _char_tokens, "whitespace": _whitespace_tokens}


def _scheme(scheme: str) -> Any:
    if scheme not in _SCHEMES:
        raise ConfigError(f"unknown tokenizer {scheme!r}; choose one of: {', '.join(TOKENIZERS)}")
    return _SCHEMES[scheme]


def tokenize(
    text: str, scheme: str = "word", *, bos: bool = False, pad_to: int | None = None,
    limit: int | None = None,
) -> list[Token]:  # fmt: skip
    """Split ``text`` into tokens with the named scheme ("word", "char" or "whitespace").

    ``bos`` prepends a ``<bos>`` token; ``pad_to`` appends ``<pad>`` tokens until there are
    ``pad_to`` tokens in all. With ``limit``, the text is split no further than ``limit`` + 1
    tokens (enough to tell that it is longer; nothing is padded then). Raises ConfigError for
    an unknown scheme, a text with no token, or a ``pad_to`` smaller than the number of tokens.
    """
    found = _scheme(scheme)(text)
    tokens = [Token(BOS, 0, 0, special=True)] if bos else []
    tokens += found if limit is None else itertools.islice(found, limit + 1 - len(tokens))
    if len(tokens) == bos:
        what = "is empty" if not text.strip() else f"has no {scheme} token"
        raise ConfigError(f"the text {what}: there is nothing to attend to")
    if pad_to is not None and (limit is None or len(tokens) <= limit):
        if pad_to < len(tokens):
            raise ConfigError(
                f"`pad_to={pad_to}` is smaller than the text, which has {len(tokens)} tokens"
            )
        tokens += [Token(PAD, len(text), len(text), special=True)] * (pad_to - len(tokens))
    return tokens


def count_tokens(text: str, scheme: str = "word") -> int:
    """How many tokens ``scheme`` cuts from ``text``, none of them kept."""
    return sum(1 for _ in _scheme(scheme)(text))
