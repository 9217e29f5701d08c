"""An encoder-decoder's model view: the three blocks BertViz shows, every layer × selected
head of the encoder's self-attention, the decoder's, and the decoder's over the encoder's
(cross-attention), each a ModelView of its own Trace.

Shapes: S source tokens, T target tokens, L layers of a block, H heads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..display import Page
from ..errors import ConfigError
from ..trace import Trace
from .heatmap import ModelView, model_view
from .labels import heads_text, plain, strings, visible


@dataclass(frozen=True, eq=False, repr=False)
class BlocksView(Page):
    """The model views of an encoder-decoder's kinds of attention, in the order encoder,
    decoder, cross (the encoder's alone when the run has no target)."""

    blocks: list[ModelView]
    lang: str = "en"

    @property
    def trace(self) -> Trace:
        """The run of the last block (cross-attention's, when there is a target)."""
        trace = self.blocks[-1].exact()
        assert trace is not None
        return trace

    @property
    def title(self) -> str:
        """The checkpoint, its kinds of attention shown, and the heads."""
        s, trace = strings(self.lang), self.trace
        kinds = ", ".join(s[f"attn_{b.trace.attention}"] for b in self.blocks)
        assert trace.config.pretrained is not None
        return " · ".join((visible(trace.config.pretrained.name), kinds,
                           heads_text(self.blocks[0].heads, trace.heads, self.lang)))  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """Each block's model-view JSON by its kind: {"encoder": ..., "decoder": ...,
        "cross": ...}, the tokens of its queries and keys in each."""
        return dict(plain(self.json_data()))

    def json_data(self) -> dict[str, Any]:
        return {"blocks": {b.trace.attention: b.json_data() for b in self.blocks}}


def blocks_view(traces: Sequence[Trace], heads: Sequence[int] | None = None, *,
                scale: str | None = None, lang: str = "en") -> BlocksView:  # fmt: skip
    """The blocks of an encoder-decoder's ``traces`` (``attnviz.run_kinds``'s)."""
    if not traces or any(not t.attention for t in traces):
        raise ConfigError("the blocks view shows an encoder-decoder's kinds of attention")
    return BlocksView([model_view(t, heads, scale=scale, lang=lang) for t in traces], lang)
