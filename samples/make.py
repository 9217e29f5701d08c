"""Remake every figure and captured terminal view that the README shows.

Run from the repository root:  python samples/make.py
Each entry is the exact command the README prints next to its output.
"""

import os
import shlex
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

PLANTED = (
    '"The cat sat on the mat because the cat was tired" --plant 0=previous --plant 1=self'
    " --plant 2=first --plant 3=uniform --plant 4=same"
)
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
    'attnviz heatmap "The cat sat on the mat" --model tests/fixtures/bert-tiny --layer all'
    " -o samples/model.png",
    'attnviz rollout "The cat sat on the mat" --model tests/fixtures/gpt2-tiny'
    " -o samples/rollout.png",
]
TERMINAL = {
    "samples/cat-table.txt": 'attnviz heatmap "The cat sat on the mat" --head 0',
    "samples/compare.txt": 'attnviz compare "The cat sat on the mat" --head 0',
    "samples/steps-query.txt": 'attnviz steps "The cat sat on the mat" --head 0 --query 3'
    " --columns 4",
    "samples/planted-stats.txt": f"attnviz stats {PLANTED} --head 0,1,2,3,4,5",
    "samples/long-top.txt": "attnviz heatmap --file samples/texts/en-long.txt --plant 1=same"
    " --head 1 --format top --queries 470:484",
}


def run(command: str) -> str:
    """Run one README command with this Python's attnviz; return its standard output."""
    args = shlex.split(command)
    assert args[0] == "attnviz"
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "attnviz", *args[1:]],
        cwd=HERE.parent,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def main() -> None:
    for command in FIGURES:
        run(command)
        print(command)
    for path, command in TERMINAL.items():
        (HERE.parent / path).write_text(f"$ {command}\n{run(command)}", encoding="utf-8")
        print(command, ">", path)


if __name__ == "__main__":
    main()
