"""Real checkpoints: a local Hugging Face folder (BERT or GPT-2), run in NumPy.

Shapes: L layers, H heads, T tokens, D hidden size, Dh = D / H, F the MLP's width.

The folder holds ``config.json``, ``model.safetensors`` (or shards with an index) and
``tokenizer.json`` (or, for BERT, ``vocab.txt``). A model id such as ``bert-base-uncased`` is
looked up in the local Hugging Face cache, never downloaded. The optional dependencies
(``pip install 'attnviz[models]'``): ``safetensors``, read with its NumPy API, memory-mapped,
one tensor at a time; ``tokenizers``, the checkpoint's own tokenizer.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError

if TYPE_CHECKING:
    from .trace import AttentionConfig, Trace

SUPPORTED = ("bert", "gpt2")
INSTALL = "pip install 'attnviz[models]'"
_PREFIXES = {"bert": ("", "bert."), "gpt2": ("", "transformer.")}


def _need(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"--model needs the package {module.split('.')[0]!r}: {INSTALL}"
        ) from None


# --- finding the folder -----------------------------------------------------------------------


def cache_root() -> Path:
    """The Hugging Face hub cache: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


def _snapshot(repo: Path) -> Path | None:
    """The snapshot refs/main names, else the last (by name) that has a config.json."""
    ref = repo / "refs" / "main"
    if ref.is_file():
        snap = repo / "snapshots" / ref.read_text(encoding="utf-8").strip()
        if (snap / "config.json").is_file():
            return snap
    snaps = sorted(p for p in (repo / "snapshots").glob("*") if (p / "config.json").is_file())
    return snaps[-1] if snaps else None


def find_model(spec: str) -> Path:
    """The folder of ``spec``: a local folder, or a model id in the Hugging Face cache."""
    folder = Path(spec).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise ConfigError(f"--model {spec!r}: the folder has no config.json")
        return folder
    root = cache_root()
    repo = root / ("models--" + spec.strip("/").replace("/", "--"))
    snap = _snapshot(repo) if repo.is_dir() else None
    if snap is None:
        raise ConfigError(
            f"--model {spec!r}: no such folder, and not in the Hugging Face cache "
            f"(looked for {folder.resolve()} and {repo / 'snapshots'}); attnviz never downloads"
        )
    return snap


# --- reading tensors --------------------------------------------------------------------------


def _bf16(path: Path, name: str) -> np.ndarray:
    """A bfloat16 tensor as float32, read from the file's header offsets (NumPy has no bf16)."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        info = json.loads(f.read(size))[name]
    start, end = info["data_offsets"]
    raw = np.memmap(
        path, dtype="<u2", mode="r", offset=8 + size + start, shape=((end - start) // 2,)
    )
    return (raw.astype(np.uint32) << 16).view(np.float32).reshape(info["shape"])


class Tensors:
    """The checkpoint's tensors by name, with or without the model's prefix, as float32."""

    def __init__(self, folder: Path, model_type: str) -> None:
        self.safetensors = safetensors = _need("safetensors")
        self.prefixes = _PREFIXES[model_type]
        self.opened: dict[Path, Any] = {}  # each file opened (its header read) once
        index, single = folder / "model.safetensors.index.json", folder / "model.safetensors"
        if index.is_file():
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            self.files = {name: folder / file for name, file in weight_map.items()}
        elif single.is_file():
            self.opened[single] = f = safetensors.safe_open(single, framework="numpy")
            self.files = dict.fromkeys(f.keys(), single)
        else:
            raise ConfigError(f"--model: no model.safetensors in {str(folder)!r}")

    def __call__(self, name: str, rows: list[int] | None = None) -> np.ndarray:
        """The tensor ``name``, or only its ``rows`` (an embedding table's, read row by row:
        a vocabulary of 30,000 is not read for 12 tokens)."""
        for prefix in self.prefixes:
            path = self.files.get(prefix + name)
            if path is not None:
                if path not in self.opened:
                    self.opened[path] = self.safetensors.safe_open(path, framework="numpy")
                f = self.opened[path]
                part = f.get_slice(prefix + name)
                if part.get_dtype() == "BF16":
                    whole = _bf16(path, prefix + name)
                    return whole if rows is None else whole[rows]
                if rows is None:
                    return f.get_tensor(prefix + name).astype(np.float32, copy=False)
                return np.concatenate([part[i : i + 1] for i in rows]).astype(np.float32)
        raise ConfigError(f"--model: the checkpoint has no tensor {name!r}")


# --- tokens -----------------------------------------------------------------------------------

JOIN = "‿"  # marks a piece that continues the word before it: "tired" -> "ti" "‿re" "‿d"


@dataclass(frozen=True)
class ModelToken:
    """One token as the model sees it (``raw``) and as a label shows it (``text``)."""

    raw: str
    text: str
    start: int
    end: int
    special: bool


def load_tokenizer(folder: Path, model_type: str) -> Any:
    """The checkpoint's own tokenizer: tokenizer.json, or a WordPiece built from vocab.txt."""
    tokenizers = _need("tokenizers")
    if (folder / "tokenizer.json").is_file():
        return tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    if model_type == "bert" and (folder / "vocab.txt").is_file():
        settings = folder / "tokenizer_config.json"
        lower = True
        if settings.is_file():
            lower = bool(
                json.loads(settings.read_text(encoding="utf-8")).get("do_lower_case", True)
            )
        wordpiece = tokenizers.implementations.BertWordPieceTokenizer
        return wordpiece(str(folder / "vocab.txt"), lowercase=lower)
    raise ConfigError(f"--model: no tokenizer.json (or vocab.txt) in {str(folder)!r}")


def model_tokens(tokenizer: Any, text: str, model_type: str) -> tuple[list[int], list[ModelToken]]:
    """Token ids and tokens of ``text``, special tokens as the model expects them."""
    enc = tokenizer.encode(text)
    tokens = []
    for n, (raw, (start, end), special) in enumerate(
        zip(enc.tokens, enc.offsets, enc.special_tokens_mask, strict=True)
    ):
        if special:
            tokens.append(ModelToken(raw, raw, start, start, True))
            continue
        if model_type == "bert":
            piece = raw[2:] if raw.startswith("##") else raw
            joined = raw.startswith("##")
        else:  # byte-level BPE: the text itself; a leading space starts a word
            shown = text[start:end]
            piece = shown.strip() or shown
            joined = (
                n > 0 and not shown[:1].isspace() and start > 0 and not text[start - 1].isspace()
            )
        tokens.append(ModelToken(raw, JOIN + piece if joined else piece, start, end, False))
    return list(enc.ids), tokens


# --- the forward pass -------------------------------------------------------------------------


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """(x − mean) / √(var + eps) · weight + bias over the last axis (biased variance)."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


_erf = np.frompyfunc(math.erf, 1, 1)


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU with the exact erf: x · Φ(x)."""
    return 0.5 * x * (1.0 + np.asarray(_erf(x / math.sqrt(2.0)), dtype=x.dtype))


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    """GELU's tanh approximation (GPT-2's "gelu_new")."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gelu": _gelu,
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "gelu_fast": _gelu_tanh,
    "relu": lambda x: np.maximum(x, 0),
}


@dataclass(frozen=True, eq=False)
class LayerWeights:
    """One layer's attention in the shapes of attnviz's Trace: w_q, w_k, w_v (H, D, Dh),
    b_q, b_k, b_v (H, Dh), w_o (D, D), b_o (D,)."""

    w_q: np.ndarray
    w_k: np.ndarray
    w_v: np.ndarray
    b_q: np.ndarray
    b_k: np.ndarray
    b_v: np.ndarray
    w_o: np.ndarray
    b_o: np.ndarray


def _heads(w: np.ndarray, b: np.ndarray, H: int) -> tuple[np.ndarray, np.ndarray]:
    """(D, D) and (D,) for x @ w + b -> per head (H, D, Dh) and (H, Dh)."""
    D = w.shape[0]
    return w.reshape(D, H, -1).swapaxes(0, 1), b.reshape(H, -1)  # (D,H,Dh) -> (H,D,Dh)


def _layer(
    qkv: list[tuple[np.ndarray, np.ndarray]], H: int, w_o: np.ndarray, b_o: np.ndarray
) -> LayerWeights:
    """LayerWeights from the (D, D) weight and (D,) bias of Q, K and V (for x @ w + b)."""
    (w_q, b_q), (w_k, b_k), (w_v, b_v) = (_heads(w, b, H) for w, b in qkv)
    return LayerWeights(w_q, w_k, w_v, b_q, b_k, b_v, w_o, b_o)


@dataclass(frozen=True, eq=False)
class Forward:
    """What the forward pass records: per layer, the attention's input (L, T, D), the
    attention weights (L, H, T, T), and the weights of each layer's attention."""

    inputs: np.ndarray
    weights: np.ndarray
    layers: list[LayerWeights]


def _attend(
    x: np.ndarray, lw: LayerWeights, allowed: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """One layer's multi-head attention: returns (weights (H,T,T), output (T,D))."""
    from .attention import apply_mask, concat_heads, softmax

    q = x @ lw.w_q + lw.b_q[:, None]  # (T,D) @ (H,D,Dh) -> (H,T,Dh)
    k = x @ lw.w_k + lw.b_k[:, None]
    v = x @ lw.w_v + lw.b_v[:, None]
    weights = softmax(apply_mask(q @ k.swapaxes(-2, -1) * scale, allowed))  # (H,T,T)
    return weights, concat_heads(weights @ v) @ lw.w_o + lw.b_o  # (T,H*Dh) @ (D,D) -> (T,D)


def bert_forward(
    t: Tensors, config: dict[str, Any], ids: list[int], allowed: np.ndarray, dtype: str
) -> Forward:
    """BERT (post-LN): embeddings, then per layer attention + residual + LayerNorm, then the
    MLP + residual + LayerNorm."""
    H, L = config["num_attention_heads"], config["num_hidden_layers"]
    eps = float(config.get("layer_norm_eps", 1e-12))
    act = _activation(config.get("hidden_act", "gelu"))

    def f(name: str, rows: list[int] | None = None) -> np.ndarray:
        return t(name, rows).astype(dtype, copy=False)

    e = "embeddings."
    x = f(e + "word_embeddings.weight", ids) + f(
        e + "position_embeddings.weight", list(range(len(ids)))
    )
    x = x + f(e + "token_type_embeddings.weight", [0])[0]  # one segment: type 0
    x = layer_norm(x, f(e + "LayerNorm.weight"), f(e + "LayerNorm.bias"), eps)
    inputs, weights, layers = [], [], []
    for n in range(L):
        p = f"encoder.layer.{n}."
        a = p + "attention."
        qkv = [
            (f(a + f"self.{m}.weight").T, f(a + f"self.{m}.bias"))
            for m in ("query", "key", "value")
        ]
        lw = _layer(qkv, H, f(a + "output.dense.weight").T, f(a + "output.dense.bias"))
        w, out = _attend(x, lw, allowed, 1.0 / math.sqrt(x.shape[1] // H))
        inputs.append(x)
        weights.append(w)
        layers.append(lw)
        x = layer_norm(
            out + x, f(a + "output.LayerNorm.weight"), f(a + "output.LayerNorm.bias"), eps
        )
        mid = act(x @ f(p + "intermediate.dense.weight").T + f(p + "intermediate.dense.bias"))
        y = mid @ f(p + "output.dense.weight").T + f(p + "output.dense.bias")  # (T,F) @ (F,D)
        x = layer_norm(y + x, f(p + "output.LayerNorm.weight"), f(p + "output.LayerNorm.bias"), eps)
    return Forward(np.stack(inputs), np.stack(weights), layers)


def gpt2_forward(
    t: Tensors, config: dict[str, Any], ids: list[int], allowed: np.ndarray, dtype: str
) -> Forward:
    """GPT-2 (pre-LN): token and position embeddings, then per block x + attn(ln_1(x)) and
    x + mlp(ln_2(x))."""
    H, L = config["n_head"], config["n_layer"]
    eps = float(config.get("layer_norm_epsilon", 1e-5))
    act = _activation(config.get("activation_function", "gelu_new"))

    def f(name: str, rows: list[int] | None = None) -> np.ndarray:
        return t(name, rows).astype(dtype, copy=False)

    T = len(ids)
    x = f("wte.weight", ids) + f("wpe.weight", list(range(T)))
    D = x.shape[1]
    inputs, weights, layers = [], [], []
    for n in range(L):
        p = f"h.{n}."
        w_qkv, b_qkv = f(p + "attn.c_attn.weight"), f(p + "attn.c_attn.bias")  # (D,3D), (3D,)
        qkv = [(w_qkv[:, i * D : (i + 1) * D], b_qkv[i * D : (i + 1) * D]) for i in range(3)]
        lw = _layer(qkv, H, f(p + "attn.c_proj.weight"), f(p + "attn.c_proj.bias"))
        scale = 1.0 / math.sqrt(D // H) if config.get("scale_attn_weights", True) else 1.0
        if config.get("scale_attn_by_inverse_layer_idx", False):
            scale /= n + 1
        a = layer_norm(x, f(p + "ln_1.weight"), f(p + "ln_1.bias"), eps)
        w, out = _attend(a, lw, allowed, scale)
        inputs.append(a)
        weights.append(w)
        layers.append(lw)
        x = x + out
        m = layer_norm(x, f(p + "ln_2.weight"), f(p + "ln_2.bias"), eps)
        x = (
            x
            + act(m @ f(p + "mlp.c_fc.weight") + f(p + "mlp.c_fc.bias"))
            @ f(p + "mlp.c_proj.weight")
            + f(p + "mlp.c_proj.bias")
        )
    return Forward(np.stack(inputs), np.stack(weights), layers)


def _activation(name: str) -> Callable[[np.ndarray], np.ndarray]:
    if name not in ACTIVATIONS:
        raise ConfigError(
            f"--model: activation {name!r} is not supported ({', '.join(ACTIVATIONS)})"
        )
    return ACTIVATIONS[name]


def read_config(spec: str, folder: Path | None = None) -> dict[str, Any]:
    """config.json of ``spec`` (in ``folder`` when already found), checked to be a supported
    model_type."""
    folder = folder or find_model(spec)
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"--model {spec!r}: cannot read config.json ({e})") from e
    kind = config.get("model_type") if isinstance(config, dict) else None
    if kind not in SUPPORTED:
        raise ConfigError(
            f"--model {spec!r}: model_type {kind!r} is not supported; attnviz runs "
            f"{' and '.join(SUPPORTED)} checkpoints (BERT, MiniLM and other BertModel; GPT-2)"
        )
    return config


def dimensions(spec: str) -> tuple[int, int]:
    """(heads, d_model) of a checkpoint, from its config.json alone."""
    config = read_config(spec)
    if config["model_type"] == "bert":
        return int(config["num_attention_heads"]), int(config["hidden_size"])
    return int(config["n_head"]), int(config["n_embd"])


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """An opened checkpoint: its folder, config.json, tensors and tokenizer."""

    name: str
    folder: Path
    config: dict[str, Any]
    tensors: Tensors
    tokenizer: Any

    @classmethod
    def open(cls, spec: str) -> Checkpoint:
        folder = find_model(spec)
        config = read_config(spec, folder)
        kind = config["model_type"]
        return cls(spec, folder, config, Tensors(folder, kind), load_tokenizer(folder, kind))

    @property
    def model_type(self) -> str:
        return str(self.config["model_type"])

    def _get(self, bert: str, gpt2: str) -> int:
        return int(self.config[bert if self.model_type == "bert" else gpt2])

    @property
    def heads(self) -> int:
        return self._get("num_attention_heads", "n_head")

    @property
    def d_model(self) -> int:
        return self._get("hidden_size", "n_embd")

    @property
    def layers(self) -> int:
        return self._get("num_hidden_layers", "n_layer")

    @property
    def max_positions(self) -> int:
        return self._get("max_position_embeddings", "n_positions")

    @property
    def own_mask(self) -> str:
        """The model's own mask: BERT sees both ways, GPT-2 only back."""
        return "none" if self.model_type == "bert" else "causal"

    def forward(self, ids: list[int], allowed: np.ndarray, dtype: str) -> Forward:
        run = bert_forward if self.model_type == "bert" else gpt2_forward
        return run(self.tensors, self.config, ids, allowed, dtype)


def run_model(
    text: str,
    config: AttentionConfig,
    *,
    max_tokens: int | None = None,
    truncate: bool = False,
    memory_budget: int | None = None,
    extra_bytes: Callable[[int], int] | None = None,
) -> Trace:
    """Run ``config.model`` on ``text`` and return the Trace of layer ``config.layer`` (the
    last by default), with every layer's weights in ``trace.model``.

    The mask is the model's own (BERT: none, GPT-2: causal) ANDed with ``config.mask``.
    """
    from .masks import build_mask, parse_masks
    from .tokens import Token
    from .trace import ModelInfo, Trace, check_budget, cut

    assert config.model is not None
    if not text.strip():
        raise ConfigError("the text is empty: give some words to attend over")
    ck = Checkpoint.open(config.model)
    ids, tokens = model_tokens(ck.tokenizer, text, ck.model_type)
    keep, truncated = cut(list(range(len(ids))), max_tokens, truncate)
    if len(keep) > ck.max_positions:
        if not truncate:
            raise ConfigError(
                f"the text has {len(keep)} tokens, more than the {ck.max_positions} positions "
                f"of {config.model!r}: shorten it, or cut it with --truncate"
            )
        truncated += len(keep) - ck.max_positions
        keep = keep[: ck.max_positions]
    ids, tokens = [ids[i] for i in keep], [tokens[i] for i in keep]
    layer = ck.layers - 1 if config.layer is None else config.layer
    if layer >= ck.layers:
        raise ConfigError(f"no layer {layer}: {config.model!r} has layers 0 to {ck.layers - 1}")
    specs = [s for s in (ck.own_mask, *config.mask) if s != "none"]  # the model's, then --mask
    c = replace(config, heads=ck.heads, d_model=ck.d_model, layer=layer,
                mask=parse_masks(specs or ["none"]))  # fmt: skip
    check_budget(c, len(ids), memory_budget, extra_bytes, layers=ck.layers)
    allowed = build_mask(c.mask, np.zeros(len(ids), dtype=bool))
    fw = ck.forward(ids, allowed, c.dtype)
    lw, x, weights = fw.layers[layer], fw.inputs[layer], fw.weights[layer]
    v = x @ lw.w_v + lw.b_v[:, None]  # (T,D) @ (H,D,Dh) -> (H,T,Dh)
    head_outputs = weights @ v  # (H,T,T) @ (H,T,Dh) -> (H,T,Dh)
    from .attention import concat_heads

    return Trace(
        tokens=tuple(Token(t.text, t.start, t.end, t.special) for t in tokens),
        config=c,
        x=x,
        w_q=lw.w_q,
        w_k=lw.w_k,
        w_v=lw.w_v,
        w_o=lw.w_o,
        allowed=allowed,
        weights=weights,
        head_outputs=head_outputs,
        output=concat_heads(head_outputs) @ lw.w_o + lw.b_o,  # (T,D) @ (D,D) -> (T,D)
        truncated=truncated,
        b_q=lw.b_q,
        b_k=lw.b_k,
        b_v=lw.b_v,
        b_o=lw.b_o,
        model=ModelInfo(
            config.model, ck.model_type, ck.config, tuple(t.raw for t in tokens), fw.weights
        ),
    )
