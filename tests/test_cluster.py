"""survey --scheduler: the corpus on a real Dask cluster (a LocalCluster of two worker
processes on loopback), against the same survey on one core."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from attnviz.cli import app
from attnviz.corpus import Source, survey
from attnviz.errors import ConfigError, Interrupted
from attnviz.trace import AttentionConfig, Pretrained, Seeded

distributed = pytest.importorskip("distributed")

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parent / "fixtures"
WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "in", "park", ",", ".", "it", "was"]


def corpus(n, seed=0):
    """``n`` lines of words, some empty (skipped and counted), of 3 to 20 words."""
    import random

    rng = random.Random(seed)
    return "\n".join("" if i % 17 == 5 else " ".join(rng.choices(WORDS, k=rng.randint(3, 20)))
                     for i in range(n)) + "\n"  # fmt: skip


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as c:  # fmt: skip
        yield c


def json_of(*args):
    result = runner.invoke(app, ["survey", *args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("model", ["seeded", "bert-tiny", "minilm"])
def test_the_cluster_gives_the_bytes_of_one_core(model, cluster, tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(corpus(400), encoding="utf-8")
    run = ["--file", str(path)]
    if model == "bert-tiny":
        run += ["--model", str(FIXTURES / "bert-tiny")]
    elif model == "minilm":
        from fixtures.folders import INSTALL, minilm_folder

        if minilm_folder() is None:
            pytest.skip(f"REAL MODEL TESTS SKIPPED: {INSTALL}")
        run += ["--model", str(minilm_folder()), "--words"]
    else:
        run += ["--heads", "4", "--d-model", "32"]
    one = json_of(*run, "--jobs", "1")
    assert '"texts": 376' in one  # 24 empty lines skipped
    assert json_of(*run, "--scheduler", cluster.scheduler_address) == one
    env = runner.invoke(app, ["survey", *run, "--format", "json"],
                        env={"DASK_SCHEDULER_ADDRESS": cluster.scheduler_address})  # fmt: skip
    assert env.exit_code == 0 and env.stdout == one


def source():
    return Source(AttentionConfig(source=Seeded(heads=4, d_model=32)), False, 512, 2**30)


def test_a_worker_killed_mid_run_gives_the_same_sums(cluster):
    texts = corpus(1200, seed=1).splitlines()
    alone = survey(source(), iter(texts), 1)
    with distributed.Client(cluster.scheduler_address) as client:
        pids = client.run(os.getpid)
        victim = sorted(pids.values())[0]
        heard = []

        def bar():
            heard.append(1)
            if len(heard) == 100:  # 3 chunks done, the next ones in flight on both workers
                os.kill(victim, signal.SIGKILL)

        spread = survey(source(), iter(texts), 1, bar, cluster.scheduler_address)
        client.wait_for_workers(2, timeout=60)
        assert victim not in client.run(os.getpid).values()  # it died, its nanny made another
        log = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.transition_log))
        lost = [
            t for t in log if t[0].startswith("on_worker-") and t[1:3] == ("processing", "released")
        ]
        assert lost  # chunks it was running went back, and ran again elsewhere
    assert spread.skipped == alone.skipped and spread.used == alone.used == 1129
    for name, value in alone.tally.__dict__.items():
        assert _same(value, spread.tally.__dict__[name]), name


def _same(a, b):
    import numpy as np

    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)  # bit for bit
    return a == b


def test_ctrl_c_cancels_the_clusters_work(cluster):
    texts = corpus(3000, seed=2).splitlines()

    def bar():
        raise KeyboardInterrupt

    with pytest.raises(Interrupted, match="interrupted after 1 texts"):
        survey(source(), iter(texts), 1, bar, cluster.scheduler_address)
    with distributed.Client(cluster.scheduler_address) as client:
        deadline = time.monotonic() + 30
        while client.run_on_scheduler(_tasks) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.run_on_scheduler(_tasks) == 0  # nothing left running or waiting


def _tasks(dask_scheduler):
    return sum(1 for t in dask_scheduler.tasks.values() if t.state in ("processing", "waiting",
                                                                        "queued", "no-worker"))  # fmt: skip


def test_bad_schedulers_are_one_line(tmp_path, cluster):
    path = tmp_path / "corpus.txt"
    path.write_text(corpus(10), encoding="utf-8")
    start = time.monotonic()
    refused = runner.invoke(
        app, ["survey", "--file", str(path), "--scheduler", "tcp://127.0.0.1:9"]
    )
    assert refused.exit_code == 1 and time.monotonic() - start < 20
    assert refused.stderr.startswith("attnviz: error: cannot reach the Dask scheduler at "
                                     "tcp://127.0.0.1:9 (--scheduler, or DASK_SCHEDULER_ADDRESS) within 5 s")  # fmt: skip
    assert refused.stderr.count("\n") == 1
    for bad, said in [("nowhere", "is not a scheduler's address"),
                      ("foo://127.0.0.1:1", "--scheduler 'foo://127.0.0.1:1'")]:  # fmt: skip
        result = runner.invoke(app, ["survey", "--file", str(path), "--scheduler", bad])
        assert result.exit_code == 2 and said in result.stderr, result.stderr
    both = runner.invoke(app, ["survey", "--file", str(path), "--jobs", "2", "--scheduler",
                               cluster.scheduler_address])  # fmt: skip
    assert both.exit_code == 2 and "--jobs counts this machine's cores" in both.stderr


def test_without_a_scheduler_nothing_of_dask_is_imported(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(corpus(10), encoding="utf-8")
    code = ("import sys; from typer.testing import CliRunner; from attnviz.cli import app; "
            f"r = CliRunner().invoke(app, ['survey', '--file', {str(path)!r}, '--format', 'json']); "
            "print(r.exit_code, sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed'}))")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.split("\n")[0] == "0 []", out.stderr


def test_a_model_a_worker_cannot_open_is_one_line(cluster, tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(corpus(10), encoding="utf-8")
    missing = tmp_path / "gone"
    config = AttentionConfig(mask=("none",), dtype="float32", source=Pretrained(str(missing)))
    with pytest.raises(ConfigError, match="gone"):
        survey(Source(config, False, 512, 2**30), iter(["a b c"]), 1, None,
               cluster.scheduler_address)  # fmt: skip
