import pytest
from matplotlib.text import Text

from attnviz import ConfigError, attend
from attnviz.render.figures import compare_figure, heatmap_figure, stats_figure, steps_figure
from attnviz.stats import compare
from attnviz.trace import config_against
from attnviz.views.labels import STRINGS, strings, visible


def test_every_language_has_the_same_keys():
    keys = set(STRINGS["en"])
    for lang, table in STRINGS.items():
        assert set(table) == keys, lang


def test_unknown_language():
    with pytest.raises(ConfigError, match="unknown language 'fr'; choose one of: en, es"):
        strings("fr")


def english_left(fig, tokens):
    """Every text artist that holds an English label which Spanish translates."""
    english = {v for k, v in STRINGS["en"].items() if v != STRINGS["es"][k] and len(v) > 2}
    words = {w for v in english for w in v.replace(",", " ").split() if len(w) > 3 and w.isalpha()}
    spanish_words = {w for v in STRINGS["es"].values() for w in v.replace(",", " ").split()}
    found = []
    for artist in fig.findobj(Text):
        text = artist.get_text()
        if not text or text in tokens:
            continue
        found += [w for w in text.replace("\n", " ").split() if w in words - spanish_words]
    return found


def test_no_english_label_in_a_spanish_figure():
    trace = attend("¿Qué es la atención?", heads=2, d_model=8, bos=True)
    tokens = set(trace.texts)
    b = attend("¿Qué es la atención?", heads=2, d_model=8, bos=True, mask="none")
    for fig in (
        heatmap_figure(trace, lang="es"),
        compare_figure(compare(trace, b), lang="es"),
        steps_figure(trace, 1, lang="es"),
        stats_figure(trace, [0, 1], lang="es"),
    ):
        assert english_left(fig, tokens) == []


def test_the_check_would_catch_english():
    trace = attend("¿Qué es la atención?", heads=2, d_model=8)
    assert "query" in english_left(heatmap_figure(trace, lang="en"), set(trace.texts))


def test_spanish_uses_the_course_terms():
    es = STRINGS["es"]
    assert es["stage_scores"] == "puntajes de atención" and es["stage_scaled"] == "escalado"
    assert es["query"] == "consulta" and es["key"] == "clave" and es["heads"] == "cabezas"
    assert "atención multi-cabeza" in es["stage_output"]


def test_config_against_unscaled_keeps_the_mask():
    c = attend("a b", heads=1, d_model=2, mask="window=2").config
    assert config_against(c, "unscaled").mask == ("window=2",)
    assert config_against(c, ["causal", "prefix=1"]).mask == ("causal", "prefix=1")


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("\x1b[31mred", "␛[31mred"),
        ("a\x00b\rc\bd\x07", "a␀b␍c␈d␇"),
        ("x\u202ey", "x\\u202ey"),
        ("\x9b", "\\u009b"),
        ("café [bold]", "café [bold]"),
    ],
)
def test_visible(raw, shown):
    assert visible(raw) == shown


def test_a_title_part_longer_than_the_line_is_broken_between_its_words():
    from attnviz.render.figures.layout import wrap

    note = "7 pieces merged into words (to a word: the sum; from: the mean)"
    lines = wrap(f"bart-tiny · layer 2 · {note}", 40).split("\n")
    assert lines[0] == "bart-tiny · layer 2" and all(len(line) <= 40 for line in lines)
    assert " ".join(lines[1:]) == note  # nothing lost, the words whole
    assert (
        wrap("a · b", 40) == "a · b" and wrap("averyveryverylongword", 5) == "averyveryverylongword"
    )
