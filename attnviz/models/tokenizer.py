"""The tokenizer as the model was trained with it, giving the ids ``AutoTokenizer`` gives.

``tokenizer.json`` is read with the ``tokenizers`` library, its own padding and truncation
switched off (a sentence-transformers folder pads every text to 128 tokens and cuts it
there). The settings of ``tokenizer_config.json`` and ``special_tokens_map.json`` that
change the ids (lower-casing, accents, ``add_prefix_space``, the special tokens …) are then
applied by the family, as transformers applies them. Without ``tokenizer.json``, a
``vocab.txt`` makes a WordPiece tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .files import need, read_json

METASPACE = "▁"  # SentencePiece's mark of a word's start (T5, Marian, Llama)
JOIN = "‿"  # marks a piece that continues the word before it: "tired" -> "ti" "‿re" "‿d"
SPACE = "␣"  # a token of spaces alone, as a label shows it (a blank label reads as none)


@dataclass(frozen=True)
class ModelToken:
    """One token as the model sees it (``raw``) and as a label shows it (``text``)."""

    raw: str
    text: str
    start: int
    end: int
    special: bool


def settings(folder: Path) -> dict[str, Any]:
    """The tokenizer's settings: tokenizer_config.json, and special_tokens_map.json over it
    (transformers takes a special token from the map when both name one)."""
    found: dict[str, Any] = {}
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        if (folder / name).is_file():
            data = read_json(folder / name, name)
            if not isinstance(data, dict):
                raise ConfigError(f"`model`: {name} is not a JSON object")
            found.update(data)
    return found


def special(found: dict[str, Any], key: str, default: str) -> str:
    """A special token the settings name (a string, or an AddedToken's {"content": ...})."""
    value = found.get(key, default)
    if isinstance(value, dict):
        value = value.get("content", default)
    return str(value) if value is not None else default


def token_id(tok: Any, token: str) -> int:
    """The id of ``token``, or ConfigError when the vocabulary has none."""
    found = tok.token_to_id(token)
    if found is None:
        raise ConfigError(f"`model`: the tokenizer's vocabulary has no {token!r}")
    return int(found)


def _from_vocab(tokenizers: Any, path: Path, found: dict[str, Any]) -> Any:
    """A WordPiece tokenizer over vocab.txt, its special tokens registered."""
    words = path.read_text(encoding="utf-8").splitlines()
    if not words:
        raise ConfigError(f"`model`: {path.name} is empty")
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    unk = special(found, "unk_token", "[UNK]")
    tok = tokenizers.Tokenizer(tokenizers.models.WordPiece(vocab, unk_token=unk))
    names = ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token")
    tok.add_special_tokens([t for t in (special(found, n, "") for n in names) if t in vocab])
    return tok


def load_tokenizer(folder: Path, adjust: Callable[[Any, dict[str, Any]], None]) -> Any:
    """The checkpoint's tokenizer, without padding or truncation, ``adjust``ed by the family to
    the settings of ``tokenizer_config.json``."""
    tokenizers = need("tokenizers")
    found = settings(folder)
    if (folder / "tokenizer.json").is_file():
        try:
            tok = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as e:  # the library's own error types: any of them means unreadable
            raise ConfigError(f"`model`: cannot read tokenizer.json ({e})") from None
    elif (folder / "vocab.txt").is_file():
        tok = _from_vocab(tokenizers, folder / "vocab.txt", found)
    elif (folder / "source.spm").is_file():  # Marian's: SentencePiece and vocab.json
        from .spm import marian

        defaults = {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
        return marian(folder, found, {k: special(found, k, d) for k, d in defaults.items()})
    else:
        raise ConfigError(f"`model`: no tokenizer.json (or vocab.txt) in {str(folder)!r}")
    tok.no_padding()
    tok.no_truncation()
    adjust(tok, found)
    return tok


def encode(tok: Any, text: str, limit: int | None = None) -> tuple[list[int], list[ModelToken]]:
    """Token ids and tokens of ``text``, special tokens as the model expects them; with
    ``limit``, cut to that many tokens, the special tokens kept."""
    if limit is None:
        tok.no_truncation()
    else:
        tok.enable_truncation(max_length=limit)
    enc = tok.encode(text)
    prefix = _continuation(tok)
    tokens = []
    for n, (raw, (start, end), special_) in enumerate(
        zip(enc.tokens, enc.offsets, enc.special_tokens_mask, strict=True)
    ):
        if special_:
            tokens.append(ModelToken(raw, raw, start, start, True))
        elif prefix:  # WordPiece: the piece itself, "##" marking a continuation
            joined = raw.startswith(prefix)
            piece = raw[len(prefix) :] if joined else raw
            tokens.append(ModelToken(raw, JOIN + piece if joined else piece, start, end, False))
        elif raw and not raw.strip(METASPACE):  # SentencePiece's word start on its own: the
            tokens.append(ModelToken(raw, raw, start, start, False))  # next piece joins it
        else:  # byte-level BPE: the text itself; a leading space starts a word
            span = text[start:end]
            piece = shown(span)
            after_mark = bool(tokens) and not tokens[-1].special and tokens[-1].text == METASPACE
            joined = after_mark or (
                n > 0 and not span[:1].isspace() and start > 0 and not text[start - 1].isspace()
            )
            tokens.append(ModelToken(raw, JOIN + piece if joined else piece, start, end, False))
    return list(enc.ids), tokens


def shown(span: str) -> str:
    """A byte-level piece as a label shows it: without the spaces around it, or, of spaces
    alone, each as ␣."""
    return span.strip() or span.replace(" ", SPACE)


PIECE = 1 << 16  # characters of a long text tokenised at a time
_BOUNDARY = re.compile(r"(?<=\S) (?=\S)")  # a space between two words


def pieces(text: str, start: int = 0) -> Iterator[tuple[int, int]]:
    """Spans of ``text[start:]`` of about PIECE characters, each ending just before a space
    between two words: every family's pre-tokeniser splits there, so the tokens of the pieces
    are the tokens of the text (a test holds every family's tokenizer to it)."""
    while start < len(text):
        found = _BOUNDARY.search(text, start + PIECE) if start + PIECE < len(text) else None
        end = found.start() if found else len(text)
        yield start, end
        start = end


def _content(tok: Any, text: str) -> int:
    """The number of tokens of ``text``, without the special tokens the model adds."""
    return len(tok.encode(text, add_special_tokens=False).ids)


def over(tok: Any, text: str, limit: int) -> int | None:
    """Where a prefix of ``text`` with more than ``limit`` tokens (special ones counted) ends,
    found piece by piece; None when the whole text has no more than ``limit``."""
    tok.no_truncation()
    n = len(tok.encode("").ids)  # the special tokens around every text
    for start, end in pieces(text):
        n += _content(tok, text[start:end])
        if n > limit:
            return end
    return None


def count(tok: Any, text: str) -> int:
    """The number of tokens of ``text`` (special ones counted), tokenised piece by piece."""
    tok.no_truncation()
    return len(tok.encode("").ids) + sum(_content(tok, text[a:b]) for a, b in pieces(text))


def _continuation(tok: Any) -> str:
    """The prefix of a WordPiece piece that continues a word ("##"); "" for other models."""
    if type(tok.model).__name__ != "WordPiece":
        return ""
    return str(tok.model.continuing_subword_prefix or "")


# --- what transformers' tokenizer classes do to tokenizer.json ---------------------------------

QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def as_trained(tok: Any, found: dict[str, Any]) -> None:
    """tokenizer.json's pipeline as it is (PreTrainedTokenizerFast, and the classes not
    listed: their tokenizer.json is the whole of the tokenizer)."""


def qwen2(tok: Any, found: dict[str, Any]) -> None:
    """What Qwen2Tokenizer builds: NFC, Qwen's split of words, digits and punctuation, byte
    level (add_prefix_space, default false), and no special tokens added."""
    t = need("tokenizers")
    tok.normalizer = t.normalizers.NFC()
    tok.pre_tokenizer = t.pre_tokenizers.Sequence([
        t.pre_tokenizers.Split(t.Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
        t.pre_tokenizers.ByteLevel(
            add_prefix_space=bool(found.get("add_prefix_space") or False), use_regex=False
        ),
    ])  # fmt: skip
    tok.post_processor = None


def neox(tok: Any, found: dict[str, Any]) -> None:
    """What GPTNeoXTokenizer builds: NFC, byte level (add_prefix_space, default false), and
    no special tokens around the text (transformers 5 sets add_bos_token and add_eos_token
    aside when the folder has a tokenizer.json)."""
    t = need("tokenizers")
    tok.normalizer = t.normalizers.NFC()
    tok.pre_tokenizer = t.pre_tokenizers.ByteLevel(
        add_prefix_space=bool(found.get("add_prefix_space") or False),
        trim_offsets=bool(found.get("trim_offsets", True)),
    )
    tok.post_processor = None
