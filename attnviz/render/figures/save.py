"""Writing a figure: PNG, SVG or PDF, atomically, the same bytes every time; what it costs in
memory, for the budget.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .layout import PRESETS, check_figure_options, font_package, grid

if TYPE_CHECKING:
    from matplotlib.figure import Figure


FIGURE_FORMATS = (".png", ".svg", ".pdf")


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int | None = None) -> None:
    """Write ``fig`` as PNG, SVG or PDF (by extension), atomically, the same bytes every time.

    SVG and PDF keep their text as text, the cells' numbers too (editable in slide software,
    fonts embedded).
    """
    from matplotlib import rc_context

    from ...export import atomic_open, check_output
    from .draw import numbers_as_text

    p = check_output(path, FIGURE_FORMATS)
    fmt = p.suffix.lower().lstrip(".")
    check_figure_options(dpi=dpi)
    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
    rc: dict[Any, Any] = {"svg.fonttype": "none", "pdf.fonttype": 42, "svg.hashsalt": "attnviz"}
    vector = numbers_as_text(fig) if fmt != "png" else contextlib.nullcontext()
    with rc_context(rc), vector, atomic_open(p) as f, one_glyph_warning():
        fig.savefig(f, format=fmt, dpi=dpi or fig.dpi, metadata=metadata[fmt])


@contextlib.contextmanager
def one_glyph_warning() -> Iterator[None]:
    """Matplotlib warns once per character its font lacks (CJK, emoji...): say it once."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    missing: list[str] = []
    for w in caught:
        m = _MISSING_GLYPH.search(str(w.message))
        if m is None:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        elif chr(int(m.group(1))) not in missing:
            missing.append(chr(int(m.group(1))))
    if missing:
        sample = " ".join(missing[:8]) + (" …" if len(missing) > 8 else "")
        packages = " ".join(sorted({font_package(c) for c in missing}))
        warnings.warn(
            f"the figure's fonts have no glyph for {len(missing)} character"
            f"{'s' if len(missing) > 1 else ''} ({sample}): they "
            f"show as empty boxes; on Debian or Ubuntu, apt install {packages} adds them",
            stacklevel=3,
        )


_MISSING_GLYPH = re.compile(r"Glyph (\d+) .*missing from")


def figure_bytes(preset: str, panels: int, dpi: int | None = None, n_tokens: int = 0) -> int:
    """A rough upper estimate of the memory a figure takes while it is drawn: its pixels,
    and the colour matrix of the panel being made (T x T, before pooling)."""
    p = PRESETS[preset]
    rows, cols = grid(max(panels, 1), p.max_cols)
    width = p.width or cols * p.panel + 2
    height = p.height or rows * p.panel + 2
    d = dpi or p.dpi
    pixels = int(width * d * height * d * 4 * 3)  # RGBA, drawn and copied for encoding
    return pixels + 2 * 8 * n_tokens * n_tokens


def figure_cells(preset: str, panels: int, dpi: int | None = None, every_layer: bool = False,
                 layers: int = 1) -> int:  # fmt: skip
    """About how many pixels a side each of ``panels`` panels gets in a figure of ``preset``
    (a model view's: ``layers`` rows of panels), at most MAX_CELLS: the cells a pooled map
    of it should have, one a pixel."""
    from ...views.panel import MAX_CELLS

    p = PRESETS[preset]
    if every_layer:
        cols, rows = max(panels // max(layers, 1), 1), max(layers, 1)
        inches = min(p.panel, max(0.7, 14 / cols), max(0.7, 9 / rows))
    else:
        rows, cols = grid(max(panels, 1), p.max_cols)
        inches = p.panel
    if p.width is not None:
        inches = min(inches, (p.width - 1.6) / cols)
    if p.height is not None:
        inches = min(inches, (p.height - 1.6) / rows)
    return max(8, min(MAX_CELLS, int(inches * (dpi or p.dpi))))
