"""What the encoder-decoders (T5 in ``t5``, BART and Marian in ``bart``) share: the record
of a family's forward pass and head, and the runs of a pass.

Three kinds of attention: the encoder's self-attention over the source (S tokens, no mask),
the decoder's causal self-attention over the target (T tokens), and the decoder's
cross-attention, its queries the target's and its keys and values the encoder's output.

Shapes: S source tokens, T target tokens, H heads, D hidden size, Dh a head's width.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from ..choices import ATTENTIONS
from ..errors import ConfigError
from .layers import LayerRun, Params

KINDS = ATTENTIONS  # the encoder's, the decoder's, the decoder's over the encoder's


@dataclass(eq=False)
class Seq2SeqRun:
    """Every layer's run of the three kinds, the encoder's output ``memory`` (S, D), the
    decoder's last hidden states after its final norm (T, D), and T5's position biases of
    the encoder's and decoder's self-attention (H, S, S), (H, T, T)."""

    runs: dict[str, list[LayerRun]] = field(default_factory=lambda: {k: [] for k in KINDS})
    memory: np.ndarray | None = None
    hidden: np.ndarray | None = None
    biases: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Seq2Seq:
    """What an encoder-decoder family adds to its table entry: its forward pass, its
    language-model head, and the config.json keys of its decoder's layers and heads."""

    run: Callable[[Params, list[int], list[int], bool, int], Seq2SeqRun]
    logits: Callable[[Params, np.ndarray], np.ndarray]
    decoder_layers: str
    decoder_heads: str | None = None  # None: as many as the encoder's


def no_forward(*_: object, **__: object) -> Iterator[LayerRun]:
    """An encoder-decoder's decoder-only forward pass: there is none."""
    raise ConfigError("`model` is an encoder-decoder: it runs with a source text and a target")
