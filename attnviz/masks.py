"""Mask specs -> a (T, T) bool array ``allowed``: True where query i may attend to key j.

Specs (strings, as the CLI takes them): ``none``, ``causal``, ``window=K``, ``prefix=P``,
``padding``. Several specs combine with AND.

Shapes: T tokens; every mask is (T, T), rows are queries, columns keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError

MASK_SPECS = ("none", "causal", "window=K", "prefix=P", "padding")


def none(T: int) -> np.ndarray:
    """Every query sees every key."""
    return np.ones((T, T), dtype=bool)


def causal(T: int) -> np.ndarray:
    """Query i sees keys j <= i (no looking ahead)."""
    return np.tri(T, T, 0, dtype=bool)


def window(T: int, k: int) -> np.ndarray:
    """Causal sliding window: query i sees the k keys i-k < j <= i."""
    return Mask((f"window={k}",), np.zeros(T, dtype=bool)).dense()


def prefix(T: int, p: int) -> np.ndarray:
    """Prefix LM: every query sees the first p keys, and the keys j <= i."""
    return Mask((f"prefix={p}",), np.zeros(T, dtype=bool)).dense()


def padding(is_pad: np.ndarray) -> np.ndarray:
    """``<pad>`` keys are hidden from every query, and ``<pad>`` queries see nothing.

    is_pad: (T,) bool.
    """
    return Mask(("padding",), np.asarray(is_pad, dtype=bool)).dense()


def _rule(spec: str, i: np.ndarray, j: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Whether query i may see key j under one canonical spec: i (B, 1) and j (1, C) indices,
    ``real`` (T,) the tokens that are not ``<pad>`` -> (B, C) bool (or broadcastable)."""
    name, _, arg = spec.partition("=")
    if name == "causal":
        return j <= i
    if name == "window":
        return (j <= i) & (j > i - int(arg))
    if name == "prefix":
        return (j <= i) | (j < int(arg))
    if name == "padding":
        return real[i] & real[j]
    if name == "none":
        return np.ones((1, 1), dtype=bool)
    raise _bad(spec, "unknown mask")


@dataclass(frozen=True, eq=False)
class Mask:
    """The mask of canonical ``specs`` (ANDed) over T tokens, given a block at a time: a long
    text's (T, T) ``allowed`` is never built whole. ``is_pad`` (T,) bool: the ``<pad>``
    tokens (for the ``padding`` spec)."""

    specs: tuple[str, ...]
    is_pad: np.ndarray

    @property
    def T(self) -> int:
        return len(self.is_pad)

    def block(self, i0: int, i1: int, j0: int, j1: int) -> np.ndarray:
        """``allowed`` of queries i0..i1−1 and keys j0..j1−1: (i1 − i0, j1 − j0) bool."""
        i, j = np.arange(i0, i1)[:, None], np.arange(j0, j1)[None, :]  # (B,1), (1,C)
        real = ~np.asarray(self.is_pad, dtype=bool)
        allowed = np.ones((i1 - i0, j1 - j0), dtype=bool)
        for spec in self.specs:
            allowed &= _rule(spec, i, j, real)
        return allowed

    def dense(self) -> np.ndarray:
        """The whole (T, T) ``allowed``."""
        return self.block(0, self.T, 0, self.T)

    def span(self, i0: int, i1: int) -> tuple[int, int]:
        """Keys j0..j1−1 holding every key that a query of i0..i1−1 may see (they may hide
        some of them); j0 >= j1 when none is seen."""
        lo, hi = 0, self.T
        for spec in self.specs:
            name, _, arg = spec.partition("=")
            if name in ("causal", "window", "prefix"):
                hi = min(hi, max(i1, int(arg) if name == "prefix" else 0))
            if name == "window":
                lo = max(lo, i0 - int(arg) + 1)
        return lo, hi


def _bad(spec: str, why: str) -> ConfigError:
    return ConfigError(f"bad mask {spec!r}: {why}; valid masks: {', '.join(MASK_SPECS)}")


def parse_mask(spec: str) -> str:
    """Check one spec and return its canonical form (``" Window = 3 "`` -> ``"window=3"``)."""
    name, eq, arg = spec.replace(" ", "").lower().partition("=")
    if name in ("none", "causal", "padding"):
        if eq:
            raise _bad(spec, f"{name!r} takes no value")
        return name
    if name in ("window", "prefix"):
        if not eq or not arg:
            raise _bad(spec, f"{name!r} needs a value, as in {name}=3")
        try:
            value = int(arg)
        except ValueError:
            raise _bad(spec, f"{arg!r} is not a whole number") from None
        least = 1 if name == "window" else 0
        if value < least:
            raise _bad(spec, f"{name} must be at least {least}")
        if value > 2**31 - 1:
            raise _bad(spec, f"{name} must be at most {2**31 - 1}")
        return f"{name}={value}"
    raise _bad(spec, "unknown mask")


def parse_masks(specs: str | Sequence[str]) -> tuple[str, ...]:
    """Canonical specs for one spec or several (combined with AND); at least one."""
    items = [specs] if isinstance(specs, str) else list(specs)
    if not items:
        return ("causal",)
    return tuple(dict.fromkeys(parse_mask(s) for s in items))  # drop repeats, keep order


def build_mask(specs: Sequence[str], is_pad: np.ndarray) -> np.ndarray:
    """The (T, T) ``allowed`` array of canonical ``specs`` ANDed together.

    is_pad: (T,) bool, True for ``<pad>`` tokens (used by the ``padding`` spec).
    """
    return Mask(tuple(specs), np.asarray(is_pad, dtype=bool)).dense()
