"""A GGUF file as a checkpoint: the config.json its metadata stands for, its tensors under
the names the families' forward passes read, and the tokenizer it carries.

llama.cpp's converter changes some tensors on the way in; they are changed back here, as
transformers' GGUF loading does: a Llama's W_Q and W_K rows are reordered for llama.cpp's
rotary kernel (each head's two halves interleaved), Gemma's norm weights are stored as 1 + w,
and GPT-NeoX's fused Q, K, V rows are stored query block, key block, value block rather than
head by head.
"""

from __future__ import annotations

import functools
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .files import finite, need
from .gguf_file import GGUF, TensorInfo, dequantised, is_gguf, type_name
from .gguf_tokenizer import tokenizer_of

# llama.cpp's architecture -> the family (config.json's model_type) that runs it
ARCHITECTURES = {"llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "gemma3": "gemma3_text",
                 "gptneox": "gpt_neox"}  # Mistral's files are "llama"  # fmt: skip
_DECODER = {
    "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
    "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
    "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}  # fmt: skip
_GEMMA3 = {**_DECODER, "post_attention_layernorm": "post_attention_norm",
           "pre_feedforward_layernorm": "ffn_norm", "post_feedforward_layernorm": "post_ffw_norm"}  # fmt: skip
_NEOX = {
    "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
    "attention.query_key_value": "attn_qkv", "attention.dense": "attn_output",
    "mlp.dense_h_to_4h": "ffn_up", "mlp.dense_4h_to_h": "ffn_down",
}  # fmt: skip
_TOP = {"embed_tokens": "token_embd", "norm": "output_norm", "lm_head": "output",
        "embed_in": "token_embd", "final_layer_norm": "output_norm", "embed_out": "output"}  # fmt: skip
LAYERS = {"gemma3_text": _GEMMA3, "gpt_neox": _NEOX}  # the others: _DECODER
_AHEAD = ThreadPoolExecutor(1, thread_name_prefix="gguf-ahead")  # the next layer's tensors


def architecture(g: GGUF) -> tuple[str, str]:
    """The file's architecture, and the family that runs it."""
    arch = g.metadata.get("general.architecture")
    if arch not in ARCHITECTURES:
        names = ", ".join(ARCHITECTURES)
        if arch is None:
            raise g.fail(f"its metadata names no general.architecture (attnviz runs {names})")
        raise g.fail(f"architecture {arch!r} is not supported (attnviz runs {names})")
    return arch, ARCHITECTURES[arch]


def config_of(g: GGUF) -> dict[str, Any]:
    """The config.json the metadata stands for, as transformers' GGUF loading reads it, and
    the file's quantisation under "gguf"."""
    arch, model_type = architecture(g)
    a = arch + "."
    heads = g.whole(a + "attention.head_count")
    hidden = g.whole(a + "embedding_length")
    head_dim = g.whole(a + "attention.key_length", max(hidden // heads, 1))
    c: dict[str, Any] = {
        "model_type": model_type,
        "hidden_size": hidden,
        "num_hidden_layers": g.whole(a + "block_count"),
        "num_attention_heads": heads,
        "num_key_value_heads": g.whole(a + "attention.head_count_kv", heads),
        "head_dim": head_dim,
        "max_position_embeddings": g.whole(a + "context_length", 2048),
        "intermediate_size": g.whole(a + "feed_forward_length", 4 * hidden),
        "rms_norm_eps": g.positive(a + "attention.layer_norm_rms_epsilon", 1e-6),
        "rope_theta": g.positive(a + "rope.freq_base", 10000.0),
        "vocab_size": len(g.metadata.get("tokenizer.ggml.tokens") or ()),
        "gguf": {"architecture": arch, "quantization": quantization(g)},
    }
    if model_type == "gemma3_text":
        c.update(_gemma3(g, a, c["num_hidden_layers"], head_dim))
    turned = g.whole(a + "rope.dimension_count", head_dim)
    if model_type != "gpt_neox" and turned != head_dim:
        raise g.fail(f"rope over {turned} of a head's {head_dim} dimensions is not supported")
    if model_type == "gpt_neox":
        c["layer_norm_eps"] = g.positive(a + "attention.layer_norm_epsilon", 1e-5)
        c["rotary_emb_base"] = c.pop("rope_theta")
        c["rotary_pct"] = turned / head_dim
        c["use_parallel_residual"] = bool(g.metadata.get(a + "use_parallel_residual", True))
    scaling = _rope_scaling(g, a)
    if scaling:
        c["rope_scaling"] = scaling
    return c


def _gemma3(g: GGUF, a: str, L: int, head_dim: int) -> dict[str, Any]:
    """Gemma 3's settings as llama.cpp runs it: the window of the sliding layers; which layers
    slide (sliding_window_pattern: every n-th layer global, or a flag per layer; by default
    every sixth); the scores scaled by attention.scale, else by 1/√(a head's width)."""
    c: dict[str, Any] = {"hidden_activation": "gelu_pytorch_tanh",
                         "sliding_window": g.whole(a + "attention.sliding_window", 4096)}  # fmt: skip
    pattern = g.metadata.get(a + "attention.sliding_window_pattern", 6)
    if isinstance(pattern, np.ndarray) and pattern.dtype == bool and len(pattern) == L:
        c["layer_types"] = ["sliding_attention" if s else "full_attention" for s in pattern]
    else:
        c["sliding_window_pattern"] = g.whole(a + "attention.sliding_window_pattern", 6)
    c["query_pre_attn_scalar"] = g.positive(a + "attention.scale", head_dim**-0.5) ** -2
    return c


def _rope_scaling(g: GGUF, a: str) -> dict[str, Any]:
    """rope_scaling of the metadata ("linear" with its factor), and the per-frequency factors
    of a rope_freqs tensor (Llama 3.1's scaling, as llama.cpp's converter writes it)."""
    kind = g.metadata.get(a + "rope.scaling.type", "none")
    s: dict[str, Any] = {}
    if kind not in ("none", "linear"):
        raise g.fail(f"rope scaling {kind!r} is not supported (attnviz runs none, linear)")
    if kind == "linear":
        s = {"rope_type": "linear", "factor": g.positive(a + "rope.scaling.factor", 1.0)}
    if "rope_freqs.weight" in g.tensors:
        factors = g.read(g.tensors["rope_freqs.weight"]).ravel()
        if not np.isfinite(factors).all() or not (factors > 0).all():
            raise g.fail("tensor 'rope_freqs.weight' must hold numbers > 0")
        s = {"rope_type": "default", **s, "freq_factors": factors.tolist()}
    return s


def quantization(g: GGUF) -> str:
    """The file's quantisation as llama.cpp names it ("Q4_1", "Q4_K_M"): general.file_type,
    else the type most of its matrices have."""
    file_type = g.metadata.get("general.file_type")
    try:
        name = str(need("gguf").LlamaFileType(file_type).name)
        return "F32" if name == "ALL_F32" else name.removeprefix("MOSTLY_")
    except ValueError:
        kinds = [t.kind for t in g.tensors.values() if len(t.shape) > 1]
        return type_name(max(set(kinds), key=kinds.count)) if kinds else "F32"


class GGUFTensors:
    """The tensors of a GGUF file under the names of transformers' checkpoints, as float32:
    each dequantised when asked for (an embedding only in the rows asked for), never kept.
    While a layer runs, the next layer's tensors are dequantised in the background (a forward
    pass asks for the layers in order), so that a layer's float32 weights, and the next's, are
    all that is held."""

    def __init__(self, g: GGUF, config: dict[str, Any]) -> None:
        self.g, self.config = g, config
        self.model_type = config["model_type"]
        self.layers = LAYERS.get(self.model_type, _DECODER)
        self.ahead: dict[str, Future[np.ndarray]] = {}  # the next layer's, being dequantised
        self.next_layer = -1  # the layer whose tensors were last sent ahead

    def gguf_name(self, name: str) -> str | None:
        """The file's name of the tensor ``name`` ("layers.3.self_attn.q_proj.weight" ->
        "blk.3.attn_q.weight"), or None when there is no such kind of tensor."""
        stem, _, kind = name.rpartition(".")
        if stem.startswith("layers."):
            _, n, rest = stem.split(".", 2)
            leaf = self.layers.get(rest)
            return None if leaf is None else f"blk.{n}.{leaf}.{kind}"
        return None if stem not in _TOP else f"{_TOP[stem]}.{kind}"

    def _info(self, name: str) -> TensorInfo | None:
        found = self.gguf_name(name)
        return None if found is None else self.g.tensors.get(found)

    def missing(self, name: str) -> ConfigError:
        """The error of a tensor the family reads and the file lacks, by the file's name."""
        found = self.gguf_name(name)
        return self.g.fail(f"the file has no tensor {found or name!r}"
                           + (f" (transformers' {name!r})" if found else ""))  # fmt: skip

    def has(self, name: str) -> bool:
        return self._info(name) is not None

    def shape(self, name: str) -> list[int]:
        info = self._info(name)
        if info is None:
            raise self.missing(name)
        return list(info.shape)

    @functools.cache  # noqa: B019 (it lives as long as its checkpoint)
    def layer_elements(self) -> int:
        """The most numbers one layer's tensors hold, from the header."""
        per: dict[str, int] = {}
        for info in self.g.tensors.values():
            if info.name.startswith("blk."):
                n = info.name.split(".")[1]
                per[n] = per.get(n, 0) + info.elements
        return max(per.values(), default=0)

    def __call__(self, name: str, rows: list[int] | None = None) -> np.ndarray:
        info = self._info(name)
        if info is None:
            raise self.missing(name)
        if rows:
            if max(rows) >= info.shape[0]:
                raise self.g.fail(f"tensor {info.name!r} of shape {list(info.shape)} has no "
                                    f"row {max(rows)}, an id the tokenizer gives")  # fmt: skip
            return self._load(info, rows)
        ahead = self.ahead.pop(info.name, None)
        self._send_ahead(info.name)
        return ahead.result() if ahead is not None else self._load(info)

    def _load(self, info: TensorInfo, rows: list[int] | None = None) -> np.ndarray:
        """The tensor (its ``rows``) as transformers has it: rows in its order, norms as w."""
        w = self.g.read(info, self._order(info) if rows is None else rows)
        if self.model_type == "gemma3_text" and info.name.endswith("norm.weight"):
            w -= 1  # stored as 1 + w
        return finite(w, self.g.path, info.name)

    def _send_ahead(self, name: str) -> None:
        """When layer n is asked for, layer n + 1's tensors start to be dequantised; what was
        sent ahead for other layers (by a pass that has ended) is dropped."""
        parts = name.split(".")
        if parts[0] != "blk":
            return
        n = int(parts[1])
        keep = (f"blk.{n}.", f"blk.{n + 1}.")
        for stale in [k for k in self.ahead if not k.startswith(keep)]:
            self.ahead.pop(stale).cancel()
        if self.next_layer != n + 1:
            self.prefetch(n + 1)

    def prefetch(self, n: int) -> None:
        """Layer n's tensors dequantised in the background (layer 0's while the tokenizer is
        built); of the last layer only the attention's: its MLP changes no attention."""
        self.next_layer, prefix = n, f"blk.{n}."
        last = n == self.config["num_hidden_layers"] - 1
        for info in self.g.tensors.values():
            if not info.name.startswith(prefix) or info.name in self.ahead:
                continue
            if not last or info.name.split(".")[2].startswith("attn"):
                self.ahead[info.name] = _AHEAD.submit(self._load, info)

    def _order(self, info: TensorInfo) -> list[int] | None:
        """The rows of ``info`` in transformers' order, when llama.cpp reordered them."""
        leaf = info.name.split(".")[-2]
        H, Dh = self.config["num_attention_heads"], self.config["head_dim"]
        if self.model_type == "llama" and leaf in ("attn_q", "attn_k"):
            heads = H if leaf == "attn_q" else self.config["num_key_value_heads"]
            half = info.shape[0] // heads // 2  # (heads, 2, half) stored as (heads, half, 2)
            return np.arange(info.shape[0]).reshape(heads, half, 2).swapaxes(1, 2).ravel().tolist()
        if self.model_type == "gpt_neox" and leaf == "attn_qkv":  # (3, H, Dh) -> (H, 3, Dh)
            return np.arange(info.shape[0]).reshape(3, H, Dh).swapaxes(0, 1).ravel().tolist()
        return None


def check(g: GGUF, config: dict[str, Any], tensors: GGUFTensors) -> None:
    """What must hold before anything runs: an embedding with a row for every token of the
    vocabulary, and tensors of types gguf can dequantise (one block of each tried)."""
    if not tensors.has("embed_tokens.weight") and not tensors.has("embed_in.weight"):
        raise g.fail("the file has no token_embd.weight")
    rows = g.tensors["token_embd.weight"].shape[0]
    if config["vocab_size"] != rows:
        raise g.fail(f"its vocabulary has {config['vocab_size']:,} tokens but token_embd.weight "
                       f"{rows:,} rows")  # fmt: skip
    sizes = need("gguf").GGML_QUANT_SIZES
    for kind, info in {t.kind: t for t in g.tensors.values()}.items():
        size = sizes[kind][1]
        dequantised(np.frombuffer(g.buf, np.uint8, size, info.start).reshape(1, -1), kind,
                    g.path, info.name)  # fmt: skip


def opened(path: Path) -> tuple[GGUF, dict[str, Any], GGUFTensors, Any]:
    """The opened file, its config, tensors and tokenizer, every check made; opened once for
    the options' checks and the run (again when the file has changed)."""
    stat = path.stat()
    return _open(path.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _open(path: Path, mtime: int, size: int) -> tuple[GGUF, dict[str, Any], GGUFTensors, Any]:
    g = GGUF.open(path)
    config = config_of(g)
    tensors = GGUFTensors(g, config)
    check(g, config, tensors)
    tensors.prefetch(0)
    return g, config, tensors, tokenizer_of(g)


def spec_path(spec: str) -> Path | None:
    """The GGUF file ``spec`` names (a file named .gguf, or one that starts as GGUF files do),
    or None when it names none."""
    path = Path(spec).expanduser()
    return path if path.is_file() and (path.suffix.lower() == ".gguf" or is_gguf(path)) else None
