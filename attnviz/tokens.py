"""Tokens and the tokenisers: text -> list of Token(text, start, end).

For every token cut from the text, ``text[start:end] == token.text``. Special tokens
(``<bos>``, ``<pad>``) are not in the text: their span is empty (start == end).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

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


def _word_tokens(text: str) -> list[Token]:
    """Words (letters, digits, inner apostrophes) and each punctuation mark or symbol alone."""
    tokens: list[Token] = []
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
        else:  # a punctuation mark or symbol (or a stray mark) keeps its own combining marks
            while i < n and _kind(text[i]) == "mark":
                i += 1
        tokens.append(Token(text[start:i], start, i))
    return tokens


def _char_tokens(text: str) -> list[Token]:
    """Every character that is not white space; a combining mark stays with its base."""
    tokens: list[Token] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        if tokens and _kind(ch) == "mark" and tokens[-1].end == i:
            last = tokens[-1]
            tokens[-1] = Token(last.text + ch, last.start, i + 1)
        else:
            tokens.append(Token(ch, i, i + 1))
    return tokens


def _whitespace_tokens(text: str) -> list[Token]:
    """Runs of characters between white space."""
    return [Token(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", text)]


_SCHEMES = {"word": _word_tokens, "char": _char_tokens, "whitespace": _whitespace_tokens}


def tokenize(
    text: str, scheme: str = "word", *, bos: bool = False, pad_to: int | None = None
) -> list[Token]:
    """Split ``text`` into tokens with the named scheme ("word", "char" or "whitespace").

    ``bos`` prepends a ``<bos>`` token; ``pad_to`` appends ``<pad>`` tokens until there are
    ``pad_to`` tokens in all. Raises ConfigError for an unknown scheme, a text with no token,
    or a ``pad_to`` smaller than the number of tokens.
    """
    if scheme not in _SCHEMES:
        raise ConfigError(f"unknown tokenizer {scheme!r}; choose one of: {', '.join(TOKENIZERS)}")
    tokens = _SCHEMES[scheme](text)
    if not tokens:
        what = "is empty" if not text.strip() else f"has no {scheme} token"
        raise ConfigError(f"the text {what}: there is nothing to attend to")
    if bos:
        tokens.insert(0, Token(BOS, 0, 0, special=True))
    if pad_to is not None:
        if pad_to < len(tokens):
            raise ConfigError(
                f"`pad_to={pad_to}` is smaller than the text, which has {len(tokens)} tokens"
            )
        tokens += [Token(PAD, len(text), len(text), special=True)] * (pad_to - len(tokens))
    return tokens
