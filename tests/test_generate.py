"""Generation: greedy tokens against transformers' generate(do_sample=False) for every
family's fixture (tests/fixtures/make.py, gen-*.npz), the cached attention rows against
transformers' full forward pass and against attnviz's own uncached pass, seeded sampling,
stopping and refusals."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from attnviz.errors import ConfigError
from attnviz.models import Checkpoint
from attnviz.models.generate import Sampling, generate
from attnviz.trace import AttentionConfig, Pretrained

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PROMPTS = json.loads((FIXTURES / "gen-prompts.json").read_text(encoding="utf-8"))
MODELS = ["gpt2-tiny", "llama-tiny", "mistral-tiny", "qwen2-tiny", "qwen3-tiny", "gemma3-tiny",
          "pythia-tiny", "neox-serial-tiny"]  # fmt: skip


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("n", range(len(PROMPTS)))
def test_greedy_tokens_and_attention_rows_equal_transformers(name, n):
    expected = np.load(FIXTURES / f"gen-{name}-{n}.npz")
    ck = Checkpoint.open(str(FIXTURES / name))
    prompt, _ = ck.encode(PROMPTS[n])
    assert prompt == expected["prompt"].tolist()
    g = generate(ck, prompt, 8)
    assert g.ids == expected["ids"].tolist()
    P = len(prompt)
    assert len(g.rows) == len(g.generated) - 1  # the last token is never passed
    for i, rows in enumerate(g.rows):  # generated token i, fed in at position P + i
        np.testing.assert_allclose(rows, expected["attentions"][:, :, P + i, : P + i + 1],
                                   atol=1e-5, rtol=0)  # fmt: skip


@pytest.mark.parametrize("name", ["gpt2-tiny", "gemma3-tiny", "pythia-tiny"])
@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-9), ("float32", 1e-5)])
def test_the_cached_rows_equal_a_pass_over_the_whole_sequence(name, dtype, tolerance):
    """Key/value cache or none: the same rows (gemma3-tiny has sliding layers). In float32
    the two sum in other orders: its sharp heads differ by up to 3e-6."""
    ck = Checkpoint.open(str(FIXTURES / name))
    prompt, tokens = ck.encode(PROMPTS[0])
    g = generate(ck, prompt, 6, dtype=dtype)
    labels = tokens[:1] * len(g.ids)  # labels do not enter the numbers
    config = AttentionConfig(mask=("none",), dtype=dtype, source=Pretrained(str(FIXTURES / name)))
    whole = ck.run(g.ids, labels, config).model.layer_weights  # (L,H,T,T), no cache
    for i, rows in enumerate(g.rows):
        np.testing.assert_allclose(rows, whole[:, :, len(prompt) + i, : len(prompt) + i + 1],
                                   atol=tolerance, rtol=0)  # fmt: skip


def test_a_run_from_the_tensors_a_generation_kept_equals_a_fresh_one():
    ck = Checkpoint.open(str(FIXTURES / "qwen2-tiny"))  # sharded, tied, with biases
    prompt, tokens = ck.encode(PROMPTS[1])
    g = generate(ck, prompt, 5)
    assert g.kept  # the decoder's converted tensors, handed on
    config = AttentionConfig(mask=("none",), dtype="float32",
                             source=Pretrained(str(FIXTURES / "qwen2-tiny"), 0))  # fmt: skip
    labels = tokens[:1] * len(g.ids)
    kept, fresh = ck.run(g.ids, labels, config, kept=g.kept), ck.run(g.ids, labels, config)
    for name in ("x", "w_q", "w_k", "weights", "head_outputs", "output"):
        np.testing.assert_array_equal(getattr(kept, name), getattr(fresh, name))
    np.testing.assert_array_equal(kept.model.layer_weights, fresh.model.layer_weights)


@pytest.mark.parametrize("name", ["llama-tiny", "qwen2-tiny", "gpt2-tiny"])
def test_a_generation_from_the_tensors_an_earlier_one_kept_reads_none_again(name, monkeypatch):
    """Given an earlier generation's kept tensors, no whole tensor is read (only the
    embedding rows of the tokens), and the tokens, probabilities and rows are the same."""
    ck = Checkpoint.open(str(FIXTURES / name))
    prompt, _ = ck.encode(PROMPTS[0])
    first = generate(ck, prompt, 6)
    reads: list[str] = []
    read = type(ck.tensors).__call__

    def counted(self, tensor, rows=None):
        if rows is None:
            reads.append(tensor)
        return read(self, tensor, rows)

    monkeypatch.setattr(type(ck.tensors), "__call__", counted)
    again = generate(ck, prompt, 6, kept=first.kept)
    assert reads == []
    assert again.generated == first.generated and again.chosen_prob == first.chosen_prob
    for a, b in zip(again.rows, first.rows, strict=True):
        np.testing.assert_array_equal(a, b)
    generate(ck, prompt, 2)
    assert reads  # a generation without them reads them (the count above could fail)


@pytest.mark.parametrize("name", ["llama-tiny", "qwen2-tiny", "gpt2-tiny"])
def test_the_output_embedding_is_kept_once_transposed(name):
    """Tied or not, the output embedding is kept as (D, V), contiguous (the layout one hidden
    state times it reads fastest), equal to the file's (V, D) transposed, and not also as it
    was read."""
    from attnviz.models.generate import _transposed

    ck = Checkpoint.open(str(FIXTURES / name))
    g = generate(ck, ck.encode(PROMPTS[0])[0], 2)
    heads = [key for key in g.kept if key.endswith(".T")]
    assert len(heads) == 1 and heads[0][:-2] not in g.kept
    head = g.kept[heads[0]]
    assert head.flags.c_contiguous and head.shape[0] == ck.d_model
    np.testing.assert_array_equal(head, ck.tensors(heads[0][:-2]).T)
    a = np.arange(1300 * 3, dtype=np.float32).reshape(1300, 3)  # blocks of 512 and the rest
    np.testing.assert_array_equal(_transposed(a), a.T)


@pytest.mark.parametrize("G, r", [(3, 3), (2, 1), (1, 4)])
@pytest.mark.parametrize("window", [None, 3])
def test_a_step_of_grouped_heads_equals_the_slow_reference(G, r, window):
    """A step's one query per head against keys and values shared by groups of r heads
    (none copied), under a causal mask or a window: the reference's loops over each query
    head with its group's key head."""
    import reference

    from attnviz.models.layers import _grouped

    rng = np.random.default_rng(G * 10 + r)
    t, Dh = 7, 5
    q, k, v = (rng.standard_normal(shape) for shape in ((G * r, 1, Dh), (G, t, Dh), (G, t, Dh)))
    allowed = None if window is None else np.arange(t)[None] > t - 1 - window  # (1, t)
    weights, outputs = _grouped(q, k, v, allowed, Dh**-0.5)
    for h in range(G * r):
        seen = np.ones((1, t), bool) if allowed is None else allowed
        _, _, w, out = reference.attention_head(q[h], k[h // r], v[h // r], seen)
        np.testing.assert_allclose(weights[h], w, rtol=0, atol=1e-12)
        np.testing.assert_allclose(outputs[h], out, rtol=0, atol=1e-12)
    if window is not None:
        assert (weights[:, 0, : t - window] == 0).all()


def test_seeded_sampling_gives_the_same_tokens_run_after_run():
    ck = Checkpoint.open(str(FIXTURES / "llama-tiny"))
    prompt, _ = ck.encode(PROMPTS[1])
    hot = Sampling(temperature=5.0, seed=3)
    first, again = generate(ck, prompt, 8, hot), generate(ck, prompt, 8, hot)
    assert first.generated == again.generated
    others = {tuple(generate(ck, prompt, 8, Sampling(temperature=5.0, seed=s)).generated)
              for s in range(4, 8)}  # fmt: skip
    assert len(others | {tuple(first.generated)}) > 1  # the seed matters
    greedy = generate(ck, prompt, 8).generated
    assert generate(ck, prompt, 8, Sampling(temperature=5.0, top_k=1)).generated == greedy
    assert generate(ck, prompt, 8, Sampling(temperature=5.0, top_p=1e-9)).generated == greedy


def test_it_stops_after_an_end_of_text_token(tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(FIXTURES / "llama-tiny", folder)
    ck = Checkpoint.open(str(folder))
    prompt, _ = ck.encode(PROMPTS[0])
    second = generate(ck, prompt, 8).generated[1]
    (folder / "generation_config.json").write_text(json.dumps({"eos_token_id": second}))
    g = generate(Checkpoint.open(str(folder)), prompt, 8)
    assert g.generated[-1] == second and len(g.generated) == 2 and g.stopped


@pytest.mark.parametrize(
    "name, n, sampling, message",
    [
        ("bert-tiny", 4, {}, "has no language-model head"),
        ("llama-tiny", 0, {}, "`max_new_tokens` must be a whole number >= 1"),
        ("llama-tiny", 70, {}, "more than the 64 positions"),
        ("llama-tiny", 4, {"temperature": -1.0}, "`temperature` must be a number >= 0"),
        ("llama-tiny", 4, {"temperature": 1.0, "top_k": 0}, "`top_k` must be a whole number >= 1"),
        ("llama-tiny", 4, {"temperature": 1.0, "top_p": 1.5}, "`top_p` must be a number in (0, 1]"),
        ("llama-tiny", 4, {"top_k": 3}, "give a `temperature` above 0 too"),
    ],
)  # fmt: skip
def test_what_cannot_be_generated_is_refused(name, n, sampling, message):
    ck = Checkpoint.open(str(FIXTURES / name))
    prompt, _ = ck.encode(PROMPTS[0])
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):  # fmt: skip
        generate(ck, prompt, n, Sampling(**sampling))


# --- the command ------------------------------------------------------------------------------


def cli(*args):
    from typer.testing import CliRunner

    from attnviz.cli import app

    return CliRunner().invoke(app, ["generate", *args], env={"COLUMNS": "100", "NO_COLOR": "1"})


LLAMA = str(FIXTURES / "llama-tiny")


def test_the_json_of_a_generation_gives_its_ids_and_chances():
    expected = np.load(FIXTURES / "gen-llama-tiny-0.npz")
    result = cli(PROMPTS[0], "--model", LLAMA, "--max-new-tokens", "8", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["prompt_ids"] + data["generated_ids"] == expected["ids"].tolist()
    assert data["prompt_ids"] == expected["prompt"].tolist()
    assert len(data["chosen_prob"]) == len(data["top"]) == 8
    assert all(t[0]["prob"] >= t[1]["prob"] for t in data["top"])  # most probable first
    assert data["chosen_prob"] == [t[0]["prob"] for t in data["top"]]  # greedy: the first
    T = len(expected["ids"])
    assert np.array(data["weights"]).shape == (6, T, T) and data["sampling"] == {"temperature": 0}
    np.testing.assert_allclose(np.array(data["weights"]), expected["attentions"][-1], atol=1e-5)


def test_the_run_of_a_generation_round_trips_through_npz(tmp_path):
    out = tmp_path / "g.npz"
    result = cli(PROMPTS[1], "--model", LLAMA, "--max-new-tokens", "5", "--temperature", "3",
                 "--seed", "2", "-o", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    from attnviz import load

    trace = load(out)
    P = trace.model.prompt_tokens
    assert P == len(Checkpoint.open(LLAMA).encode(PROMPTS[1])[0])
    assert len(trace.model.ids) == P + 5 and len(trace.model.chosen_prob) == 5
    with np.load(out) as saved:
        assert saved["generated_ids"].tolist() == list(trace.model.ids[P:])


def generated_trace(n):
    """The run of PROMPTS[0] and n greedy tokens of llama-tiny, its prompt marked: the trace,
    the prompt's ids, the generation."""
    from dataclasses import replace

    from attnviz.models.generate import pieces

    ck = Checkpoint.open(LLAMA)
    prompt, tokens = ck.encode(PROMPTS[0])
    g = generate(ck, prompt, n)
    config = AttentionConfig(mask=("none",), dtype="float32", source=Pretrained(LLAMA))
    trace = ck.run(g.ids, tokens + pieces(ck, g.generated), config)
    return replace(trace, model=replace(trace.model, prompt_tokens=len(prompt))), prompt, g


def test_the_figure_draws_the_boundary_and_sets_the_generated_labels_apart():
    from attnviz.render import colors
    from attnviz.render.figures import draw_generation
    from attnviz.views.generation import GenerationView
    from attnviz.views.labels import visible

    trace, prompt, g = generated_trace(4)
    fig = draw_generation(GenerationView(trace, [0], [], {"temperature": 0}))
    (line,) = [
        a for a in fig.findobj() if getattr(a, "get_gid", lambda: None)() == "generation-boundary"
    ]
    P, T = len(prompt), len(g.ids)
    drawn = {tuple(map(tuple, np.round(seg, 2))) for seg in line.get_segments()}
    assert drawn == {((-0.5, P - 0.5), (T - 0.5, P - 0.5)), ((P - 0.5, -0.5), (P - 0.5, T - 0.5))}
    labels = [a for a in fig.findobj() if getattr(a, "get_gid", lambda: None)() == "query-label"]
    new = [a.get_text() for a in labels if a.get_color() == colors.GENERATED["light"]]
    assert new == [visible(t.text) for t in trace.tokens[P:]]
    assert [a.get_fontstyle() for a in labels] == ["normal"] * P + ["italic"] * (T - P)
    texts = [t.get_text() for t in fig.findobj() if hasattr(t, "get_text")]
    assert any("0 tokens generated after" in t for t in texts)  # the view's title


def test_the_terminal_shows_the_generated_rows_apart():
    table = cli(PROMPTS[0], "--model", LLAMA, "--max-new-tokens", "3", "--format", "table",
                "--head", "0")  # fmt: skip
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    rule = next(n for n, line in enumerate(lines) if line.startswith("╌"))
    P = len(Checkpoint.open(LLAMA).encode(PROMPTS[0])[0])
    header = next(n for n, line in enumerate(lines) if line.startswith("query"))
    assert rule == header + 1 + P  # after the prompt's rows
    top = cli(PROMPTS[0], "--model", LLAMA, "--max-new-tokens", "3", "--head", "0",
              "--show-probs")  # fmt: skip
    rows = [line for line in top.stdout.splitlines() if "  ->  " in line]
    assert [int(r.split()[0]) for r in rows] == [P, P + 1, P + 2]  # the generated tokens' rows
    assert sum("  p 0." in line or "  p 1." in line for line in top.stdout.splitlines()) == 3


def test_the_stream_waits_for_a_whole_character(capsys):
    from attnviz.cli.generating import _stream

    class Tok:
        def decode(self, ids, skip_special_tokens=True):
            return {1: "ca", 2: "caf\ufffd", 3: "café"}[len(ids)]

    class Ck:
        tokenizer = Tok()

    show = _stream(Ck(), "« ", True)
    for t in (5, 6, 7):
        show(t)
    assert capsys.readouterr().out == "« café"
    assert _stream(Ck(), "x", False) is None


# --- --layer all: one generated token in every layer --------------------------------------------


@pytest.mark.parametrize("step", [None, 2])
def test_layer_all_gives_one_generated_token_in_every_layer(step):
    """The rows of the token of --step (default the last) in every layer, equal to those
    transformers computed over the whole sequence."""
    expected = np.load(FIXTURES / "gen-llama-tiny-0.npz")  # attentions (L, H, T, T)
    chosen = [] if step is None else ["--step", str(step)]
    result = cli(PROMPTS[0], "--model", LLAMA, "--max-new-tokens", "8", "--layer", "all",
                 "--head", "1,4", "--format", "json", *chosen)  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    P = len(expected["prompt"])
    q = P + (step or 8) - 1
    assert data["query"] == q and data["step"] == (step or 8) and len(data["tokens"]) == q + 1
    rows = np.array(data["layer_weights"])  # (L, heads, keys)
    assert rows.shape == (2, 2, q + 1)
    np.testing.assert_allclose(rows, expected["attentions"][:, [1, 4], q, : q + 1], atol=1e-5)
    assert np.array(data["layer_allowed"]).all()  # causal: every key up to the token
    assert data["generated_ids"] == expected["ids"].tolist()[P:]


def test_the_figure_of_layer_all_names_the_layers_and_sets_the_generated_keys_apart(tmp_path):
    from attnviz.render import colors
    from attnviz.render.figures import draw_generation
    from attnviz.views.generation import GenerationView
    from attnviz.views.labels import visible

    trace, prompt, _ = generated_trace(4)
    view = GenerationView(trace, [0, 2], [None] * 4, {"temperature": 0}, every_layer=True,
                          step=3)  # fmt: skip
    fig = draw_generation(view)
    gid = lambda a: getattr(a, "get_gid", lambda: None)()  # noqa: E731
    P, q = len(prompt), len(prompt) + 2
    rows = [a.get_text() for a in fig.findobj() if gid(a) == "query-label"]
    assert rows == ["0", "1"]  # the layers, left of the row of panels
    keys = [a for a in fig.findobj() if gid(a) == "key-label"]
    assert [a.get_text() for a in keys[: q + 1]] == [visible(t) for t in trace.texts[: q + 1]]
    new = [a.get_color() == colors.GENERATED["light"] for a in keys[: q + 1]]
    assert new == [False] * P + [True] * (q + 1 - P)
    for line in (a for a in fig.findobj() if gid(a) == "generation-boundary"):
        (segment,) = np.round(line.get_segments(), 2)  # only across the keys: rows are layers
        assert segment.tolist() == [[P - 0.5, -0.5], [P - 0.5, 1.5]]
    titles = [a.get_text() for a in fig.findobj() if hasattr(a, "get_text")]
    assert any(f"every layer of token {q}" in t and "(step 3 of 4)" in t for t in titles)


def test_the_terminal_shows_a_row_per_layer_and_heat_when_it_does_not_fit():
    args = [PROMPTS[0], "--model", LLAMA, "--max-new-tokens", "3", "--layer", "all", "--head", "2"]
    wide = cli(*args, "--format", "table")
    assert wide.exit_code == 0, wide.output
    lines = wide.stdout.splitlines()
    header = next(n for n, line in enumerate(lines) if line.startswith("layer \\ key"))
    assert [line.split()[0] for line in lines[header + 1 : header + 3]] == ["0", "1"]
    P = len(Checkpoint.open(LLAMA).encode(PROMPTS[0])[0])
    assert len(lines[header + 1].split()) == 1 + P + 3  # the layer, then every key so far
    from typer.testing import CliRunner

    from attnviz.cli import app

    narrow = CliRunner().invoke(app, ["generate", *args], env={"COLUMNS": "40", "NO_COLOR": "1"})
    assert narrow.exit_code == 0 and "layer \\ key" not in narrow.stdout
    assert "░░░░▒▒▒▒▓▓▓▓██" in narrow.stdout  # the heat view's legend (no colour: shades)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--step", "2"], "--step chooses the generated token that --layer all shows"),
        (["--layer", "all", "--format", "top"], "--format top lists them in one layer"),
        (["--layer", "all", "--step", "0"], "--step counts the generated tokens from 1"),
        (["--layer", "all", "--step", "4"], "from 1 to --max-new-tokens (3), not 4"),
        (["--layer", "1", "-o", "x.html"], "the page plays every layer"),
    ],
)  # fmt: skip
def test_layer_all_and_step_are_refused_where_they_cannot_act(args, message):
    result = cli(PROMPTS[0], "--model", LLAMA, "--max-new-tokens", "3", *args)
    assert result.exit_code == 2 and message in result.stderr, result.output


def test_a_step_past_the_end_of_text_is_refused_after_the_generation(tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(FIXTURES / "llama-tiny", folder)
    prompt, _ = Checkpoint.open(str(folder)).encode(PROMPTS[0])
    second = generate(Checkpoint.open(str(folder)), prompt, 8).generated[1]
    (folder / "generation_config.json").write_text(json.dumps({"eos_token_id": second}))
    result = cli(PROMPTS[0], "--model", str(folder), "--layer", "all", "--step", "5")
    assert result.exit_code == 2
    assert "stopped at its end-of-text token after 2 tokens" in result.stderr


@pytest.mark.parametrize("seed", range(5))
def test_the_most_probable_are_those_a_full_sort_gives(seed):
    from attnviz.models.generate import most_probable

    rng = np.random.default_rng(seed)
    p = rng.integers(0, 6, 40) / 10  # many ties
    for k in (1, 3, 5, 40, 50):
        expected = np.argsort(-p, kind="stable")[:k]
        np.testing.assert_array_equal(most_probable(p, k), expected)


@pytest.mark.parametrize("seed", range(3))
def test_the_probabilities_in_one_buffer_are_the_softmax_of_the_logits(seed):
    """A step's probabilities, computed in a buffer the steps share, are the numbers the
    kernel's softmax gives of the float64 logits, bit for bit (a -inf logit included), and
    logits with no finite largest value go to the softmax itself."""
    from attnviz.attention import softmax
    from attnviz.models.generate import probabilities

    rng = np.random.default_rng(seed)
    buffer = np.empty(5000)
    for _ in range(3):  # the buffer used again
        logits = (rng.standard_normal(5000) * 10 ** rng.uniform(0, 3)).astype(np.float32)
        logits[rng.integers(0, 5000, 3)] = -np.inf
        got = probabilities(logits, buffer)
        assert got is buffer
        assert np.array_equal(got, softmax(logits.astype(np.float64)))
    for odd in ([0.0, np.nan, 1.0], [-np.inf] * 3):
        odd = np.array(odd, np.float32)
        with np.errstate(invalid="ignore"):
            want = softmax(odd.astype(np.float64))
            assert np.array_equal(probabilities(odd, np.empty(3)), want, equal_nan=True)


@pytest.mark.parametrize("room", [0, 4, 40])
def test_the_cache_holds_every_key_and_value_passed_in_order(room):
    """Buffers of ``room`` tokens, doubled when more come: the keys and values given back
    are always those passed so far, joined (as concatenating them gives)."""
    from attnviz.models.layers import Cache

    rng, cache = np.random.default_rng(0), Cache(room=room)
    ks, vs = [], []
    for T in (3, 1, 1, 2, 1, 5, 1, 1, 9, 1):
        k, v = rng.standard_normal((2, 2, T, 4))
        ks.append(k), vs.append(v)
        for layer in (0, 1):
            got_k, got_v = cache.extend(layer, k + layer, v)
            np.testing.assert_array_equal(got_k, np.concatenate(ks, axis=1) + layer)
            np.testing.assert_array_equal(got_v, np.concatenate(vs, axis=1))
        cache.start += T
