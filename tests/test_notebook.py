"""attnviz in a notebook: what a Trace and the views give IPython's rich display, checked
against the files the command line writes; then a notebook run by a real kernel (ipykernel,
through nbclient), written as a page by nbconvert and opened in headless Chromium."""

import base64
import html.parser
import json
import shlex
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
from browser import Page
from typer.testing import CliRunner

import attnviz
from attnviz.cli import app
from attnviz.render.html import page
from attnviz.views.heatmap import heatmap_view

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent
SENTENCE = "The cat sat on the mat"
CORPUS = "The cat sat on the mat.\nA dog ran in the park.\nIt was tired.\n"
# one command line per kind of view that has a page
PAGES = {
    "heatmap": f'heatmap "{SENTENCE}"',
    "model": f'heatmap "{SENTENCE}" --model {FIXTURES}/bert-tiny --layer all',
    "blocks": f'heatmap "The cat sat" --model {FIXTURES}/t5-tiny --target "Le chat" --layer all',
    "compare": f'compare "{SENTENCE}" --head 0,1',
    "steps": f'steps "{SENTENCE}" --head 1 --heads 2 --d-model 8',
    "generation": f'generate "The cat" --model {FIXTURES}/llama-tiny --max-new-tokens 3',
    "survey": "survey --file {corpus} --heads 2 --d-model 8",
}
# and per kind that has none: a figure
PICTURES = {
    "stats": f'stats "{SENTENCE}" --heads 2 --d-model 8',
    "rollout": f'rollout "{SENTENCE}" --model {FIXTURES}/bert-tiny',
    "scaling": "scaling --dk 4 --dk 8 --rows 16 --keys 6",
}


def command(line, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    return line.format(corpus=corpus)


def written(line, out):
    """What the command line ``line`` writes with ``-o out``."""
    result = runner.invoke(app, [*shlex.split(line), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    return out.read_bytes()


class Tags(html.parser.HTMLParser):
    """The tags of an HTML fragment, with their attributes unescaped."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.data = [], []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        self.tags.append(("/" + tag, {}))

    def handle_data(self, data):
        self.data.append(data)


def srcdoc(fragment):
    """The page inside an inline output, which must be a line of text and one iframe."""
    tags = Tags(fragment)
    assert [t for t, _ in tags.tags] == ["div", "p", "/p", "iframe", "/iframe", "/div"]
    assert tags.tags[1][1]["data-attnviz"] == "note"
    return tags.tags[3][1]["srcdoc"]


def note(fragment):
    """The line a viewer shows that strips frames and scripts."""
    return "".join(Tags(fragment).data)


@pytest.mark.parametrize("kind", sorted(PAGES))
def test_each_view_shows_inline_the_page_its_command_writes(kind, tmp_path):
    line = command(PAGES[kind], tmp_path)
    view = attnviz.view(line)
    assert not hasattr(view, "_repr_png_")
    inline = view._repr_html_()
    assert srcdoc(inline) == written(line, tmp_path / "page.html").decode("utf-8")
    assert inline == view._repr_html_()  # the same bytes every time: no id, no date
    assert note(inline).startswith(view.title + ": an interactive page")


def test_a_trace_and_a_comparison_show_their_heatmap_and_their_comparison(tmp_path):
    trace = attnviz.attend(SENTENCE)
    assert (
        srcdoc(trace._repr_html_())
        == written(f'heatmap "{SENTENCE}"', tmp_path / "a.html").decode()
    )
    unmasked = attnviz.attend(SENTENCE, mask="none")
    cmp = attnviz.compare(trace, unmasked)
    assert (
        srcdoc(cmp._repr_html_()) == written(f'compare "{SENTENCE}"', tmp_path / "b.html").decode()
    )
    loaded = tmp_path / "run.npz"
    attnviz.save(trace, loaded)
    assert attnviz.load(loaded)._repr_html_() == trace._repr_html_()


def test_a_streamed_runs_pooled_heatmap_has_no_page_and_shows_its_figure(tmp_path):
    line = f"heatmap --file {ROOT}/samples/texts/en-long.txt --stream --head 0,1 --resolution 160"
    view = attnviz.view(line)
    assert view._repr_html_() is None  # the page would need every cell, which was pooled
    bundle = view._repr_mimebundle_()
    assert list(bundle) == ["image/png"] and bundle["image/png"] == written(
        line, tmp_path / "s.png"
    )


@pytest.mark.parametrize("kind", sorted(PICTURES))
def test_a_view_with_no_page_shows_the_figure_its_command_writes(kind, tmp_path):
    view = attnviz.view(PICTURES[kind])
    assert not hasattr(view, "_repr_html_")
    png = view._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png == written(PICTURES[kind], tmp_path / "f.png")
    with pytest.raises(attnviz.ConfigError, match=r"has no page; attnviz.figure\(obj\) draws it"):
        attnviz.inline(view)


def test_figure_is_the_figure_of_the_command_and_takes_the_style(tmp_path):
    from matplotlib.figure import Figure

    trace = attnviz.attend(SENTENCE, heads=2, d_model=8)
    fig = attnviz.figure(trace, preset="paper", theme="dark")
    assert isinstance(fig, Figure) and attnviz.figure(fig) is fig
    line = f'heatmap "{SENTENCE}" --heads 2 --d-model 8 --preset paper --theme dark'
    assert attnviz.png(fig) == written(line, tmp_path / "h.png")
    with pytest.raises(attnviz.ConfigError, match="this Figure is drawn already"):
        attnviz.figure(fig, cmap="magma")
    with pytest.raises(
        attnviz.ConfigError, match="dpi= is not an option here: give annotate, cmap"
    ):
        attnviz.figure(trace, dpi=300)
    with pytest.raises(attnviz.ConfigError, match="unknown theme 'sepia'"):
        attnviz.figure(trace, theme="sepia")


def test_the_text_a_notebook_shows_is_one_line():
    from IPython.lib.pretty import pretty

    trace = attnviz.attend(SENTENCE, heads=2, d_model=8)
    assert pretty(trace) == "<attnviz Trace: 6 tokens × 2 heads: The cat sat on the mat>"
    long = attnviz.attend(" ".join(["word"] * 20), heads=2, d_model=8)
    assert pretty(long).endswith("heads: " + " ".join(["word"] * 12) + " …>")
    view = heatmap_view(trace)
    assert pretty(view) == f"<attnviz HeatmapView: {view.title}>" and "\n" not in view.title
    cmp = attnviz.compare(trace, attnviz.attend(SENTENCE, heads=2, d_model=8, mask="none"))
    assert pretty(cmp).startswith("<attnviz Comparison: 6 tokens × 2 heads")


def test_hostile_tokens_and_titles_stay_inside_the_frame():
    trace = hostile(attnviz.attend("a b c d", tokenizer="whitespace", heads=2, d_model=8))
    title = '" onload="alert(4)" x="</iframe><script>alert(5)</script>\u2028'
    fragment = attnviz.inline(trace, title=title)
    inner = srcdoc(fragment)  # one iframe, its srcdoc whole: no quote or tag got out
    assert inner == page(heatmap_view(trace), title=title)
    assert Tags(fragment).tags[3][1]["title"] == title
    assert note(fragment).startswith(title + ": an interactive page, which shows where")
    for text in ("<img src=x", "</script><script>", "\u2028", 'onload="alert'):
        assert text not in inner.split('<script id="data"')[1]  # the data: escaped JSON


def hostile(trace):
    """``trace`` with the tokens a stranger's NPZ file could hold."""
    texts = ["</script><script>alert(1)</script>", "<img src=x onerror=alert(2)>", "a\u2028b",
             "\u2029</iframe>"]  # fmt: skip
    return replace(
        trace, tokens=tuple(replace(t, text=x) for t, x in zip(trace.tokens, texts, strict=True))
    )


def test_view_takes_a_command_line_and_refuses_what_it_cannot_keep(tmp_path):
    line = f'heatmap "{SENTENCE}" --heads 2 --d-model 8 --head 1'
    json_out = runner.invoke(app, [*shlex.split(line), "--format", "json"])
    assert attnviz.view("attnviz " + line).to_json() == json.loads(json_out.stdout)
    refusals = {
        f'heatmap "{SENTENCE}" -o x.png': "leave -o out",
        f'heatmap "{SENTENCE}" --format=json': "leave --format out",
        f'heatmap "{SENTENCE}" --cmap magma': "leave --cmap out and pass cmap=",
        f'tokens "{SENTENCE}"': "'tokens' is not a command with a view: give one of compare,",
        "": "no command: give one of",
        f'heatmap "{SENTENCE}" --frob': "No such option: --frob",
        f'heatmap "{SENTENCE}" --heads 2 --heads 4': "--heads is given more than once",
        f'heatmap "{SENTENCE}" --heads 3': "is not a multiple of",
        f'heatmap "{SENTENCE}" --max-tokens 2': "--max-tokens 2",  # the flag, not max_tokens=
    }
    for bad, said in refusals.items():
        with pytest.raises(attnviz.ConfigError, match=None) as e:
            attnviz.view(bad)
        assert said in str(e.value), (bad, str(e.value))
    assert not list(tmp_path.iterdir()) and not Path("x.png").exists()


def test_show_outside_a_notebook_opens_the_page_or_the_figure_in_the_browser(monkeypatch):
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    trace = attnviz.attend(SENTENCE, heads=2, d_model=8)
    try:
        path = attnviz.show(trace, theme="dark", title="two heads")
        assert opened == [path.as_uri()] and path.suffix == ".html"
        assert path.read_text("utf-8") == page(heatmap_view(trace), theme="dark", title="two heads")
        stats = attnviz.view(PICTURES["stats"])
        picture = attnviz.show(stats, preset="slides")
        assert picture.suffix == ".png"
        assert picture.read_bytes() == attnviz.png(stats, preset="slides")
    finally:
        for p in opened:
            Path(p.removeprefix("file://")).unlink()
    with pytest.raises(
        attnviz.ConfigError, match="preset= is not an option here: give cmap, theme, title"
    ):
        attnviz.show(trace, preset="slides")
    assert len(opened) == 2


# --- a notebook, run by a kernel, opened in Chromium --------------------------------------------

CELLS = [
    "import attnviz\ntrace = attnviz.attend('The cat sat on the mat', heads=4, d_model=16)\ntrace",
    "attnviz.view('compare \"The cat sat on the mat\" --heads 4 --d-model 16 --head 0,1')",
    "attnviz.figure(trace, preset='paper')",
    "attnviz.heatmap_figure(trace)",  # a Figure, with no pyplot imported
    "from dataclasses import replace\n"
    "texts = ['</script><script>alert(1)</script>', '<img src=x onerror=alert(2)>', 'a\\u2028b',"
    " '\\u2029</iframe>']\n"
    "run = attnviz.attend('a b c d', tokenizer='whitespace', heads=2, d_model=8)\n"
    "run = replace(run, tokens=tuple(replace(t, text=x) for t, x in zip(run.tokens, texts)))\n"
    "for theme in ('light', 'dark'):\n"
    "    attnviz.show(run, theme=theme, title='</script><img src=x onerror=alert(3)>\\u2028')",
]


def execute(cells, tmp_path):
    """The notebook of ``cells`` run by a fresh IPython kernel, and its page as nbconvert's lab
    template writes it (without the template's own CDN scripts)."""
    import nbclient
    from nbconvert import HTMLExporter

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    where = {"metadata": {"path": str(tmp_path)}}  # the kernel's working folder
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources=where).execute()
    exporter = HTMLExporter(template_file="offline.html.j2", extra_template_paths=[str(FIXTURES)])
    out = tmp_path / "notebook.html"
    out.write_text(exporter.from_notebook_node(nb)[0], encoding="utf-8")
    return nb, out


def outputs(nb, mime):
    return [o["data"][mime] for c in nb.cells for o in c.outputs if mime in o.get("data", {})]


def test_a_kernel_shows_each_view_inline_and_each_draws_in_chromium(browser, tmp_path):
    nb, out = execute(CELLS, tmp_path)
    assert [o["output_type"] for c in nb.cells for o in c.outputs if "text" in o] == []  # no stderr
    trace = attnviz.attend(SENTENCE, heads=4, d_model=16)
    shown = outputs(nb, "text/html")
    assert shown[0] == attnviz.inline(trace) and len(shown) == 4
    pngs = [base64.b64decode(p) for p in outputs(nb, "image/png")]  # the figures
    line = f'heatmap "{SENTENCE}" --heads 4 --d-model 16'
    assert len(pngs) == 2 and pngs[1] == written(line, tmp_path / "h.png")
    view = Page(browser, out, width=1100)
    frames = [f for f in view.page.frames if f.parent_frame is not None]
    assert len(frames) == 4
    # the heatmap: 4 panels drawn, a cell's weight under the pointer, the frame as tall as its page
    heat = frames[0]
    assert heat.locator("canvas[data-rows]").count() == 4
    assert colours(heat.locator("canvas[data-rows]").first) > 3
    assert hover(view.page, heat, 0, (5, 1), 6).endswith(
        f"attention weight: {trace.weights[0, 5, 1]:.4f}"
    )
    assert heat.evaluate("document.documentElement.scrollHeight <= window.innerHeight + 1")
    # the comparison beside it works on its own: its toggle, its tooltip, its canvases
    cmp = frames[1]
    assert hover(view.page, cmp, 0, (0, 5), 6).endswith("hidden by the mask")
    cmp.locator(".controls button").nth(1).click()
    assert "attention weight" in hover(view.page, cmp, 0, (0, 5), 6)
    assert heat.locator(".controls button").count() == 0  # the heatmap's page is untouched
    assert hover(view.page, heat, 1, (2, 2), 6).endswith(f"{trace.weights[1, 2, 2]:.4f}")
    # hostile tokens and titles: shown as text, nothing run, no element made of them
    for frame in frames[2:]:
        labels = frame.locator(".rows span").all_text_contents()
        assert labels[:2] == ["</script><scrip…", "<img src=x oner…"] and labels[2] == "a\\u2028b"
        assert frame.locator("h1").text_content() == "</script><img src=x onerror=alert(3)>\u2028"
        assert frame.locator("img").count() == 0 and frame.locator("script").count() == 2
        assert colours(frame.locator("canvas[data-rows]").first) > 3
    assert view.page.locator("img").count() == 2  # the figures', nbconvert's own <img>
    assert view.page.locator("[data-attnviz]").count() == 0  # each page removed its line
    view.page.wait_for_timeout(200)
    view.clean()  # no console error, no request, no dialog


def colours(canvas):
    """How many different colours a canvas holds (a blank one: 1)."""
    return canvas.evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " const seen = new Set(); for (let i = 0; i < d.length; i += 4)"
        " seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]); return seen.size; }"
    )


def hover(page, frame, n, cell, size):
    """The tooltip of cell (row, column) of panel ``n`` of a ``size`` × ``size`` panel."""
    canvas = frame.locator("canvas[data-rows]").nth(n)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    side = box["width"] / size
    page.mouse.move(box["x"] + (cell[1] + 0.5) * side, box["y"] + (cell[0] + 0.5) * side)
    return frame.locator("#tip").text_content()


def test_the_sample_notebook_holds_what_its_cells_give_today(tmp_path):
    """samples/notebook.ipynb is committed with its outputs (a code host shows them without
    running it): they are what a kernel gives now, the pages' numbers to the last few bits
    (another CPU's BLAS may round a product otherwise), the figures' sizes."""
    committed = nbformat.read(ROOT / "samples" / "notebook.ipynb", as_version=4)
    code = [c for c in committed.cells if c.cell_type == "code"]
    nb, _ = execute([c.source for c in code], tmp_path)
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    for old, new in zip(code, nb.cells, strict=True):
        assert [o["output_type"] for o in old.outputs] == [o["output_type"] for o in new.outputs]
        for a, b in zip(old.outputs, new.outputs, strict=True):
            assert a.get("text") == b.get("text"), old.source
            data_a, data_b = a.get("data", {}), b.get("data", {})
            assert sorted(data_a) == sorted(data_b) and data_a.get("text/plain") == data_b.get(
                "text/plain"
            )
            if "text/html" in data_a:
                same_page(srcdoc(data_a["text/html"]), srcdoc(data_b["text/html"]))
            if "image/png" in data_a:
                assert png_size(data_a["image/png"]) == png_size(data_b["image/png"])


def same_page(a, b):
    """Two pages alike but for the last bits of their numbers."""
    split = '<script id="data" type="application/json">'
    (head_a, rest_a), (head_b, rest_b) = a.split(split), b.split(split)
    (json_a, tail_a), (json_b, tail_b) = rest_a.split("</script>", 1), rest_b.split("</script>", 1)
    assert head_a == head_b and tail_a == tail_b
    close(json.loads(json_a), json.loads(json_b))


def close(a, b):
    if isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            close(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            close(x, y)
    else:
        assert a == b


def png_size(data):
    import struct

    raw = base64.b64decode(data)
    return struct.unpack(">II", raw[16:24])  # IHDR: width, height


def test_the_readme_notebook_example_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## In a notebook\n\n```python\n", 1)[1].split("```", 1)[0]
    names: dict = {}
    exec(compile(block, "README.md", "exec"), names)
    assert names["trace"].weights.shape == (4, 6, 6)
