import itertools
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attnviz import ConfigError, Token, tokenize


def texts(tokens):
    return [t.text for t in tokens]


def test_spanish_question_is_six_tokens():
    assert texts(tokenize("¿Qué es la atención?")) == ["¿", "Qué", "es", "la", "atención", "?"]


def test_inner_apostrophes_are_kept_outer_ones_are_not():
    assert texts(tokenize("don't l’homme 'quoted'")) == ["don't", "l’homme", "'", "quoted", "'"]


def test_punctuation_and_symbols_stand_alone():
    assert texts(tokenize("a+b=c, 3.5%!")) == [
        "a",
        "+",
        "b",
        "=",
        "c",
        ",",
        "3",
        ".",
        "5",
        "%",
        "!",
    ]


def test_decomposed_accents_stay_in_the_word():
    nfd = unicodedata.normalize("NFD", "atención café")
    assert texts(tokenize(nfd)) == [unicodedata.normalize("NFD", w) for w in ("atención", "café")]


def test_control_characters_separate_words_and_are_dropped():
    assert texts(tokenize("red\x1b[31m\x07blue")) == ["red", "[", "31m", "blue"]


def test_char_scheme_keeps_combining_marks_with_their_base():
    nfd = unicodedata.normalize("NFD", "é a")
    assert texts(tokenize(nfd, "char")) == ["e\u0301", "a"]
    assert texts(tokenize("ab c", "char")) == ["a", "b", "c"]


def test_whitespace_scheme():
    tokens = tokenize("  The cat,\tsat\n", "whitespace")
    assert tokens == [Token("The", 2, 5), Token("cat,", 6, 10), Token("sat", 11, 14)]


def test_bos_and_padding():
    tokens = tokenize("a b", bos=True, pad_to=5)
    assert texts(tokens) == ["<bos>", "a", "b", "<pad>", "<pad>"]
    assert tokens[0] == Token("<bos>", 0, 0, special=True)
    assert all(t.special and t.start == t.end for t in tokens[3:])
    assert not tokens[1].special


def test_pad_to_the_exact_length_adds_nothing():
    assert texts(tokenize("a b", pad_to=2)) == ["a", "b"]


@pytest.mark.parametrize("text", ["", "   \n\t", "\x00\x01\x1b"])
def test_a_text_without_tokens_is_an_error(text):
    with pytest.raises(ConfigError, match="nothing to attend to"):
        tokenize(text)


def test_pad_to_shorter_than_the_text_is_an_error():
    with pytest.raises(ConfigError, match="smaller than the text"):
        tokenize("a b c", pad_to=2)


def test_unknown_scheme_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="word, char, whitespace"):
        tokenize("a", "bpe")


@given(st.text(), st.sampled_from(["word", "char", "whitespace"]))
def test_spans_point_at_the_token_text(text, scheme):
    try:
        tokens = tokenize(text, scheme)
    except ConfigError:
        assert not text.strip() or scheme == "word"
        return
    for t in tokens:
        assert text[t.start : t.end] == t.text
        assert t.text.strip() == t.text and t.text
    starts = [t.start for t in tokens]
    assert starts == sorted(starts) and all(a.end <= b.start for a, b in itertools.pairwise(tokens))


@given(st.text(min_size=1))
def test_char_and_whitespace_lose_no_visible_character(text):
    kept = "".join(ch for ch in text if not ch.isspace())
    for scheme in ("char", "whitespace"):
        if kept:
            assert "".join(texts(tokenize(text, scheme))) == kept


@pytest.mark.parametrize("scheme", ["word", "char"])
def test_emoji_flags_and_marks_stay_whole(scheme):
    """A user-perceived character is one token: ZWJ sequences, skin tones, flags (two
    regional indicators, or a tag sequence), a keycap, a base with its combining marks."""
    text = "🐈\u200d⬛ 👍🏽 🇪🇸🇫🇷 👩\u200d👩\u200d👧 1\ufe0f\u20e3 e\u0301 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    got = [t.text for t in tokenize(text, scheme)]
    expected = ["🐈\u200d⬛", "👍🏽", "🇪🇸", "🇫🇷", "👩\u200d👩\u200d👧", "1\ufe0f\u20e3", "e\u0301",
                "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"]  # fmt: skip
    assert got == expected
    assert all(text[t.start : t.end] == t.text for t in tokenize(text, scheme))
