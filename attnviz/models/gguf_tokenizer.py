"""The tokenizer a GGUF file carries, built from its metadata as transformers' GGUF loading
builds it: a byte-level BPE vocabulary (tokenizer.ggml.model "gpt2": SmolLM, Llama 3, Qwen,
Pythia) or a SentencePiece one ("llama": Llama 2, TinyLlama, Mistral 7B, Gemma), its merges
taken from the file or, for SentencePiece, made from the tokens' scores.
"""

from __future__ import annotations

import functools
from typing import Any

from ..errors import ConfigError
from .files import need
from .gguf_file import GGUF

CONTROL, USER_DEFINED = 3, 4  # tokenizer.ggml.token_type
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def _splits() -> dict[str, str]:
    """tokenizer.ggml.pre -> the split of words the merges were learned on (transformers'
    table; the names not here split as GPT-2 does)."""
    from .tokenizer import QWEN2_SPLIT

    llama3 = ("llama3", "llama-v3", "llama-bpe", "falcon3", "smaug-bpe", "dbrx", "pixtral")
    return {**dict.fromkeys(llama3, LLAMA3_SPLIT),
            **dict.fromkeys(("qwen2", "deepseek-r1-qwen", "megrez"), QWEN2_SPLIT)}  # fmt: skip


@functools.cache
def _byte_alphabet() -> dict[int, str]:
    """GPT-2's map of the 256 bytes to printable characters: the printable ones to themselves,
    the others, in order, to U+0100 on."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]  # fmt: skip
    others = [b for b in range(256) if b not in keep]
    return {**{b: chr(b) for b in keep}, **{b: chr(256 + n) for n, b in enumerate(others)}}


def tokenizer_of(g: GGUF) -> Any:
    """The tokenizer the metadata describes, without padding or truncation."""
    t = need("tokenizers")
    m = g.metadata
    model, tokens = m.get("tokenizer.ggml.model"), m.get("tokenizer.ggml.tokens")
    if model not in ("gpt2", "llama"):
        raise g.fail(f"its tokenizer {model!r} is not supported (attnviz reads byte-level BPE, "
                     "'gpt2', and SentencePiece, 'llama', vocabularies)")  # fmt: skip
    if not isinstance(tokens, list) or not tokens or not all(isinstance(w, str) for w in tokens):
        raise g.fail("its metadata has no tokenizer.ggml.tokens list of strings")
    try:
        tok, letters = (
            _byte_level(t, g, tokens) if model == "gpt2" else _sentencepiece(t, g, tokens)
        )
        _added(t, tok, tokens, m.get("tokenizer.ggml.token_type"), letters)
        tok.post_processor = _around(t, g, tokens, bos=model == "llama")
    except ConfigError:
        raise
    except Exception as e:  # the library's own errors: a merge of a token the vocabulary lacks
        raise g.fail(f"its tokenizer cannot be built from its metadata ({e})") from None
    return tok


def _byte_level(t: Any, g: GGUF, tokens: list[str]) -> tuple[Any, set[str] | None]:
    """Byte-level BPE as transformers' GPT2Tokenizer is built from a file: the vocabulary in
    the byte alphabet, the merges, the split of words tokenizer.ggml.pre names."""
    merges = g.metadata.get("tokenizer.ggml.merges") or []
    if not isinstance(merges, list):
        raise g.fail("its metadata's tokenizer.ggml.merges is not a list")
    alphabet = _byte_alphabet()
    letters = set(alphabet.values())
    spelled = tokens  # as llama.cpp writes them: in the byte alphabet, checked all at once
    if not set("".join(tokens)) <= letters:
        spelled = [w if set(w) <= letters else "".join(alphabet[b] for b in w.encode())
                   for w in tokens]  # fmt: skip
    vocab = dict(zip(spelled, range(len(spelled)), strict=True))
    pairs = [tuple(p.split(" ", 1)) for p in merges if isinstance(p, str) and " " in p]
    tok = t.Tokenizer(t.models.BPE(vocab, pairs, dropout=None, continuing_subword_prefix="",
                                   end_of_word_suffix="", fuse_unk=False))  # fmt: skip
    split = _splits().get(str(g.metadata.get("tokenizer.ggml.pre")))
    byte_level = t.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=split is None)
    tok.pre_tokenizer = (
        byte_level if split is None else t.pre_tokenizers.Sequence([
            t.pre_tokenizers.Split(t.Regex(split), behavior="isolated"), byte_level])
    )  # fmt: skip
    tok.decoder = t.decoders.ByteLevel()
    return tok, letters


def _sentencepiece(t: Any, g: GGUF, tokens: list[str]) -> tuple[Any, None]:
    """SentencePiece as BPE with byte fallback, as transformers' LlamaTokenizer (a "▁" before
    the first word, spaces as "▁") or, for Gemma, GemmaTokenizer (spaces as "▁", no prefix;
    the tokens of spaces alone respelled, the merges in the order of the tokens) is built from
    a file; the merges the file gives, else those its tokens and scores imply."""
    gemma = g.metadata.get("general.architecture") in ("gemma", "gemma2", "gemma3")
    if gemma:
        tokens = ["▁" * len(w) if " " in w and not w.strip() else w for w in tokens]
    vocab = {w: i for i, w in enumerate(tokens)}
    merges, scores = (
        g.metadata.get("tokenizer.ggml.merges"),
        g.metadata.get("tokenizer.ggml.scores"),
    )
    pairs: list[tuple[str, ...]]
    if isinstance(merges, list) and merges:
        pairs = [tuple(p.split(" ", 1)) for p in merges if isinstance(p, str) and " " in p]
    elif gemma or (scores is not None and len(scores) == len(tokens)):
        ranks = range(0, -len(tokens), -1) if gemma or scores is None else scores.tolist()
        pairs = list(merges_of(vocab, dict(zip(tokens, ranks, strict=True))))
    else:
        raise g.fail("its SentencePiece vocabulary has neither merges nor a score per token")
    unk = {"unk_token": "<unk>"} if gemma else {}
    tok = t.Tokenizer(t.models.BPE(vocab, pairs, fuse_unk=True, byte_fallback=True, dropout=None,
                                   **unk))  # fmt: skip
    d = t.decoders
    if gemma:
        tok.normalizer = t.normalizers.Replace(" ", "▁")
        tok.pre_tokenizer = t.pre_tokenizers.Split(" ", behavior="merged_with_previous")
        tok.decoder = d.Sequence([d.Replace("▁", " "), d.ByteFallback(), d.Fuse()])
    else:
        tok.pre_tokenizer = t.pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first",
                                                       split=False)  # fmt: skip
        tok.decoder = d.Sequence([d.Replace("▁", " "), d.ByteFallback(), d.Fuse(),
                                  d.Strip(content=" ", left=1)])  # fmt: skip
    return tok, None


def merges_of(vocab: dict[str, int], scores: dict[str, float]) -> list[tuple[str, str]]:
    """The merges a SentencePiece vocabulary implies (transformers' generate_merges): every
    split of a token into two tokens, the best-scored tokens' first."""
    merges = []
    for merge, score in scores.items():
        local = [(merge[:i], merge[i:], score) for i in range(1, len(merge))
                 if merge[:i] in vocab and merge[i:] in vocab]  # fmt: skip
        merges.extend(sorted(local, key=lambda x: (vocab[x[0]], vocab[x[1]])))
    merges.sort(key=lambda x: (x[2], len(x[0]), len(x[1])), reverse=True)
    return [(a, b) for a, b, _ in merges]


def _added(t: Any, tok: Any, tokens: list[str], types: Any, letters: set[str] | None) -> None:
    """Control tokens as special tokens (in a byte-level vocabulary, those spelled in the byte
    alphabet: another is a mislabel of llama.cpp's), user-defined ones as plain added tokens."""
    if types is None or len(types) != len(tokens):
        return
    control = [w for w, k in zip(tokens, types, strict=True)
               if k == CONTROL and (letters is None or set(w) <= letters)]  # fmt: skip
    user = [w for w, k in zip(tokens, types, strict=True) if k == USER_DEFINED]
    tok.add_special_tokens([t.AddedToken(w, normalized=False, special=True) for w in control])
    tok.add_tokens([t.AddedToken(w, normalized=False, special=False) for w in user])


def _around(t: Any, g: GGUF, tokens: list[str], bos: bool) -> Any:
    """The post-processor: BOS before the text with add_bos_token, EOS after it with
    add_eos_token (by default no EOS, and BOS for a SentencePiece vocabulary only, as llama.cpp
    and transformers do)."""
    ends: list[int | None] = []
    for flag, key, default in (("add_bos_token", "bos_token_id", bos),
                               ("add_eos_token", "eos_token_id", False)):  # fmt: skip
        n = None
        if g.metadata.get(f"tokenizer.ggml.{flag}", default):
            n = g.whole(f"tokenizer.ggml.{key}", least=0)
            if n >= len(tokens):
                raise g.fail(f"metadata tokenizer.ggml.{key} {n} is not a token of its vocabulary")
        ends.append(n)
    first, last = ends
    specials = [(tokens[n], n) for n in ends if n is not None]
    single = [*([tokens[first]] if first is not None else []), "$A",
              *([tokens[last]] if last is not None else [])]  # fmt: skip
    return t.processors.TemplateProcessing(single=single, pair=[*single, "$B:1"],
                                           special_tokens=specials)  # fmt: skip
