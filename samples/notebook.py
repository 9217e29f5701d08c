"""Remake samples/notebook.ipynb: its cells run by a fresh IPython kernel (nbclient), written
with their outputs, so that a code host shows them without running anything; and
samples/notebook.png, its top as nbconvert writes it, in Chromium, hovering a cell. Run from
the repository root:  python samples/notebook.py   (samples/make.py runs it too)
"""

from pathlib import Path

import nbclient
import nbformat

HERE = Path(__file__).resolve().parent
SENTENCE = "The cat sat on the mat"

CELLS = [
    (
        "markdown",
        """# attnviz in a notebook

What attnviz's Python API returns shows itself: a run (a `Trace`) and the views as the
interactive page that `-o x.html` writes, inline and offline (hover a cell for its weight, a
token for its row and column; click a panel to enlarge it); the views with no page as their
figure. Nothing is fetched from anywhere: the page carries its data, script and styles.""",
    ),
    (
        "code",
        f"""import attnviz

trace = attnviz.attend("{SENTENCE}", heads=4, d_model=64)
trace""",
    ),
    (
        "markdown",
        """The numbers are NumPy arrays: head 0's queries × keys, each row summing to
1, the keys after each query exactly 0 under the causal mask.""",
    ),
    ("code", "trace.weights[0].round(3)"),
    (
        "markdown",
        """Any command line's view, with that command's options, is
`attnviz.view(...)`: here run A (the causal mask) against run B (no mask), and B − A.""",
    ),
    ("code", f"""attnviz.view('compare "{SENTENCE}" --heads 4 --d-model 64 --head 0,1')"""),
    (
        "markdown",
        """A view with no page (head statistics, the rollout, why √d_k) shows its
figure; `attnviz.figure(obj, **style)` gives the Matplotlib figure of anything, drawn as
`-o x.png` draws it.""",
    ),
    ("code", f"""attnviz.view('stats "{SENTENCE}" --heads 4 --d-model 64')"""),
    ("code", """attnviz.figure(trace, theme="dark")"""),
    (
        "markdown",
        """`attnviz.show(obj)` shows one where the notebook would not, in a loop or a
function:""",
    ),
    (
        "code",
        f"""for mask in ("causal", "window=2"):
    attnviz.show(attnviz.attend("{SENTENCE}", heads=2, d_model=64, mask=mask))""",
    ),
    (
        "markdown",
        """A checkpoint works the same way, from a local folder:
`attnviz.view('heatmap "The cat sat on the mat." --model path/to/all-MiniLM-L6-v2 --layer all')`
shows every layer and head.""",
    ),
]


def build(path: Path = HERE / "notebook.ipynb") -> None:
    nb = nbformat.v4.new_notebook()
    make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}
    nb.cells = [make[kind](text) for kind, text in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # fmt: skip
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(HERE.parent)}}).execute()  # fmt: skip
    for n, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{n}"  # stable ids: the file changes only where its outputs do
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)


def screenshot(path: Path = HERE / "notebook.ipynb", png: Path = HERE / "notebook.png") -> None:
    """The notebook as nbconvert's lab template writes it (without its CDN scripts), in
    Debian's Chromium: the first output, hovering a cell of head 0."""
    import tempfile

    from nbconvert import HTMLExporter
    from playwright.sync_api import sync_playwright

    fixtures = HERE.parent / "tests" / "fixtures"
    exporter = HTMLExporter(template_file="offline.html.j2", extra_template_paths=[str(fixtures)])
    page = Path(tempfile.mkdtemp()) / "notebook.html"
    page.write_text(exporter.from_notebook_node(nbformat.read(path, 4))[0], encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
        tab = browser.new_page(viewport={"width": 1100, "height": 760})
        tab.goto(page.as_uri())
        frame = next(f for f in tab.frames if f.parent_frame is not None)
        box = frame.locator("canvas[data-rows]").first.bounding_box()
        assert box is not None
        frame.locator(".rows span").nth(2).hover()  # "sat": its row and column light up
        tab.mouse.move(box["x"] + box["width"] * 0.42, box["y"] + box["height"] * 0.58)
        tab.screenshot(path=str(png))
        browser.close()


if __name__ == "__main__":
    build()
    print("samples/notebook.ipynb")
    screenshot()
    print("screenshot of samples/notebook.ipynb > samples/notebook.png")
