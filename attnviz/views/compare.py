"""The comparison of two runs A and B: per head the panels A, B and B − A, the summary
numbers, and the output difference per token; its JSON.

Shapes: H heads, T tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..display import Page
from ..stats import Comparison
from ..trace import AttentionConfig, Crop, cells, select_heads
from .labels import head_label, mask_text, strings, trace_line
from .panel import Panel


def run_label(config: AttentionConfig, lang: str = "en") -> str:
    """What distinguishes a run: its mask, and "unscaled" when scaling is off."""
    s = strings(lang)
    text = mask_text(config.mask, lang)
    return text if config.scaled else f"{text}, {s['unscaled']}"


DIFFERENCE_FLOOR = 0.01  # the smallest half-range of the B − A colour scale


@dataclass(frozen=True, eq=False, repr=False)
class CompareView(Page):
    """Runs A and B of the same text, the selected heads, cut to ``crop`` or whole. The summary
    numbers are those of the whole run; the panels and the output difference, the crop's."""

    cmp: Comparison
    heads: list[int]
    crop: Crop | None = None
    lang: str = "en"

    @property
    def title(self) -> str:
        return trace_line(self.cmp.a, self.lang, self.crop, shown=self.heads)

    @property
    def labels(self) -> tuple[str, str]:
        """ "A: causal", "B: none"."""
        a, b = self.cmp.a.config, self.cmp.b.config
        return f"A: {run_label(a, self.lang)}", f"B: {run_label(b, self.lang)}"

    @property
    def difference_limit(self) -> float:
        """The symmetric limit of the B − A colour scale: the largest |B − A| of the cells
        shown, and at least DIFFERENCE_FLOOR: differences under what the cells print (two
        decimals) are not blown up to full colour."""
        cut, a, b = cells(self.crop), self.cmp.a, self.cmp.b
        top = max(float(np.abs(b.weights[h][cut] - a.weights[h][cut]).max()) for h in self.heads)
        return max(top, DIFFERENCE_FLOOR)

    @property
    def output_difference(self) -> np.ndarray:
        """‖output_A[i] − output_B[i]‖ of the queries shown."""
        return self.cmp.output_difference[self.crop.queries if self.crop else slice(None)]

    def panels(self) -> list[Panel]:
        """Three Panels per head, in order A, B, B − A. B − A is coloured on a symmetric scale
        and hides only the cells that both runs hide; the titles carry the whole run's numbers."""
        s, cmp, lang = strings(self.lang), self.cmp, self.lang
        cut = cells(self.crop)
        row0, col0 = (self.crop.q0, self.crop.k0) if self.crop else (None, None)
        hidden_a, hidden_b = ~cmp.a.allowed[cut], ~cmp.b.allowed[cut]
        label_a, label_b = self.labels
        panels = []
        for h in self.heads:
            wa, wb = cmp.a.weights[h][cut], cmp.b.weights[h][cut]
            head = head_label(cmp.a, h, lang)
            panels += [
                Panel(h, f"{head} · {label_a}\n{s['entropy_a']} {cmp.entropy_a[h]:.2f}", wa,
                      hidden_a, row0=row0, col0=col0),
                Panel(h, f"{label_b}\n{s['entropy_b']} {cmp.entropy_b[h]:.2f}", wb, hidden_b,
                      row0=row0, col0=col0),
                Panel(h, f"{s['difference']}\n{s['tv_short']} {cmp.tv_distance[h]:.2f} · "
                      f"{s['moved_short']} {cmp.mass_moved[h]:.2f}", wb - wa, hidden_a & hidden_b,
                      limit=self.difference_limit, signed=True, row0=row0, col0=col0),
            ]  # fmt: skip
        return panels

    @property
    def summary_keys(self) -> tuple[str, ...]:
        """The per-head numbers of the summary: with scaled against unscaled, the median norms
        of the softmax's Jacobian too (why √d_k: the gradient through the softmax)."""
        keys = ("tv_distance", "mass_moved", "entropy_a", "entropy_b")
        scaling = self.cmp.a.config.scaled != self.cmp.b.config.scaled
        return keys + (("jacobian_a", "jacobian_b") if scaling else ())

    def summary_line(self) -> str:
        """The summary numbers averaged over the selected heads, in one line."""
        s, cmp, h = strings(self.lang), self.cmp, self.heads
        line = (
            f"{s['mean_over_heads']}: {s['tv_distance']} {cmp.tv_distance[h].mean():.3f}"
            f" · {s['mass_moved']} {cmp.mass_moved[h].mean():.3f}"
            f" · {s['entropy_a']} {cmp.entropy_a[h].mean():.3f}"
            f" · {s['entropy_b']} {cmp.entropy_b[h].mean():.3f} {s['nats']}"
        )
        for key in self.summary_keys[4:]:
            line += f" · {s[key]} {getattr(cmp, key)[h].mean():.3g}"
        return line

    def to_json(self) -> dict[str, Any]:
        """Tokens, both configs, heads, (crop,) the summary numbers per head and the output
        difference of the queries shown."""
        cmp = self.cmp
        return {
            "tokens": cmp.a.texts,
            "config_a": cmp.a.config.to_dict(),
            "config_b": cmp.b.config.to_dict(),
            "heads": self.heads,
            **({"window": self.crop.to_dict()} if self.crop else {}),
            **{key: getattr(cmp, key)[self.heads].tolist()
               for key in self.summary_keys},
            "output_difference": self.output_difference.tolist(),
        }  # fmt: skip


def compare_view(
    cmp: Comparison, heads: Sequence[int] | None = None, *, crop: Crop | None = None,
    lang: str = "en",
) -> CompareView:  # fmt: skip
    """The comparison of ``heads`` (default all) of runs A and B."""
    strings(lang)
    return CompareView(cmp, select_heads(heads, cmp.a.heads), crop, lang)
