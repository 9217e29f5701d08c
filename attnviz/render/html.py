"""A standalone interactive HTML page: the data inline as JSON, plain JavaScript and CSS
inline, nothing loaded from anywhere (no CDN, no framework, no network request).

The page is built from "views" (one for a heatmap, A / B / B − A for a comparison), each a
list of panels. A panel is JSON: title, row and column labels, values (null where hidden),
whether the scale is signed, and its limit. User text only ever reaches the page as JSON
data, which the script inserts with textContent; in the JSON, <, >, & and the line
separators are escaped, so that no token can close the script element.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..trace import Trace, Window, cells
from . import colors
from .labels import head_label, shorten, strings, trace_line


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
) -> dict[str, Any]:
    """One panel as the page's script reads it. ``row0``/``col0``: index of the first row and
    column in the whole text; ``tokens``: whether the columns are tokens (not Q's columns)."""
    return {
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


def heatmap_views(
    trace: Trace, heads: Sequence[int], lang: str, window: Window | None = None
) -> list[dict[str, Any]]:
    """The one view of a heatmap: a panel per selected head."""
    q, k = cells(window)
    texts = trace.texts
    hidden = ~trace.allowed[q, k]
    panels = [
        panel(
            head_label(trace.config, h, lang),
            trace.weights[h][q, k],
            hidden,
            texts[q],
            texts[k],
            head=h,
            row0=q.start or 0,
            col0=k.start or 0,
        )
        for h in heads
    ]
    return [{"name": "", "panels": panels}]


def model_views(trace: Trace, heads: Sequence[int], lang: str) -> list[dict[str, Any]]:
    """The model view: one view per layer (a selector picks the layer)."""
    s = strings(lang)
    hidden = ~trace.allowed
    texts = trace.texts
    return [
        {
            "name": s["layer"].format(n=n),
            "panels": [
                panel(head_label(trace.config, h, lang), w[h], hidden, texts, texts, head=h)
                for h in heads
            ],
        }
        for n, w in enumerate(trace.layer_weights)
    ]


def compare_views(
    cmp: Any, heads: Sequence[int], lang: str, window: Window | None = None
) -> list[dict[str, Any]]:
    """Three views, A, B and B − A (a toggle picks one), a panel per selected head."""
    from .figures.compare import difference_limit, run_label

    s = strings(lang)
    a, b = cmp.a, cmp.b
    q, k = cells(window)
    texts = a.texts
    start: dict[str, Any] = {"row0": q.start or 0, "col0": k.start or 0}
    top = difference_limit(cmp, heads, window)
    hidden_a, hidden_b = ~a.allowed[q, k], ~b.allowed[q, k]

    def view(name: str, make: Any) -> dict[str, Any]:
        return {"name": name, "panels": [make(h) for h in heads]}

    return [
        view(f"A: {run_label(a.config, lang)}", lambda h: panel(
            head_label(a.config, h, lang), a.weights[h][q, k], hidden_a, texts[q], texts[k],
            head=h, **start)),
        view(f"B: {run_label(b.config, lang)}", lambda h: panel(
            head_label(a.config, h, lang), b.weights[h][q, k], hidden_b, texts[q], texts[k],
            head=h, **start)),
        view(s["difference"], lambda h: panel(
            head_label(a.config, h, lang), b.weights[h][q, k] - a.weights[h][q, k],
            hidden_a & hidden_b, texts[q], texts[k], head=h, signed=True, limit=top, **start)),
    ]  # fmt: skip


def steps_views(
    trace: Trace, head: int, lang: str, window: Window | None = None
) -> list[dict[str, Any]]:
    """One view: a panel per stage of head ``head`` (signed scales but for the weights)."""
    from .figures.steps import signed_limit
    from .stages import head_stages

    texts = trace.texts
    panels = []
    for st in head_stages(trace, head, lang, window):
        n_rows, n_cols = st.values.shape
        r0 = st.row0 or 0
        rows = texts[r0 : r0 + n_rows]
        c0 = 0 if st.kind == "matrix" else st.col0 or 0
        cols = [str(c) for c in range(n_cols)] if st.kind == "matrix" else texts[c0 : c0 + n_cols]
        limit = 1.0 if st.kind == "weights" else signed_limit(st)  # −∞ (hidden) becomes null
        panels.append(panel(st.title, st.values, st.hidden, rows, cols, head=head,
                            signed=st.kind != "weights", limit=limit, row0=r0, col0=c0,
                            tokens=st.kind != "matrix"))  # fmt: skip
    return [{"name": "", "panels": panels}]


def _script_json(data: Any) -> str:
    """JSON that is safe inside <script>: no "</script>", no "<!--", no line separators."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for ch, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                     ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(ch, code)
    return text


def page(
    trace: Trace,
    views: list[dict[str, Any]],
    *,
    kind: str,
    cmap: str = colors.DEFAULT_CMAP,
    theme: str = "light",
    lang: str = "en",
    title: str | None = None,
    window: Window | None = None,
) -> str:
    """The whole HTML page, as text. ``kind``: "heatmap", "compare", "steps" or "model"."""
    s = strings(lang)
    if theme not in colors.THEMES:
        from ..errors import ConfigError

        raise ConfigError(f"unknown theme {theme!r}; choose one of: {', '.join(colors.THEMES)}")
    table = colors.lut(cmap)
    signed = any(p["signed"] for v in views for p in v["panels"])
    heading = title if title is not None else trace_line(trace, lang, window)
    data = {
        "kind": kind,
        "title": heading,
        "tokens": trace.texts,
        "theme": theme,
        "lut": _hex(table),
        "diverging": _hex(colors.lut("RdBu_r")) if signed else [],
        "hidden": colors.HIDDEN[theme],
        "hatch": colors.HATCH[theme],
        "boundary": colors.BOUNDARY[theme],
        "text": {k: s[k] for k in ("query", "key", "hidden", "weight", "head", "all_heads",
                                   "value", "column", "html_enlarge", "html_all", "html_show")},
        "views": views,
    }  # fmt: skip
    html = _TEMPLATE.replace("__LANG__", lang).replace("__THEME__", theme)
    html = html.replace("__TITLE__", _escape(heading))
    return html.replace("__DATA__", _script_json(data))


def _hex(table: np.ndarray) -> list[str]:
    """A (256, 3) colour table as CSS colours."""
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in table.tolist()]


def _escape(text: str) -> str:
    """Text for an HTML element's content (the <title>)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_TEMPLATE = """<!DOCTYPE html>
<html lang="__LANG__" data-theme="__THEME__">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>__TITLE__</title>
<style>
:root { --bg: #ffffff; --fg: #1a1a1a; --dim: #666666; --line: #cccccc; --hi: #e4572e; }
[data-theme="dark"] { --bg: #15171a; --fg: #e8e8e8; --dim: #a0a0a0; --line: #444444; --hi: #ff8c5a; }
body { background: var(--bg); color: var(--fg); font: 15px/1.4 system-ui, sans-serif; margin: 1rem; }
h1 { font-size: 1.05rem; font-weight: 600; margin: 0 0 .6rem; }
.controls { display: flex; gap: .8rem; flex-wrap: wrap; align-items: center; margin-bottom: .8rem; }
.controls button, .controls select { font: inherit; color: inherit; background: var(--bg);
  border: 1px solid var(--line); border-radius: 4px; padding: .15rem .6rem; }
.controls button[aria-pressed="true"] { border-color: var(--fg); font-weight: 600; }
.grid { display: flex; flex-wrap: wrap; gap: 1.2rem; align-items: flex-start; }
.panel { display: grid; grid-template-columns: auto auto; grid-template-rows: auto auto auto;
  border: 1px solid transparent; border-radius: 6px; padding: .3rem; cursor: zoom-in; }
.panel:focus { outline: 2px solid var(--hi); }
.panel h2 { grid-column: 2; font-size: .9rem; font-weight: 500; margin: 0 0 .2rem; text-align: center; white-space: pre-line; }
.rows { grid-column: 1; grid-row: 2; display: flex; flex-direction: column; align-items: flex-end; padding-right: .3rem; }
.cols { grid-column: 2; grid-row: 3; display: flex; padding-top: .3rem; }
.rows span, .cols span { font-size: .75rem; color: var(--fg); white-space: pre; overflow: hidden; }
.cols span { writing-mode: vertical-rl; transform: rotate(180deg); text-align: right; }
.rows span.on, .cols span.on { color: var(--hi); font-weight: 700; }
canvas { grid-column: 2; grid-row: 2; display: block; }
.grid.single .panel { display: none; }
.grid.single .panel.big { display: grid; cursor: zoom-out; }
.bar { display: flex; align-items: center; gap: .5rem; margin-top: 1rem; font-size: .8rem; color: var(--dim); }
.bar canvas { border: 1px solid var(--line); }
.swatch { display: inline-block; width: 1rem; height: .8rem; vertical-align: middle; border: 1px solid var(--line); }
#tip { position: fixed; pointer-events: none; background: var(--bg); color: var(--fg); border: 1px solid var(--line);
  border-radius: 4px; padding: .25rem .5rem; font-size: .85rem; display: none; white-space: pre; z-index: 2; }
.note { color: var(--dim); font-size: .8rem; margin-top: .5rem; }
</style>
</head>
<body>
<h1 id="title"></h1>
<div class="controls" id="controls"></div>
<div class="grid" id="grid"></div>
<div class="bar" id="bar"></div>
<div id="tip" role="tooltip"></div>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("data").textContent);
  const T = D.text;
  const grid = document.getElementById("grid");
  const tip = document.getElementById("tip");
  let view = 0, head = -1, hi = -1, big = null;
  document.getElementById("title").textContent = D.title;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function colour(p, v) {
    const lut = p.signed ? D.diverging : D.lut;
    let t = p.signed ? (v / p.limit + 1) / 2 : v / p.limit;
    t = Math.min(1, Math.max(0, t));
    return lut[Math.min(255, Math.floor(t * 256))];
  }
  function fmt(v) { return (v < 0 ? "\\u2212" : "") + Math.abs(v).toFixed(4); }

  function cellSize(p) {  // [width, height] of a cell: square for tokens x tokens
    const room = big ? Math.min(window.innerWidth * 0.8, window.innerHeight * 0.75) : 260;
    const w = Math.max(2, Math.floor(room / p.cols.length)), h = Math.max(2, Math.floor(room / p.rows.length));
    return p.tokens ? [Math.min(w, h), Math.min(w, h)] : [w, Math.min(h, Math.max(w, 18))];
  }

  function draw(box) {
    const p = box.panel, c = box.canvas, [s, t] = cellSize(p);
    const R = p.rows.length, C = p.cols.length;
    c.width = C * s; c.height = R * t;
    c.dataset.rows = String(R); c.dataset.cols = String(C);
    c.style.width = c.width + "px"; c.style.height = c.height + "px";
    box.rowBox.style.height = c.height + "px";
    box.colBox.style.width = c.width + "px";
    for (const span of box.rowBox.children) { span.style.height = t + "px"; span.style.lineHeight = t + "px"; span.style.fontSize = Math.min(12, t * 0.8) + "px"; }
    for (const span of box.colBox.children) { span.style.width = s + "px"; span.style.lineHeight = s + "px"; span.style.fontSize = Math.min(12, s * 0.8) + "px"; }
    const g = c.getContext("2d");
    for (let i = 0; i < R; i++) {
      for (let j = 0; j < C; j++) {
        const v = p.values[i][j];
        if (v === null) {
          g.fillStyle = D.hidden; g.fillRect(j * s, i * t, s, t);
          g.strokeStyle = D.hatch; g.lineWidth = 1; g.beginPath();
          g.moveTo(j * s, (i + 1) * t); g.lineTo((j + 1) * s, i * t); g.stroke();
        } else {
          const fill = colour(p, v);
          g.fillStyle = fill; g.fillRect(j * s, i * t, s, t);
          if (s >= 34 && t >= 20) {  // the number, in black or white by the cell's brightness
            const n = parseInt(fill.slice(1), 16), lum = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
            g.fillStyle = lum > 140 ? "#000000" : "#ffffff";
            g.font = Math.min(13, s * 0.32) + "px system-ui, sans-serif";
            g.textAlign = "center"; g.textBaseline = "middle";
            g.fillText(p.signed ? (v < 0 ? "\\u2212" : "+") + Math.abs(v).toFixed(2) : v.toFixed(2), (j + 0.5) * s, (i + 0.5) * t);
          }
        }
      }
    }
    g.strokeStyle = D.boundary; g.lineWidth = 1.5; g.beginPath();  // the mask's boundary
    for (let i = 0; i < R; i++) {
      for (let j = 0; j < C; j++) {
        const h = p.values[i][j] === null;
        if (j + 1 < C && h !== (p.values[i][j + 1] === null)) { g.moveTo((j + 1) * s, i * t); g.lineTo((j + 1) * s, (i + 1) * t); }
        if (i + 1 < R && h !== (p.values[i + 1][j] === null)) { g.moveTo(j * s, (i + 1) * t); g.lineTo((j + 1) * s, (i + 1) * t); }
      }
    }
    g.stroke();
    if (hi >= 0 && p.tokens) {  // the hovered token's row and column
      g.strokeStyle = getComputedStyle(document.body).getPropertyValue("--hi"); g.lineWidth = 2;
      const r = hi - p.row0, k = hi - p.col0;
      if (r >= 0 && r < R) g.strokeRect(1, r * t + 1, C * s - 2, t - 2);
      if (k >= 0 && k < C) g.strokeRect(k * s + 1, 1, s - 2, R * t - 2);
    }
    for (const [n, span] of [...box.rowBox.children].entries()) span.classList.toggle("on", p.tokens && n + p.row0 === hi);
    for (const [n, span] of [...box.colBox.children].entries()) span.classList.toggle("on", p.tokens && n + p.col0 === hi);
  }

  let boxes = [];
  function build() {
    grid.replaceChildren();
    boxes = [];
    D.views[view].panels.forEach(function (p, n) {
      if (head >= 0 && p.head !== head && D.kind !== "steps") return;
      const box = { panel: p, n: n };
      const e = el("div", "panel");
      e.tabIndex = 0;
      e.setAttribute("role", "button");
      e.setAttribute("aria-label", p.title + ": " + T.html_enlarge);
      e.dataset.index = String(n);
      e.append(el("h2", "", p.title));
      box.rowBox = el("div", "rows");
      p.rows.forEach(function (t, i) { const s = el("span", "", t); s.dataset.token = String(i + p.row0); box.rowBox.append(s); });
      box.canvas = el("canvas");
      box.colBox = el("div", "cols");
      p.cols.forEach(function (t, j) { const s = el("span", "", t); s.dataset.token = String(j + p.col0); box.colBox.append(s); });
      e.append(box.rowBox, box.canvas, box.colBox);
      box.el = e;
      boxes.push(box);
      grid.append(e);
    });
    grid.classList.toggle("single", big !== null);
    for (const b of boxes) { b.el.classList.toggle("big", big === b.n); }
    redraw();
    legend();
  }
  function redraw() { for (const b of boxes) if (big === null || big === b.n) draw(b); }

  function enlarge(n) { big = (big === n) ? null : n; build(); const b = boxes.find(function (x) { return x.n === n; }); if (b) b.el.focus(); }
  grid.addEventListener("click", function (ev) {
    const e = ev.target.closest(".panel"); if (e) enlarge(Number(e.dataset.index));
  });
  grid.addEventListener("keydown", function (ev) {
    const e = ev.target.closest(".panel");
    if (e && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); enlarge(Number(e.dataset.index)); }
  });
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape" && big !== null) { big = null; build(); } });

  grid.addEventListener("mousemove", function (ev) {
    const label = ev.target.closest("span[data-token]");
    const token = label && label.closest(".panel") && boxes.find(function (b) { return b.el.contains(label); }).panel.tokens ? Number(label.dataset.token) : -1;
    if (token !== hi) { hi = token; redraw(); }
    const box = boxes.find(function (b) { return b.canvas === ev.target; });
    if (!box) { tip.style.display = "none"; return; }
    const p = box.panel, [s, t] = cellSize(p), r = box.canvas.getBoundingClientRect();
    const j = Math.floor((ev.clientX - r.left) / s), i = Math.floor((ev.clientY - r.top) / t);
    if (i < 0 || j < 0 || i >= p.rows.length || j >= p.cols.length) { tip.style.display = "none"; return; }
    const v = p.values[i][j];
    const q = (i + p.row0) + " " + p.rows[i], k = (p.tokens ? (j + p.col0) + " " : "") + p.cols[j];
    tip.textContent = T.query + ": " + q + "\\n" + (p.tokens ? T.key : T.column) + ": " + k + "\\n" +
      (v === null ? T.hidden : (p.signed ? T.value : T.weight) + ": " + fmt(v));
    tip.style.left = (ev.clientX + 14) + "px"; tip.style.top = (ev.clientY + 14) + "px";
    tip.style.display = "block";
  });
  grid.addEventListener("mouseleave", function () { tip.style.display = "none"; if (hi !== -1) { hi = -1; redraw(); } });

  function legend() {
    const bar = document.getElementById("bar");
    bar.replaceChildren();
    const p = D.views[view].panels[0];
    if (!p) return;
    const c = el("canvas"); c.width = 200; c.height = 12;
    const g = c.getContext("2d");
    for (let x = 0; x < 200; x++) { g.fillStyle = colour(p, p.signed ? (x / 199 * 2 - 1) * p.limit : x / 199 * p.limit); g.fillRect(x, 0, 1, 12); }
    const lo = p.signed ? fmt(-p.limit) : "0", top = p.signed ? fmt(p.limit) : String(p.limit);
    const sw = el("span", "swatch"); sw.style.background = D.hidden;
    bar.append(el("span", "", lo), c, el("span", "", top), sw, el("span", "", T.hidden));
  }

  const controls = document.getElementById("controls");
  if (D.views.length > 1) {
    D.views.forEach(function (v, n) {
      const b = el("button", "", v.name);
      b.type = "button";
      b.setAttribute("aria-pressed", String(n === view));
      b.addEventListener("click", function () { view = n; for (const x of controls.querySelectorAll("button")) x.setAttribute("aria-pressed", String(x === b)); build(); });
      controls.append(b);
    });
  }
  const heads = [...new Set(D.views[0].panels.map(function (p) { return p.head; }))];
  if (D.kind !== "steps" && heads.length > 1) {
    const sel = el("select");
    sel.setAttribute("aria-label", T.head);
    sel.append(new Option(T.html_all, "-1"));
    for (const h of heads) sel.append(new Option(T.head + " " + h, String(h)));
    sel.addEventListener("change", function () { head = Number(sel.value); big = null; build(); });
    controls.append(sel);
  }
  controls.append(el("span", "note", T.html_show));
  window.addEventListener("resize", function () { if (big !== null) redraw(); });
  build();
})();
</script>
</body>
</html>
"""
