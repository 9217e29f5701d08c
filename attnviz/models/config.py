"""A checkpoint's settings read without opening it: a folder's config.json, or what a GGUF
file's metadata stands for, checked to be of a supported family; the numbers the command
line checks options against before any work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import gguf_model
from .families import FAMILIES
from .files import find_model, read_json, setting


def open_config(spec: str) -> dict[str, Any]:
    """The config of the checkpoint ``spec``: a folder's config.json, or what a GGUF file's
    metadata stands for."""
    path = gguf_model.spec_path(spec)
    if path is not None:
        return gguf_model.opened(path)[1]
    return read_config(spec, find_model(spec))


def read_config(spec: str, folder: Path) -> dict[str, Any]:
    """config.json of the checkpoint in ``folder``, checked to be of a supported family."""
    config = read_json(folder / "config.json", "config.json")
    kind = config.get("model_type") if isinstance(config, dict) else None
    if not isinstance(kind, str) or kind not in FAMILIES:
        runs = "; ".join(f"{f.model_type} ({f.about})" for f in FAMILIES.values())
        raise ConfigError(
            f"`model` {spec!r}: model_type {kind!r} is not supported; attnviz runs {runs}"
        )
    assert isinstance(config, dict)
    return config


def heads_of(spec: str) -> tuple[int, int]:
    """The number of heads of the checkpoint ``spec``, and of its key/value heads, from its
    config.json alone."""
    config = open_config(spec)
    family = FAMILIES[config["model_type"]]
    heads = setting(config, family.heads)
    return heads, heads if family.kv_heads is None else setting(config, family.kv_heads, heads)


def layers_of(spec: str) -> int:
    """The number of layers of the checkpoint ``spec``, from its config.json alone."""
    config = open_config(spec)
    return setting(config, FAMILIES[config["model_type"]].layers)


def is_encoder_decoder(spec: str) -> bool:
    """Whether the checkpoint ``spec`` is an encoder-decoder (T5, BART, Marian)."""
    return FAMILIES[open_config(spec)["model_type"]].seq2seq is not None
