"""Hostile checkpoints, GGUF files and NPZ files made from the fixtures by seeded mutations,
and a driver that runs attnviz on each under a memory ceiling: ``python tests/hostile.py
checkpoints SEED SECONDS`` prints one JSON line per case (what was mutated, the exit code,
standard error); ``gguf`` does the same with GGUF files, ``npz`` with NPZ files.

A mutation is what a broken download or a hostile file brings: config values of the wrong type
or range, a safetensors header whose length or offsets lie, another dtype, a wrong shape, NaN
weights, a file cut short, index entries naming files outside the folder, tokenizer files
that do not load.
"""

from __future__ import annotations

import json
import random
import resource
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FOLDERS = ["bert-tiny", "gpt2-tiny", "llama-tiny", "gemma3-tiny", "pythia-tiny", "qwen3-tiny",
           "bert-vocab"]  # fmt: skip
VALUES = ["4", 4.5, None, -1, 0, 10**12, 2**64, [], {}, True, "x", 1e308, -0.0]
DTYPES = ["I8", "U8", "BOOL", "I64", "F64", "F16", "BF16", "C64", "Q4", ""]
CEILING = 2 * 2**30  # the address space a case may take (the fixtures need ~1 GiB of it)


def _header(path: Path) -> tuple[int, dict, bytes]:
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return n, json.loads(data[8 : 8 + n]), data[8 + n :]


def _write(path: Path, header: dict, body: bytes, length: int | None = None) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if length is None else length) + raw + body)


def _config(rng: random.Random, folder: Path) -> str:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    key = rng.choice(sorted(config))
    if rng.random() < 0.2:
        del config[key]
        what = f"config.json: {key} removed"
    else:
        config[key] = rng.choice(VALUES)
        what = f"config.json: {key} = {config[key]!r}"
    path.write_text(json.dumps(config))
    return what


def _tensor(rng: random.Random, folder: Path) -> tuple[Path, dict, bytes, str]:
    path = folder / "model.safetensors"
    _, header, body = _header(path)
    return path, header, body, rng.choice(sorted(k for k in header if k != "__metadata__"))


def _dtype(rng: random.Random, folder: Path) -> str:
    path, header, body, name = _tensor(rng, folder)
    header[name]["dtype"] = dtype = rng.choice(DTYPES)
    _write(path, header, body)
    return f"{name}: dtype {dtype}"


def _shape(rng: random.Random, folder: Path) -> str:
    path, header, body, name = _tensor(rng, folder)
    shape = header[name]["shape"]
    header[name]["shape"] = shape = rng.choice([shape[::-1], [*shape, 1], shape[1:], [1, *shape],
                                                [-1], [2**40, 2**40], "x", None])  # fmt: skip
    _write(path, header, body)
    return f"{name}: shape {shape}"


def _offsets(rng: random.Random, folder: Path) -> str:
    path, header, body, name = _tensor(rng, folder)
    start, end = header[name]["data_offsets"]
    header[name]["data_offsets"] = offsets = rng.choice(
        [[start, end + 4], [end, start], [start + len(body), end + len(body)], [-4, end],
         [0, 2**63], [start], "x"])  # fmt: skip
    _write(path, header, body)
    return f"{name}: data_offsets {offsets}"


def _length(rng: random.Random, folder: Path) -> str:
    path = folder / "model.safetensors"
    n, header, body = _header(path)
    length = rng.choice([2**63, 2**40, n + len(body) + 1, n - 1, 0, 7])
    _write(path, header, body, length)
    return f"model.safetensors: header length {length}"


def _bytes(rng: random.Random, folder: Path) -> str:
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    n = struct.unpack("<Q", data[:8])[0]
    if rng.random() < 0.5:
        cut = rng.randrange(len(data))
        path.write_bytes(bytes(data[:cut]))
        return f"model.safetensors: cut at byte {cut}"
    at = rng.randrange(8, 8 + n)  # a byte of the header's JSON
    data[at] = rng.randrange(256)
    path.write_bytes(bytes(data))
    return f"model.safetensors: header byte {at} = {data[at]}"


def _values(rng: random.Random, folder: Path) -> str:
    path, header, body, name = _tensor(rng, folder)
    start, end = header[name]["data_offsets"]
    width = {"F32": 4, "BF16": 2, "F16": 2, "F64": 8}.get(header[name]["dtype"], 1)
    pattern = {4: [b"\x00\x00\xc0\x7f", b"\x00\x00\x80\x7f"], 2: [b"\xc0\x7f", b"\x80\x7f"],
               8: [b"\x00" * 6 + b"\xf8\x7f"]}.get(width, [b"\xff"])  # fmt: skip
    value = rng.choice(pattern)
    at = start + width * rng.randrange(max(1, (end - start) // width))
    path.write_bytes(struct.pack("<Q", len(json.dumps(header).encode()))
                     + json.dumps(header).encode() + body[:at] + value + body[at + width :])  # fmt: skip
    return f"{name}: {value.hex()} at byte {at}"


def _tokenizer(rng: random.Random, folder: Path) -> str:
    for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json"):
        path = folder / name
        if path.is_file():
            text = path.read_text()
            path.write_text(rng.choice(["", "{}", "[]", "null", text[: len(text) // 2],
                                        '{"model": {"type": "BPE"}}', "\x00\x01"]))  # fmt: skip
            return f"{name}: replaced"
    return "no tokenizer file"


def _index(rng: random.Random, folder: Path) -> str:
    single = folder / "model.safetensors"
    _, header, _ = _header(single)
    names = [k for k in header if k != "__metadata__"]
    shard = rng.choice(["/etc/passwd", "../model.safetensors", "..", "", "missing.safetensors",
                        "model.safetensors", 7, None])  # fmt: skip
    weight_map: object = {n: "model.safetensors" for n in names} | {names[0]: shard}
    index = rng.choice([{"weight_map": weight_map}, {"weight_map": [1]}, [], "x", {}])
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return f"model.safetensors.index.json: {json.dumps(index)[:80]}"


MUTATIONS: dict[str, Callable[[random.Random, Path], str]] = {
    "config": _config, "dtype": _dtype, "shape": _shape, "offsets": _offsets,
    "length": _length, "bytes": _bytes, "values": _values, "tokenizer": _tokenizer,
    "index": _index,
}  # fmt: skip


def hostile_folder(rng: random.Random, into: Path) -> tuple[str, str, str]:
    """A fixture folder copied to ``into`` with one mutation; (its name, the kind of mutation,
    what was done)."""
    name = rng.choice(FOLDERS)
    shutil.copytree(FIXTURES / name, into)
    kind = rng.choice(sorted(MUTATIONS))
    return name, kind, MUTATIONS[kind](rng, into)


def checkpoints(seed: int, seconds: float) -> None:
    """Mutated folders run through heatmap (and generate, for decoders), until ``seconds``."""
    from typer.testing import CliRunner

    from attnviz.cli import app

    resource.setrlimit(resource.RLIMIT_AS, (CEILING, CEILING))
    rng, runner, end = random.Random(seed), CliRunner(), time.monotonic() + seconds
    with tempfile.TemporaryDirectory() as tmp:
        n = 0
        while time.monotonic() < end:
            folder = Path(tmp) / str(n)
            name, kind, what = hostile_folder(rng, folder)
            for args in (["heatmap", "a cat sat", "--format", "json"],
                         ["generate", "a cat", "--max-new-tokens", "2", "--format", "json"]):  # fmt: skip
                if args[0] == "generate" and name.startswith("bert"):
                    continue
                result = runner.invoke(app, [*args, "--model", str(folder)])
                print(json.dumps({"folder": name, "kind": kind, "mutation": what, "command": args[0],
                                  "code": result.exit_code, "stderr": result.stderr}), flush=True)  # fmt: skip
            shutil.rmtree(folder)
            n += 1


def _npz_member(data: bytes, rng: random.Random) -> bytes:
    """An NPZ with one member's bytes changed, cut or replaced (the zip written again, so the
    change reaches NumPy instead of failing zip's checksum)."""
    import io
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    names = source.namelist()
    target, out = rng.choice(names), io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in names:
            raw = bytearray(source.read(name))
            if name == target:
                at = rng.randrange(len(raw))
                raw = rng.choice([raw[:at], raw[:at] + bytes([rng.randrange(256)]) + raw[at + 1 :],
                                  raw[:at] + b"\xff" * 8 + raw[at + 8 :]])  # fmt: skip
            z.writestr(name, bytes(raw))
    return out.getvalue()


def npz(seed: int, seconds: float) -> None:
    """Mutated NPZ files of a seeded run and a checkpoint's run, each loaded with
    ``attnviz.load``: one JSON line per case, "ok", "ConfigError" or another exception."""
    import attnviz

    resource.setrlimit(resource.RLIMIT_AS, (CEILING, CEILING))
    rng, end = random.Random(seed), time.monotonic() + seconds
    with tempfile.TemporaryDirectory() as tmp:
        sources = []
        for n, trace in enumerate([attnviz.attend("a cat sat on the mat", heads=2, d_model=8),
                                   attnviz.run("a cat", attnviz.AttentionConfig(
                                       mask=("none",), dtype="float32", source=attnviz.Pretrained(
                                           str(FIXTURES / "gpt2-tiny"))))]):  # fmt: skip
            attnviz.save_npz(trace, Path(tmp) / f"{n}.npz")
            sources.append((Path(tmp) / f"{n}.npz").read_bytes())
        path = Path(tmp) / "hostile.npz"
        while time.monotonic() < end:
            data = bytearray(rng.choice(sources))
            if rng.random() < 0.7:
                data = bytearray(_npz_member(bytes(data), rng))
            else:
                at = rng.randrange(len(data))
                data = data[:at] if rng.random() < 0.5 else data
                if data:
                    data[at % len(data)] = rng.randrange(256)
            path.write_bytes(bytes(data))
            try:
                attnviz.load(path)
                outcome = "ok"
            except attnviz.ConfigError:
                outcome = "ConfigError"
            except Exception as e:
                outcome = f"{type(e).__name__}: {e}"
            print(json.dumps({"outcome": outcome}), flush=True)


GGUF_FILES = [("qwen2-tiny", "F32"), ("llama-tiny", "F16"), ("gemma3-tiny", "Q4_0"),
              ("pythia-tiny", "Q8_0")]  # fmt: skip


def _gguf_bytes(rng: random.Random, data: bytearray, header: int) -> str:
    """1 to 4 bytes of a GGUF file changed, nine in ten in its first ``header`` bytes (the
    metadata and the tensors' entries), or the file cut short."""
    if rng.random() < 0.15:
        cut = rng.randrange(len(data))
        del data[cut:]
        return f"cut at byte {cut}"
    changed = []
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(header if rng.random() < 0.9 else len(data))
        data[at] = rng.choice([0, 255, rng.randrange(256), data[at] ^ 1 << rng.randrange(8)])
        changed.append(f"{at} = {data[at]}")
    return "bytes " + ", ".join(changed)


def gguf_files(seed: int, seconds: float) -> None:
    """Mutated GGUF files (tiny checkpoints written as llama.cpp's converter writes them) run
    through heatmap, until ``seconds``."""
    from fixtures.gguf_files import write_gguf
    from typer.testing import CliRunner

    from attnviz.cli import app
    from attnviz.models.gguf_file import GGUF

    rng, runner = random.Random(seed), CliRunner()
    with tempfile.TemporaryDirectory() as tmp:
        sources = []
        for name, qtype in GGUF_FILES:
            path = write_gguf(FIXTURES / name, Path(tmp) / f"{name}.gguf", qtype=qtype)
            header = min(t.start for t in GGUF.open(path).tensors.values())
            sources.append((f"{name} {qtype}", path.read_bytes(), header))
        resource.setrlimit(resource.RLIMIT_AS, (CEILING, CEILING))
        end, n = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            name, good, header = rng.choice(sources)
            data = bytearray(good)
            what = _gguf_bytes(rng, data, header)
            path, out = Path(tmp) / f"{n}.gguf", Path(tmp) / f"{n}.png"  # a new name: a new file
            path.write_bytes(bytes(data))
            result = runner.invoke(app, ["heatmap", "a cat sat", "--model", str(path), "-o",
                                         str(out)])  # fmt: skip
            print(json.dumps({"file": name, "mutation": what, "code": result.exit_code,
                              "stderr": result.stderr, "written": out.exists()}), flush=True)  # fmt: skip
            path.unlink()
            out.unlink(missing_ok=True)
            n += 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # the fixtures' writers
    runs = {"checkpoints": checkpoints, "npz": npz, "gguf": gguf_files}
    runs[sys.argv[1]](int(sys.argv[2]), float(sys.argv[3]))
