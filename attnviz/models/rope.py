"""Rotary position embeddings (RoPE, Su et al. 2021) as the decoder families use them.

Each pair of dimensions (d, d + R/2) of the first R dimensions of a head's query and key is
turned by the angle position × θ_d, θ_d = base^(−2d/R): the score q·k then depends on the
two positions only through their difference. R is the head's width, or a part of it
(``partial_rotary_factor``, GPT-NeoX's ``rotary_pct``). The tables are computed in float32,
as transformers computes them for a model of any float type.

config.json gives the settings two ways: ``rope_parameters`` (transformers 5), or the older
``rope_theta`` and ``rope_scaling`` (and Gemma 3's ``rope_local_base_freq``, GPT-NeoX's
``rotary_emb_base`` and ``rotary_pct``); both are read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError

SCALINGS = ("default", "linear", "llama3")


def _number(d: dict[str, Any], key: str, default: float | None = None) -> float:
    value = d.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(
            f"`model`: config.json's rope {key!r} must be a number > 0, not {value!r}"
        )
    return float(value)


@dataclass(frozen=True)
class Rope:
    """One kind of layer's rotary embedding: the inverse frequencies θ_d (R/2,), float32."""

    inv_freq: np.ndarray

    @property
    def dims(self) -> int:
        """R, how many of a head's dimensions turn."""
        return 2 * len(self.inv_freq)

    def tables(self, T: int, dtype: str, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """cos and sin of position × θ for positions start..start+T−1: (T, R) each."""
        positions = np.arange(start, start + T, dtype=np.float32)
        freqs = positions[:, None] * self.inv_freq[None]  # (T,R/2)
        angles = np.concatenate([freqs, freqs], axis=-1)  # (T,R)
        return np.cos(angles).astype(dtype), np.sin(angles).astype(dtype)

    def rotate(self, x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
        """x (H, T, Dh) with its first R dimensions turned: x·cos + rotate_half(x)·sin."""
        R = self.dims
        turned = x[..., :R]
        half = np.concatenate([-turned[..., R // 2 :], turned[..., : R // 2]], axis=-1)
        if R == x.shape[-1]:
            return turned * cos + half * sin
        return np.concatenate([turned * cos + half * sin, x[..., R:]], axis=-1)


def settings(
    config: dict[str, Any], kind: str | None, defaults: dict[str, float]
) -> dict[str, Any]:
    """The rope settings of one kind of layer (Gemma 3's "sliding_attention" or
    "full_attention"; None for one kind), from either way config.json writes them."""
    found = config.get("rope_parameters") or config.get("rope_scaling") or {}
    if not isinstance(found, dict):
        raise ConfigError(f"`model`: config.json's rope settings are not an object: {found!r}")
    if kind is not None and any(k in found for k in ("full_attention", "sliding_attention")):
        found = found.get(kind) or {}
    elif kind == "sliding_attention":  # one set of settings: the global layers' (Gemma 3)
        found = {}
    if not isinstance(found, dict):
        raise ConfigError(f"`model`: config.json's rope settings are not an object: {found!r}")
    s = {"rope_type": found.get("rope_type", found.get("type", "default")), **found}
    for key, value in defaults.items():
        s.setdefault(key, value)
    return s


def rope(s: dict[str, Any], head_dim: int, max_positions: int) -> Rope:
    """The Rope of settings ``s`` for heads of width ``head_dim``."""
    kind = s["rope_type"]
    if kind not in SCALINGS:
        raise ConfigError(
            f"`model`: rope scaling {kind!r} is not supported (attnviz runs {', '.join(SCALINGS)})"
        )
    base = _number(s, "rope_theta", 10000.0)
    share = _number(s, "partial_rotary_factor", 1.0)
    dim = int(head_dim * share)
    if dim < 2 or share > 1:
        raise ConfigError(f"`model`: partial rotary factor {share} leaves {dim} dimensions to turn")
    exponent = np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)
    inv_freq = (np.float32(1.0) / np.float32(base) ** exponent).astype(np.float32)
    if s.get("freq_factors") is not None:  # llama.cpp's rope_freqs: a factor per frequency
        factors = np.asarray(s["freq_factors"], dtype=np.float32)
        if factors.shape != inv_freq.shape:
            raise ConfigError(f"`model`: {factors.size} rope frequency factors for {dim // 2} "
                              "frequencies")  # fmt: skip
        inv_freq = inv_freq / factors
    if kind == "linear":
        inv_freq = inv_freq / np.float32(_number(s, "factor"))
    elif kind == "llama3":
        inv_freq = _llama3(inv_freq, s, max_positions)
    return Rope(inv_freq.astype(np.float32))


def _llama3(inv_freq: np.ndarray, s: dict[str, Any], max_positions: int) -> np.ndarray:
    """Llama 3.1's scaling: long wavelengths slowed by ``factor``, short ones kept, and a
    smooth blend between them."""
    factor = np.float32(_number(s, "factor"))
    low, high = _number(s, "low_freq_factor"), _number(s, "high_freq_factor")
    context = _number(s, "original_max_position_embeddings", max_positions)
    if not high > low:
        raise ConfigError("`model`: llama3 rope needs high_freq_factor > low_freq_factor")
    wavelen = np.float32(2 * math.pi) / inv_freq
    scaled = np.where(wavelen > context / low, inv_freq / factor, inv_freq).astype(np.float32)
    smooth = ((np.float32(context) / wavelen - np.float32(low)) / np.float32(high - low)).astype(
        np.float32
    )
    blended = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < context / high) & ~(wavelen > context / low)
    return np.where(medium, blended, scaled).astype(np.float32)
