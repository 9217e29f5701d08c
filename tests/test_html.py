"""-o page.html: one self-contained page. The page's data and markup are checked here
directly; its behaviour in headless Chromium (Debian's, driven by Playwright) below, with the
network blocked. Without a browser the browser tests are skipped, and say so loudly."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from browser import Page
from typer.testing import CliRunner

from attnviz import attend
from attnviz.cli import app

runner = CliRunner()
SENTENCE = "The cat sat on the mat"
HOSTILE = "a <img/src=x/onerror=alert(1)> </script><script>alert(2)</script> b"  # 4 tokens


def write(tmp_path, *args, name="page.html"):
    out = tmp_path / name
    result = runner.invoke(app, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    return out


def page_data(path):
    text = path.read_text(encoding="utf-8")
    match = re.search(r'<script id="data" type="application/json">(.*?)</script>', text, re.S)
    return text, json.loads(match.group(1))


def test_page_holds_the_exact_weights_and_nothing_from_outside(tmp_path):
    out = write(tmp_path, "heatmap", SENTENCE, "--heads", "8")
    text, data = page_data(out)
    trace = attend(SENTENCE)
    assert data["tokens"] == trace.texts and len(data["views"][0]["panels"]) == 8
    for h, panel in enumerate(data["views"][0]["panels"]):
        expected = np.where(trace.allowed, trace.weights[h], np.nan)
        got = np.array([[np.nan if v is None else v for v in row] for row in panel["values"]])
        np.testing.assert_array_equal(got, expected)  # every number exact, null where hidden
    assert not re.search(
        r"(src|href)\s*=|https?://|//cdn|@import|url\(", text.split("<script id")[0]
    )
    assert "fetch(" not in text and "XMLHttpRequest" not in text and "import(" not in text
    assert "default-src 'none'" in text  # and the page forbids itself any request


def test_page_is_small_and_byte_identical(tmp_path):
    text = "The quick brown fox jumps over the lazy dog near the river bank"  # 12 tokens
    a = write(tmp_path, "heatmap", text, name="a.html")
    b = write(tmp_path, "heatmap", text, name="b.html")
    assert a.read_bytes() == b.read_bytes()
    assert a.stat().st_size < 200_000


def test_user_text_is_data_never_markup(tmp_path):
    out = write(tmp_path, "heatmap", HOSTILE, "--tokenizer", "whitespace", "--head", "0")
    text, data = page_data(out)
    assert data["tokens"][1:3] == [
        "<img/src=x/onerror=alert(1)>",
        "</script><script>alert(2)</script>",
    ]
    assert text.count("</script>") == 2  # the page's own two script elements, no more
    assert "<img" not in text and "<script>alert" not in text
    assert "\\u003c/script\\u003e" in text  # escaped inside the JSON


def test_placeholders_in_user_text_stay_text(tmp_path):
    """The page is filled in one pass: a title or token that reads like a placeholder of the
    page's files is shown as typed, and the files hold no closing tag of their own element."""
    out = write(tmp_path, "heatmap", "__DATA__ __SCRIPT__ __STYLE__", "--tokenizer",
                "whitespace", "--title", "__DATA__ and __LANG__")  # fmt: skip
    text, data = page_data(out)
    assert (
        "<title>__DATA__ and __LANG__</title>" in text and data["title"] == "__DATA__ and __LANG__"
    )
    assert data["tokens"] == ["__DATA__", "__SCRIPT__", "__STYLE__"]
    assert text.count("<script") == 2 and text.count("<style>") == 1
    page = Path(__file__).resolve().parent.parent / "attnviz" / "render" / "page"
    assert "</script" not in (page / "page.js").read_text(encoding="utf-8")
    assert "</style" not in (page / "page.css").read_text(encoding="utf-8")


def test_compare_steps_model_pages(tmp_path):
    _, cmp = page_data(write(tmp_path, "compare", SENTENCE, "--head", "0,1", name="c.html"))
    assert [v["name"] for v in cmp["views"]] == ["A: causal", "B: none", "B − A"]
    assert cmp["views"][2]["panels"][0]["signed"] and len(cmp["diverging"]) == 256
    _, steps = page_data(write(tmp_path, "steps", SENTENCE, "--lang", "es", name="s.html"))
    assert steps["views"][0]["panels"][3]["title"].startswith("2. puntajes de atención")
    assert steps["text"]["query"] == "consulta"
    fixture = str(Path(__file__).parent / "fixtures" / "bert-tiny")
    _, model = page_data(write(tmp_path, "heatmap", SENTENCE, "--model", fixture, "--layer",
                               "all", "--theme", "dark", name="m.html"))  # fmt: skip
    assert [v["name"] for v in model["views"]] == ["layer 0", "layer 1"]
    assert model["theme"] == "dark"
    bad = runner.invoke(app, ["stats", SENTENCE, "-o", str(tmp_path / "x.html")])
    assert bad.exit_code == 2 and "writes .png, .svg or .pdf here" in bad.stderr


# --- in a real browser ------------------------------------------------------------------------


def test_heatmap_page_in_chromium(browser, tmp_path):
    out = write(tmp_path, "heatmap", SENTENCE)
    trace = attend(SENTENCE)
    view = Page(browser, out)
    page = view.page
    assert page.locator(".panel").count() == 8
    canvases = page.locator("canvas[data-rows]")
    assert canvases.count() == 8
    cells = [int(c.get_attribute("data-rows")) * int(c.get_attribute("data-cols"))
             for c in canvases.all()]  # fmt: skip
    assert cells == [36] * 8
    # hover cell (5, 0) of head 0: its query, key and weight to 4 decimals
    box = canvases.first.bounding_box()
    size = box["width"] / 6
    page.mouse.move(box["x"] + 0.5 * size, box["y"] + 5.5 * size)
    assert page.locator("#tip").text_content() == (
        f"query: 5 mat\nkey: 0 The\nattention weight: {trace.weights[0, 5, 0]:.4f}"
    )
    page.mouse.move(box["x"] + 5.5 * size, box["y"] + 0.5 * size)  # above the diagonal
    assert page.locator("#tip").text_content().endswith("hidden by the mask")
    # hover a token label: its row and column light up in every panel
    page.locator(".rows span").nth(2).hover()
    assert page.locator(".rows span.on").count() == 8 and page.locator(".cols span.on").count() == 8
    assert {s.text_content() for s in page.locator("span.on").all()} == {"sat"}
    page.screenshot(path=str(tmp_path / "heatmap.png"))
    # click a panel: it alone, larger; Escape returns; Enter from the keyboard too
    small = canvases.nth(3).bounding_box()["width"]
    page.locator(".panel").nth(3).click()
    assert page.locator(".panel:visible").count() == 1
    assert page.locator("canvas:visible").first.bounding_box()["width"] > 2 * small
    page.keyboard.press("Escape")
    assert page.locator(".panel:visible").count() == 8
    page.reload()  # a fresh page: Tab starts from the top
    order = []
    for _ in range(4):  # Tab: the head selector, then the panels, in order
        page.keyboard.press("Tab")
        order.append(
            page.evaluate(
                "document.activeElement.tagName + (document.activeElement.dataset.index || '')"
            )
        )
    assert order == ["SELECT", "DIV0", "DIV1", "DIV2"], order
    page.keyboard.press("Enter")
    assert page.locator(".panel:visible").count() == 1
    assert page.locator(".panel.big h2").text_content() == "head 2"
    page.locator(".panel.big").click()
    assert page.locator(".panel:visible").count() == 8
    # the head selector
    page.locator("select").select_option("5")
    assert page.locator(".panel").count() == 1
    assert page.locator(".panel h2").text_content() == "head 5"
    view.clean()
    assert (tmp_path / "heatmap.png").read_bytes()[:4] == b"\x89PNG"


def test_hostile_tokens_show_literally_and_run_nothing(browser, tmp_path):
    out = write(tmp_path, "heatmap", HOSTILE, "--tokenizer", "whitespace", "--head", "0")
    view = Page(browser, out)
    labels = view.page.locator(".rows span").all_text_contents()
    assert labels[1] == "<img/src=x/oner…" and labels[2] == "</script><scrip…"  # cut at 16
    view.page.mouse.move(0, 0)
    box = view.page.locator("canvas").first.bounding_box()
    view.page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    tip = view.page.locator("#tip").text_content()
    assert tip.startswith("query: 1 <img/src=x/oner…\nkey: 1 <img/src=x/oner…")
    assert view.page.locator("img").count() == 0 and view.page.locator("script").count() == 2
    view.page.wait_for_timeout(200)
    view.clean()  # no dialog: no alert ran


def test_compare_toggle_and_dark_spanish_steps(browser, tmp_path):
    out = write(tmp_path, "compare", SENTENCE, "--head", "0", name="c.html")
    view = Page(browser, out)
    buttons = view.page.locator(".controls button")
    assert buttons.all_text_contents() == ["A: causal", "B: none", "B − A"]
    canvas = view.page.locator("canvas[data-rows]").first
    box = canvas.bounding_box()
    size = box["width"] / 6
    view.page.mouse.move(box["x"] + 5.5 * size, box["y"] + 0.5 * size)
    assert view.page.locator("#tip").text_content().endswith("hidden by the mask")  # A: causal
    buttons.nth(1).click()
    assert buttons.nth(1).get_attribute("aria-pressed") == "true"
    canvas = view.page.locator("canvas[data-rows]").first
    view.page.mouse.move(box["x"] + 5.5 * size, box["y"] + 0.5 * size)
    assert "attention weight" in view.page.locator("#tip").text_content()  # B: none sees it
    buttons.nth(2).click()
    view.page.mouse.move(box["x"] + 0.5 * size, box["y"] + 0.5 * size)
    assert view.page.locator("#tip").text_content().startswith("query: 0 The")
    view.clean()
    out = write(tmp_path, "steps", SENTENCE, "--lang", "es", "--theme", "dark", name="s.html")
    view = Page(browser, out)
    assert view.page.locator("html").get_attribute("data-theme") == "dark"
    assert view.page.locator("html").get_attribute("lang") == "es"
    assert view.page.locator(".panel h2").nth(3).text_content().startswith("2. puntajes")
    view.page.screenshot(path=str(tmp_path / "steps.png"))
    view.clean()


def test_readable_at_200_percent_zoom(browser, tmp_path):
    out = write(tmp_path, "heatmap", SENTENCE)
    view = Page(browser, out, width=650, height=450)  # a 1300 x 900 window at 200%
    page = view.page
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 650  # the panels wrap: nothing runs off to the side
    sizes = page.locator(".rows span").evaluate_all(
        "s => s.map(e => parseFloat(getComputedStyle(e).fontSize))"
    )
    assert min(sizes) >= 10
    view.clean()


LABEL_SIZES = """() => [...document.querySelectorAll('.rows span, .cols span')]
    .filter(s => s.textContent !== '')
    .map(s => parseFloat(getComputedStyle(s).fontSize))"""


@pytest.mark.parametrize("tokens", [12, 60])
def test_steps_page_numbers_fit_their_cells_and_labels_stay_readable(browser, tmp_path, tokens):
    """Every label shown is 9 px or more (60 tokens: every k-th, with its index); every number
    drawn in a cell is narrower than the cell, in each panel enlarged; each stage has its
    own colour scale (the scores reach far past the weights' 1)."""
    words = " ".join(f"w{i}" for i in range(tokens))
    view = Page(browser, write(tmp_path, "steps", words, "--head", "0"))
    page = view.page
    sizes = page.evaluate(LABEL_SIZES)
    assert sizes and min(sizes) >= 9
    shown = page.locator(".panel").nth(3).locator(".rows span").all_text_contents()
    expected = [f"w{i}" for i in range(tokens)] if tokens == 12 else None
    assert shown == expected or (tokens == 60 and shown[0] == "0 w0" and "" in shown)
    scales = page.locator(".panel .scale").all_text_contents()
    assert len(scales) == page.locator(".panel").count() == 10
    assert len(set(scales)) > 2  # the stages' ranges differ
    drawn = 0.0
    for n in range(10):
        page.locator(".panel").nth(n).click()
        fill = float(page.locator(".panel.big canvas[data-rows]").get_attribute("data-fill"))
        assert 0 <= fill < 1, n
        drawn = max(drawn, fill)
        assert min(page.evaluate(LABEL_SIZES)) >= 9
        page.keyboard.press("Escape")
    assert drawn > 0 or tokens == 60  # 12 tokens enlarged: their numbers are drawn
    view.clean()


def test_one_scale_for_a_page_whose_panels_share_it(browser, tmp_path):
    view = Page(browser, write(tmp_path, "heatmap", SENTENCE))
    assert view.page.locator(".panel .scale").count() == 0
    assert view.page.locator(".bar canvas").count() == 1
    view.clean()


def test_the_page_of_a_generation_plays_it_token_by_token(tmp_path, browser):
    """A view per generated token, its attention row in every layer (layers down, the tokens so
    far across), exact; a slider and a play button step through them."""
    from attnviz.models import Checkpoint
    from attnviz.models.generate import generate
    from attnviz.trace import AttentionConfig, Pretrained

    llama = str(Path(__file__).resolve().parent / "fixtures" / "llama-tiny")
    out = write(tmp_path, "generate", SENTENCE, "--model", llama, "--max-new-tokens", "4",
                "--head", "0,3")  # fmt: skip
    _, data = page_data(out)
    ck = Checkpoint.open(llama)
    prompt, tokens = ck.encode(SENTENCE)
    ids, P = generate(ck, prompt, 4).ids, len(prompt)
    config = AttentionConfig(mask=("none",), dtype="float32", source=Pretrained(llama))
    weights = ck.run(ids, tokens[:1] * len(ids), config).model.layer_weights  # (L,H,T,T)
    assert data["kind"] == "generation" and len(data["views"]) == 4
    for n, view in enumerate(data["views"]):
        assert view["name"].split()[0] == str(P + n)
        head3 = view["panels"][1]
        assert head3["row_name"] == "layer" and head3["rows"] == ["0", "1"]
        assert len(head3["cols"]) == P + n + 1
        np.testing.assert_array_equal(np.array(head3["values"]), weights[:, 3, P + n, : P + n + 1])
    tab = browser.new_page()
    errors = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto(out.as_uri())
    assert tab.locator(".step").inner_text().startswith(str(P))
    tab.locator("input[type=range]").fill("3")
    assert tab.locator(".step").inner_text().startswith(str(P + 3))
    tab.locator("button", has_text="▶").click()  # from the last token, play starts again
    tab.wait_for_timeout(1600)
    assert int(tab.locator("input[type=range]").input_value()) >= 1
    assert errors == []
    tab.close()


def test_the_page_of_a_generation_opens_at_its_step(tmp_path, browser):
    llama = str(Path(__file__).resolve().parent / "fixtures" / "llama-tiny")
    out = write(tmp_path, "generate", SENTENCE, "--model", llama, "--max-new-tokens", "4",
                "--step", "3")  # fmt: skip
    _, data = page_data(out)
    tab = browser.new_page()
    tab.goto(out.as_uri())
    assert tab.locator(".step").inner_text() == data["views"][2]["name"]
    assert tab.locator("input[type=range]").input_value() == "2"
    tab.close()


def test_the_survey_page_shows_every_measure_with_its_label_on_hover(tmp_path, browser):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The cat sat on the mat.\nA dog barked at the cat.\n", encoding="utf-8")
    out = write(tmp_path, "survey", "--file", str(corpus), "--plant", "0=previous",
                "--heads", "4", "--d-model", "32")  # fmt: skip
    _, data = page_data(out)
    panels = data["views"][0]["panels"]
    assert data["kind"] == "survey" and panels[3]["title"] == "previous"
    assert panels[3]["rows"] == ["0"] and panels[3]["cols"] == ["0", "1", "2", "3"]
    view = Page(browser, out)
    box = view.page.locator("canvas[data-rows]").nth(3).bounding_box()
    view.page.mouse.move(box["x"] + box["width"] / 8, box["y"] + box["height"] / 2)
    tip = view.page.locator("#tip").text_content()
    assert tip.startswith("layer: 0\nhead: 0\nprevious: ") and tip.endswith("label: previous")
    assert float(tip.split("previous: ")[1].split("\n")[0]) == pytest.approx(
        panels[3]["values"][0][0], abs=5e-5
    )
    assert view.page.locator(".panel .scale").count() == len(panels)  # a scale each
    assert "hidden by the mask" not in view.page.locator("#bar").inner_text()
    view.clean()
