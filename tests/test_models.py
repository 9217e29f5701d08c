"""Real checkpoints (--model): the NumPy forward pass against the attentions transformers
computed for the tiny fixtures (tests/fixtures/make.py), the cache lookup and every error."""

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from panels import panels_of
from typer.testing import CliRunner

import attnviz
from attnviz.cli import app
from attnviz.errors import ConfigError
from attnviz.models.files import cache_root, find_model
from attnviz.models.tokenizer import JOIN
from attnviz.pipeline import run
from attnviz.trace import AttentionConfig, Pretrained

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEXTS = json.loads((FIXTURES / "texts.json").read_text(encoding="utf-8"))
BERT, GPT2 = str(FIXTURES / "bert-tiny"), str(FIXTURES / "gpt2-tiny")
runner = CliRunner()


def model_run(model, text, layer=None, mask=("none",), **kw):
    return run(text, AttentionConfig(mask=mask, source=Pretrained(model, layer), **kw))


@pytest.mark.parametrize("folder, reference", [("bert-tiny", "bert-tiny"),
                         ("bert-vocab", "bert-tiny"), ("gpt2-tiny", "gpt2-tiny")])  # fmt: skip
@pytest.mark.parametrize("n", range(len(TEXTS)))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_layer_and_head_equals_transformers(folder, reference, n, dtype):
    """bert-vocab has only vocab.txt and its tensors under "bert.": the same numbers."""
    expected = np.load(FIXTURES / f"{reference}-{n}.npz")
    trace = model_run(str(FIXTURES / folder), TEXTS[n], dtype=dtype)
    assert trace.model.layer_weights.dtype == dtype and trace.x.dtype == dtype
    np.testing.assert_allclose(trace.model.layer_weights, expected["attentions"], atol=1e-5)
    assert trace.model.layer_weights.shape[:2] == (2, 4)


def test_the_command_line_runs_a_checkpoint_in_float32_unless_told(tmp_path):
    """float32 is the checkpoint's own precision (and transformers'); --dtype float64 asks for
    more; seeded runs keep float64."""
    for extra, dtype in (([], "float32"), (["--dtype", "float64"], "float64")):
        out = tmp_path / f"{dtype}.npz"
        result = runner.invoke(app, ["export", TEXTS[0], "--model", BERT, "-o", str(out), *extra])
        assert result.exit_code == 0, result.output
        with np.load(out) as saved:
            assert saved["weights"].dtype == dtype and saved["layer_weights"].dtype == dtype
    seeded = tmp_path / "seeded.npz"
    assert runner.invoke(app, ["export", "a b c", "-o", str(seeded)]).exit_code == 0
    with np.load(seeded) as saved:
        assert saved["weights"].dtype == "float64"


def test_the_trace_of_a_layer_recomputes_its_own_weights():
    for model in (BERT, GPT2):
        for layer in (0, 1):
            trace = model_run(model, TEXTS[2], layer=layer)
            assert trace.config.source.layer == layer and trace.heads == 4
            np.testing.assert_array_equal(trace.weights, trace.model.layer_weights[layer])
            for h in range(4):  # Q, K from X, W and b: the stages steps shows
                np.testing.assert_allclose(attnviz.softmax(trace.masked(h)), trace.weights[h],
                                           atol=1e-12)  # fmt: skip
            np.testing.assert_allclose(trace.head_outputs, trace.weights @ np.stack(
                [trace.v(h) for h in range(4)]), atol=1e-12)  # fmt: skip


def test_masks_the_model_own_and_the_users():
    gpt = model_run(GPT2, TEXTS[0])
    assert gpt.config.mask == ("causal",) and not np.triu(gpt.model.layer_weights[1, 0], 1).any()
    bert = model_run(BERT, TEXTS[0])
    assert bert.config.mask == ("none",) and bert.allowed.all()
    blind = model_run(BERT, TEXTS[0], mask=("causal",))  # what if BERT could not see ahead
    assert blind.config.mask == ("causal",)
    assert not np.triu(blind.model.layer_weights, 1).any()
    np.testing.assert_allclose(blind.model.layer_weights.sum(-1), 1, atol=1e-12)
    windowed = model_run(GPT2, TEXTS[2], mask=("window=2",))
    assert windowed.config.mask == ("window=2",)  # a causal window: "causal" adds nothing
    assert (windowed.model.layer_weights[:, :, ~windowed.allowed] == 0).all()


def test_tokens_cleaned_for_labels_raw_in_exports(tmp_path):
    bert = model_run(BERT, "the tired cat")
    assert bert.model.raw_tokens == ("[CLS]", "the", "ti", "##red", "cat", "[SEP]")
    assert bert.texts == ["[CLS]", "the", "ti", JOIN + "red", "cat", "[SEP]"]
    assert [t.special for t in bert.tokens] == [True, False, False, False, False, True]
    gpt = model_run(GPT2, "The cat sat")
    assert gpt.model.raw_tokens[1].startswith("Ġ") and gpt.texts[:2] == ["The", "cat"]
    attnviz.save(bert, tmp_path / "b.npz")
    npz = np.load(tmp_path / "b.npz")
    assert npz["raw_tokens"].tolist() == list(bert.model.raw_tokens)
    assert npz["layer_weights"].shape == (2, 4, 6, 6)
    assert json.loads(str(npz["model_config"][()]))["config"]["model_type"] == "bert"
    back = attnviz.load(tmp_path / "b.npz")
    assert back.model.raw_tokens == bert.model.raw_tokens and back.texts == bert.texts
    np.testing.assert_array_equal(back.k(2), bert.k(2))  # the biases came back too


def fake_cache(root, name="acme/tiny-bert"):
    repo = root / ("models--" + name.replace("/", "--"))
    snap = repo / "snapshots" / "0123abcd"
    shutil.copytree(BERT, snap)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    return snap


def test_model_ids_are_found_in_the_local_cache(tmp_path, monkeypatch):
    for var in ("HF_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "huggingface" / "hub"
    snap = fake_cache(tmp_path / "home" / ".cache" / "huggingface" / "hub")
    assert find_model("acme/tiny-bert") == snap
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert cache_root() == tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    snap = fake_cache(tmp_path / "hub", "tiny")
    trace = model_run("tiny", TEXTS[0])
    np.testing.assert_allclose(trace.model.layer_weights,
                               np.load(FIXTURES / "bert-tiny-0.npz")["attentions"], atol=1e-5)  # fmt: skip
    with pytest.raises(ConfigError, match="not in the Hugging Face cache") as e:
        find_model("acme/missing")
    assert str(tmp_path / "hub" / "models--acme--missing") in str(e.value)
    (snap.parent.parent / "refs" / "main").unlink()  # no ref: the snapshot with a config.json
    assert find_model("tiny") == snap


def bf16_file(src, dst):
    """Write the tensors of ``src`` as bfloat16 (rounded to nearest even), by hand."""
    from safetensors.numpy import load_file

    tensors = load_file(src)
    header, chunks, offset = {}, [], 0
    for name, a in tensors.items():
        bits = a.astype(np.float32).view(np.uint32)
        rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")
        data = rounded.tobytes()
        header[name] = {"dtype": "BF16", "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}  # fmt: skip
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    Path(dst).write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))
    return {
        k: (v.astype(np.float32).view(np.uint32) >> 16 << 16).view(np.float32)
        for k, v in tensors.items()
    }


def test_float16_and_bfloat16_checkpoints(tmp_path):
    from safetensors.numpy import load_file, save_file

    from attnviz.models.files import Tensors

    half = tmp_path / "half"
    shutil.copytree(BERT, half)
    tensors = load_file(half / "model.safetensors")
    save_file({k: v.astype(np.float16) for k, v in tensors.items()}, half / "model.safetensors")
    a = model_run(str(half), TEXTS[0]).model.layer_weights
    brain = tmp_path / "brain"
    shutil.copytree(BERT, brain)
    bf16_file(BERT + "/model.safetensors", brain / "model.safetensors")
    b = model_run(str(brain), TEXTS[0]).model.layer_weights
    expected = np.load(FIXTURES / "bert-tiny-0.npz")["attentions"]
    assert np.abs(a - expected).max() < 0.02 and np.abs(b - expected).max() < 0.05
    read = Tensors(brain, ("", "bert."))("embeddings.word_embeddings.weight")
    assert read.dtype == np.float32  # the 16 high bits of float32, exactly
    bits = tensors["embeddings.word_embeddings.weight"].view(np.uint32)
    assert (np.abs(read.view(np.uint32).astype(np.int64) - (bits >> 16 << 16)) <= 1 << 16).all()


def cli(*args):
    return runner.invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.mark.parametrize("command", ["heatmap", "compare", "steps", "stats", "export"])
def test_every_command_takes_a_model(command, tmp_path):
    extra = {"export": ["-o", str(tmp_path / "run.npz")], "compare": ["--against", "window=2"]}
    extra = extra.get(command, [])
    result = cli(command, TEXTS[0], "--model", GPT2, "--layer", "0", *extra)
    assert result.exit_code == 0, result.stderr
    if command not in ("export", "stats"):
        assert "The" in result.stdout


def test_model_figure_title_names_the_model_and_layer(tmp_path):
    result = cli("heatmap", TEXTS[0], "--model", BERT, "-o", str(tmp_path / "b.png"))
    assert result.exit_code == 0, result.stderr
    fig = attnviz.heatmap_figure(model_run(BERT, TEXTS[0]))
    assert fig.get_suptitle().startswith("bert-tiny · layer 1 · 4 heads · d_model 32")


def write_config(folder, **changes):
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    "setup, args, message",
    [
        (None, ["--model", "no/such-model"], "not in the Hugging Face cache"),
        (None, ["--model", "./no-such-folder"], "'./no-such-folder': no such folder"),
        (None, ["--model", "no/such/folder/"], "'no/such/folder/': no such folder"),
        (None, ["--model", BERT + "/config.json"], "is a file, neither a folder nor a GGUF file"),
        ("xlnet", [], "model_type 'xlnet' is not supported; attnviz runs bert"),
        ("no-config", [], "has no config.json"),
        ("no-weights", [], "no model.safetensors"),
        ("no-tokenizer", [], "no tokenizer.json"),
        ("short", [], "more tokens than the 5 positions"),
        (None, ["--model", BERT, "--layer", "2"], "no layer 2"),
        (None, ["--model", BERT, "--layer", "x"], "--layer takes"),
        (None, ["--layer", "1"], "--layer chooses a layer of a --model"),
        (None, ["--model", BERT, "--plant", "0=self"], "--plant is an option of the seeded model"),
        (None, ["--model", BERT, "--head", "4"], "no head 4"),
    ],
)
def test_model_errors_exit_2_with_one_line(tmp_path, setup, args, message):
    folder = tmp_path / "m"
    if setup:
        shutil.copytree(GPT2 if setup == "no-tokenizer" else BERT, folder)
        args = ["--model", str(folder)]
    if setup == "xlnet":
        write_config(folder, model_type="xlnet")
    elif setup == "no-config":
        (folder / "config.json").unlink()
    elif setup == "no-weights":
        (folder / "model.safetensors").unlink()
    elif setup == "no-tokenizer":
        (folder / "tokenizer.json").unlink()
    elif setup == "short":
        write_config(folder, max_position_embeddings=5)
    out = tmp_path / "out.png"
    result = cli("heatmap", TEXTS[0], *args, "-o", str(out))
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_without_the_extra_model_says_what_to_install():
    code = (
        "import sys; sys.modules['safetensors'] = None\n"
        "from attnviz.cli import app\n"
        f"app(['heatmap', 'the cat', '--model', {BERT!r}])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert "pip install 'attnviz[models]'" in done.stderr


def test_nothing_imports_pytorch():
    code = (
        "import sys\n"
        "from attnviz.cli import app\n"
        f"try: app(['heatmap', 'the cat', '--model', {GPT2!r}, '--layer', 'all', '--format', 'json'])\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stderr


# --- the model view, rollout, --hide-special ----------------------------------------------


def test_model_view_figure_is_layers_by_heads():
    from attnviz.render.figures.heatmap import model_figure

    trace = model_run(BERT, TEXTS[0])
    fig = model_figure(trace, [1, 3])
    images = panels_of(fig)
    arrays = [ax.get_images()[0].get_array() for ax in images]
    assert len(arrays) == 4  # 2 layers x 2 heads, in reading order
    for n, (layer, head) in enumerate([(0, 1), (0, 3), (1, 1), (1, 3)]):
        np.testing.assert_allclose(arrays[n], trace.model.layer_weights[layer, head])
    titles = [ax.get_title() for ax in images]
    assert titles == ["head 1", "3", "", ""]  # the word once, then numbers like an axis
    rows = [t.get_text() for ax in images for t in ax.texts if t.get_gid() == "query-title"]
    assert rows == ["layer 0", "layer 1"]
    assert "layer 1" not in fig.get_suptitle()  # every layer: the title names none


def test_model_view_in_the_terminal_and_its_errors(tmp_path):
    result = cli("heatmap", TEXTS[0], "--model", GPT2, "--layer", "all")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.count("layer 0") == 1 and out.count("layer 1") == 1 and "head 3" in out
    data = json.loads(cli("heatmap", TEXTS[0], "--model", GPT2, "--layer", "all", "--head",
                          "2", "--format", "json").stdout)  # fmt: skip
    expected = np.load(FIXTURES / "gpt2-tiny-0.npz")["attentions"][:, [2]]
    np.testing.assert_allclose(data["layer_weights"], expected, atol=1e-5)
    for args in (["--format", "top"], ["--window", "0:3"]):
        bad = cli("heatmap", TEXTS[0], "--model", GPT2, "--layer", "all", *args)
        assert bad.exit_code == 2 and "--layer all draws every layer" in bad.stderr
    bad = cli("steps", TEXTS[0], "--model", GPT2, "--layer", "all")
    assert bad.exit_code == 2 and "model view" in bad.stderr
    seeded = cli("heatmap", "a b c", "--layer", "all", "--heads", "2", "--d-model", "8")
    assert seeded.exit_code == 0 and "layer 0" in seeded.stdout  # one layer
    out = tmp_path / "model.png"
    assert (
        cli("heatmap", TEXTS[0], "--model", BERT, "--layer", "all", "-o", str(out)).exit_code == 0
    )
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_rollout_by_hand():
    from attnviz.stats import rollout

    eye = np.eye(3)
    # one layer, two heads: the mean, mixed with I, rows renormalised
    a = np.array([[[1, 0, 0], [1, 0, 0], [0, 1, 0]], [[1, 0, 0], [0, 1, 0], [0, 0, 1]]], float)
    mean = a.mean(axis=0)
    expected = 0.5 * mean + 0.5 * eye
    np.testing.assert_allclose(rollout(a[None]), expected, atol=1e-15)
    # two layers: the second's mixed matrix times the first's
    b = np.array([[[0, 0, 1], [0, 0, 1], [0, 0, 1]]] * 2, float)
    second = 0.5 * b[0] + 0.5 * eye
    np.testing.assert_allclose(rollout(np.stack([a, b])), second @ expected, atol=1e-15)
    # a query with no key (a row of zeros) keeps its own identity row
    empty = np.zeros((1, 1, 2, 2))
    np.testing.assert_array_equal(rollout(empty), np.eye(2))
    # rows of a rollout sum to 1; causal stays causal
    trace = model_run(GPT2, TEXTS[2])
    flow = rollout(trace.model.layer_weights)
    np.testing.assert_allclose(flow.sum(-1), 1, atol=1e-12)
    assert not np.triu(flow, 1).any()


def test_rollout_command(tmp_path):
    result = cli("rollout", TEXTS[0], "--model", BERT, "--format", "json")
    assert result.exit_code == 0, result.stderr
    from attnviz.stats import rollout

    data = json.loads(result.stdout)
    expected = rollout(np.load(FIXTURES / "bert-tiny-0.npz")["attentions"])
    assert data["layers"] == 2
    np.testing.assert_allclose(data["rollout"], expected, atol=1e-5)
    table = cli("rollout", TEXTS[0], "--model", BERT).stdout
    assert "attention rollout · layers: 2" in table and "[CLS]" in table
    top = cli("rollout", "The cat sat", "--format", "top", "--top", "1").stdout
    assert "layers: 1" in top and len([x for x in top.splitlines() if "->" in x]) == 3
    out = tmp_path / "r.svg"
    assert cli("rollout", TEXTS[0], "--model", GPT2, "-o", str(out)).exit_code == 0
    assert "attention rollout" in out.read_text()


def test_hide_special_drops_them_and_renormalises_rows():
    from attnviz.stats import hide_special

    trace = model_run(BERT, TEXTS[0])
    hidden = hide_special(trace)
    keep = [i for i, t in enumerate(trace.tokens) if not t.special]
    assert hidden.texts == [trace.texts[i] for i in keep] and hidden.special_hidden == 2
    for h in range(4):
        part = trace.weights[h][np.ix_(keep, keep)]
        np.testing.assert_allclose(hidden.weights[h], part / part.sum(-1, keepdims=True),
                                   atol=1e-15)  # fmt: skip
        # a softmax over the remaining keys alone gives the same rows
        np.testing.assert_allclose(attnviz.softmax(hidden.masked(h)), hidden.weights[h],
                                   atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(hidden.model.layer_weights.sum(-1), 1, atol=1e-12)
    assert hidden.model.raw_tokens == tuple(trace.model.raw_tokens[i] for i in keep)
    assert hide_special(attnviz.attend("a b")).texts == ["a", "b"]  # nothing special: as is
    result = cli("heatmap", TEXTS[0], "--model", BERT, "--hide-special", "--head", "0")
    assert (
        "[CLS]" not in result.stdout
        and "2 special tokens hidden, rows renormalised" in result.stdout
    )
    fig = attnviz.heatmap_figure(hidden)
    assert "2 special tokens hidden" in fig.get_suptitle().replace("\n", " ")


def test_sharded_checkpoint_with_its_index(tmp_path):
    from safetensors.numpy import load_file, save_file

    folder = tmp_path / "sharded"
    shutil.copytree(GPT2, folder)
    tensors = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    names = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": names[::2],
              "model-00002-of-00002.safetensors": names[1::2]}  # fmt: skip
    weight_map = {}
    for file, part in shards.items():
        save_file({n: tensors[n] for n in part}, folder / file)
        weight_map.update(dict.fromkeys(part, file))
    index = {"metadata": {}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    trace = model_run(str(folder), TEXTS[1])
    np.testing.assert_allclose(trace.model.layer_weights,
                               np.load(FIXTURES / "gpt2-tiny-1.npz")["attentions"], atol=1e-5)  # fmt: skip


def test_erf_is_within_two_ulp_of_math_erf():
    """GELU's erf, vectorised (Taylor pieces): against the C library's, on a dense grid, tiny
    and huge arguments, both signs, and the shapes it is given."""
    import math

    from attnviz.models.layers import erf

    grid = np.concatenate([np.linspace(-8, 8, 200_001), np.geomspace(1e-300, 8, 3000),
                           -np.geomspace(1e-300, 8, 3000), [0.0, 5.999999, 6.0, 1e300, np.inf]])  # fmt: skip
    want = np.array([math.erf(v) for v in grid])
    got = erf(grid)
    assert (np.abs(got - want) <= 2 * np.spacing(np.abs(want))).all()
    assert erf(np.zeros((2, 3), dtype=np.float32)).shape == (2, 3)
    assert erf(np.array([-np.inf]))[0] == -1.0 and np.isnan(erf(np.array([np.nan]))[0])


def test_float32_erf_is_within_3e_7_of_math_erf():
    """float32 runs take erf in float32 (as PyTorch's float32 kernels do): Abramowitz and
    Stegun's formula, within 3e-7 everywhere, exactly ±1 far out, NaN kept; the same values
    a chunk at a time as one at a time."""
    import math

    from attnviz.models.layers import erf

    grid = np.concatenate([np.linspace(-7, 7, 100_001), [1e-30, 3.99, 4.0, 40.0]]).astype(
        np.float32
    )
    want = np.array([math.erf(float(v)) for v in grid])
    got = erf(grid)
    assert got.dtype == np.float32 and np.abs(got.astype(np.float64) - want).max() < 3e-7
    assert erf(np.array([np.inf, -np.inf], dtype=np.float32)).tolist() == [1.0, -1.0]
    assert np.isnan(erf(np.array([np.nan], dtype=np.float32))[0])
    rows = grid[:50_000].reshape(500, 100)  # more than a chunk, in two dimensions
    assert np.array_equal(erf(rows), np.array([erf(row) for row in rows]))
