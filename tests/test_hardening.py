"""Hostile input of every kind is refused cleanly: bounded reading, sizes checked before they
are allocated, undecodable arguments, long texts never tokenised whole."""

import importlib
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from attnviz import ConfigError
from attnviz.cli import app
from attnviz.tokens import count_tokens, tokenize

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHECKPOINTS = sorted(p.parent.name for p in FIXTURES.glob("*/model.safetensors"))
runner = CliRunner()
app_module = importlib.import_module("attnviz.cli.app")  # the package's `app` hides it
BIG = str(10**23)


def refused(args, words, code=2, stdin=""):
    result = runner.invoke(app, args, input=stdin)
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert result.stderr.count("\n") == 1 and words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    return result


@pytest.mark.parametrize(
    "args, words",
    [
        (["heatmap", "x", "--pad-to", BIG], "--pad-to must be a whole number from 1 to"),
        (["heatmap", "x", "--heads", BIG, "--d-model", BIG], "--heads must be a whole number"),
        (["heatmap", "x", "--seed", BIG], "--seed must be a whole number from 0 to 18446744073709551615"),
        (["heatmap", "x", "--max-tokens", BIG], "--max-tokens must be a whole number"),
        (["heatmap", "x", "--mask", f"window={BIG}"], "window must be at most 2147483647"),
        (["heatmap", "x", "--mask", f"prefix={BIG}"], "prefix must be at most 2147483647"),
        (["heatmap", "x", "--memory-budget", "9" * 40], "--memory-budget takes a size"),
        (["heatmap", "x", "--max-bytes", "0"], "--max-bytes takes a size"),
        # sizes are checked before anything is allocated: these would take gigabytes
        (["heatmap", "x", "--pad-to", "1000000000", "--max-tokens", "10"],
         "--pad-to 1000000000 is over --max-tokens 10"),
        (["tokens", "x", "--pad-to", "100000000"], "--pad-to 100000000 is over --max-tokens 1024"),
        (["heatmap", "x", "--pad-to", "100000", "--max-tokens", "100000"], "over --memory-budget"),
        (["tokens", "a b c", "--max-tokens", "2"], "more tokens than --max-tokens 2"),
        (["survey", "--file", "-", "--jobs", BIG], "--jobs must be at most 256"),
        (["heatmap", "a b c", "--max-bytes", "4"], "over --max-bytes 4 bytes"),
        # arguments that are not UTF-8 (Python keeps their bytes as surrogates)
        (["heatmap", "caf\udce9"], "the argument 'caf\\udce9' is not valid UTF-8 (byte 3)"),
        (["heatmap", "x", "--model", str(FIXTURES / "bert-tiny"), "--title", "\udcff"],
         "(the value of --title) is not valid UTF-8 (byte 0)"),
    ],
)  # fmt: skip
def test_sizes_and_arguments_are_refused_before_any_work(args, words):
    code = 1 if "memory-budget" in words and "takes" not in words else 2
    refused(args, words, code)


def test_tokens_obeys_max_tokens_and_says_what_it_cut():
    result = runner.invoke(app, ["tokens", "a b c d e", "--max-tokens", "3", "--truncate"])
    assert result.exit_code == 0
    assert [line.split()[1] for line in result.stdout.splitlines()[1:]] == ["a", "b", "c"]
    assert result.stderr == "cut to 3 tokens (2 more in the text)\n"


def run_cli(args, **kwargs):
    return subprocess.run([sys.executable, "-m", "attnviz", *args], capture_output=True,
                          timeout=120, **kwargs)  # fmt: skip


def test_endless_and_huge_inputs_are_read_no_further_than_the_cap(tmp_path):
    """Devices, a FIFO that never ends, a sparse file: each fails at once (unbounded reading
    would never end, or would take the machine's memory)."""
    sparse = tmp_path / "sparse.txt"
    with open(sparse, "wb") as f:
        f.truncate(2**31)  # 2 GiB of NUL bytes, none of them on disk
    big = tmp_path / "big.txt"
    big.write_bytes(b"word " * (2**20))  # 5 MiB of text
    for args, stdin, words in [
        (["--file", "/dev/zero"], None, "holds NUL bytes (byte 0)"),
        (["--file", str(sparse)], None, "holds NUL bytes (byte 0)"),
        (["--file", str(big)], None, "over --max-bytes 4 MiB (read no further)"),
        (["-"], "/dev/urandom", "standard input"),
    ]:
        with open(stdin or "/dev/null", "rb") as f:
            done = run_cli(["heatmap", *args], stdin=f)
        assert done.returncode == 2 and words.encode() in done.stderr, done.stderr
    yes = subprocess.Popen(["yes", "endless"], stdout=subprocess.PIPE)
    try:
        done = run_cli(["tokens", "-"], stdin=yes.stdout)
    finally:
        yes.kill()
        yes.wait()
    assert done.returncode == 2 and b"standard input is over --max-bytes 4 MiB" in done.stderr
    assert run_cli(["tokens", "--file", str(big), "--max-bytes", "6MiB", "--max-tokens", "3",
                    "--truncate"]).returncode == 0  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=40), chunk=st.integers(1, 7), cap=st.integers(1, 50))
def test_bounded_reading_equals_decoding_the_whole(data, chunk, cap):
    """Read in chunks (a character may span two), the text is the whole file decoded; an
    error names the first NUL or bad byte, as decoding the whole does, or the cap."""
    import codecs
    import io

    original = app_module.CHUNK
    app_module.CHUNK = chunk
    try:
        got = app_module._read_bounded(io.BytesIO(data), "x", cap)
    except ConfigError as e:
        got = str(e)
    finally:
        app_module.CHUNK = original
    try:
        text, bad = data.decode("utf-8"), None
    except UnicodeDecodeError as e:
        text, bad = None, e.start
    if text is not None and b"\0" not in data and len(data) <= cap:
        assert got == text
    elif "holds NUL bytes" in got:
        k = data.index(b"\0")
        assert k <= cap and got.startswith(f"x holds NUL bytes (byte {k})")
    elif "not valid UTF-8" in got:
        assert got == f"x is not valid UTF-8 (byte {bad})" and b"\0" not in data[:bad]
    else:
        assert "over --max-bytes" in got and len(data) > cap and b"\0" not in data[: cap + 1]
        codecs.getincrementaldecoder("utf-8")().decode(data[: cap + 1])  # no bad byte in it


def test_a_seeded_tokeniser_stops_at_the_limit():
    text = "word " * 1_000_000
    tracemalloc.start()
    tokens = tokenize(text, "word", limit=10)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(tokens) == 11 and peak < 100_000  # a million tokens would take 100 MB
    assert tokens == tokenize("word " * 20, "word")[:11]
    assert count_tokens(text, "word") == 1_000_000


LONG = [
    "The cat sat on the mat.  Then it   slept\n\nand dreamt of fish, 42 of them! " * 30,
    "naïve café — ¿qué es la atención? 注意力 🐈‍⬛ émigré's " * 40,
    " leading and trailing spaces  " * 50,
    "tab\tseparated\twords\nand lines\r\nwith CRLF " * 40,
]


@pytest.mark.parametrize("family", [*CHECKPOINTS, "minilm"])
def test_a_long_text_is_tokenised_in_pieces_that_give_its_tokens(family, monkeypatch):
    """Cut before a space between two words, the pieces' tokens are the text's: the count, and
    the first tokens of a prefix, equal those of the text tokenised whole (pieces made small
    so that a text crosses dozens of cuts). Every family's fixture, and the trained MiniLM's
    own tokenizer (sentence-transformers' folder)."""
    from fixtures.folders import INSTALL, minilm_folder

    from attnviz.models import tokenizer as tk
    from attnviz.models.checkpoint import Checkpoint

    folder = minilm_folder() if family == "minilm" else FIXTURES / family
    if folder is None:
        pytest.skip(f"REAL MODEL TESTS SKIPPED: {INSTALL}")
    monkeypatch.setattr(tk, "PIECE", 40)
    ck = Checkpoint.open(str(folder))
    for text in LONG:
        whole = ck.encode(text)[0]
        assert ck.count(text) == len(whole)
        for limit in (5, 64, len(whole) - 1):
            end = ck.over(text, limit)
            assert end is not None and (end < len(text) or limit == len(whole) - 1)
            assert ck.encode(text[:end], limit) == ck.encode(text, limit)
        assert ck.over(text, len(whole)) is None


def test_a_long_prompt_is_refused_before_it_is_tokenised_whole():
    refused(["generate", "word " * 5000, "--model", str(FIXTURES / "llama-tiny")],
            "the prompt has more tokens than the")  # fmt: skip


# --- checkpoints and NPZ files are untrusted input ----------------------------------------------

HOSTILE = Path(__file__).resolve().parent / "hostile.py"


def fuzz(kind, seconds):
    """The lines the fuzzer prints for ``seconds`` (a fixed seed: the same cases each time,
    as many as the machine gets through), under its memory ceiling."""
    import json

    done = subprocess.run([sys.executable, str(HOSTILE), kind, "0", str(seconds)],
                          capture_output=True, text=True, timeout=seconds + 120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_hostile_checkpoints_end_in_a_clean_exit_2_or_run():
    cases = fuzz("checkpoints", 25)
    assert len(cases) >= 40, len(cases)
    from hostile import MUTATIONS

    assert {c["kind"] for c in cases} == set(MUTATIONS)
    bad = [c for c in cases if c["code"] not in (0, 2) or "internal error" in c["stderr"]
           or (c["code"] == 2 and c["stderr"].count("\n") != 1)]  # fmt: skip
    assert not bad, bad[:3]
    assert sum(c["code"] == 2 for c in cases) > len(cases) / 2  # most mutations break a folder


def test_hostile_gguf_files_end_in_a_clean_exit_2_or_run():
    """Bytes of GGUF files changed at random (mostly in the metadata and the tensors'
    entries), or the files cut: a run, or one line and exit 2 with nothing written."""
    pytest.importorskip("gguf")
    cases = fuzz("gguf", 15)
    assert len(cases) >= 40, len(cases)
    bad = [c for c in cases if c["code"] not in (0, 2) or "internal error" in c["stderr"]
           or (c["code"] == 2 and (c["stderr"].count("\n") != 1 or c["written"]))]  # fmt: skip
    assert not bad, bad[:3]
    assert sum(c["code"] == 2 for c in cases) > len(cases) / 2  # most changes break a file


def test_hostile_npz_files_end_in_config_error():
    cases = fuzz("npz", 15)
    assert len(cases) >= 200, len(cases)
    outcomes = {c["outcome"] for c in cases}
    assert outcomes <= {"ok", "ConfigError"}, outcomes - {"ok", "ConfigError"}
    assert "ConfigError" in outcomes


def _set(name, **change):
    """A mutation: one tensor's entry in the header of model.safetensors changed."""

    def apply(folder):
        from hostile import _header, _write

        path = folder / "model.safetensors"
        _, header, body = _header(path)
        header[name].update(change)
        _write(path, header, body)

    return apply


def _config(**change):
    def apply(folder):
        import json

        config = json.loads((folder / "config.json").read_text())
        for key, value in change.items():
            if value is ...:
                del config[key]
            else:
                config[key] = value
        (folder / "config.json").write_text(json.dumps(config))

    return apply


def _write_file(name, data):
    return lambda folder: (folder / name).write_bytes(data)


def _length(n):
    def apply(folder):
        from hostile import _header, _write

        _, header, body = _header(folder / "model.safetensors")
        _write(folder / "model.safetensors", header, body, n)

    return apply


def _cut(folder):
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])


def _values(*values):
    """The first weights of layer 0's W_Q set to ``values`` (float32)."""

    def apply(folder):
        import struct

        from hostile import _header

        n, header, _ = _header(folder / "model.safetensors")
        start = 8 + n + header[Q]["data_offsets"][0]
        data = bytearray((folder / "model.safetensors").read_bytes())
        data[start : start + 4 * len(values)] = struct.pack(f"<{len(values)}f", *values)
        (folder / "model.safetensors").write_bytes(bytes(data))

    return apply


def _index(shard):
    import json

    return _write_file("model.safetensors.index.json",
                       json.dumps({"weight_map": {"embeddings.word_embeddings.weight": shard}})
                       .encode())  # fmt: skip


Q = "encoder.layer.0.attention.self.query.weight"
# (what is wrong, the mutation of bert-tiny, what the one line says)
CHECKPOINT_CASES = [
    ("header length 2**63", _length(2**63), "model.safetensors is not a valid safetensors file"),
    ("header length past the end", _length(10**6), "not a valid safetensors file"),
    ("header length 0", _length(0), "not a valid safetensors file"),
    ("offsets past the end", _set(Q, data_offsets=[0, 10**9]), "not a valid safetensors file"),
    ("unknown dtype", _set(Q, dtype="Q4"), "not a valid safetensors file"),
    ("int8 weights", _set(Q, dtype="I8", shape=[32, 128]), f"tensor '{Q}' is I8"),
    ("wrong shape", _set(Q, shape=[16, 64]), "do not fit its config.json"),
    ("a file cut short", _cut, "not a valid safetensors file"),
    ("NaN weights", _values(float("nan")), f"tensor '{Q}' holds NaN or infinite values"),
    # their sum is NaN with NumPy's "invalid value" warning: the one line only
    ("inf and -inf weights", _values(float("inf"), -float("inf")), f"tensor '{Q}' holds NaN"),
    ("weights whose products overflow", _values(*[3e38] * 128), "layer 0's attention overflows "
     "float32 (its numbers are not finite): --dtype float64 may hold them"),
    ("tokenizer.json garbage", _write_file("tokenizer.json", b"\x00garbage"),
     "cannot read tokenizer.json"),
    ("tokenizer.json empty", _write_file("tokenizer.json", b""), "cannot read tokenizer.json"),
    ("heads '4'", _config(num_attention_heads="4"), "'num_attention_heads' must be a whole"),
    ("heads 4.5", _config(num_attention_heads=4.5), "'num_attention_heads' must be a whole"),
    ("heads null", _config(num_attention_heads=None), "'num_attention_heads' must be a whole"),
    ("no heads", _config(num_attention_heads=...), "'num_attention_heads' must be a whole"),
    ("layer_norm_eps -1", _config(layer_norm_eps=-1), "'layer_norm_eps' must be a number > 0"),
    ("model_type []", _config(model_type=[]), "model_type [] is not supported"),
    ("config not an object", _write_file("config.json", b"[1, 2]"), "is not supported"),
    ("shard /etc/passwd", _index("/etc/passwd"), "names a shard outside the folder"),
    ("shard ..", _index("../model.safetensors"), "names a shard outside the folder"),
    ("shard missing", _index("other.safetensors"), "which the folder lacks"),
    ("index not an object", _write_file("model.safetensors.index.json", b"[]"), "no weight_map"),
    ("index not JSON", _write_file("model.safetensors.index.json", b"{"), "cannot read"),
]  # fmt: skip


@pytest.mark.parametrize("what, mutate, words", CHECKPOINT_CASES,
                         ids=[c[0] for c in CHECKPOINT_CASES])  # fmt: skip
def test_a_malformed_checkpoint_is_one_line_and_exit_2(what, mutate, words, tmp_path):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(FIXTURES / "bert-tiny", folder)
    mutate(folder)
    refused(["heatmap", "a cat", "--model", str(folder), "--format", "json"], words)


def _fill(folder, name, value):
    """Every weight of the tensor ``name`` (F32 or BF16) of model.safetensors set to ``value``."""
    import struct

    from hostile import _header

    n, header, _ = _header(folder / "model.safetensors")
    (start, end), dtype = header[name]["data_offsets"], header[name]["dtype"]
    width = {"F32": 4, "BF16": 2}[dtype]
    data = bytearray((folder / "model.safetensors").read_bytes())
    one = struct.pack("<f", value)[4 - width :]  # a BF16 is a float32's upper half
    data[8 + n + start : 8 + n + end] = one * ((end - start) // width)
    (folder / "model.safetensors").write_bytes(bytes(data))


def test_logits_that_overflow_are_refused_not_sampled(tmp_path):
    """A final norm of huge weights (finite, every layer's attention finite) makes logits past
    float32: one line naming them, not a token drawn from NaN probabilities."""
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(FIXTURES / "llama-tiny", folder)
    _fill(folder, "model.norm.weight", 3e38)
    refused(["generate", "a cat", "--model", str(folder), "--max-new-tokens", "2"],
            "the LM head (the next token's logits) overflows float32 (its numbers are not "
            "finite): --dtype float64 may hold them")  # fmt: skip


def test_an_encoder_decoder_that_overflows_names_the_kind_and_layer(tmp_path):
    """Teacher-forced, then translating."""
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(FIXTURES / "bart-tiny", folder)
    _fill(folder, "model.encoder.layers.0.self_attn.q_proj.weight", 3e38)
    for args in (["heatmap", "The cat.", "--target", "Le chat."],
                 ["generate", "The cat.", "--max-new-tokens", "2"]):  # fmt: skip
        refused([*args, "--model", str(folder)], "the encoder attention of layer 0 overflows "
                "float32 (its numbers are not finite): --dtype float64 may hold them")  # fmt: skip


def test_an_empty_vocab_txt_is_refused(tmp_path):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(FIXTURES / "bert-vocab", folder)
    (folder / "vocab.txt").write_text("")
    refused(["heatmap", "a cat", "--model", str(folder)], "vocab.txt is empty")


def _rezip(source, change):
    """The NPZ ``source`` with members replaced by ``change`` (name -> bytes)."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as w:
        for name in z.namelist():
            w.writestr(name, change.get(name, z.read(name)))
        for name in set(change) - set(z.namelist()):
            w.writestr(name, change[name])
    return out.getvalue()


def _npy(array):
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def _config_npy(source, edit):
    import json

    with np.load(source) as npz:
        config = json.loads(str(npz["config"][()]))
    edit(config)
    return _npy(np.array(json.dumps(config) if isinstance(config, dict) else config))


def test_hostile_npz_files_are_refused_with_config_error(tmp_path):

    import attnviz

    good = tmp_path / "good.npz"
    attnviz.save_npz(attnviz.attend("a cat sat", heads=2, d_model=8), good)
    import io

    huge = io.BytesIO()  # a header claiming 8 TB of float64, over 64 bytes of data
    np.lib.format.write_array_header_1_0(
        huge, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    nested = "[" * 100_000 + "]" * 100_000
    cases = {
        "not a zip": (b"just text", "not a consistent attnviz NPZ (BadZipFile"),
        "a zip bomb": (_rezip(good, {"x.npy": _npy(np.zeros(8_000_000))}),  # 64 MB of zeros
                       "its arrays unpack to 64,00"),
        "a huge shape": (_rezip(good, {"x.npy": huge.getvalue() + b"\x00" * 64}),
                         "x.npy claims (1000000000000,) of float64, more than its"),
        "a pickle": (_rezip(good, {"x.npy": _npy(np.array([{}], dtype=object))}),
                     "x.npy holds Python objects"),
        "nested config": (_rezip(good, {"config.npy": _npy(np.array(nested))}), "RecursionError"),
        "spans of 2e9": (_rezip(good, {"config.npy": _config_npy(
            good, lambda c: c.update(token_spans=[[0, 2_000_000_000]] * 3))}),
            "the span [0, 2000000000] does not fit its token 'a'"),
        "spans backwards": (_rezip(good, {"config.npy": _config_npy(
            good, lambda c: c.update(token_spans=[[5, 1]] * 3))}), "the span [5, 1] does not fit"),
    }  # fmt: skip
    for what, (data, words) in cases.items():
        path = tmp_path / "bad.npz"
        path.write_bytes(data)
        with pytest.raises(ConfigError, match="cannot read") as e:
            attnviz.load(path, memory_budget=32 * 2**20)
        assert len(str(e.value).splitlines()) == 1 and words in str(e.value), (what, e.value)
    assert len(attnviz.load(good, memory_budget=32 * 2**20).tokens) == 3


# --- text stays inert, signals clean up, files keep their permissions ---------------------------

HOSTILE_TEXT = "a\u202eb c\x9bd \x1b]52;c;aGk=\x07 e\u2028f \x1b[31mred"


def test_json_keeps_every_character_but_escapes_those_that_act_on_a_terminal(tmp_path):
    import json

    args = ["heatmap", HOSTILE_TEXT, "--tokenizer", "whitespace", "--heads", "2", "--d-model", "8"]
    shown = runner.invoke(app, [*args, "--format", "json"])
    assert shown.exit_code == 0, shown.stderr
    exported = tmp_path / "run.json"
    assert runner.invoke(app, ["export", *args[1:], "-o", str(exported)]).exit_code == 0
    for text in (shown.stdout, exported.read_text(encoding="utf-8")):
        for ch in "\u202e\x9b\x1b\x07":
            assert ch not in text
        assert "\\u202e" in text and "\\u009b" in text and "\\u001b" in text
        assert json.loads(text)["tokens"] == HOSTILE_TEXT.split()  # nothing lost
        assert "NaN" not in text and "Infinity" not in text


def on_a_terminal(args):
    """Standard output of ``attnviz args`` run with a terminal as its standard output."""
    import os
    import pty

    leader, follower = pty.openpty()
    done = subprocess.run([sys.executable, "-m", "attnviz", *args], stdout=follower,
                          stderr=subprocess.PIPE, timeout=120, env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert done.returncode == 0, done.stderr
    return out.decode("utf-8")


def test_csv_shows_control_characters_on_a_terminal_and_keeps_them_in_a_pipe():
    args = ["heatmap", HOSTILE_TEXT, "--tokenizer", "whitespace", "--heads", "2", "--d-model", "8",
            "--format", "csv"]  # fmt: skip
    seen = on_a_terminal(args)
    assert "\x1b" not in seen and "\x07" not in seen and "\u202e" not in seen
    assert "␛]52;c;aGk=␇" in seen and "\\u202e" in seen
    piped = run_cli(args)
    assert piped.returncode == 0 and b"\x1b]52;c;aGk=\x07" in piped.stdout


@pytest.mark.parametrize("name, code", [("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_signal_removes_the_temporary_file_and_keeps_the_old_one(tmp_path, name, code):
    import signal
    import time

    out = tmp_path / "run.npz"
    out.write_bytes(b"the old file")
    text = " ".join(["word"] * 700)
    proc = subprocess.Popen([sys.executable, "-m", "attnviz", "export", text, "--heads", "16",
                             "--d-model", "1024", "-o", str(out)], stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".run.npz.*.tmp")) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(getattr(signal, name))
    stderr = proc.communicate(timeout=120)[1].decode()
    if proc.returncode == 0:
        pytest.skip("the file was written before the signal came")
    assert proc.returncode == code and f"stopped by {name}" in stderr, stderr
    assert out.read_bytes() == b"the old file" and sorted(tmp_path.iterdir()) == [out]


def test_an_overwritten_file_keeps_its_permissions_and_long_names_work(tmp_path):
    import stat

    out = tmp_path / "run.json"
    out.write_text("old")
    out.chmod(0o640)
    assert runner.invoke(app, ["export", "a cat", "-o", str(out)]).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and out.read_text() != "old"
    long = tmp_path / ("é" * 120 + ".npz")  # 245 bytes: the file system takes it
    assert runner.invoke(app, ["export", "a cat", "-o", str(long)]).exit_code == 0
    assert sorted(tmp_path.iterdir()) == sorted([out, long])


# --- outputs written a piece at a time ----------------------------------------------------------

_finite = st.floats(allow_nan=False, allow_infinity=False)
_arrays = st.builds(
    lambda shape, values: np.resize(np.array(values), shape),
    st.lists(st.integers(1, 3), min_size=1, max_size=3),
    st.lists(_finite, min_size=1, max_size=5) | st.lists(st.booleans(), min_size=1, max_size=5),
)
_leaves = _finite | st.booleans() | st.none() | st.text(max_size=5) | st.integers() | _arrays
_json = st.recursive(_leaves, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=12)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(data=_json)
def test_json_written_row_by_row_is_the_json_of_the_whole(data):
    from attnviz.views.labels import json_text, plain, write_json

    pieces = []
    write_json(data, pieces.append)
    assert "".join(pieces) == json_text(plain(data))
