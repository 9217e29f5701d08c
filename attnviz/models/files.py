"""A checkpoint's folder and its files: where it is, config.json, the tensors.

The folder holds ``config.json``, ``model.safetensors`` (or shards with an index) and the
tokenizer's files. A model id such as ``bert-base-uncased`` is looked up in the local Hugging
Face cache, never downloaded. ``safetensors`` is read with its NumPy API, memory-mapped, one
tensor at a time.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import struct
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import ConfigError
from ..trace import LARGEST

INSTALL = "pip install 'attnviz[models]'"


def need(module: str) -> Any:
    """The optional module ``module``, or ConfigError saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"`model` needs the package {module.split('.')[0]!r}: {INSTALL}"
        ) from None


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


def _is_path(spec: str) -> bool:
    """Whether ``spec`` can only be a folder: a model id is NAME or OWNER/NAME."""
    return spec.startswith((".", "/", "~")) or "\\" in spec or spec.strip("/").count("/") > 1


def find_model(spec: str) -> Path:
    """The folder of ``spec``: a local folder, or a model id in the Hugging Face cache."""
    folder = Path(spec).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise ConfigError(f"`model` {spec!r}: the folder has no config.json")
        return folder
    if _is_path(spec):
        what = (
            "is a file, neither a folder nor a GGUF file" if folder.exists() else "no such folder"
        )
        raise ConfigError(f"`model` {spec!r}: {what} ({folder.resolve()})")
    repo = cache_root() / ("models--" + spec.strip("/").replace("/", "--"))
    snap = _snapshot(repo) if repo.is_dir() else None
    if snap is None:
        raise ConfigError(
            f"`model` {spec!r}: no such folder, and not in the Hugging Face cache "
            f"(looked for {folder.resolve()} and {repo / 'snapshots'}); attnviz never downloads"
        )
    return snap


def read_json(path: Path, what: str) -> Any:
    """The JSON of ``path``, or ConfigError naming ``what`` it is."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"`model`: cannot read {what} ({e})") from e


def setting(config: dict[str, Any], key: str, default: Any = None, least: int = 1) -> int:
    """A whole-number setting of config.json (``default`` when it is absent), checked."""
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= LARGEST:
        raise ConfigError(f"`model`: config.json's {key!r} must be a whole number >= {least}, "
                          f"not {value!r}")  # fmt: skip
    return value


# --- tensors ----------------------------------------------------------------------------------


def _header(path: Path) -> tuple[int, dict[str, Any]]:
    """The length of a safetensors file's header and the header: name -> dtype, shape, offsets."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        return size, json.loads(f.read(size))


def _bf16(path: Path, header: tuple[int, dict[str, Any]], name: str,
          rows: list[int] | None) -> np.ndarray:  # fmt: skip
    """A bfloat16 tensor (or only its ``rows``) as float32: its bits are the top half of a
    float32's. NumPy has no bfloat16; the file is memory-mapped and only what is asked for is
    read and converted."""
    size, info = header[0], header[1][name]
    start, end = info["data_offsets"]
    raw = np.memmap(path, dtype="<u2", mode="r", offset=8 + size + start,
                    shape=((end - start) // 2,)).reshape(info["shape"])  # fmt: skip
    bits = (raw if rows is None else raw[rows]).astype(np.uint32)
    bits <<= 16  # in place: one array, not two
    return bits.view(np.float32, np.ndarray)  # not a memmap: its views cost Python calls


class TensorSource(Protocol):
    """Where a forward pass reads tensors by name (transformers' names, without a task
    model's prefix), as float32: a folder's safetensors, or a GGUF file."""

    def __call__(self, name: str, rows: list[int] | None = None) -> np.ndarray: ...
    def has(self, name: str) -> bool: ...
    def shape(self, name: str) -> list[int]: ...
    def layer_elements(self) -> int: ...


FLOATS = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}  # the dtypes weights may have, and widths


class Tensors:
    """The checkpoint's tensors by name, with or without one of ``prefixes``, as float32.

    The files are untrusted: safetensors checks each header (its length, the offsets, dtypes
    and shapes against the file's size) before anything is read, and its errors are
    ConfigErrors naming the file; a tensor read must be of a floating type and finite."""

    def __init__(self, folder: Path, prefixes: tuple[str, ...]) -> None:
        self.safetensors = need("safetensors")
        self.prefixes = prefixes
        self.opened: dict[Path, Any] = {}  # each file opened (its header read) once
        self.headers: dict[Path, tuple[int, dict[str, Any]]] = {}  # of files with bf16 tensors
        index, single = folder / "model.safetensors.index.json", folder / "model.safetensors"
        if index.is_file():
            weight_map = read_json(index, index.name)
            weight_map = weight_map.get("weight_map") if isinstance(weight_map, dict) else None
            if not isinstance(weight_map, dict):
                raise ConfigError(f"`model`: {index.name} has no weight_map of tensor names "
                                  "to files")  # fmt: skip
            self.files = {name: self._shard(folder, file) for name, file in weight_map.items()}
        elif single.is_file():
            self.files = dict.fromkeys(self._open(single).keys(), single)
        else:
            raise ConfigError(f"`model`: no model.safetensors in {str(folder)!r}")

    @staticmethod
    def _shard(folder: Path, file: object) -> Path:
        """A shard named by the index: a file of the folder itself, never one elsewhere."""
        if not isinstance(file, str) or Path(file).name != file or file in ("", ".", ".."):
            raise ConfigError(f"`model`: the index names a shard outside the folder: {file!r}")
        if not (folder / file).is_file():
            raise ConfigError(f"`model`: the index names {file!r}, which the folder lacks")
        return folder / file

    def _open(self, path: Path) -> Any:
        """The file at ``path`` opened (its header read and checked) once."""
        if path not in self.opened:
            try:
                self.opened[path] = self.safetensors.safe_open(path, framework="numpy")
            except Exception as e:  # SafetensorError, OSError: the file is not one to read
                raise ConfigError(f"`model`: {path.name} is not a valid safetensors file "
                                  f"({e})") from None  # fmt: skip
        return self.opened[path]

    @functools.cache  # noqa: B019 (a Tensors lives as long as its checkpoint)
    def layer_elements(self) -> int:
        """The most numbers one layer's tensors hold (the layer is the first number in a
        tensor's name: "model.layers.12.mlp.up_proj.weight"); a forward pass holds one layer's
        weights at a time. Read from the files' headers only, once."""
        per_layer: dict[str, int] = {}
        for name, path in self.files.items():
            layer = next((part for part in name.split(".") if part.isdigit()), None)
            if layer is not None:
                shape = self._open(path).get_slice(name).get_shape()
                per_layer[layer] = per_layer.get(layer, 0) + int(np.prod(shape))
        return max(per_layer.values(), default=0)

    def shape(self, name: str) -> list[int]:
        """The shape of the tensor ``name`` as its file's header gives it (nothing is read)."""
        for prefix in self.prefixes:
            if prefix + name in self.files:
                return list(self._open(self.files[prefix + name]).get_slice(prefix + name)
                            .get_shape())  # fmt: skip
        raise ConfigError(f"`model`: the checkpoint has no tensor {name!r}")

    def has(self, name: str) -> bool:
        """Whether the checkpoint has the tensor ``name`` (under one of the prefixes)."""
        return any(prefix + name in self.files for prefix in self.prefixes)

    def __call__(self, name: str, rows: list[int] | None = None) -> np.ndarray:
        """The tensor ``name``, or only its ``rows`` (an embedding table's, read row by row:
        a vocabulary of 30,000 is not read for 12 tokens)."""
        for prefix in self.prefixes:
            path = self.files.get(prefix + name)
            if path is not None:
                return finite(self._read(path, prefix + name, rows), path, prefix + name)
        raise ConfigError(f"`model`: the checkpoint has no tensor {name!r}")

    def _read(self, path: Path, name: str, rows: list[int] | None) -> np.ndarray:
        f = self._open(path)
        try:
            part = f.get_slice(name)
        except Exception as e:  # the index names a tensor its file has not
            raise ConfigError(f"`model`: {path.name} has no tensor {name!r} ({e})") from None
        dtype, shape = part.get_dtype(), part.get_shape()
        if rows and (not shape or max(rows) >= shape[0]):
            raise ConfigError(f"`model`: {path.name}: tensor {name!r} of shape {shape} has no row "
                              f"{max(rows)}, an id the tokenizer gives")  # fmt: skip
        if dtype not in FLOATS:
            raise ConfigError(f"`model`: {path.name}: tensor {name!r} is {dtype}; weights are "
                              f"of a floating type ({', '.join(FLOATS)})")  # fmt: skip
        if dtype == "BF16":
            if path not in self.headers:
                self.headers[path] = _header(path)
            return _bf16(path, self.headers[path], name, rows)
        if rows is None:
            return f.get_tensor(name).astype(np.float32, copy=False)
        return np.concatenate([part[i : i + 1] for i in rows]).astype(np.float32)


def overflow_held() -> np.errstate:
    """NumPy's warnings of overflow (inf − inf, a sum past the dtype) held: the numbers that
    come of it are looked at after, and refused in one line of their own."""
    return np.errstate(over="ignore", invalid="ignore")


def finite(a: np.ndarray, path: Path, name: str) -> np.ndarray:
    """``a``, or ConfigError when it holds NaN or an infinity (its sum tells, without a
    second array; when it is not finite, the weights themselves are looked at)."""
    with overflow_held():
        total = np.add.reduce(a, axis=None)
    if a.size and not np.isfinite(total) and not np.isfinite(a).all():
        raise ConfigError(f"`model`: {path.name}: tensor {name!r} holds NaN or infinite values")
    return a
