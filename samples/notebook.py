"""Remake samples/notebook.ipynb: its cells run by a fresh IPython kernel (nbclient), written
with their outputs, so that a code host shows them without running anything. Run from the
repository root:  python samples/notebook.py   (samples/make.py runs it too)
"""

from pathlib import Path

import nbclient
import nbformat

HERE = Path(__file__).resolve().parent
SENTENCE = "The cat sat on the mat"

CELLS = [
    ("markdown", """# attnviz in a notebook

What attnviz's Python API returns shows itself: a run (a `Trace`) and the views as the
interactive page that `-o x.html` writes, inline and offline (hover a cell for its weight, a
token for its row and column; click a panel to enlarge it); the views with no page as their
figure. Nothing is fetched from anywhere: the page carries its data, script and styles."""),
    ("code", f"""import attnviz

trace = attnviz.attend("{SENTENCE}", heads=4, d_model=64)
trace"""),
    ("markdown", """The numbers are NumPy arrays: head 0's queries × keys, each row summing to
1, the keys after each query exactly 0 under the causal mask."""),
    ("code", "trace.weights[0].round(3)"),
    ("markdown", """Any command line's view, with that command's options, is
`attnviz.view(...)`: here run A (the causal mask) against run B (no mask), and B − A."""),
    ("code", f"""attnviz.view('compare "{SENTENCE}" --heads 4 --d-model 64 --head 0,1')"""),
    ("markdown", """A view with no page (head statistics, the rollout, why √d_k) shows its
figure; `attnviz.figure(obj, **style)` gives the Matplotlib figure of anything, drawn as
`-o x.png` draws it."""),
    ("code", f"""attnviz.view('stats "{SENTENCE}" --heads 4 --d-model 64')"""),
    ("code", """attnviz.figure(trace, theme="dark")"""),
    ("markdown", """`attnviz.show(obj)` shows one where the notebook would not, in a loop or a
function:"""),
    ("code", f"""for mask in ("causal", "window=2"):
    attnviz.show(attnviz.attend("{SENTENCE}", heads=2, d_model=64, mask=mask))"""),
    ("markdown", """A checkpoint works the same way, from a local folder:
`attnviz.view('heatmap "The cat sat on the mat." --model path/to/all-MiniLM-L6-v2 --layer all')`
shows every layer and head."""),
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


if __name__ == "__main__":
    build()
    print("samples/notebook.ipynb")
