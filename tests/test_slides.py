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


def check_steps_slide(fig, view, tmp_path):
    """The stages on a slide: the masked scores and the weights large (each at least 28% of
    its height), the others small but at least a quarter of their size; every formula whole on
    one line of its title; every token labelled on the large ones; nothing overlapping."""
    from test_heatmap import overlaps

    boxes, height = saved(fig, tmp_path)
    kinds = [stage.kind for stage in view.stages]
    assert len(boxes) == len(kinds)
    large = [b.height for b, k in zip(boxes, kinds, strict=True) if k in ("masked", "weights")]
    small = [b.height for b, k in zip(boxes, kinds, strict=True) if k not in ("masked", "weights")]
    assert len(large) == 2 and min(large) >= 0.28 * height
    assert min(small) >= 0.25 * min(large) and max(small) < 0.5 * min(large)
    titles = [ax.get_title() for ax in panels_of(fig)]
    for title, stage in zip(titles, view.stages, strict=True):
        assert title.split("\n")[-1] == stage.formula  # whole, on its own line
        assert (
            "\n".join(title.split("\n")[:-1]).replace("\n", " ") == f"{stage.number}. {stage.name}"
        )
    keys = labels_of(fig, "key-label")
    assert keys.count(view.trace.texts[-1]) >= 2  # the masked scores' and the weights' keys
    assert overlaps(fig) == []


@pytest.mark.parametrize("lang, text", [("en", "The cat sat on the mat"),
                                        ("es", "La atención es todo lo que necesitas"),
                                        ("es", "¿Qué es la atención?")])  # fmt: skip
def test_steps_on_a_slide_makes_the_weights_large(tmp_path, lang, text):
    from attnviz.views.steps import steps_view

    trace = attend(text)
    fig = steps_figure(trace, 0, preset="slides", lang=lang)
    check_steps_slide(fig, steps_view(trace, 0, lang=lang), tmp_path)
    numbers = [
        t for t in fig.findobj() if getattr(t, "get_gid", None) and t.get_gid() == "cell-numbers"
    ]
    assert len(numbers) == 1  # the weights, numbered


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_twelve_stages_of_a_rotary_model_fit_a_slide(tmp_path, lang):
    """Q′ and K′ make twelve stages, all before the mask: the small row holds seven."""
    from pathlib import Path

    from attnviz import AttentionConfig, Pretrained, run
    from attnviz.views.steps import steps_view

    folder = Path(__file__).resolve().parent / "fixtures" / "llama-tiny"
    trace = run("The cat sat on the mat", AttentionConfig(source=Pretrained(str(folder))))
    fig = steps_figure(trace, 4, preset="slides", lang=lang)
    check_steps_slide(fig, steps_view(trace, 4, lang=lang), tmp_path)


@pytest.mark.parametrize("text, crop", [
    ("The old cat slept on the warm red mat", (2, 5, 0, 9)),  # 3 queries of 9 keys
    ("The old cat slept on the warm red mat", (0, 9, 2, 5)),  # 9 queries of 3 keys
    ("The old cat slept on the warm red mat while the children read", (2, 7, 0, 13)),
])  # fmt: skip
def test_a_crop_on_a_slide_keeps_the_weights_cells_square_and_large(tmp_path, text, crop):
    """A crop of q x k: the masked scores and the weights are rectangles of square cells, as
    large as the slide lets them be (drawn in square boxes, a 3 x 9 crop's cells were three
    times as tall as wide, its panels a tenth of the slide's width, and 5 x 13 was refused),
    cells no smaller than the whole text's, every key labelled on them, each small stage
    readable, nothing overlapping."""
    from test_heatmap import overlaps

    from attnviz import Crop
    from attnviz.views.steps import steps_view

    q0, q1, k0, k1 = crop
    trace = attend(text)
    fig = steps_figure(trace, 0, preset="slides", crop=Crop(*crop))
    boxes, _ = saved(fig, tmp_path)
    kinds = [stage.kind for stage in steps_view(trace, 0, crop=Crop(*crop)).stages]
    large = [b for b, k in zip(boxes, kinds, strict=True) if k in ("masked", "weights")]
    small = [b for b, k in zip(boxes, kinds, strict=True) if k not in ("masked", "weights")]
    whole, _ = saved(steps_figure(trace, 0, preset="slides"), tmp_path)
    T = len(trace.texts)
    uncropped = min(b.width / T for b, k in zip(whole, kinds, strict=True) if k == "weights")
    for box in large:
        cell_w, cell_h = box.width / (k1 - k0), box.height / (q1 - q0)
        assert abs(cell_w - cell_h) <= 1.0, (cell_w, cell_h)  # pixels: square
        assert cell_w >= uncropped  # fewer cells, none smaller than the whole text's
    assert min(min(b.width, b.height) for b in small) >= 0.5 * 100  # MIN_PANEL, in pixels
    keys = labels_of(fig, "key-label")
    assert all(keys.count(f"{i} {w}") >= 2 for i, w in enumerate(text.split()) if k0 <= i < k1)
    assert overlaps(fig) == []
