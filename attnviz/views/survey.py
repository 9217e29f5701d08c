"""A model's heads over a corpus (``attnviz.survey``): every measure as layers × heads, a label
per head, the strongest heads of each measure; its JSON and CSV."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..display import Page
from ..survey import CROSS_MEASURES, MEASURES
from .labels import strings, visible


@dataclass(frozen=True, eq=False, repr=False)
class SurveyView(Page):
    """``name``: what ran (a checkpoint's name, or the seeded model's settings); ``means``:
    each measure (L, H), and ``offset``, each head's most frequent offset; ``used`` texts
    measured, ``skipped`` by reason; ``words``: pieces merged into words; ``induction``:
    the induction scores (L, H) when measured."""

    name: str
    means: dict[str, np.ndarray]
    labels: list[list[str]]
    used: int
    skipped: dict[str, int] = field(default_factory=dict)
    words: bool = False
    induction: dict[str, np.ndarray] | None = None
    lang: str = "en"
    attention: str = ""  # an encoder-decoder's kind of attention surveyed ("" for the others)

    @property
    def shape(self) -> tuple[int, int]:
        L, H = self.means["first"].shape
        return int(L), int(H)

    @property
    def measures(self) -> dict[str, np.ndarray]:
        """Every measure shown, in order: the corpus's (cross-attention's, those that mean
        something of a target token over the source), then the induction scores."""
        shown = CROSS_MEASURES if self.attention == "cross" else MEASURES
        return {m: self.means[m] for m in shown} | (self.induction or {})

    @property
    def title(self) -> str:
        s, (L, H) = strings(self.lang), self.shape
        skipped = ", ".join(f"{n} {s['skip_' + why]}" for why, n in sorted(self.skipped.items()))
        shape = (f"{L} {s['layer_word' if L == 1 else 'layers_word']} × "
                 f"{H} {s['head' if H == 1 else 'heads']}")  # fmt: skip
        parts = [s["survey_of"].format(name=visible(self.name), shape=shape),
                 s["texts_used"].format(n=self.used)]  # fmt: skip
        if skipped:
            parts[-1] += f" ({s['texts_skipped']}: {skipped})"
        if self.words:
            parts.append(s["word_level"])
        return " · ".join(parts)

    def strongest(self, measure: str, k: int = 3) -> list[tuple[int, int, float]]:
        """The ``k`` heads (layer, head, value) with the largest values, the lower first on ties."""
        values = self.measures[measure]
        order = np.argsort(-values, axis=None, kind="stable")[:k]
        return [(int(n), int(h), float(values[n, h]))
                for n, h in zip(*np.unravel_index(order, values.shape), strict=True)]  # fmt: skip

    def label_counts(self) -> list[tuple[str, int]]:
        """How many heads have each label, the most common first."""
        return Counter(x for row in self.labels for x in row).most_common()

    def to_json(self) -> dict[str, Any]:
        L, H = self.shape
        return {
            "model": self.name, "layers": L, "heads": H, "texts": self.used,
            "skipped": dict(sorted(self.skipped.items())), "words": self.words,
            "measures": {m: v.tolist() for m, v in self.measures.items()},
            "offset": self.means["offset"].tolist(), "labels": self.labels,
        }  # fmt: skip

    def to_csv(self) -> str:
        """layer, head, every measure, offset, label: one line per head, numbers in full."""
        names = list(self.measures)
        lines = [",".join(("layer", "head", *names, "offset", "label"))]
        L, H = self.shape
        for n in range(L):
            for h in range(H):
                values = (repr(float(self.measures[m][n, h])) for m in names)
                offset = str(int(self.means["offset"][n, h]))
                lines.append(",".join((str(n), str(h), *values, offset, self.labels[n][h])))
        return "\n".join(lines) + "\n"
