"use strict";
(function () {
  const D = JSON.parse(document.getElementById("data").textContent);
  const T = D.text;
  const grid = document.getElementById("grid");
  const tip = document.getElementById("tip");
  let view = D.start, head = -1, hi = -1, big = null;
  const frame = window.frameElement;  // inline in a notebook: the frame of this page, or null
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
  function fmt(v) { return (v < 0 ? "\u2212" : "") + Math.abs(v).toFixed(4); }

  function cellSize(p) {  // [width, height] of a cell: square for tokens x tokens
    const tall = frame ? 600 : window.innerHeight * 0.75;  // a frame is as tall as its page
    const room = big !== null ? Math.min(window.innerWidth * 0.8, tall) : 260;
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
    labels(box.rowBox, t, "height", p.row0, p.row_name);
    labels(box.colBox, s, "width", p.col0);
    const g = c.getContext("2d");
    let widest = 0;  // the widest number drawn, as a share of its cell's width (data-fill)
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
          const text = p.signed ? (v < 0 ? "\u2212" : "+") + Math.abs(v).toFixed(2) : v.toFixed(2);
          g.font = Math.min(13, s * 0.32) + "px system-ui, sans-serif";
          const w = g.measureText(text).width;
          if (s >= 34 && t >= 20 && w <= s - 4) {  // what does not fit is left to the tooltip
            const n = parseInt(fill.slice(1), 16), lum = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
            g.fillStyle = lum > 140 ? "#000000" : "#ffffff";
            g.textAlign = "center"; g.textBaseline = "middle";
            g.fillText(text, (j + 0.5) * s, (i + 0.5) * t);
            widest = Math.max(widest, w / s);
          }
        }
      }
    }
    c.dataset.fill = widest.toFixed(3);
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

  // The labels along an axis, ``pitch`` pixels apart: each token while they can be 9 px or
  // more, else every k-th with its index (the rest in the tooltip), as the figures thin them.
  function labels(axis, pitch, side, start, named) {  // named: rows that are not tokens (layers)
    const k = Math.ceil(10.5 / pitch);  // 9 px letters need 10.5 px apart
    for (const [n, span] of [...axis.children].entries()) {
      span.style[side] = pitch + "px"; span.style.lineHeight = pitch + "px";
      span.style.fontSize = (k === 1 ? Math.min(12, Math.max(9, pitch * 0.8)) : 9) + "px";
      span.style.overflow = k === 1 ? "hidden" : "visible";
      const text = span.dataset.text, index = String(n + start);  // a numbered axis: the index alone
      span.textContent = n % k ? "" : (k === 1 || named || text === index ? text : index + " " + text);
    }
  }

  // A colour scale: lo, the gradient, hi.
  function scale(p, width) {
    const c = el("canvas"); c.width = width; c.height = 10;
    const g = c.getContext("2d");
    for (let x = 0; x < width; x++) { g.fillStyle = colour(p, p.signed ? (x / (width - 1) * 2 - 1) * p.limit : x / (width - 1) * p.limit); g.fillRect(x, 0, 1, 10); }
    const lo = p.signed ? fmt(-p.limit) : "0", top = p.signed ? fmt(p.limit) : String(Number(p.limit.toPrecision(3)));
    return [el("span", "", lo), c, el("span", "", top)];
  }
  // One scale for the page where every panel has the same, else one under each panel.
  function shared() {
    const ps = D.views[view].panels;
    return ps.every(function (p) { return p.signed === ps[0].signed && p.limit === ps[0].limit; });
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
      p.rows.forEach(function (t, i) { const s = el("span", "", t); s.dataset.token = String(i + p.row0); s.dataset.text = t; box.rowBox.append(s); });
      box.canvas = el("canvas");
      box.colBox = el("div", "cols");
      p.cols.forEach(function (t, j) { const s = el("span", "", t); s.dataset.token = String(j + p.col0); s.dataset.text = t; box.colBox.append(s); });
      e.append(box.rowBox, box.canvas, box.colBox);
      if (!shared()) { const own = el("div", "scale"); own.append(...scale(p, 120)); e.append(own); }
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
    const owner = label && label.closest(".panel") && boxes.find(function (b) { return b.el.contains(label); }).panel;
    const token = owner && owner.tokens && !(owner.row_name && label.parentNode === boxes.find(function (b) { return b.panel === owner; }).rowBox) ? Number(label.dataset.token) : -1;
    if (token !== hi) { hi = token; redraw(); }
    const box = boxes.find(function (b) { return b.canvas === ev.target; });
    if (!box) { tip.style.display = "none"; return; }
    const p = box.panel, [s, t] = cellSize(p), r = box.canvas.getBoundingClientRect();
    const j = Math.floor((ev.clientX - r.left) / s), i = Math.floor((ev.clientY - r.top) / t);
    if (i < 0 || j < 0 || i >= p.rows.length || j >= p.cols.length) { tip.style.display = "none"; return; }
    const v = p.values[i][j];
    const q = p.row_name ? p.rows[i] : (i + p.row0) + " " + p.rows[i], k = (p.tokens ? (j + p.col0) + " " : "") + p.cols[j];
    tip.textContent = (p.row_name || T.query) + ": " + q + "\n" + (p.col_name || (p.tokens ? T.key : T.column)) + ": " + k + "\n" +
      (v === null ? T.hidden : (p.value_name || (p.signed ? T.value : T.weight)) + ": " + fmt(v)) +
      (p.notes ? "\n" + p.notes[i][j] : "");
    tip.style.display = "block";  // beside the pointer, on the side where it fits
    const x = ev.clientX + 14 + tip.offsetWidth > window.innerWidth ? ev.clientX - 14 - tip.offsetWidth : ev.clientX + 14;
    const y = ev.clientY + 14 + tip.offsetHeight > window.innerHeight ? ev.clientY - 14 - tip.offsetHeight : ev.clientY + 14;
    tip.style.left = Math.max(0, x) + "px"; tip.style.top = Math.max(0, y) + "px";
  });
  grid.addEventListener("mouseleave", function () { tip.style.display = "none"; if (hi !== -1) { hi = -1; redraw(); } });

  function legend() {
    const bar = document.getElementById("bar");
    bar.replaceChildren();
    const p = D.views[view].panels[0];
    if (!p) return;
    const sw = el("span", "swatch"); sw.style.background = D.hidden;
    const hidden = D.views[view].panels.some(function (q) { return q.values.some(function (row) { return row.includes(null); }); });
    bar.append(...(shared() ? scale(p, 200) : []), ...(hidden ? [sw, el("span", "", T.hidden)] : []));
  }

  const controls = document.getElementById("controls");
  if (D.kind === "generation") {  // a slider over the generated tokens, and a button to play them
    const range = el("input"), name = el("span", "step", D.views[view].name), play = el("button", "", "▶");
    range.type = "range"; range.min = "0"; range.max = String(D.views.length - 1); range.value = String(view);
    range.setAttribute("aria-label", T.html_step);
    play.type = "button"; play.setAttribute("aria-label", T.html_play);
    const show = function (n) { view = n; range.value = String(n); name.textContent = D.views[n].name; build(); };
    range.addEventListener("input", function () { show(Number(range.value)); });
    let timer = null;
    play.addEventListener("click", function () {
      if (timer !== null) { clearInterval(timer); timer = null; return; }
      if (view === D.views.length - 1) show(0);
      timer = setInterval(function () {
        if (view >= D.views.length - 1) { clearInterval(timer); timer = null; return; }
        show(view + 1);
      }, 700);
    });
    controls.append(play, range, name);
  } else if (D.views.length > 1) {
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
  controls.append(el("span", "note", D.kind === "survey" ? T.html_survey : T.html_show));
  window.addEventListener("resize", function () { if (big !== null) redraw(); });
  if (frame) {  // the frame takes the page's height, as it changes; the line before it goes
    const note = frame.previousElementSibling;
    if (note && note.dataset.attnviz === "note") note.remove();
    new ResizeObserver(function () {
      const b = document.body.getBoundingClientRect(), m = parseFloat(getComputedStyle(document.body).marginBottom);
      frame.style.height = Math.ceil(b.bottom + window.scrollY + m) + "px";
    }).observe(document.body);
  }
  build();
})();
