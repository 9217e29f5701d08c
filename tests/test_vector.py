"""SVG and PDF figures keep every number in the cells as text, found by a search and editable
in slide software: read back by an XML parser and by pypdf, as a reader's tools would."""

import xml.etree.ElementTree as ET
from collections import Counter

import numpy as np
import pypdf
import pytest

from attnviz import attend
from attnviz.render.figures import compare_figure, heatmap_figure, save_figure, steps_figure
from attnviz.stats import compare

SENTENCE = "The cat sat on the mat"


def weight_text(w: float) -> str:
    """The README's cell format: two decimals without the leading zero, 1 as 1.0."""
    return "1.0" if round(w, 2) == 1 else format(w, ".2f")[1:]


def signed_text(d: float) -> str:
    """A difference: +.12, −.05 (a true minus), −1.00, 0."""
    if round(abs(d), 2) == 0:
        return "0"
    return ("+" if d > 0 else "\u2212") + format(abs(d), ".2f").removeprefix("0")


def weights_texts(trace, heads):
    return [weight_text(float(trace.weights[h, i, j])) for h in heads
            for i, j in zip(*np.nonzero(trace.allowed), strict=True)]  # fmt: skip


def svg_texts(path) -> Counter:
    words = Counter()
    for node in ET.parse(path).iter("{http://www.w3.org/2000/svg}text"):
        words.update("".join(node.itertext()).split())
    return words


def pdf_texts(path) -> Counter:
    page = pypdf.PdfReader(path).pages[0]
    return Counter(page.extract_text().split())


def figures():
    a, b = attend(SENTENCE), attend(SENTENCE, mask="none")
    diff = (b.weights - a.weights)[0]
    return {
        "heatmap": (lambda: heatmap_figure(a, [0, 3]), weights_texts(a, [0, 3])),
        "compare": (
            lambda: compare_figure(compare(a, b), [0]),
            weights_texts(a, [0])
            + [weight_text(float(w)) for w in b.weights[0].ravel()]
            + [signed_text(float(d)) for d in diff.ravel()],
        ),
        "steps": (lambda: steps_figure(a, 0), weights_texts(a, [0])),
    }


@pytest.mark.parametrize("ext, read", [(".svg", svg_texts), (".pdf", pdf_texts)])
@pytest.mark.parametrize("kind", ["heatmap", "compare", "steps"])
def test_every_cell_number_is_text(tmp_path, kind, ext, read):
    draw, expected = figures()[kind]
    path = tmp_path / f"f{ext}"
    save_figure(draw(), path)
    found = read(path)
    missing = Counter(expected) - found
    assert not missing, f"numbers not found as text: {sorted(missing.elements())[:10]}"


def test_a_vector_save_leaves_the_figure_as_it_was(tmp_path):
    """The numbers are text only while a vector file is written: the PNG after is the PNG
    before, and the figure's numbers are still one collection of outlines."""
    fig = heatmap_figure(attend(SENTENCE), [0])
    save_figure(fig, tmp_path / "before.png")
    save_figure(fig, tmp_path / "f.svg")
    save_figure(fig, tmp_path / "after.png")
    assert (tmp_path / "before.png").read_bytes() == (tmp_path / "after.png").read_bytes()
    assert not [t for t in fig.findobj() if getattr(t, "get_gid", lambda: None)() == "cell-number"]
