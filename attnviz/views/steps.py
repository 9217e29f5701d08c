"""The computation of one head, stage by stage, as data every renderer shares (pure NumPy).

Shapes: T tokens, H heads, D = d_model, Dh = d_k. The stages follow the README's "What it
computes": 1 Q, K, V (1b Q and K turned by position, in a rotary model) · 2 scores · 3 scaled
· 4 masked · 5 weights · 6 head output · 7 concat, output.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..display import Page
from ..errors import ConfigError
from ..scaling import jacobian_norm
from ..trace import Crop, Trace
from .labels import head_label, strings, trace_line


@dataclass(frozen=True, eq=False)
class Stage:
    """One stage: its number, name, formula and values; ``kind`` says how to show them.

    kind: "matrix" (T x columns, signed), "square" (T x T, signed), "masked" (T x T, −∞ where
    hidden), "weights" (T x T in [0, 1]).
    """

    number: str
    name: str
    formula: str
    values: np.ndarray
    kind: str
    hidden: np.ndarray | None = None  # (T, T) bool: the cells the mask hides, where it applies
    keys: bool = False  # a matrix whose rows are keys (K, V), not queries
    row0: int | None = None  # in a crop: the index of the first row shown
    col0: int | None = None  # ... and, for T x T stages, of the first key shown

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    @property
    def title(self) -> str:
        return f"{self.number}. {self.name}: {self.formula}"


def crop_stage(stage: Stage, crop: Crop) -> Stage:
    """The part of a stage that ``crop`` shows: the crop's queries and keys of a T x T
    stage; the crop's queries (keys, for K and V) of a matrix, all its columns."""
    if stage.kind == "matrix":
        rows = crop.keys if stage.keys else crop.queries
        return replace(stage, values=stage.values[rows], row0=rows.start)
    cut = (crop.queries, crop.keys)
    hidden = None if stage.hidden is None else stage.hidden[cut]
    return replace(stage, values=stage.values[cut], hidden=hidden, row0=crop.q0, col0=crop.k0)


def head_stages(trace: Trace, h: int, lang: str = "en", crop: Crop | None = None) -> list[Stage]:
    """Every stage of head ``h``, then the multi-head part (concat, output); with ``crop``,
    the part of each that the crop shows."""
    if not 0 <= h < trace.heads:
        raise ConfigError(f"no head {h}: this run has heads 0 to {trace.heads - 1}")
    s = strings(lang)
    hidden = ~trace.allowed
    scaled = s["f_scaled"].format(d_k=trace.d_k)
    if trace.scale != 1 / np.sqrt(trace.d_k):  # a model with its own factor (GPT-2's, by layer)
        scaled = s["f_scaled_by"].format(k=trace.scale)
    t5 = trace.model is not None and trace.model.model_type == "t5"
    scaled = s["f_t5_scaled"] if t5 else scaled  # T5 scales its scores by nothing
    scaled = scaled if trace.config.scaled else s["skipped"]
    last = trace.heads - 1
    planted = adds_bias(trace, h)
    # a planted head adds its position bias to the scaled scores: stage 3b, shown as b(i − j);
    # T5 adds the bias its first layer learnt for the bucket of j − i
    about = ("stage_t5_bias", "f_t5_bias") if trace.model is not None else ("stage_bias", "f_bias")
    bias = [Stage("3b", s[about[0]], s[about[1]], trace.bias[h], "square")] if planted else []
    masked = s["f_masked_biased" if planted else "f_masked"]

    stages = [
        *_projections(trace, h, s),
        *_rotated(trace, h, s),
        Stage(
            "2",
            s["stage_scores"],
            s["f_scores_rot" if trace.q_rot is not None else "f_scores"],
            trace.scores(h),
            "square",
        ),
        Stage("3", s["stage_scaled"], scaled, trace.scaled(h), "square"),
        *bias,
        Stage("4", s["stage_masked"], masked, trace.masked(h), "masked", hidden),
        Stage("5", s["stage_weights"], s["f_weights"], trace.weights[h], "weights", hidden),
        Stage("6", s["stage_head_output"], s["f_head_output"], trace.head_outputs[h], "matrix"),
        Stage("7", s["stage_concat"], s["f_concat"].format(last=last), trace.concat(), "matrix"),
        Stage("7", s["stage_output"], s["f_output"], trace.output, "matrix"),
    ]
    return [crop_stage(st, crop) for st in stages] if crop else stages


def adds_bias(trace: Trace, h: int) -> bool:
    """Whether head h adds a bias to its scaled scores (a planted head's, or T5's own)."""
    return h in trace.config.planted or bool(trace.model and trace.model.position_bias)


def _projections(trace: Trace, h: int, s: dict[str, str]) -> list[Stage]:
    """Stage 1, Q, K and V of head h; with grouped-query attention, K and V are those of the
    key/value head h shares with its group, and say so."""
    g, group = trace.kv_group(h)  # the key/value head that head h reads (h itself without GQA)
    shared = f"{group[0]}–{group[-1]}" if len(group) > 2 else ", ".join(map(str, group))
    kv = f" ({s['shared_kv'].format(g=g, heads=shared)})" if len(group) > 1 else ""
    n = g if kv else h

    def b(m: str, i: int) -> str:  # a checkpoint's projections may have biases
        return f" + b_{m}[{i}]" if np.any(getattr(trace, f"b_{m.lower()}")) else ""

    e = "E" if trace.memory is not None else "X"  # cross-attention: the encoder's output E
    return [
        Stage("1", s["stage_q"], f"Q = X·W_Q[{h}]{b('Q', h)}", trace.q(h), "matrix"),
        Stage("1", s["stage_k"] + kv, f"K = {e}·W_K[{n}]{b('K', n)}", trace.k(h), "matrix",
              keys=True),
        Stage("1", s["stage_v"] + kv, f"V = {e}·W_V[{n}]{b('V', n)}", trace.v(h), "matrix",
              keys=True),
    ]  # fmt: skip


def _rotated(trace: Trace, h: int, s: dict[str, str]) -> list[Stage]:
    """Stage 1b of a model that turns Q and K by position (RoPE) before the scores, after a
    norm of each head's query and key in some (Qwen3, Gemma 3); none for other models."""
    if trace.q_rot is None or trace.k_rot is None:
        return []
    normed = bool(trace.model and trace.model.qk_norm)
    q, k = ("RMSNorm(Q)", "RMSNorm(K)") if normed else ("Q", "K")
    return [
        Stage("1b", s["stage_q_rot"], s["f_rot"].format(m="Q", x=q), trace.q_rot[h], "matrix"),
        Stage("1b", s["stage_k_rot"], s["f_rot"].format(m="K", x=k), trace.k_rot[h], "matrix",
              keys=True),
    ]  # fmt: skip


@dataclass(frozen=True, eq=False)
class WorkedRow:
    """One query row computed by hand: per key (T,) the raw and scaled score, the position
    bias (planted heads; None otherwise), whether the key is allowed, exp(masked − max), and
    the weight; then the weighted sum of V rows."""

    query: int
    head: int
    scores: np.ndarray
    scaled: np.ndarray
    bias: np.ndarray | None
    allowed: np.ndarray
    exp: np.ndarray
    weights: np.ndarray
    v: np.ndarray  # (T, Dh)
    output: np.ndarray  # (Dh,)

    @property
    def jacobian(self) -> float:
        """‖diag(p) − p pᵀ‖_F of the row's weights p: what the gradient is multiplied by on
        its way back through the softmax to the scores (near 0 when the row is saturated)."""
        return float(jacobian_norm(np.asarray(self.weights, dtype=np.float64)))


def worked_row(trace: Trace, h: int, i: int) -> WorkedRow:
    """The numbers a student writes down for query ``i`` of head ``h``."""
    T = len(trace.tokens)
    if not 0 <= i < T:
        raise ConfigError(f"no query {i}: this text has tokens 0 to {T - 1}")
    scaled = trace.scaled(h)[i].astype(np.float64)
    bias = trace.bias[h, i].astype(np.float64) if adds_bias(trace, h) else None
    biased = scaled if bias is None else scaled + bias
    allowed = trace.allowed[i]
    top = biased[allowed].max() if allowed.any() else 0.0
    exp = np.where(allowed, np.exp(biased - top), 0.0)
    return WorkedRow(
        query=i,
        head=h,
        scores=trace.scores(h)[i],
        scaled=scaled,
        bias=bias,
        allowed=allowed,
        exp=exp,
        weights=trace.weights[h, i],
        v=trace.v(h),
        output=trace.head_outputs[h, i],
    )


def json_values(stage: Stage) -> list[object]:
    """Nested lists of a stage's values; −∞ (hidden) becomes null, as JSON has no infinity."""
    return [[None if v == -np.inf else v for v in row] for row in stage.values.tolist()]


@dataclass(frozen=True, eq=False, repr=False)
class StepsView(Page):
    """Every stage of one head, cut to ``crop`` or whole, and, with a query, its row by hand."""

    trace: Trace
    head: int
    stages: list[Stage]
    row: WorkedRow | None = None
    crop: Crop | None = None
    lang: str = "en"

    @property
    def title(self) -> str:
        return f"{head_label(self.trace, self.head, self.lang)} · " + trace_line(
            self.trace, self.lang, self.crop
        )

    def to_json(self) -> dict[str, Any]:
        """Tokens, config, head, (crop,) every stage (number, name, formula, shape, values with
        −∞ as null) and, with a query, the worked row."""
        keys = self.trace.key_tokens and {"key_tokens": self.trace.key_texts}
        data: dict[str, Any] = {
            "tokens": self.trace.texts,
            **(keys or {}),
            "config": self.trace.config.to_dict(),
            "head": self.head,
            **({"window": self.crop.to_dict()} if self.crop else {}),
            "stages": [{"number": st.number, "name": st.name, "formula": st.formula,
                        "shape": list(st.shape), "values": json_values(st)}
                       for st in self.stages],
        }  # fmt: skip
        row = self.row
        if row is not None:
            data["query"] = {
                "index": row.query,
                **{k: getattr(row, k).tolist() for k in ("scores", "scaled", "allowed", "exp", "weights")},
                "head_output": row.output.tolist(),
                "jacobian": row.jacobian,
                **({} if row.bias is None else {"bias": row.bias.tolist()}),
            }  # fmt: skip
        return data


def steps_view(
    trace: Trace, head: int = 0, *, crop: Crop | None = None, lang: str = "en",
    query: int | None = None,
) -> StepsView:  # fmt: skip
    """The stages of ``head`` of ``trace`` (and the row of ``query`` by hand)."""
    stages = head_stages(trace, head, lang, crop)
    row = worked_row(trace, head, query) if query is not None else None
    return StepsView(trace, head, stages, row, crop, lang)
