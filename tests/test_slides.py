"""Figures on a slide (1333 × 750 px) use the slide: the panels measured as they are drawn in
the saved PNG, every token labelled up to 16 tokens, labels and numbers one size."""

import xml.etree.ElementTree as ET

import matplotlib.image
import pytest
from panels import panels_of

from attnviz import attend
from attnviz.render.figures import compare_figure, heatmap_figure, save_figure, steps_figure
from attnviz.stats import compare

TEXTS = {
    "en": "The cat sat on the mat because the cat was tired",
    "es": "El gato se sentó en la alfombra porque estaba cansado",
}


def saved(fig, tmp_path):
    """The figure written as a slide PNG, and its panels as drawn there (pixel boxes)."""
    path = tmp_path / "slide.png"
    save_figure(fig, path)
    height, width = matplotlib.image.imread(path).shape[:2]
    assert (width, height) == (1333, 750)
    return [p.get_images()[0].get_window_extent() for p in panels_of(fig)], height


def labels_of(fig, gid):
    return [
        t.get_text() for t in fig.findobj() if getattr(t, "get_gid", None) and t.get_gid() == gid
    ]


@pytest.mark.parametrize("lang", ["en", "es"])
def test_one_head_on_a_slide_takes_most_of_its_height(tmp_path, lang):
    trace = attend(TEXTS[lang])
    fig = heatmap_figure(trace, [0], preset="slides", lang=lang)
    (box,), height = saved(fig, tmp_path)
    assert box.height >= 0.6 * height
    assert labels_of(fig, "key-label") == trace.texts  # every token, as it is: no index


@pytest.mark.parametrize("lang", ["en", "es"])
def test_compare_on_a_slide_gives_each_panel_a_third_of_its_height(tmp_path, lang):
    a = attend(TEXTS[lang])
    fig = compare_figure(compare(a, attend(TEXTS[lang], mask="none")), [0], preset="slides",
                         lang=lang)  # fmt: skip
    boxes, height = saved(fig, tmp_path)
    assert len(boxes) == 3 and all(b.height >= 0.3 * height for b in boxes)
    assert labels_of(fig, "key-label") == a.texts * 3
    summary = [t for t in fig.texts if t.get_gid() == "summary"]
    assert summary[0].get_text().count("\n") <= 1  # one or two lines


@pytest.mark.parametrize("tokens", [6, 12, 16])
@pytest.mark.parametrize("preset, heads", [("screen", [0, 1]), ("slides", [0, 1]), ("paper", [0])])
def test_up_to_16_tokens_every_one_is_labelled(tokens, preset, heads):
    """(A paper column, 3.4 in, holds one head whose 16 labels are readable; two heads side
    by side there label every other token.)"""
    text = " ".join(f"w{i}" for i in range(tokens))
    fig = heatmap_figure(attend(text), heads, preset=preset)
    assert labels_of(fig, "key-label") == [f"w{i}" for i in range(tokens)] * len(heads)


def test_numbers_are_one_size_across_a_figures_panels(tmp_path):
    """A compare slide's numbers, A's and B − A's alike, are one size."""
    a = attend("The cat sat on the mat")
    fig = compare_figure(compare(a, attend("The cat sat on the mat", mask="none")), [0],
                         preset="slides")  # fmt: skip
    save_figure(fig, tmp_path / "c.svg")  # the numbers as text while saved: read their size
    svg = "{http://www.w3.org/2000/svg}"
    sizes = [text.get("style").split("font-size: ")[1].split("px")[0]
             for group in ET.parse(tmp_path / "c.svg").iter(f"{svg}g")
             if group.get("id") == "cell-number" for text in group.iter(f"{svg}text")]  # fmt: skip
    assert len(sizes) == 6 * 7 // 2 + 36 + 36 and len(set(sizes)) == 1


@pytest.mark.parametrize("lang, text", [("en", "The cat sat on the mat"),
                                        ("es", "¿Qué es la atención?")])  # fmt: skip
def test_steps_on_a_slide_fits_and_labels_its_tokens(tmp_path, lang, text):
    """Ten stages on a slide: each panel at least 18% of its height (two rows of titles,
    labels and bars between them), every token of a short sentence labelled, the weights
    numbered."""
    trace = attend(text)
    fig = steps_figure(trace, 0, preset="slides", lang=lang)
    boxes, height = saved(fig, tmp_path)
    assert len(boxes) == 10 and all(b.height >= 0.18 * height for b in boxes)
    assert labels_of(fig, "query-label") == trace.texts * 2  # each row of stages, every token
    numbers = [
        t for t in fig.findobj() if getattr(t, "get_gid", None) and t.get_gid() == "cell-numbers"
    ]
    assert len(numbers) == 1  # the weights, numbered


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_twelve_stages_of_a_rotary_model_fit_a_slide(tmp_path, lang):
    """Q′ and K′ make twelve stages: two rows of six on a slide, each panel at least 15% of
    its height, every token labelled in both rows."""
    from pathlib import Path

    from attnviz import AttentionConfig, Pretrained, run

    folder = Path(__file__).resolve().parent / "fixtures" / "llama-tiny"
    trace = run("The cat sat on the mat", AttentionConfig(source=Pretrained(str(folder))))
    fig = steps_figure(trace, 4, preset="slides", lang=lang)
    boxes, height = saved(fig, tmp_path)
    assert len(boxes) == 12 and all(b.height >= 0.15 * height for b in boxes)
    assert len({round(b.y0) for b in boxes}) == 2  # two rows
    assert labels_of(fig, "query-label") == trace.texts * 2
