"""Mask specs -> a (T, T) bool array ``allowed``: True where query i may attend to key j.

Specs (strings, as the CLI takes them): ``none``, ``causal``, ``window=K``, ``prefix=P``,
``padding``. Several specs combine with AND.

Shapes: T tokens; every mask is (T, T), rows are queries, columns keys.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    return np.tri(T, T, 0, dtype=bool) & ~np.tri(T, T, -k, dtype=bool)


def prefix(T: int, p: int) -> np.ndarray:
    """Prefix LM: every query sees the first p keys, and the keys j <= i."""
    allowed = causal(T)
    allowed[:, :p] = True
    return allowed


def padding(is_pad: np.ndarray) -> np.ndarray:
    """``<pad>`` keys are hidden from every query, and ``<pad>`` queries see nothing.

    is_pad: (T,) bool.
    """
    real = ~np.asarray(is_pad, dtype=bool)
    return real[:, None] & real[None, :]  # (T,1) & (1,T) -> (T,T)


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
    T = len(is_pad)
    allowed = none(T)
    for spec in specs:
        name, _, arg = spec.partition("=")
        if name == "causal":
            allowed &= causal(T)
        elif name == "window":
            allowed &= window(T, int(arg))
        elif name == "prefix":
            allowed &= prefix(T, int(arg))
        elif name == "padding":
            allowed &= padding(is_pad)
        elif name != "none":
            raise _bad(spec, "unknown mask")
    return allowed
