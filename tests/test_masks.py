import numpy as np
import pytest

from attnviz import ConfigError, attend, build_mask, parse_masks

T, F = True, False
NO_PAD = np.zeros(5, dtype=bool)


def mask(*specs, is_pad=NO_PAD):
    return build_mask(parse_masks(list(specs)), is_pad)


def test_none():
    assert mask("none").tolist() == [[T] * 5] * 5


def test_causal():
    assert mask("causal").tolist() == [
        [T, F, F, F, F],
        [T, T, F, F, F],
        [T, T, T, F, F],
        [T, T, T, T, F],
        [T, T, T, T, T],
    ]


def test_window_2():
    assert mask("window=2").tolist() == [
        [T, F, F, F, F],
        [T, T, F, F, F],
        [F, T, T, F, F],
        [F, F, T, T, F],
        [F, F, F, T, T],
    ]


def test_window_1_is_the_diagonal():
    assert mask("window=1").tolist() == np.eye(5, dtype=bool).tolist()


def test_prefix_2():
    assert mask("prefix=2").tolist() == [
        [T, T, F, F, F],
        [T, T, F, F, F],
        [T, T, T, F, F],
        [T, T, T, T, F],
        [T, T, T, T, T],
    ]


def test_padding_hides_pad_keys_and_blinds_pad_queries():
    is_pad = np.array([F, F, F, T, T])
    assert mask("padding", is_pad=is_pad).tolist() == [
        [T, T, T, F, F],
        [T, T, T, F, F],
        [T, T, T, F, F],
        [F, F, F, F, F],
        [F, F, F, F, F],
    ]


def test_specs_combine_with_and():
    is_pad = np.array([F, F, F, F, T])
    assert mask("causal", "window=3", "padding", is_pad=is_pad).tolist() == [
        [T, F, F, F, F],
        [T, T, F, F, F],
        [T, T, T, F, F],
        [F, T, T, T, F],
        [F, F, F, F, F],
    ]


def test_specs_are_made_canonical_and_repeats_dropped():
    assert parse_masks([" Causal", "WINDOW = 03", "causal"]) == ("causal", "window=3")
    assert parse_masks("none") == ("none",)


@pytest.mark.parametrize(
    "spec, why",
    [
        ("diagonal", "unknown mask"),
        ("window=0", "at least 1"),
        ("window=-1", "at least 1"),
        ("window=x", "not a whole number"),
        ("window", "needs a value"),
        ("prefix=-1", "at least 0"),
        ("causal=2", "takes no value"),
    ],
)
def test_bad_specs_say_why_and_list_the_valid_ones(spec, why):
    with pytest.raises(ConfigError, match=why) as info:
        parse_masks(spec)
    assert "none, causal, window=K, prefix=P, padding" in str(info.value)


def test_padding_needs_pad_to():
    with pytest.raises(ConfigError, match="`pad_to`"):
        attend("a b", mask="padding", heads=1, d_model=4)


def test_padding_run_hides_the_pads():
    trace = attend("a b", mask=["causal", "padding"], pad_to=4, heads=1, d_model=4)
    assert trace.allowed[:, 2:].sum() == 0 and trace.allowed[2:].sum() == 0
    assert trace.allowed[:2, :2].tolist() == [[T, F], [T, T]]
