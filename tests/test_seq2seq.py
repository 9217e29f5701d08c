"""Encoder-decoders (T5, T5 v1.1, BART, Marian): every layer and head of the three kinds of
attention against transformers, on folders transformers wrote from small random-weight
configurations (tests/fixtures/seq2seq.py); the tokenizers' ids against transformers'
tokenizers; greedy generation against transformers' ``generate``; the cross-attention views;
bad input."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import attnviz
from attnviz.attention import softmax
from attnviz.cli import app
from attnviz.errors import ConfigError
from attnviz.export import load
from attnviz.models import Checkpoint
from attnviz.models.bart import sinusoids
from attnviz.models.seq2seq import KINDS
from attnviz.models.t5 import buckets
from attnviz.models.translate import translate
from attnviz.trace import AttentionConfig, Pretrained

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FAMILIES = ["t5-tiny", "t5v11-tiny", "bart-tiny", "marian-tiny"]
PAIRS = json.loads((FIXTURES / "seq2seq-pairs.json").read_text(encoding="utf-8"))
T5 = str(FIXTURES / "t5-tiny")
BART = str(FIXTURES / "bart-tiny")
runner = CliRunner()


def expected(name: str, n: int):
    return np.load(FIXTURES / f"{name}-{n}.npz")


def run(name: str, n: int, kind: str, dtype: str = "float32") -> attnviz.Trace:
    source, target = PAIRS[n]
    pre = Pretrained(str(FIXTURES / name), target=target, attention=kind)
    return attnviz.run(source, AttentionConfig(mask=("none",), dtype=dtype, source=pre))


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("n", range(len(PAIRS)))
@pytest.mark.parametrize("kind", KINDS)
def test_every_layer_and_head_equals_transformers(name, n, kind):
    ref = expected(name, n)
    trace = run(name, n, kind)
    assert trace.attention == kind
    assert trace.layer_weights.shape == ref[kind].shape
    np.testing.assert_allclose(trace.layer_weights, ref[kind], atol=1e-5, rtol=0)
    queries = ref["source"] if kind == "encoder" else ref["target"]
    assert list(trace.model.ids) == queries.tolist()
    if kind == "cross":  # source keys across, target queries down
        assert list(trace.model.key_ids) == ref["source"].tolist()
        assert trace.weights.shape == (trace.heads, len(ref["target"]), len(ref["source"]))
        assert trace.allowed.all() and len(trace.key_tokens) == len(ref["source"])


@pytest.mark.parametrize("name", FAMILIES)
def test_the_language_model_head_equals_transformers(name):
    """The teacher-forced logits: T5's d_model^−½ before the tied head (not v1.1's), BART's
    and Marian's final_logits_bias."""
    ck = Checkpoint.open(str(FIXTURES / name))
    s2s = ck.family.seq2seq
    for n in range(len(PAIRS)):
        ref = expected(name, n)
        params = ck.params("float32")
        out = s2s.run(params, ref["source"].tolist(), ref["target"].tolist(), True,
                      ck.decoder_layers)  # fmt: skip
        logits = s2s.logits(params, out.hidden)
        scale = np.abs(ref["logits"]).max()
        np.testing.assert_allclose(logits, ref["logits"], atol=1e-5 * max(scale, 1), rtol=0)


@pytest.mark.parametrize("name", FAMILIES)
def test_token_ids_equal_transformers_tokenizer(name):
    ck = Checkpoint.open(str(FIXTURES / name))
    found = json.loads((FIXTURES / f"{name}-ids.json").read_text("utf-8"))
    assert len(found["texts"]) > 20
    for text, source, target in zip(found["texts"], found["source"], found["target"], strict=True):
        assert ck.encode(text)[0] == source, text
        ids, tokens = ck.encode_target(text)
        assert ids[1:] == target, text  # after the decoder's start token
        assert ids[0] == ck.config["decoder_start_token_id"] and tokens[0].special


@pytest.mark.parametrize("name", FAMILIES)
def test_generate_equals_transformers_greedy_generate(name):
    ck = Checkpoint.open(str(FIXTURES / name))
    for n in range(len(PAIRS)):
        ref = expected(name, n)
        g = translate(ck, ref["source"].tolist(), len(ref["generated"]) - 1)
        assert g.ids == ref["generated"].tolist()


def test_generate_command_writes_the_target_and_its_cross_attention(tmp_path):
    ref = expected("bart-tiny", 0)
    args = ["generate", PAIRS[0][0], "--model", str(FIXTURES / "bart-tiny"), "--max-new-tokens",
            str(len(ref["generated"]) - 1), "--format", "json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["prompt_ids"] + data["generated_ids"] == ref["generated"].tolist()
    assert data["config"]["attention"] == "cross"
    assert len(data["key_tokens"]) == len(ref["source"])
    weights = np.array(data["weights"])  # (H, T, S): the generated target over the source
    assert weights.shape[1:] == (len(ref["generated"]), len(ref["source"]))
    np.testing.assert_allclose(weights.sum(-1), 1, atol=1e-6)


def test_t5_buckets_equal_transformers():
    """Relative positions from −300 to 300 in T5's buckets, as transformers computed them."""
    found = json.loads((FIXTURES / "t5-buckets.json").read_text(encoding="utf-8"))
    relative = np.array(found["relative"])
    for case in found["cases"]:
        got = buckets(relative, case["bidirectional"], case["buckets"], case["max_distance"])
        assert got.tolist() == case["found"], case


def test_t5_bias_is_its_own_stage_and_reproduces_the_weights():
    """The Trace's scores, the T5 bias on them and the softmax give its weights, head by head
    (the steps view shows them); T5 divides by nothing."""
    for kind in KINDS:
        trace = run("t5-tiny", 1, kind, "float64")
        assert trace.scale == 1.0
        for h in range(trace.heads):
            np.testing.assert_allclose(softmax(trace.masked(h)), trace.weights[h], atol=1e-12)
        assert trace.model.position_bias == (kind != "cross")
        if kind == "decoder":  # a causal mask: weights above the diagonal are exactly 0
            assert (trace.weights[:, ~trace.allowed] == 0).all()


def test_marian_positions_are_sines_then_cosines():
    """An independent loop: position p, feature j < D/2 is sin(p / 10000^(2j/D)), the rest
    cos of the same angles (Marian's layout, not interleaved)."""
    T, D = 7, 10
    got = sinusoids(T, D)
    for p in range(T):
        for j in range(D):
            k = j if j < D // 2 else j - D // 2
            angle = p / 10000 ** (2 * k / D)
            want = math.sin(angle) if j < D // 2 else math.cos(angle)
            assert abs(got[p, j] - want) < 1e-6


def test_a_cross_run_saves_and_loads_bit_for_bit(tmp_path):
    for kind in KINDS:
        path = tmp_path / f"{kind}.npz"
        result = runner.invoke(app, ["export", PAIRS[0][0], "--model", T5, "--target",
                                     PAIRS[0][1], "--attention", kind, "-o", str(path)])  # fmt: skip
        assert result.exit_code == 0, result.output
        trace, back = run("t5-tiny", 0, kind), load(path)
        assert back.attention == kind and back.key_texts == trace.key_texts
        for name in ("weights", "allowed", "bias", "x", "output"):
            assert np.array_equal(getattr(back, name), getattr(trace, name)), name
        assert (back.memory is None) == (kind != "cross")


def test_the_heatmap_json_names_source_and_target():
    result = runner.invoke(app, ["heatmap", PAIRS[0][0], "--model", T5, "--target", PAIRS[0][1],
                                 "--format", "json", "--head", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    ref = expected("t5-tiny", 0)
    assert data["config"]["target"] == PAIRS[0][1] and data["config"]["attention"] == "cross"
    assert len(data["tokens"]) == len(ref["target"]) and len(data["key_tokens"]) == len(
        ref["source"]
    )
    np.testing.assert_allclose(data["weights"][0], ref["cross"][-1, 1], atol=1e-5)


def test_the_cross_figure_puts_source_across_and_target_down():
    from attnviz.render.figures.heatmap import draw_heatmap
    from attnviz.views.heatmap import heatmap_view

    def drawn(kind):
        pre = Pretrained(str(FIXTURES / "bart-tiny"), target="Le chat.", attention=kind)
        trace = attnviz.run(PAIRS[0][0], AttentionConfig(mask=("none",), source=pre))
        fig = draw_heatmap(heatmap_view(trace, [0]))
        texts = {}
        for a in fig.findobj(lambda a: hasattr(a, "get_text")):
            texts.setdefault(a.get_gid(), []).append(a.get_text())
        return trace, texts, {a.get_gid() for a in fig.findobj()}

    trace, texts, gids = drawn("cross")
    assert texts["query-title"] == ["target (query)"] and texts["key-title"] == ["source (key)"]
    assert "cross-attention" in " ".join(t for t in texts[None] if t)
    assert texts["key-label"] == [t.strip() for t in trace.key_texts]  # the source across
    assert texts["query-label"] == [t.strip() for t in trace.texts]  # the target down
    assert not gids & {"hidden-cells", "mask-outline"}  # no mask: none drawn
    _, texts, gids = drawn("decoder")  # the decoder's causal mask is drawn
    assert "hidden-cells" in gids and texts["query-title"] == ["query"]


def test_the_table_shows_target_down_and_source_across():
    result = runner.invoke(app, ["heatmap", PAIRS[0][0], "--model", str(FIXTURES / "bart-tiny"),
                                 "--target", "Le chat", "--head", "0", "--format", "table"],
                           env={"COLUMNS": "120"})  # fmt: skip
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "\\" in line)
    assert header.split()[:3] == ["target", "\\", "source"]
    assert "sat" in header and "mat" in header and "chat" not in header


@pytest.mark.parametrize(
    "args, says",
    [
        (["--model", str(FIXTURES / "llama-tiny"), "--target", "le chat"], "--target"),
        (["--model", str(FIXTURES / "llama-tiny"), "--attention", "cross"], "--attention"),
        (["--target", "le chat"], "--target"),
        (["--model", T5], "--target"),  # a cross view needs a target
        (["--model", T5, "--attention", "decoder"], "--target"),
        (["--model", T5, "--target", "x", "--attention", "sideways"], "attention"),
        (["--model", T5, "--target", "x", "--mask", "causal"], "--mask"),
        (["--model", T5, "--target", "x", "--layer", "3"], "layers 0 to 2"),
        (["--model", T5, "--target", "x", "--attention", "encoder", "--layer", "2"], "0 to 1"),
        (["--model", T5, "--target", "x", "--stream"], "streamed"),
        (["--model", BART, "--target", "x", "--max-tokens", "4000"], "positions"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, says):
    source = PAIRS[0][0] if "--max-tokens" not in args else "cat " * 80
    result = runner.invoke(app, ["heatmap", source, *args, "--format", "json"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], lines


def test_a_target_over_the_positions_is_refused():
    with pytest.raises(ConfigError, match=r"target has .* tokens"):
        attnviz.run(PAIRS[0][0], AttentionConfig(mask=("none",), source=Pretrained(
            str(FIXTURES / "bart-tiny"), target="chat " * 80)))  # fmt: skip


def test_generate_refuses_the_encoders_attention():
    result = runner.invoke(app, ["generate", "the cat", "--model", T5, "--attention", "encoder"])
    assert result.exit_code == 2 and "--attention" in result.stderr


def _pairs_file(tmp_path, n):
    lines = [f"{s}\t{t}" for s, t in PAIRS] * n
    corpus = tmp_path / "pairs.tsv"
    corpus.write_text("\n".join([*lines, "a source without a target"]) + "\n", encoding="utf-8")
    return corpus


def test_a_survey_of_cross_attention_is_the_mean_over_every_target_row(tmp_path):
    corpus = _pairs_file(tmp_path, 1)
    result = runner.invoke(app, ["survey", "--file", str(corpus), "--model", BART, "--format",
                                 "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["skipped"] == {"target": 1} and data["texts"] == len(PAIRS)
    assert set(data["measures"]) == {"first", "separator", "punctuation", "entropy", "confidence"}
    rows = [
        run("bart-tiny", n, "cross", "float32").layer_weights.astype(np.float64)
        for n in range(len(PAIRS))
    ]  # (L, H, T, S) each
    end = np.concatenate([w[..., -1] for w in rows], axis=-1).mean(axis=-1)  # its </s>
    first = np.concatenate([w[..., 0] for w in rows], axis=-1).mean(axis=-1)
    np.testing.assert_allclose(data["measures"]["separator"], end, atol=1e-6)
    np.testing.assert_allclose(data["measures"]["first"], first, atol=1e-6)
    assert "cross-attention" in data["model"]


def test_a_survey_of_pairs_is_the_same_on_two_workers(tmp_path):
    corpus = _pairs_file(tmp_path, 60)  # 181 lines: more than the chunks kept in this process
    args = ["survey", "--file", str(corpus), "--model", str(FIXTURES / "marian-tiny"),
            "--format", "json"]  # fmt: skip
    one, two = (
        runner.invoke(app, [*args, "--jobs", "1"]),
        runner.invoke(app, [*args, "--jobs", "2"]),
    )
    assert one.exit_code == 0 and one.stdout == two.stdout
    encoder = runner.invoke(app, [*args, "--jobs", "1", "--attention", "encoder"])
    data = json.loads(encoder.stdout)
    assert data["texts"] == 181 and "previous" in data["measures"]  # self-attention's measures
    refused = runner.invoke(app, [*args, "--target", "x"])
    assert refused.exit_code == 2 and "--target" in refused.stderr


def test_marian_without_its_sentencepiece_files_is_refused(tmp_path):
    import shutil

    folder = tmp_path / "marian"
    shutil.copytree(FIXTURES / "marian-tiny", folder)
    (folder / "target.spm").unlink()
    with pytest.raises(ConfigError, match=r"target\.spm"):
        Checkpoint.open(str(folder))
    (folder / "target.spm").write_bytes(b"\xff\xff\xff")
    with pytest.raises(ConfigError, match="not a SentencePiece model"):
        Checkpoint.open(str(folder))
    # well-formed protobuf: a piece "a", and a normaliser's charsmap that is not one
    (folder / "target.spm").write_bytes(b"\x0a\x03\x0a\x01a" + b"\x1a\x0b\x12\x09\x01\x02garbage")
    with pytest.raises(ConfigError, match=r"not a SentencePiece model.*charsmap"):
        Checkpoint.open(str(folder))


def test_the_model_view_shows_the_three_blocks_as_transformers_computes_them():
    result = runner.invoke(app, ["heatmap", PAIRS[1][0], "--model", BART, "--target", PAIRS[1][1],
                                 "--layer", "all", "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    blocks = json.loads(result.stdout)["blocks"]
    ref = expected("bart-tiny", 1)
    assert list(blocks) == list(KINDS)
    for kind, block in blocks.items():
        np.testing.assert_allclose(block["layer_weights"], ref[kind], atol=1e-5)
    assert len(blocks["cross"]["key_tokens"]) == len(ref["source"])
    assert "key_tokens" not in blocks["decoder"]
    alone = runner.invoke(app, ["heatmap", PAIRS[1][0], "--model", BART, "--layer", "all",
                                "--format", "json"])  # fmt: skip
    assert list(json.loads(alone.stdout)["blocks"]) == ["encoder"]  # no target: the encoder's


def test_the_blocks_figure_stacks_three_model_views(tmp_path):
    from attnviz.render.figures import draw_blocks
    from attnviz.views.blocks import blocks_view

    pre = Pretrained(T5, target="Le chat.")
    traces = attnviz.run_kinds("The cat sat.", AttentionConfig(mask=("none",), source=pre))
    fig = draw_blocks(blocks_view(traces, [0, 1]))
    subs = fig.subfigs
    assert len(subs) == 3
    titles = [t.get_text() for sub in subs for t in sub.findobj() if t.get_gid() == "key-title"]
    assert titles[-2:] == ["source (key)", "source (key)"] and "key" in titles
    heights = [sub.bbox.height for sub in subs]
    assert abs(sum(heights) - fig.bbox.height) < 1 and min(heights) > 0
    result = runner.invoke(app, ["heatmap", "The cat sat.", "--model", T5, "--target", "Le chat.",
                                 "--layer", "all", "--preset", "slides", "-o",
                                 str(tmp_path / "b.png")])  # fmt: skip
    assert result.exit_code == 2 and "--attention" in result.stderr
    assert not (tmp_path / "b.png").exists()


def _loops_words(w, groups, keys):
    """Word-level weights by loops: to a word the sum over its pieces, from one the mean."""
    out = np.zeros((len(groups), len(keys)))
    for a, g in enumerate(groups):
        for b, k in enumerate(keys):
            out[a, b] = sum(w[i, j] for i in g for j in k) / len(g)
    return out


def test_words_merge_the_target_down_and_the_source_across():
    from attnviz.stats import words
    from attnviz.words import word_groups

    trace = run("t5-tiny", 2, "cross", "float64")
    merged = words(trace)
    groups = word_groups(trace.texts, [t.special for t in trace.tokens])
    keys = word_groups(trace.key_texts, [t.special for t in trace.key_tokens])
    assert len(keys) < trace.keys_count and len(groups) < len(trace.tokens)
    assert merged.weights.shape == (trace.heads, len(groups), len(keys))
    np.testing.assert_allclose(merged.weights[1], _loops_words(trace.weights[1], groups, keys),
                               atol=1e-12)  # fmt: skip
    assert "sleeping" in merged.key_texts and "fatigué" in merged.texts
    np.testing.assert_allclose(merged.weights.sum(-1), 1, atol=1e-12)


def test_hide_special_leaves_the_specials_of_both_out():
    from attnviz.stats import hide_special

    trace = run("bart-tiny", 0, "cross", "float64")
    hidden = hide_special(trace)
    assert not any(t.special for t in (*hidden.tokens, *hidden.key_tokens))
    rows = [i for i, t in enumerate(trace.tokens) if not t.special]
    cols = [j for j, t in enumerate(trace.key_tokens) if not t.special]
    for h in range(trace.heads):
        for a, i in enumerate(rows):
            kept = np.array([trace.weights[h, i, j] for j in cols])
            np.testing.assert_allclose(hidden.weights[h, a], kept / kept.sum(), atol=1e-12)
    assert hidden.special_hidden == (len(trace.tokens) - len(rows)) + (trace.keys_count - len(cols))


def test_cross_stats_are_the_alignment_measures():
    from attnviz.stats import head_stats

    trace = run("marian-tiny", 1, "cross", "float64")
    numbers = head_stats(trace)
    S = trace.weights.shape[2]
    for h in range(trace.heads):
        w = trace.weights[h]
        entropy = np.mean([-sum(p * math.log(p) for p in row if p > 0) for row in w])
        assert abs(numbers["entropy"][h] - entropy) < 1e-12
        assert abs(numbers["normalized_entropy"][h] - entropy / math.log(S)) < 1e-12
        assert abs(numbers["end"][h] - np.mean([row[-1] for row in w])) < 1e-12
        assert abs(numbers["first"][h] - np.mean([row[0] for row in w])) < 1e-12
    assert trace.key_texts[-1] == "</s>" and "self" not in numbers and "distance" not in numbers
    result = runner.invoke(app, ["stats", PAIRS[1][0], "--model", str(FIXTURES / "marian-tiny"),
                                 "--target", PAIRS[1][1], "--format", "csv"])  # fmt: skip
    assert result.stdout.splitlines()[0] == (
        "head,entropy,normalized_entropy,end,first,max_weight,keys_90,rows"
    )


def test_steps_say_t5_does_not_scale_and_show_its_bias():
    from attnviz.views.steps import steps_view

    trace = run("t5-tiny", 0, "decoder", "float64")
    stages = {st.number + " " + st.name: st for st in steps_view(trace, 1).stages}
    assert "T5 does not divide by √d_k" in stages["3 scaling"].formula
    bias = stages["3b relative position bias (T5)"]
    np.testing.assert_array_equal(bias.values, trace.bias[1])
    cross = steps_view(run("t5-tiny", 0, "cross", "float64"), 0)
    formulas = [st.formula for st in cross.stages]
    assert "K = E·W_K[0]" in formulas and not any("bucket" in f for f in formulas)
    bart = steps_view(run("bart-tiny", 0, "encoder", "float64"), 0)
    assert not any("T5" in st.formula for st in bart.stages)  # BART divides by √d_k


def test_the_cross_page_labels_the_source_across(tmp_path):
    path = tmp_path / "x.html"
    result = runner.invoke(app, ["heatmap", PAIRS[0][0], "--model", BART, "--target", "Le chat",
                                 "--head", "0", "-o", str(path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    page = path.read_text(encoding="utf-8")
    data = json.loads(
        page.split('<script id="data" type="application/json">')[1].split("</script>")[0]
    )
    panel = data["views"][0]["panels"][0]
    ref = run("bart-tiny", 0, "cross")
    assert panel["cols"] == ref.key_texts and len(panel["rows"]) == len(
        Checkpoint.open(BART).encode_target("Le chat")[0]
    )


def test_generate_every_layer_of_a_target_token_is_its_row_over_the_source():
    ref = expected("t5-tiny", 1)
    n = len(ref["generated"]) - 1
    result = runner.invoke(app, ["generate", PAIRS[1][0], "--model", T5, "--max-new-tokens", str(n),
                                 "--layer", "all", "--step", "2", "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["query"] == 2 and len(data["key_tokens"]) == len(ref["source"])
    trace = attnviz.run(PAIRS[1][0], AttentionConfig(mask=("none",), source=Pretrained(
        T5, target="x")))  # fmt: skip
    assert data["key_tokens"] == trace.key_texts
    weights = np.array(data["layer_weights"])  # (L, heads, S): token 2's row in every layer
    assert weights.shape == (3, 4, len(ref["source"]))
    np.testing.assert_allclose(weights.sum(-1), 1, atol=1e-6)


def test_generate_honours_the_memory_budget_and_the_layer_before_it_runs():
    args = ["generate", "The cat", "--model", T5, "--max-new-tokens", "4"]
    tight = runner.invoke(app, [*args, "--memory-budget", "10KB"])
    assert tight.exit_code == 1 and "--memory-budget" in tight.stderr
    layer = runner.invoke(app, [*args, "--layer", "3"])
    assert layer.exit_code == 2 and "layers 0 to 2" in layer.stderr


@pytest.mark.parametrize(
    "command, extra, says",
    [
        ("rollout", [], "--attention encoder or decoder"),
        ("sink", [], "never streamed"),
        ("compare", ["--against", "unscaled"], "T5 does not divide"),
        ("lesson", ["-o", "{tmp}/l.pdf"], "heatmap --layer all"),
    ],
)
def test_commands_that_do_not_apply_say_so(command, extra, says, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    result = runner.invoke(app, [command, "The cat sat.", "--model", T5, "--target", "Le chat.",
                                 *args])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_rollout_of_the_decoders_self_attention():
    result = runner.invoke(app, ["rollout", "The cat sat.", "--model", T5, "--target", "Le chat.",
                                 "--attention", "decoder", "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    flow = np.array(json.loads(result.stdout)["rollout"])
    assert np.allclose(np.triu(flow, 1), 0) and np.allclose(flow.sum(-1), 1)  # causal, rows


def test_a_window_of_cross_attention_is_bounded_by_the_source_across():
    args = ["heatmap", PAIRS[0][0], "--model", T5, "--target", PAIRS[0][1], "--head", "0"]
    S = len(expected("t5-tiny", 0)["source"])
    over = runner.invoke(app, [*args, "--keys", f"2:{S + 3}"])
    assert over.exit_code == 2 and "--keys" in over.stderr and f"{S} tokens" in over.stderr
    cut = runner.invoke(app, [*args, "--queries", "3:8", "--keys", "1:4", "--format", "json"])
    assert cut.exit_code == 0, cut.output
    data = json.loads(cut.stdout)
    assert data["window"] == {"queries": [3, 8], "keys": [1, 4]}
    np.testing.assert_allclose(data["weights"][0], expected("t5-tiny", 0)["cross"][-1, 0, 3:8, 1:4],
                               atol=1e-5)  # fmt: skip
