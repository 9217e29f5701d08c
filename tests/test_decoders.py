"""The rotary decoders (Llama, Mistral, Qwen2, Qwen3, Gemma 3, GPT-NeoX) against the attentions
transformers computed, eager, for tiny random checkpoints it saved (tests/fixtures/make.py:
each folder read back by transformers as shipped, in float32), and what attnviz shows of
rotary embeddings, grouped-query attention and per-layer masks."""

import json
import struct
from pathlib import Path

import matplotlib.path
import numpy as np
import pytest
from typer.testing import CliRunner

from attnviz import attention
from attnviz.cli import app
from attnviz.models.files import read_json
from attnviz.pipeline import run
from attnviz.trace import AttentionConfig, Pretrained

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEXTS = json.loads((FIXTURES / "texts.json").read_text(encoding="utf-8"))
DECODERS = [
    "llama-tiny",
    "mistral-tiny",
    "qwen2-tiny",
    "qwen3-tiny",
    "gemma3-tiny",
    "pythia-tiny",
    "neox-serial-tiny",
]
runner = CliRunner()


def model_run(name, text, dtype="float32", mask=("none",), layer=None):
    return run(text, AttentionConfig(mask=mask, dtype=dtype,
                                     source=Pretrained(str(FIXTURES / name), layer)))  # fmt: skip


@pytest.mark.parametrize("name", DECODERS)
@pytest.mark.parametrize("n", range(len(TEXTS)))
def test_every_layer_and_head_equals_transformers(name, n):
    expected = np.load(FIXTURES / f"{name}-{n}.npz")
    trace = model_run(name, TEXTS[n])
    assert list(trace.model.ids) == expected["ids"].tolist()  # AutoTokenizer's ids
    assert trace.model.layer_weights.shape == expected["attentions"].shape
    np.testing.assert_allclose(trace.model.layer_weights, expected["attentions"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", DECODERS)
def test_float64_on_request_agrees_and_the_fixtures_are_peaked(name):
    """float64 computes the same attention more exactly; the fixtures' attention is far from
    uniform, so a forward pass that is wrong cannot match by chance."""
    expected = np.load(FIXTURES / f"{name}-2.npz")["attentions"]
    trace = model_run(name, TEXTS[2], dtype="float64")
    assert trace.model.layer_weights.dtype == np.float64
    np.testing.assert_allclose(trace.model.layer_weights, expected, atol=1e-4, rtol=0)
    T = expected.shape[-1]
    uniform = np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None]
    assert np.abs(expected - uniform).max() > 0.3
    assert expected[..., T // 2 :, :].max(axis=-1).mean() > 0.35


def test_the_fixtures_cover_what_the_families_do():
    """What the fixtures are made of, read from the files themselves, not from make.py."""
    configs = {n: read_json(FIXTURES / n / "config.json", "config") for n in DECODERS}
    llama, qwen3, gemma = configs["llama-tiny"], configs["qwen3-tiny"], configs["gemma3-tiny"]
    assert llama["num_key_value_heads"] == 2 < llama["num_attention_heads"] == 6
    assert llama["head_dim"] * llama["num_attention_heads"] != llama["hidden_size"]
    assert llama["rope_scaling"]["rope_type"] == "llama3"  # the older way config.json says it
    assert qwen3["rope_parameters"]["rope_type"] == "linear"  # transformers 5's way
    assert configs["mistral-tiny"]["sliding_window"] < 8  # shorter than the texts
    assert "rope_local_base_freq" in gemma and "sliding_attention" in gemma["layer_types"]
    assert configs["pythia-tiny"]["rotary_pct"] == 0.5
    assert configs["neox-serial-tiny"]["use_parallel_residual"] is False
    assert (FIXTURES / "qwen2-tiny" / "model.safetensors.index.json").is_file()  # sharded
    with open(FIXTURES / "llama-tiny" / "model.safetensors", "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} == {"BF16"}
    assert "lm_head.weight" in header  # untied; qwen2-tiny is tied
    assert configs["qwen2-tiny"]["tie_word_embeddings"] is True


def test_sliding_window_and_gemma_layers_have_their_own_masks():
    mistral = model_run("mistral-tiny", TEXTS[2])
    assert mistral.config.mask == ("window=4",)
    T = len(mistral.tokens)
    i, j = np.indices((T, T))
    assert (mistral.allowed == ((j <= i) & (j > i - 4))).all()
    assert (mistral.layer_weights[:, :, (j > i) | (j <= i - 4)] == 0).all()
    gemma = model_run("gemma3-tiny", TEXTS[2])
    kinds = read_json(FIXTURES / "gemma3-tiny" / "config.json", "c")["layer_types"]
    assert gemma.layer_allowed.shape == (3, T, T)
    for n, kind in enumerate(kinds):
        sees = (j <= i) & ((j > i - 3) if kind == "sliding_attention" else True)
        assert (gemma.layer_allowed[n] == sees).all()
        assert (gemma.layer_weights[n][:, ~sees] == 0).all()
    assert gemma.config.mask == ("window=3",)  # the last layer, shown by default
    assert model_run("gemma3-tiny", TEXTS[2], layer=1).config.mask == ("causal",)


@pytest.mark.parametrize("name", ["llama-tiny", "qwen3-tiny", "gemma3-tiny", "pythia-tiny"])
def test_the_scores_come_from_the_rotated_queries_and_keys(name):
    """softmax(mask(Q_rot·K_rotᵀ · scale)) recomputed from the Trace is its weights, and the
    unrotated Q·Kᵀ is not what the model scored."""
    trace = model_run(name, TEXTS[2], dtype="float64")
    assert trace.q_rot is not None and trace.k_rot is not None
    for h in range(trace.heads):
        w = attention.softmax(trace.masked(h))
        np.testing.assert_allclose(w, trace.weights[h], atol=1e-12)
        plain = attention.scores(trace.q(h), trace.k(h)) * trace.scale
        assert not np.allclose(attention.softmax(attention.apply_mask(plain, trace.allowed)), w)


def test_grouped_query_heads_share_their_key_and_value_head():
    trace = model_run("llama-tiny", TEXTS[0])
    assert trace.kv_heads == 2 and trace.heads == 6
    assert trace.kv_group(4) == (1, [3, 4, 5])
    for h in range(6):
        _, group = trace.kv_group(h)
        for other in group:
            np.testing.assert_array_equal(trace.w_k[h], trace.w_k[other])
            np.testing.assert_array_equal(trace.w_v[h], trace.w_v[other])
    assert not np.array_equal(trace.w_k[0], trace.w_k[3])
    assert not np.array_equal(trace.w_q[3], trace.w_q[4])


def test_an_npz_of_a_rotary_run_loads_back_whole(tmp_path):
    out = tmp_path / "g.npz"
    result = runner.invoke(app, ["export", TEXTS[2], "--model", str(FIXTURES / "gemma3-tiny"),
                                 "--layer", "1", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    from attnviz import load

    back, trace = load(out), model_run("gemma3-tiny", TEXTS[2], mask=("causal",), layer=1)
    for name in ("q_rot", "k_rot", "weights"):
        np.testing.assert_array_equal(getattr(back, name), getattr(trace, name))
    np.testing.assert_array_equal(back.layer_allowed, trace.layer_allowed)
    assert back.kv_heads == 2 and back.model.layer_masks == trace.model.layer_masks
    assert back.model.layer_masks == (("window=3",), ("causal",), ("window=3",))
    assert back.model.qk_norm is True


def _with_config(tmp_path, name, **changes):
    folder = tmp_path / name
    import shutil

    shutil.copytree(FIXTURES / name, folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "name, changes, message",
    [
        ("llama-tiny", {"rope_scaling": {"rope_type": "yarn", "factor": 4.0}},
         "rope scaling 'yarn' is not supported (attnviz runs default, linear, llama3)"),
        ("llama-tiny", {"model_type": "xlnet"}, "gemma3_text (Gemma 3 (text)); gpt_neox"),
        ("llama-tiny", {"num_key_value_heads": 4}, "its 6 heads do not split into 4"),
        ("gemma3-tiny", {"attn_logit_softcapping": 50.0}, "soft-capping is not supported"),
        ("gemma3-tiny", {"layer_types": ["full_attention"]}, "layer_types must list 3"),
        ("mistral-tiny", {"sliding_window": 0}, "'sliding_window' must be a whole number"),
        ("gemma3-tiny", {"layer_types": None, "sliding_window_pattern": 0},
         "'sliding_window_pattern' must be a whole number >= 1"),
        ("qwen2-tiny", {"use_sliding_window": True, "sliding_window": 2, "layer_types": None,
                        "max_window_layers": "x"},
         "'max_window_layers' must be a whole number >= 0"),
        ("gemma3-tiny", {"use_bidirectional_attention": True}, "bidirectional Gemma 3"),
        ("pythia-tiny", {"rotary_pct": 1.5}, "partial rotary factor 1.5"),
    ],
)  # fmt: skip
def test_what_attnviz_does_not_run_is_exit_2_naming_it(tmp_path, name, changes, message):
    folder = _with_config(tmp_path, name, **changes)
    out = tmp_path / "o.png"
    result = runner.invoke(app, ["heatmap", TEXTS[0], "--model", str(folder), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.output and not out.exists()


@pytest.mark.parametrize("name, base, share", [("mistral-tiny", 10000.0, 1.0),
                                               ("pythia-tiny", 500.0, 0.5)])  # fmt: skip
def test_rotated_queries_and_keys_equal_rope_by_its_definition(name, base, share):
    """Q′ and K′ of the Trace against RoPE pair by pair (tests/reference.py), full and partial.
    The angles are float32 (as transformers computes them, whatever the model's dtype)."""
    from reference import rope

    trace = model_run(name, TEXTS[1], dtype="float64")
    dims = int(trace.d_k * share)
    for h in range(trace.heads):
        np.testing.assert_allclose(trace.q_rot[h], rope(trace.q(h), base, dims), atol=1e-6)
        np.testing.assert_allclose(trace.k_rot[h], rope(trace.k(h), base, dims), atol=1e-6)
    # the scores of positions i and j depend on i − j alone: the same vectors one place
    # further along score the same
    q, k = trace.q(0)[:1], trace.k(0)[:1]
    near = np.dot(rope(q.repeat(3, 0), base, dims)[2], rope(k.repeat(3, 0), base, dims)[1])
    far = np.dot(rope(q.repeat(9, 0), base, dims)[8], rope(k.repeat(9, 0), base, dims)[7])
    assert near == pytest.approx(far)


def test_steps_shows_the_rotation_and_the_shared_key_value_head():
    from attnviz.views.steps import steps_view

    trace = model_run("llama-tiny", TEXTS[0])
    view = steps_view(trace, 4, query=2)
    numbers = [st.number for st in view.stages]
    assert numbers[:6] == ["1", "1", "1", "1b", "1b", "2"]
    q_rot, k_rot = view.stages[3], view.stages[4]
    np.testing.assert_array_equal(q_rot.values, trace.q_rot[4])
    np.testing.assert_array_equal(k_rot.values, trace.k_rot[4])
    assert "RoPE" in q_rot.formula and k_rot.keys and view.stages[5].formula == "scores = Q′·K′ᵀ"
    k_stage = view.stages[1]
    assert k_stage.formula == "K = X·W_K[1]"  # llama has no biases: none written
    assert "kv head 1, shared by heads 3–5" in k_stage.name
    np.testing.assert_allclose(view.row.scores, trace.q_rot[4][2] @ trace.k_rot[4].T, rtol=1e-6)
    assert "head 4 · kv 1" in view.title and "2 kv heads" in view.title
    qwen3 = steps_view(model_run("qwen3-tiny", TEXTS[0]), 0)
    assert qwen3.stages[3].formula == "Q′ᵢ = RoPE(RMSNorm(Q)ᵢ, i)"
    qwen2 = steps_view(model_run("qwen2-tiny", TEXTS[0]), 3)
    assert (
        qwen2.stages[0].formula == "Q = X·W_Q[3] + b_Q[3]" and "b_K[1]" in qwen2.stages[1].formula
    )
    bert = steps_view(run(TEXTS[0], AttentionConfig(
        source=Pretrained(str(FIXTURES / "bert-tiny")))), 0)  # fmt: skip
    assert [st.number for st in bert.stages][:4] == ["1", "1", "1", "2"]
    assert "kv" not in bert.title


def _json(*args):
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_heads_of_one_key_value_group_and_the_kv_column_of_stats():
    llama = str(FIXTURES / "llama-tiny")
    assert _json("stats", TEXTS[0], "--model", llama, "--head", "kv=1")["heads"] == [3, 4, 5]
    data = _json("stats", TEXTS[0], "--model", llama)
    assert data["kv"] == [0, 0, 0, 1, 1, 1] and len(data["first"]) == 6
    csv = runner.invoke(app, ["stats", TEXTS[0], "--model", llama, "--format", "csv"]).output
    assert csv.splitlines()[0].startswith("head,kv,entropy") and csv.splitlines()[5].startswith(
        "4,1,"
    )
    assert "kv" not in _json("stats", TEXTS[0], "--model", str(FIXTURES / "bert-tiny"))
    result = runner.invoke(app, ["stats", TEXTS[0], "--model", llama, "--head", "kv=2"])
    assert result.exit_code == 2 and "key/value head 0 to 1" in result.output
    seeded = runner.invoke(app, ["stats", TEXTS[0], "--head", "kv=1", "--format", "json"])
    assert seeded.exit_code == 0 and json.loads(seeded.output)["heads"] == [1]  # 8 heads, 8 kv


def test_the_first_token_share_is_the_attention_sink():
    """stats' "first" is the mean weight on the first token over the query rows."""
    trace = model_run("gemma3-tiny", TEXTS[2], dtype="float64", mask=("causal",), layer=1)
    data = _json("stats", TEXTS[2], "--model", str(FIXTURES / "gemma3-tiny"), "--layer", "1",
                 "--dtype", "float64")  # fmt: skip
    expected = [float(np.mean(trace.weights[h][:, 0])) for h in range(trace.heads)]
    np.testing.assert_allclose(data["first"], expected, rtol=1e-12)


def test_the_model_view_draws_each_layer_under_its_own_mask():
    """The model view draws the masks of all its panels as one hatch: each panel's cells under
    it, found on the drawn figure (cell centres against the hatch, in pixels), are its layer's
    hidden cells."""
    import attnviz

    trace = model_run("gemma3-tiny", TEXTS[0], mask=("causal",))
    fig = attnviz.model_figure(trace, heads=[0])
    fig.canvas.draw()
    (hatch,) = [a for a in fig.findobj() if getattr(a, "get_gid", None) and
                a.get_gid() == "hidden-cells"]  # fmt: skip
    shapes = hatch.get_path().transformed(hatch.get_transform()).to_polygons()
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 3
    T = len(trace.tokens)
    centres = np.array([(j, i) for i in range(T) for j in range(T)], dtype=float)
    for n, image in enumerate(images):
        pixels = image.get_transform().transform(centres)
        covered = np.zeros(T * T, dtype=bool)
        for shape in shapes:
            covered |= matplotlib.path.Path(shape).contains_points(pixels)
        np.testing.assert_array_equal(covered.reshape(T, T), ~trace.layer_allowed[n])
    assert not np.array_equal(trace.layer_allowed[0], trace.layer_allowed[1])
    from attnviz.views.heatmap import model_view

    assert "mask window=3 (layers 0, 2), causal (layer 1)" in model_view(trace).title
    assert "capas 0, 2" in model_view(trace, lang="es").title
    data = _json("heatmap", TEXTS[0], "--model", str(FIXTURES / "gemma3-tiny"), "--layer", "all")
    assert np.array_equal(np.array(data["layer_allowed"]), trace.layer_allowed)


def test_the_memory_estimate_counts_the_largest_layer_as_read():
    """The numbers of one layer's tensors, summed from the file's header independently."""
    from attnviz.errors import RunError
    from attnviz.models import Checkpoint
    from attnviz.pipeline import Limits, check_budget

    folder = FIXTURES / "llama-tiny"
    with open(folder / "model.safetensors", "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    layer0 = sum(int(np.prod(v["shape"])) for k, v in header.items() if ".layers.0." in k)
    assert Checkpoint.open(str(folder)).tensors.layer_elements() == layer0
    big = Limits(memory_budget=500 * 2**20)
    check_budget(big, 9, 576, "float32", 20, 30, layer_elements=10**6)
    with pytest.raises(RunError, match="fewer panels, `dtype"):  # no `heads` for a checkpoint
        check_budget(big, 9, 576, "float32", 20, 30, layer_elements=10**8)
    result = runner.invoke(app, ["heatmap", TEXTS[0], "--model", str(folder),
                                 "--memory-budget", "20KB", "-o", "x.png"])  # fmt: skip
    assert result.exit_code == 1 and "over --memory-budget" in result.output


def test_the_page_of_the_model_view_hides_each_layers_own_cells():
    from attnviz.render.html import model_views
    from attnviz.views.heatmap import model_view

    trace = model_run("gemma3-tiny", TEXTS[0], mask=("causal",))
    views = model_views(model_view(trace))
    assert [v["name"] for v in views] == ["layer 0", "layer 1", "layer 2"]
    for n, v in enumerate(views):
        assert v["panels"][1]["title"] == "head 1 · kv 0"
        hidden = np.array([[c is None for c in row] for row in v["panels"][1]["values"]])
        np.testing.assert_array_equal(hidden, ~trace.layer_allowed[n])


def test_each_familys_layers_get_the_masks_transformers_gives_them():
    """The rules of transformers 5's configs, when config.json has no layer_types."""
    from attnviz.models.decoder import masks

    qwen = {"use_sliding_window": True, "sliding_window": 4, "max_window_layers": 1}
    assert masks(qwen, 3, "qwen2") == ["causal", "window=4", "window=4"]
    assert masks({**qwen, "use_sliding_window": False}, 3, "qwen3") == ["causal"] * 3
    gemma = masks({"sliding_window": 512}, 12, "gemma3_text")  # every sixth layer global
    assert [n for n, m in enumerate(gemma) if m == "causal"] == [5, 11]
    assert set(gemma) == {"causal", "window=512"}
    assert masks({"sliding_window": 4096}, 2, "mistral") == ["window=4096"] * 2
    assert masks({"sliding_window": None}, 2, "mistral") == ["causal"] * 2
    assert masks({"sliding_window": 8}, 2, "llama") == ["causal"] * 2  # llama has no window
