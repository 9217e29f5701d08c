"""A decoder's continuation as data: the run of the whole sequence (prompt and generated
tokens), the heads shown, and what the model chose at each step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..trace import Crop, Trace
from .heatmap import HeatmapView
from .labels import strings, trace_line


@dataclass(frozen=True)
class StepChoice:
    """One step: the token chosen (its id and text), the probability the model gave it, and
    its most probable next tokens (text, probability)."""

    token: int
    text: str
    prob: float
    top: tuple[tuple[str, float], ...]


@dataclass(frozen=True, eq=False)
class GenerationView:
    """The attention of a generated text: ``trace`` runs the prompt and the generated tokens
    (its ``model.prompt_tokens`` the prompt's length), ``steps`` what each step chose,
    ``sampling`` how ("greedy", or its temperature, top-k, top-p and seed), ``stopped``
    whether it ended at an end-of-text token."""

    trace: Trace
    heads: list[int]
    steps: list[StepChoice]
    sampling: dict[str, Any]
    stopped: bool = False
    lang: str = "en"

    @property
    def prompt_tokens(self) -> int:
        return self.trace.model.prompt_tokens if self.trace.model else 0

    @property
    def title(self) -> str:
        return trace_line(self.trace, self.lang, shown=self.heads) + " · " + self.how

    @property
    def how(self) -> str:
        """ "8 tokens generated after 5 (greedy)"."""
        s = strings(self.lang)
        chosen = s["greedy"] if self.sampling.get("temperature", 0) == 0 else ", ".join(
            f"{k} {v}" for k, v in self.sampling.items() if v is not None)  # fmt: skip
        return s["generated"].format(n=len(self.steps), p=self.prompt_tokens, how=chosen)

    @property
    def whole(self) -> HeatmapView:
        """Every token's attention, the prompt's and the generated ones'."""
        return HeatmapView(self.trace, self.heads, lang=self.lang)

    @property
    def generated_rows(self) -> HeatmapView:
        """The rows of the generated tokens (queries), over every key."""
        T = len(self.trace.tokens)
        return HeatmapView(self.trace, self.heads, Crop(self.prompt_tokens, T, 0, T),
                           lang=self.lang)  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """The heatmap's JSON of the whole sequence, with the prompt's and the generated ids,
        each step's chosen probability and top tokens, and how they were chosen."""
        ids = list(self.trace.model.ids) if self.trace.model else []
        P = self.prompt_tokens
        return {
            **self.whole.to_json(),
            "prompt_ids": ids[:P],
            "generated_ids": ids[P:],
            "chosen_prob": [st.prob for st in self.steps],
            "top": [[{"token": t, "prob": p} for t, p in st.top] for st in self.steps],
            "sampling": self.sampling,
            "stopped": self.stopped,
        }
