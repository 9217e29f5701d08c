"""The memory budget holds: for a grid of commands × outputs × sizes, the peak resident memory
of the real run is no more than the estimate the budget is checked against, and the estimate
is not loose either (within a factor of 2 of the peak).

The estimate is read from the refusal a budget of one byte gives ("this run needs about ..."),
the peak from the operating system (the largest resident set of the child process).
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BERT = str(FIXTURES / "bert-tiny")
LOOSE = 2.0  # the estimate may be this many times the peak, no more

PEAK = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode)
"""


def words(n):
    return " ".join(f"w{i % 50}" for i in range(n))


def attnviz(*args):
    return [sys.executable, "-m", "attnviz", *args]


def estimate(args):
    done = subprocess.run(attnviz(*args, "--memory-budget", "1"), capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    found = re.search(r"needs about ([\d.]+) (MiB|GiB)", done.stderr)
    assert done.returncode == 1 and found, done.stderr
    return float(found.group(1)) * (2**20 if found.group(2) == "MiB" else 2**30)


def peak(args):
    done = subprocess.run([sys.executable, "-c", PEAK, *attnviz(*args)], capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    kib, code = done.stdout.split()
    assert code == "0", args
    return int(kib) * 1024


def cases():
    for n in (150, 400):
        text = words(n)
        for out in (["--format", "json"], ["--format", "csv"], ["-o", "OUT.html"],
                    ["-o", "OUT.png"], ["-o", "OUT.pdf"]):  # fmt: skip
            yield f"heatmap {n} {out[-1]}", ["heatmap", text, "--heads", "16", *out]
        for out in (["--format", "json"], ["-o", "OUT.html"], ["-o", "OUT.png"]):
            yield f"compare {n} {out[-1]}", ["compare", text, *out]
        for out in (["--format", "json"], ["--format", "table"], ["-o", "OUT.html"]):
            yield f"steps {n} {out[-1]}", ["steps", text, *out]
        yield f"stats {n}", ["stats", text, "--format", "json"]
        yield f"rollout {n}", ["rollout", text, "--format", "json"]
        yield f"export {n}", ["export", text, "-o", "OUT.json"]
    model = ["--model", BERT, "--layer", "all"]
    yield "model view json", ["heatmap", words(30), *model, "--format", "json"]
    yield "model view page", ["heatmap", words(30), *model, "-o", "OUT.html"]
    yield "dpi 600 pdf", ["heatmap", "a cat", "--dpi", "600", "-o", "OUT.pdf"]
    yield "lesson pdf", ["lesson", words(150), "-o", "OUT.pdf"]
    yield "dpi 1000 png", ["heatmap", "a cat", "--dpi", "1000", "-o", "OUT.png"]


CASES = list(cases())


@pytest.mark.parametrize("args", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_the_estimate_bounds_the_peak_memory(args, tmp_path):
    args = [a.replace("OUT", str(tmp_path / "out")) for a in args]
    need, used = estimate(args), peak(args)
    assert used <= need, f"peak {used / 2**20:.0f} MiB over the estimate {need / 2**20:.0f} MiB"
    assert need <= LOOSE * used, f"estimate {need / 2**20:.0f} MiB, peak {used / 2**20:.0f} MiB"
