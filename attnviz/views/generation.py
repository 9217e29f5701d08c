"""A decoder's continuation as data: the run of the whole sequence (prompt and generated
tokens), the heads shown, and what the model chose at each step."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..display import Page
from ..trace import Crop, Trace
from .heatmap import HeatmapView, key_names
from .labels import head_label, plain, strings, trace_line, visible
from .panel import Panel


@dataclass(frozen=True)
class StepChoice:
    """One step: the token chosen (its id and text), the probability the model gave it, and
    its most probable next tokens (text, probability)."""

    token: int
    text: str
    prob: float
    top: tuple[tuple[str, float], ...]


@dataclass(frozen=True, eq=False, repr=False)
class GenerationView(Page):
    """The attention of a generated text: ``trace`` runs the prompt and the generated tokens
    (its ``model.prompt_tokens`` the prompt's length), ``steps`` what each step chose,
    ``sampling`` how ("greedy", or its temperature, top-k, top-p and seed), ``stopped``
    whether it ended at an end-of-text token; ``every_layer`` (--layer all): the view is one
    generated token's attention in every layer, the token of ``step`` (1: the first
    generated; None: the last)."""

    trace: Trace
    heads: list[int]
    steps: list[StepChoice]
    sampling: dict[str, Any]
    stopped: bool = False
    lang: str = "en"
    every_layer: bool = False
    step: int | None = None

    @property
    def prompt_tokens(self) -> int:
        return self.trace.model.prompt_tokens if self.trace.model else 0

    @property
    def title(self) -> str:
        line = trace_line(self.trace, self.lang, every_layer=self.every_layer, shown=self.heads)
        if self.every_layer:
            q, s = self.query, strings(self.lang)
            line += " · " + s["every_layer_of"].format(q=q, token=visible(self.trace.texts[q]),
                                                       step=q - self.prompt_tokens + 1,
                                                       n=len(self.steps))  # fmt: skip
        return line + " · " + self.how

    @property
    def query(self) -> int:
        """The token whose every layer --layer all shows: the step's, or the last."""
        return self.prompt_tokens + (self.step or len(self.steps)) - 1

    @property
    def how(self) -> str:
        """ "8 tokens generated after 5 (greedy)"."""
        s = strings(self.lang)
        chosen = s["greedy"] if self.sampling.get("temperature", 0) == 0 else ", ".join(
            f"{k} {v}" for k, v in self.sampling.items() if v is not None)  # fmt: skip
        said = "translated" if self.trace.attention else "generated"  # an encoder-decoder's
        return s[said].format(n=len(self.steps), p=self.prompt_tokens, how=chosen)

    @property
    def whole(self) -> HeatmapView:
        """Every token's attention, the prompt's and the generated ones'."""
        return HeatmapView(self.trace, self.heads, lang=self.lang)

    @property
    def generated_rows(self) -> HeatmapView:
        """The rows of the generated tokens (queries), over every key."""
        T = len(self.trace.tokens)
        return HeatmapView(self.trace, self.heads, Crop(self.prompt_tokens, T, 0,
                                                        self.trace.keys_count), lang=self.lang)  # fmt: skip

    def keys_of(self, q: int) -> list[str]:
        """The keys of token q's row: the source's tokens (cross-attention), else the tokens up
        to q."""
        texts = self.trace.key_texts
        return texts if self.trace.attention == "cross" else texts[: q + 1]

    def layer_panels(self) -> Iterator[Panel]:
        """--layer all: a panel per head, the attention row of ``query`` in every layer
        (layers down, the tokens up to it across), under each layer's mask."""
        q, trace = self.query, self.trace
        k = len(self.keys_of(q))  # the source's, or the tokens so far
        rows = trace.layer_weights[:, :, q, :k]  # (L, H, k)
        hidden = ~trace.layer_allowed[:, q, :k]
        names = tuple(str(n) for n in range(rows.shape[0]))
        for h in self.heads:
            yield Panel(h, head_label(trace, h, self.lang), rows[:, h], hidden,
                        boundary=self.prompt_tokens, row_names=names,
                        key_names=key_names(trace))  # fmt: skip

    def _layers_json(self) -> dict[str, Any]:
        """--layer all's numbers: the tokens up to ``query``, and its rows (layers, heads,
        keys), what each layer's mask allows of them (layers, keys)."""
        q, panels = self.query, list(self.layer_panels())
        cross = {"key_tokens": self.keys_of(q)} if self.trace.attention == "cross" else {}
        return {
            "tokens": self.trace.texts[: q + 1],
            **cross,
            "config": self.trace.config.to_dict(),
            "heads": self.heads,
            "query": q,
            "step": q - self.prompt_tokens + 1,
            "layer_allowed": ~panels[0].hidden,
            "layer_weights": np.stack([p.weights for p in panels], axis=1),
        }

    def to_json(self) -> dict[str, Any]:
        """The heatmap's JSON of the whole sequence (or --layer all's), with the prompt's and
        the generated ids, each step's chosen probability and top tokens, and how they were
        chosen."""
        return dict(plain(self.json_data()))

    def json_data(self) -> dict[str, Any]:
        """``to_json()``'s data, its arrays left as arrays."""
        ids = list(self.trace.model.ids) if self.trace.model else []
        P = self.prompt_tokens
        return {
            **(self._layers_json() if self.every_layer else self.whole.json_data()),
            "prompt_ids": ids[:P],
            "generated_ids": ids[P:],
            "chosen_prob": [st.prob for st in self.steps],
            "top": [[{"token": t, "prob": p} for t, p in st.top] for st in self.steps],
            "sampling": self.sampling,
            "stopped": self.stopped,
        }
