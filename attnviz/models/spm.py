"""A SentencePiece model file (Marian's source.spm and target.spm) read without SentencePiece:
its pieces and its normaliser's settings from the protobuf, and a ``tokenizers`` Unigram
built from them as transformers' converter builds one, so that it cuts a text as
``SentencePieceProcessor.encode`` does. Marian's ids are then the pieces' ids in vocab.json.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .files import need, read_json

UNIGRAM, USER_DEFINED = 1, 4  # trainer_spec.model_type; a piece's type


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of a protobuf message: varints as int, fixed32 as
    their 4 bytes, length-delimited fields as bytes (fixed64 skipped)."""
    out: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
            out.append((number, value))
        elif wire == 2:
            size, i = _varint(data, i)
            if i + size > len(data):
                raise ValueError("a field runs past the end")
            out.append((number, data[i : i + size]))
            i += size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            out.append((number, data[i : i + width]))
            i += width
        else:
            raise ValueError(f"wire type {wire}")
    return out


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError("a number runs past the end")
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if not byte & 0x80:
            return value, i


@dataclass
class Model:
    """What a SentencePiece model file says: its pieces (piece, score, type), model type, unknown
    piece's id, byte fallback, and normaliser settings."""

    pieces: list[tuple[str, float, int]] = field(default_factory=list)
    model_type: int = UNIGRAM
    unk_id: int = 0
    byte_fallback: bool = False
    charsmap: bytes = b""
    add_dummy_prefix: bool = True
    remove_extra_whitespaces: bool = True
    escape_whitespaces: bool = True


def read(path: Path) -> Model:
    """The SentencePiece model in ``path`` (ConfigError when it is not one)."""
    try:
        m = Model()
        for number, value in _fields(path.read_bytes()):
            if number == 1 and isinstance(value, bytes):
                m.pieces.append(_piece(value))
            elif number == 2 and isinstance(value, bytes):
                for n, v in _fields(value):
                    if isinstance(v, int):
                        m.model_type = v if n == 3 else m.model_type
                        m.unk_id = v if n == 40 else m.unk_id
                        m.byte_fallback = bool(v) if n == 35 else m.byte_fallback
            elif number == 3 and isinstance(value, bytes):
                for n, v in _fields(value):
                    if n == 2 and isinstance(v, bytes):
                        m.charsmap = v
                    elif isinstance(v, int) and n in (3, 4, 5):
                        setattr(m, ("add_dummy_prefix", "remove_extra_whitespaces",
                                    "escape_whitespaces")[n - 3], bool(v))  # fmt: skip
    except (ValueError, UnicodeDecodeError, struct.error) as e:
        raise ConfigError(f"`model`: {path.name} is not a SentencePiece model ({e})") from None
    if not m.pieces:
        raise ConfigError(f"`model`: {path.name} holds no SentencePiece pieces")
    return m


def _piece(data: bytes) -> tuple[str, float, int]:
    piece, score, kind = "", 0.0, 1
    for n, v in _fields(data):
        if n == 1 and isinstance(v, bytes):
            piece = v.decode("utf-8")
        elif n == 2 and isinstance(v, bytes) and len(v) == 4:
            score = struct.unpack("<f", v)[0]
        elif n == 3 and isinstance(v, int):
            kind = v
    return piece, score, kind


def unigram(m: Model, name: str) -> Any:
    """A ``tokenizers`` Tokenizer that cuts texts as SentencePiece cuts them with the Unigram
    model ``m`` (transformers' converter, legacy mode): the normaliser's charsmap, spaces
    trimmed and squeezed, escaped as ▁, a ▁ in front, user-defined pieces whole."""
    t = need("tokenizers")
    if m.model_type != UNIGRAM:
        raise ConfigError(f"`model`: {name} is a SentencePiece BPE model; attnviz reads Unigram "
                          "ones (Marian's)")  # fmt: skip
    tok = t.Tokenizer(t.models.Unigram([(p, s) for p, s, _ in m.pieces], unk_id=m.unk_id,
                                       byte_fallback=m.byte_fallback))  # fmt: skip
    norms: list[Any] = [t.normalizers.Precompiled(m.charsmap)] if m.charsmap else []
    if m.remove_extra_whitespaces:
        norms += [t.normalizers.Replace(t.Regex(r"\A +| +\z"), ""),
                  t.normalizers.Replace(t.Regex(" {2,}"), " ")]  # fmt: skip
    if m.escape_whitespaces:
        norms.append(t.normalizers.Replace(" ", "▁"))
    if m.add_dummy_prefix:
        norms.append(t.normalizers.Replace(t.Regex(r"\A▁"), "▁▁"))
    tok.normalizer = t.normalizers.Sequence(norms)
    pre: list[Any] = []
    if m.add_dummy_prefix:
        pre.append(
            t.pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False)
        )
    user = sorted((p for p, _, kind in m.pieces if kind == USER_DEFINED), key=len, reverse=True)
    if user:
        pattern = "|".join(re.escape(p) for p in user)
        pre.append(t.pre_tokenizers.Split(t.Regex(pattern), behavior="isolated"))
    if pre:
        tok.pre_tokenizer = t.pre_tokenizers.Sequence(pre)
    return tok


class Marian:
    """Marian's tokenizer: a SentencePiece model cuts the text (source.spm; ``target``'s
    target.spm), vocab.json gives each piece its id (a piece it lacks is <unk>), and </s> ends
    the text; what attnviz asks of a ``tokenizers`` Tokenizer, with those ids."""

    def __init__(self, spm: Any, vocab: dict[str, int], specials: dict[str, str]) -> None:
        self.spm, self.vocab = spm, vocab
        self.target = self  # the tokenizer of the target (target.spm's), set by ``marian``
        self.limit: int | None = None  # the tokens a text is cut to (enable_truncation)
        self.inverse = {i: p for p, i in vocab.items()}
        self.unk = vocab.get(specials["unk_token"], 0)
        self.eos_token = specials["eos_token"]
        if self.eos_token not in vocab:
            raise ConfigError(f"`model`: vocab.json has no {self.eos_token!r}")
        self.model = spm.model
        found = sorted((n for n in set(specials.values()) if n in vocab), key=len, reverse=True)
        self.special_names = found
        # special tokens in the text are cut out whole, as transformers' tokenizer cuts them
        self.specials = re.compile("|".join(map(re.escape, found))) if found else None

    def encode(self, text: str, add_special_tokens: bool = True) -> Any:
        code = re.match(r">>.*?<<", text, re.S)  # a language code, cut off before SentencePiece
        at = code.end() if code else 0
        tokens = [code.group()] if code else []
        offsets, mask = [(0, at)] if code else [], [0] if code else []
        for part in self.specials.finditer(text, at) if self.specials else ():
            self._pieces(text, at, part.start(), tokens, offsets, mask)
            tokens.append(part.group())
            offsets.append((part.start(), part.start()))
            mask.append(1)
            at = part.end()
        self._pieces(text, at, len(text), tokens, offsets, mask)
        ids = [self.vocab.get(p, self.unk) for p in tokens]
        if add_special_tokens:
            ids.append(self.vocab[self.eos_token])
            tokens.append(self.eos_token)
            offsets.append((0, 0))
            mask.append(1)
        if self.limit is not None and len(ids) > self.limit:
            keep = self.limit - add_special_tokens
            ids, tokens = ids[:keep] + ids[-1:], tokens[:keep] + tokens[-1:]
            offsets, mask = offsets[:keep] + offsets[-1:], mask[:keep] + mask[-1:]
        return _Encoding(ids, tokens, offsets, mask)

    def _pieces(self, text: str, a: int, b: int, tokens: list[str],
                offsets: list[tuple[int, int]], mask: list[int]) -> None:  # fmt: skip
        """SentencePiece's pieces of text[a:b], added to ``tokens``, ``offsets``, ``mask``."""
        enc = self.spm.encode(text[a:b], add_special_tokens=False)
        tokens += enc.tokens
        offsets += [(s + a, e + a) for s, e in enc.offsets]
        mask += [0] * len(enc.tokens)

    def no_truncation(self) -> None:
        self.limit = None

    def enable_truncation(self, max_length: int) -> None:
        self.limit = max_length

    def no_padding(self) -> None:
        pass

    def token_to_id(self, token: str) -> int | None:
        return self.vocab.get(token)

    def id_to_token(self, i: int) -> str | None:
        return self.inverse.get(i)

    def get_vocab_size(self, with_added_tokens: bool = True) -> int:
        return len(self.vocab)

    def get_added_tokens_decoder(self) -> dict[int, Any]:
        """The special tokens by id, as ``tokenizers`` gives them (content, special)."""
        return {self.vocab[n]: Special(n) for n in self.special_names}

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        pieces = [self.inverse.get(i, "") for i in ids]
        if skip_special_tokens:
            pieces = [p for p in pieces if p not in self.special_names]
        return "".join(pieces).replace("▁", " ").strip()


@dataclass(frozen=True)
class Special:
    """A special token, as ``tokenizers``' AddedToken says it."""

    content: str
    special: bool = True


@dataclass
class _Encoding:
    ids: list[int]
    tokens: list[str]
    offsets: list[tuple[int, int]]
    special_tokens_mask: list[int]


def marian(folder: Path, settings: dict[str, Any], specials: dict[str, str]) -> Marian:
    """Marian's tokenizer of ``folder`` (source.spm, vocab.json), its ``target`` beside it;
    ``specials``: its eos_token, unk_token and pad_token, by tokenizer_config.json."""
    vocab = read_json(folder / "vocab.json", "vocab.json")
    if not isinstance(vocab, dict) or not all(isinstance(i, int) for i in vocab.values()):
        raise ConfigError("`model`: vocab.json must map pieces to ids")
    if settings.get("separate_vocabs"):
        raise ConfigError("`model`: a Marian tokenizer with separate vocabularies is not supported")
    made = []
    for name in ("source.spm", "target.spm"):
        if not (folder / name).is_file():
            raise ConfigError(f"`model`: no tokenizer.json, and no {name} in {str(folder)!r}")
        model = read(folder / name)
        try:
            cut = unigram(model, name)
        except ConfigError:
            raise
        except Exception as e:  # the library's own error types: a charsmap it cannot read
            raise ConfigError(f"`model`: {name} is not a SentencePiece model ({e})") from None
        made.append(Marian(cut, vocab, specials))
    made[0].target = made[1]
    return made[0]
