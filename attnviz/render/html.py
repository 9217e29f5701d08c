"""A standalone interactive HTML page: the data inline as JSON, plain JavaScript and CSS
inline, nothing loaded from anywhere (no CDN, no framework, no network request). The page's
HTML, CSS and JavaScript are the files of page/, filled in here.

The page is built from "views" (one for a heatmap, A / B / B − A for a comparison), each a
list of panels. A panel is JSON: title, row and column labels, values (null where hidden),
whether the scale is signed, and its limit. User text only ever reaches the page as JSON
data, which the script inserts with textContent; in the JSON, <, >, & and the line
separators are escaped, so that no token can close the script element.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from importlib import resources
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..trace import LARGEST, cells
from ..views.blocks import BlocksView
from ..views.compare import CompareView
from ..views.generation import GenerationView
from ..views.heatmap import HeatmapView, ModelView
from ..views.labels import head_label, json_text, shorten, strings, visible
from ..views.panel import signed_limit
from ..views.steps import StepsView
from ..views.survey import SurveyView
from . import colors


def _values(matrix: np.ndarray, hidden: np.ndarray | None) -> list[list[float | None]]:
    """Rows of numbers, exact (shortest round-trip), null where hidden."""
    rows = np.asarray(matrix, dtype=np.float64).tolist()
    if hidden is None:
        return rows
    return [[None if hide else v for v, hide in zip(row, mask, strict=True)]
            for row, mask in zip(rows, hidden.tolist(), strict=True)]  # fmt: skip


def panel(
    title: str,
    values: np.ndarray,
    hidden: np.ndarray | None,
    rows: Sequence[str],
    cols: Sequence[str],
    *,
    head: int = 0,
    signed: bool = False,
    limit: float = 1.0,
    row0: int = 0,
    col0: int = 0,
    tokens: bool = True,
    row_name: str | None = None,
    **named: Any,
) -> dict[str, Any]:
    """One panel as the page's script reads it. ``row0``/``col0``: index of the first row and
    column in the whole text; ``tokens``: whether the columns are tokens (not Q's columns);
    ``row_name``: what the rows are when they are not tokens (layers); ``named``: what the
    tooltip calls the columns (``col_name``) and the values (``value_name``), and a note per
    cell (``notes``)."""
    named |= {"row_name": row_name} if row_name else {}
    return {
        **named,
        "title": title,
        "head": head,
        "rows": [shorten(t, 16) for t in rows],
        "cols": [shorten(t, 16) for t in cols],
        "row0": row0,
        "col0": col0,
        "tokens": tokens,
        "signed": signed,
        "limit": limit,
        "values": _values(values, hidden),
    }


def _exact(view: HeatmapView | ModelView) -> Any:
    """The view with every cell exact (the page shows each one's number), or ConfigError for
    a streamed run, which kept pooled cells."""
    if view.exact() is None and view.cell > 1:
        raise ConfigError("the page shows every cell of a run: a streamed run kept pooled ones; "
                          "write a figure (-o .png, .svg, .pdf), or show a smaller part with "
                          "`crop` (--window)")  # fmt: skip
    return replace(view, resolution=LARGEST)


def heatmap_views(view: HeatmapView) -> list[dict[str, Any]]:
    """The one view of a heatmap: a panel per selected head."""
    view = _exact(view)
    q, k = cells(view.crop)
    texts, keys = view.trace.texts, view.trace.key_texts
    panels = [
        panel(p.title, p.weights, p.hidden, texts[q], keys[k], head=p.head,
              row0=p.row0 or 0, col0=p.col0 or 0)
        for p in view.panels()
    ]  # fmt: skip
    return [{"name": "", "panels": panels}]


def model_views(view: ModelView, named: bool = False) -> list[dict[str, Any]]:
    """The model view: one view per layer (a selector picks the layer); ``named``: its views'
    names say the kind of attention (an encoder-decoder's blocks)."""
    _exact(view)
    trace, lang = view.exact(), view.lang
    if trace is None:
        raise ConfigError("the page of every layer needs each layer's weights: a streamed run "
                          "kept pooled maps; write a figure (-o .png, .svg, .pdf)")  # fmt: skip
    hidden, texts, keys = ~trace.layer_allowed, trace.texts, trace.key_texts  # (L,T,S)
    kind = strings(lang)[f"attn_{trace.attention}"] + " · " if named and trace.attention else ""
    return [
        {
            "name": kind + strings(lang)["layer"].format(n=n),
            "panels": [
                panel(head_label(trace, h, lang), w[h], hidden[n], texts, keys, head=h)
                for h in view.heads
            ],
        }
        for n, w in enumerate(trace.layer_weights)
    ]


def blocks_views(view: BlocksView) -> list[dict[str, Any]]:
    """An encoder-decoder's blocks: a view per kind of attention and layer ("cross-attention ·
    layer 2"), a selector picks one."""
    return [v for block in view.blocks for v in model_views(block, named=True)]


def compare_views(view: CompareView) -> list[dict[str, Any]]:
    """Three views, A, B and B − A (a toggle picks one), a panel per selected head."""
    a, b, lang = view.cmp.a, view.cmp.b, view.lang
    q, k = cells(view.crop)
    texts = a.texts
    start: dict[str, Any] = {"row0": q.start or 0, "col0": k.start or 0}
    top = view.difference_limit
    hidden_a, hidden_b = ~a.allowed[q, k], ~b.allowed[q, k]
    label_a, label_b = view.labels

    def one(name: str, make: Any) -> dict[str, Any]:
        return {"name": name, "panels": [make(h) for h in view.heads]}

    return [
        one(label_a, lambda h: panel(
            head_label(a, h, lang), a.weights[h][q, k], hidden_a, texts[q], texts[k],
            head=h, **start)),
        one(label_b, lambda h: panel(
            head_label(a, h, lang), b.weights[h][q, k], hidden_b, texts[q], texts[k],
            head=h, **start)),
        one(strings(lang)["difference"], lambda h: panel(
            head_label(a, h, lang), b.weights[h][q, k] - a.weights[h][q, k],
            hidden_a & hidden_b, texts[q], texts[k], head=h, signed=True, limit=top, **start)),
    ]  # fmt: skip


def steps_views(view: StepsView) -> list[dict[str, Any]]:
    """One view: a panel per stage of the head (signed scales but for the weights)."""
    texts, keys = view.trace.texts, view.trace.key_texts
    panels = []
    for st in view.stages:
        n_rows, n_cols = st.values.shape
        r0 = st.row0 or 0
        rows = (keys if st.keys else texts)[r0 : r0 + n_rows]
        c0 = 0 if st.kind == "matrix" else st.col0 or 0
        cols = [str(c) for c in range(n_cols)] if st.kind == "matrix" else keys[c0 : c0 + n_cols]
        limit = 1.0 if st.kind == "weights" else signed_limit(st.values)  # −∞ becomes null
        panels.append(panel(st.title, st.values, st.hidden, rows, cols, head=view.head,
                            signed=st.kind != "weights", limit=limit, row0=r0, col0=c0,
                            tokens=st.kind != "matrix"))  # fmt: skip
    return [{"name": "", "panels": panels}]


def generation_views(view: GenerationView) -> list[dict[str, Any]]:
    """A view per generated token, to play the generation: a panel per head with the token's
    attention row in every layer (layers down, the tokens so far across)."""
    trace, P, s = view.trace, view.prompt_tokens, strings(view.lang)
    texts, L = trace.texts, trace.layer_weights.shape[0]
    layers = [str(n) for n in range(L)]
    views = []
    for q in range(P, len(texts)):
        keys = view.keys_of(q)  # the source's, or the tokens so far
        rows = trace.layer_weights[:, :, q, : len(keys)]  # (L,H,k)
        hidden = ~trace.layer_allowed[:, q, : len(keys)]  # (L,k)
        panels = [panel(head_label(trace, h, view.lang), rows[:, h], hidden, layers, keys,
                        head=h, row_name=s["layer_word"])
                  for h in view.heads]  # fmt: skip
        views.append({"name": f"{q} {visible(texts[q])}", "panels": panels})
    return views


def survey_views(view: SurveyView) -> list[dict[str, Any]]:
    """One view: a panel per measure (layers down, heads across), each on its own scale, the
    head's label in every tooltip."""
    s, (L, H) = strings(view.lang), view.shape
    layers, heads = [str(n) for n in range(L)], [str(h) for h in range(H)]
    notes = [[f"{s['label_word']}: {x}" for x in row] for row in view.labels]
    panels = [panel(name, values, None, layers, heads, tokens=False, row_name=s["layer_word"],
                    limit=float(values.max()) or 1.0, col_name=s["head"], value_name=name,
                    notes=notes)
              for name, values in view.measures.items()]  # fmt: skip
    return [{"name": "", "panels": panels}]


PageView = (HeatmapView | ModelView | BlocksView | CompareView | StepsView | GenerationView
            | SurveyView)  # fmt: skip


def _page_parts(view: PageView) -> tuple[str, Sequence[str], list[dict[str, Any]]]:
    """The kind of page, the tokens of the run it shows (A's, for a comparison), its views."""
    if isinstance(view, HeatmapView):
        return "heatmap", view.trace.texts, heatmap_views(view)
    if isinstance(view, ModelView):
        return "model", view.trace.texts, model_views(view)
    if isinstance(view, BlocksView):
        return "model", view.trace.texts, blocks_views(view)
    if isinstance(view, CompareView):
        return "compare", view.cmp.a.texts, compare_views(view)
    if isinstance(view, GenerationView):
        return "generation", view.trace.texts, generation_views(view)
    if isinstance(view, SurveyView):
        return "survey", [], survey_views(view)
    return "steps", view.trace.texts, steps_views(view)


def _script_json(data: Any) -> str:
    """JSON that is safe inside <script>: no "</script>", no "<!--", no line separators."""
    text = json_text(data, separators=(",", ":"))
    for ch, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, code)
    return text


def page(
    view: PageView,
    *,
    cmap: str = colors.DEFAULT_CMAP,
    theme: str = "light",
    title: str | None = None,
) -> str:
    """The whole HTML page of a view (a heatmap, the model view, a comparison, the steps), as
    text; ``title`` replaces the view's."""
    kind, tokens, views = _page_parts(view)
    lang = view.lang
    s = strings(lang)
    if theme not in colors.THEMES:
        from ..errors import ConfigError

        raise ConfigError(f"unknown theme {theme!r}; choose one of: {', '.join(colors.THEMES)}")
    table = colors.lut(cmap)
    signed = any(p["signed"] for v in views for p in v["panels"])
    heading = title if title is not None else view.title
    data = {
        "kind": kind,
        "title": heading,
        "tokens": list(tokens),
        "theme": theme,
        "lut": _hex(table),
        "diverging": _hex(colors.lut("RdBu_r")) if signed else [],
        "hidden": colors.HIDDEN[theme],
        "hatch": colors.HATCH[theme],
        "boundary": colors.BOUNDARY[theme],
        "text": {k: s[k] for k in ("query", "key", "hidden", "weight", "head", "all_heads",
                                   "value", "column", "html_enlarge", "html_all", "html_show",
                                   "html_step", "html_play", "html_survey")},
        "views": views,
        "start": (view.step or 1) - 1 if isinstance(view, GenerationView) else 0,  # --step
    }  # fmt: skip
    fill = {"LANG": lang, "THEME": theme, "TITLE": _escape(heading), "STYLE": _file("page.css"),
            "SCRIPT": _file("page.js"), "DATA": _script_json(data)}  # fmt: skip
    # one pass: a title that reads "__DATA__" stays a title
    return re.sub(r"__([A-Z]+)__", lambda m: fill[m.group(1)], _file("page.html"))


def _file(name: str) -> str:
    """A file of the page (page.html, page.css, page.js), package data beside this module."""
    return (resources.files(__package__) / "page" / name).read_text(encoding="utf-8")


def _hex(table: np.ndarray) -> list[str]:
    """A (256, 3) colour table as CSS colours."""
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in table.tolist()]


def _escape(text: str) -> str:
    """Text for an HTML element's content (the <title>)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
