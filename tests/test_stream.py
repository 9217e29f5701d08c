"""The streamed path (attnviz.stream, attnviz.longrun) against the dense one and against
plain NumPy written here: the weights a block of queries at a time (one pass, and the online
softmax over many tiles), pooled maps, exact cells of a window and row measures, for every
mask kind, the seeded model and every checkpoint family; and what the command line does with
a long text (bad input, Ctrl-C, Gemma 3's sliding and global layers at 8,192 tokens, the
attention-sink curve)."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from attnviz import stream
from attnviz.cli import app
from attnviz.longrun import Streamed, Wanted
from attnviz.masks import Mask
from attnviz.pipeline import Limits, run, run_long
from attnviz.pooling import Cropper, Grid, Pooler
from attnviz.stats import head_stats
from attnviz.trace import AttentionConfig, Crop, Pretrained, Seeded

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEXTS = json.loads((FIXTURES / "texts.json").read_text(encoding="utf-8"))
FAMILIES = ["bert-tiny", "gpt2-tiny", "llama-tiny", "mistral-tiny", "qwen2-tiny", "qwen3-tiny",
            "gemma3-tiny", "pythia-tiny", "neox-serial-tiny"]  # fmt: skip
TOLERANCE = {"float64": 1e-9, "float32": 1e-6}
runner = CliRunner()


def allowed_of(specs, T, is_pad=None):
    """(T, T) bool: what the mask specs let query i see, written out here."""
    i, j = np.arange(T)[:, None], np.arange(T)[None, :]
    real = np.ones(T, dtype=bool) if is_pad is None else ~is_pad
    allowed = np.ones((T, T), dtype=bool)
    for spec in specs:
        name, _, arg = spec.partition("=")
        rule = {"none": np.ones((T, T), dtype=bool), "causal": j <= i,
                "window": (j <= i) & (j > i - int(arg or 0)),
                "prefix": (j <= i) | (j < int(arg or 0)),
                "padding": real[:, None] & real[None, :]}[name]  # fmt: skip
        allowed &= rule
    return allowed


def plain_attention(q, k, v, allowed, factor, bias=None):
    """softmax over the allowed keys of q·kᵀ·factor (+ bias), and ·v: (H,T,T), (H,T,Dh)."""
    group = q.shape[0] // k.shape[0]
    k, v = np.repeat(k, group, axis=0), np.repeat(v, group, axis=0)
    s = np.einsum("htd,hsd->hts", q.astype(np.float64), k.astype(np.float64)) * factor
    s = s + (0 if bias is None else bias)
    s = np.where(allowed, s, -np.inf)
    top = np.max(s, axis=-1, keepdims=True)
    e = np.where(allowed, np.exp(s - np.where(np.isfinite(top), top, 0)), 0.0)
    total = e.sum(axis=-1, keepdims=True)
    w = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return w, w @ v.astype(np.float64)


def pooled_by_loops(w, allowed, q0, q1, k0, k1, f, how):
    """Each f x f block's mean (or largest) visible weight, and the hidden blocks, by loops."""
    R, C = -(-(q1 - q0) // f), -(-(k1 - k0) // f)
    values, hidden = np.zeros((R, C)), np.zeros((R, C), dtype=bool)
    for r in range(R):
        for c in range(C):
            rows = slice(q0 + r * f, min(q0 + (r + 1) * f, q1))
            cols = slice(k0 + c * f, min(k0 + (c + 1) * f, k1))
            seen = allowed[rows, cols]
            hidden[r, c] = not seen.any()
            if seen.any():
                values[r, c] = w[rows, cols][seen].mean() if how == "mean" else w[rows, cols].max()
    return values, hidden


MASKS = [("none",), ("causal",), ("window=37",), ("prefix=50",), ("causal", "window=300"),
         ("padding",), ("none", "window=5")]  # fmt: skip


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("specs", MASKS, ids="+".join)
def test_streamed_weights_and_outputs_equal_a_plain_softmax(specs, dtype):
    """Many tiles a row (the online softmax), grouped heads, a bias; every weight kept by a
    Cropper, and the outputs, against NumPy's softmax of the whole matrix."""
    rng = np.random.default_rng(7)
    H, G, T, Dh = 4, 2, 700, 8
    q, k, v = (rng.normal(size=(n, T, Dh)).astype(dtype) for n in (H, G, G))
    bias = rng.normal(size=(H, T, T)).astype(dtype)
    is_pad = np.zeros(T, dtype=bool)
    is_pad[650:] = "padding" in specs
    mask = Mask(specs, is_pad)
    keep = Cropper(tuple(range(H)), 0, T, 0, T, dtype)
    out = stream.attend(q, k, v, mask, factor=0.5, bias=bias, reducers=[keep],
                        tile_bytes=stream.least_tile_bytes(dtype))  # fmt: skip
    allowed = allowed_of(specs, T, is_pad)
    w, o = plain_attention(q, k, v, allowed, 0.5, bias)
    got = np.stack([keep.weights[h] for h in range(H)])
    np.testing.assert_allclose(got, w, atol=TOLERANCE[dtype], rtol=0)
    np.testing.assert_allclose(out, o, atol=10 * TOLERANCE[dtype], rtol=0)
    assert (got[:, ~allowed] == 0).all()  # hidden weights exactly 0
    seen = allowed.any(axis=1)
    np.testing.assert_allclose(got.sum(axis=-1)[:, seen], 1, atol=TOLERANCE[dtype])
    assert (out[:, ~seen] == 0).all()


@given(T=st.integers(1, 600), f=st.integers(1, 40), seed=st.integers(0, 2**16),
       q0=st.integers(0, 50), k0=st.integers(0, 50), how=st.sampled_from(["mean", "max"]),
       specs=st.sampled_from(MASKS[:5]))  # fmt: skip
def test_pooled_maps_equal_pooling_the_plain_weights_by_loops(T, f, seed, q0, k0, how, specs):
    rng = np.random.default_rng(seed)
    q, k = rng.normal(size=(1, T, 4)), rng.normal(size=(1, T, 4))
    q0, k0 = min(q0, T - 1), min(k0, T - 1)
    grid = Grid(q0, T, k0, T, f)
    pooler = Pooler((0,), grid, how)
    stream.attend(q, k, None, Mask(specs, np.zeros(T, dtype=bool)), factor=1.0,
                  reducers=[pooler], tile_bytes=stream.least_tile_bytes("float64"))  # fmt: skip
    allowed = allowed_of(specs, T)
    w, _ = plain_attention(q, k, k, allowed, 1.0)
    values, hidden = pooled_by_loops(w[0], allowed, q0, T, k0, T, f, how)
    got = pooler.maps()[0]
    np.testing.assert_array_equal(got.hidden, hidden)
    np.testing.assert_allclose(got.values, values, atol=1e-12, rtol=0)


def seeded_config(specs, dtype="float64", **seeded):
    return AttentionConfig(mask=specs, dtype=dtype, source=Seeded(heads=4, d_model=32, **seeded))


def model_config(name, dtype, specs=("none",)):
    return AttentionConfig(mask=specs, dtype=dtype, source=Pretrained(str(FIXTURES / name)))


def dense_layers(trace):
    """(L, H, T, T) weights and each layer's allowed (L, T, T) of a dense run."""
    T = len(trace.tokens)
    if trace.model is None:
        return trace.weights[None], trace.allowed[None]
    specs = trace.model.layer_masks or (trace.config.mask,) * trace.model.layer_weights.shape[0]
    return trace.model.layer_weights, np.stack([allowed_of(s, T) for s in specs])


def check_maps(streamed, trace, how, tolerance):
    weights, allowed = dense_layers(trace)
    for (n, h), m in streamed.maps.items():
        g = m.grid
        values, hidden = pooled_by_loops(weights[n, h].astype(np.float64), allowed[n],
                                         g.q0, g.q1, g.k0, g.k1, g.f, how)  # fmt: skip
        np.testing.assert_array_equal(m.hidden, hidden)
        np.testing.assert_allclose(m.values, values, atol=tolerance, rtol=0)


SEEDED_CASES = [(("causal",), {}), (("none",), {}), (("window=4",), {}), (("prefix=6",), {}),
                (("padding",), {"pad_to": 48}), (("causal",), {"plant": ("1=previous",)}),
                (("causal",), {"positions": "none", "bos": True})]  # fmt: skip


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("how", ["mean", "max"])
@pytest.mark.parametrize(("specs", "seeded"), SEEDED_CASES, ids=lambda c: str(c))
def test_a_streamed_seeded_run_pools_what_the_dense_one_computes(specs, seeded, how, dtype):
    config = seeded_config(specs, dtype, **seeded)
    trace = run(TEXTS[2], config)
    streamed = run_long(TEXTS[2], config, Limits(), Wanted((0, 1, 3), resolution=9, pool=how),
                        stream=True)  # fmt: skip
    assert isinstance(streamed, Streamed) and len(streamed.maps) == 3
    assert next(iter(streamed.maps.values())).grid.f > 1  # pooled
    check_maps(streamed, trace, how, TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", FAMILIES)
def test_a_streamed_checkpoint_pools_every_layer_as_the_dense_run(name, dtype):
    config = model_config(name, dtype)
    trace = run(TEXTS[2], config)
    L, H = trace.model.layer_weights.shape[:2]
    wanted = Wanted(tuple(range(H)), tuple(range(L)), resolution=7, pool="mean")
    streamed = run_long(TEXTS[2], config, Limits(), wanted, stream=True)
    assert isinstance(streamed, Streamed) and set(streamed.maps) == {
        (n, h) for n in range(L) for h in range(H)}  # fmt: skip
    check_maps(streamed, trace, "mean", TOLERANCE[dtype])


@pytest.mark.parametrize("name", ["gpt2-tiny", "gemma3-tiny", "seeded"])
def test_a_window_of_a_streamed_run_is_the_dense_weights_exactly(name):
    config = seeded_config(("causal",)) if name == "seeded" else model_config(name, "float64")
    trace = run(TEXTS[2], config)
    T = len(trace.tokens)
    window = Crop(3, T - 1, 1, T - 4)
    streamed = run_long(TEXTS[2], config, Limits(), Wanted((0, 1), crop=window), stream=True)
    weights, _ = dense_layers(trace)
    assert len(streamed.maps) == 2
    for (n, h), m in streamed.maps.items():
        assert m.grid.f == 1 and m.values.shape == (T - 4, T - 5)
        dense = weights[n, h, 3 : T - 1, 1 : T - 4]
        if n == 0:  # the same scores, the same softmax: the same bits
            np.testing.assert_array_equal(m.values, dense)
        else:  # the layers before summed weights·V tile by tile: rounding apart
            np.testing.assert_allclose(m.values, dense, atol=1e-14, rtol=0)


@pytest.mark.parametrize("name", ["llama-tiny", "bert-tiny", "seeded"])
def test_streamed_row_measures_give_the_dense_head_stats(name):
    from attnviz.stats import STATS_MEASURES, head_numbers, token_codes

    config = seeded_config(("causal",)) if name == "seeded" else model_config(name, "float64")
    trace = run(TEXTS[1], config)
    heads = tuple(range(trace.heads))
    streamed = run_long(TEXTS[1], config, Limits(),
                        Wanted(heads, resolution=None, measures=STATS_MEASURES), stream=True)  # fmt: skip
    n = streamed.layers[-1]
    numbers = head_numbers([streamed.rows[(n, h)] for h in heads], token_codes(trace.texts))
    dense = head_stats(trace)
    for metric, values in numbers.items():
        np.testing.assert_allclose(values, dense[metric], atol=1e-9, rtol=0, err_msg=metric)


def test_row_stats_reduce_tiles_in_any_order_to_the_same_numbers():
    """Blocks run on threads; the reduction is added in order, so the bytes do not change."""
    config = seeded_config(("causal",))
    text = " ".join(TEXTS)
    wanted = Wanted((0, 1, 2, 3), resolution=5, measures=("entropy", "first", "keys"))
    a = run_long(text, config, Limits(), wanted, stream=True)
    b = run_long(text, config, Limits(), wanted, stream=True)
    for key in a.maps:
        assert a.maps[key].values.tobytes() == b.maps[key].values.tobytes()
        assert a.rows[key]["entropy"].tobytes() == b.rows[key]["entropy"].tobytes()


# --- the command line -------------------------------------------------------------------------


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "80"})


LONG = " ".join(f"w{i % 97}" for i in range(3000))


@pytest.mark.parametrize(("args", "message"), [
    (["--model", FIXTURES / "gpt2-tiny"], "positions"),
    (["--memory-budget", "2MB"], "--memory-budget is too small for a streamed run"),
    (["--resolution", "0"], "--resolution"),
    (["--resolution", "-3"], "--resolution"),
    (["--pool", "median"], "unknown pool"),
])  # fmt: skip
def test_bad_input_of_a_long_run_is_one_line_exit_2_and_no_file(args, message, tmp_path):
    out = tmp_path / "long.png"
    result = invoke("heatmap", LONG, "--max-tokens", "3000", "--stream", "-o", out, *args)
    assert result.exit_code == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_mid_stream_writes_nothing(tmp_path, monkeypatch):
    import attnviz.pooling

    added = []

    def interrupted(self, part):
        added.append(part)
        if len(added) == 5:  # some blocks reduced, more to come
            raise KeyboardInterrupt

    monkeypatch.setattr(attnviz.pooling.Pooler, "add", interrupted)
    result = invoke("heatmap", LONG, "--max-tokens", "3000", "--stream", "-o",
                    tmp_path / "long.png", "--resolution", "100")  # fmt: skip
    assert result.exit_code == 130 and result.stderr == "attnviz: error: interrupted\n"
    assert len(added) == 5 and list(tmp_path.iterdir()) == []


def test_a_text_over_the_budget_streams_by_itself_and_says_so(tmp_path):
    out = tmp_path / "long.png"
    result = invoke("heatmap", LONG, "--max-tokens", "3000", "--memory-budget", "400MB",
                    "--head", "0", "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "streamed: the dense run of 3000 tokens would be over --memory-budget" in result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_streamed_stats_are_the_dense_ones_but_keys_90():
    args = ("stats", TEXTS[2], "--model", FIXTURES / "llama-tiny", "--format", "json")
    dense, streamed = json.loads(invoke(*args).stdout), json.loads(invoke(*args, "--stream").stdout)
    assert streamed["keys_90"] == [None] * len(dense["heads"]) and None not in dense["keys_90"]
    for metric in ("entropy", "distance", "self", "previous", "first", "same", "max_weight"):
        np.testing.assert_allclose(streamed[metric], dense[metric], atol=1e-9, rtol=0)
    csv = invoke("stats", TEXTS[2], "--stream", "--format", "csv").stdout.splitlines()
    assert csv[1].split(",")[-2] == ""  # keys_90 left empty, not "nan"


@pytest.mark.parametrize("name", ["gpt2-tiny", "gemma3-tiny"])
def test_the_sink_curve_is_the_dense_first_column_per_layer(name):
    trace = run(TEXTS[2], model_config(name, "float32"))
    w, allowed = dense_layers(trace)
    seen = allowed[0].any(axis=1)
    expected = w[:, :, seen, 0].mean(axis=-1)  # (L, H): each query's weight on key 0
    result = invoke("sink", TEXTS[2], "--model", FIXTURES / name, "--format", "json")
    assert result.exit_code == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["layers"] == list(range(w.shape[0])) and got["tokens"] == len(trace.tokens)
    np.testing.assert_allclose(got["first"], expected, atol=1e-6, rtol=0)
    np.testing.assert_allclose(got["uniform"], (1 / allowed[0].sum(axis=1)[seen]).mean())
    one = json.loads(invoke("sink", TEXTS[2], "--model", FIXTURES / name, "--layer", "1",
                            "--format", "json").stdout)  # fmt: skip
    assert one["layers"] == [1] and one["first"] == [got["first"][1]]


def gemma3_long(into):
    """The tiny Gemma 3 with 8,192 positions and a sliding window of 512 on layers 0 and 2."""
    import shutil

    folder = into / "gemma3-long"
    shutil.copytree(FIXTURES / "gemma3-tiny", folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config.update(max_position_embeddings=8192, sliding_window=512)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def test_gemma3_sliding_and_global_layers_show_as_such_at_8192_tokens(tmp_path):
    folder = gemma3_long(tmp_path)
    text = " ".join(["the cat sat on the mat"] * 1400)
    wanted = Wanted((0, 1, 2, 3), (0, 1, 2), resolution=64)
    config = AttentionConfig(mask=("none",), source=Pretrained(str(folder)))
    streamed = run_long(text, config, Limits(max_tokens=8192, truncate=True), wanted, stream=True)
    T = len(streamed.tokens)
    assert T == 8192 and streamed.layer_specs == (("window=512",), ("causal",), ("window=512",))
    f = T // 64
    r, c = np.indices((64, 64))
    for n in range(3):
        m = streamed.maps[(n, 0)]
        assert m.grid.f == f and m.values.shape == (64, 64)
        far = r - c > 512 // f  # blocks whose keys all lie more than 512 before the queries
        if n == 1:  # global: every key at or before the query is seen
            assert not m.hidden[r >= c].any() and m.values[far].min() > 0
        else:  # sliding: only the blocks on and just below the diagonal are seen
            assert m.hidden[far].all() and (m.values[far] == 0).all()
            assert not m.hidden[r == c].any()
    out = tmp_path / "gemma3.png"
    result = invoke("heatmap", text, "--model", folder, "--max-tokens", "8192", "--truncate",
                    "--stream", "--layer", "all", "--head", "0,1", "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", ["llama-tiny", "gemma3-tiny", "bert-tiny", "seeded"])
def test_a_survey_streams_a_text_over_its_budget_to_the_dense_sums(name):
    """A text whose dense run is over the budget is measured from the stream, not skipped."""
    from attnviz.corpus import Runner, Source

    config = seeded_config(("causal",)) if name == "seeded" else model_config(name, "float64")
    text = TEXTS[2]
    dense = Runner(Source(config, False, 4096, 2**40)).measure_many([text])[0]
    tight = Runner(Source(config, False, 4096, 2**40))
    tight._fits = lambda *args: False  # as if the dense run were over the budget
    streamed = tight.measure(text)
    assert not isinstance(streamed, str) and not isinstance(dense, str)
    for m in dense.sums:
        np.testing.assert_allclose(streamed.sums[m], dense.sums[m], atol=1e-9, rtol=0, err_msg=m)
        np.testing.assert_array_equal(streamed.rows[m], dense.rows[m])
    np.testing.assert_array_equal(streamed.offsets, dense.offsets)
    again = tight.measure_many([text, None])  # the packed way (a checkpoint that packs)
    assert again[1] == "bad" and again[0].sums["entropy"].tobytes() == streamed.sums[
        "entropy"].tobytes()  # fmt: skip
