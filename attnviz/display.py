"""How a Trace and the views show themselves in a notebook (IPython's rich display): as their
interactive page inline, or as their figure when they have no page. The drawing is
``attnviz.notebook``'s, above everything else; these hooks reach it through the package's
public names, and only when a notebook asks (importing them costs nothing).
"""

from __future__ import annotations

from typing import Any


def label(obj: Any) -> str:
    """One line that says what ``obj`` is."""
    if hasattr(obj, "title"):
        return f"<attnviz {type(obj).__name__}: {obj.title}>"
    run = getattr(obj, "a", obj)  # a Comparison: its run A's tokens
    words = " ".join(t.text for t in run.tokens[:12]) + (" …" if len(run.tokens) > 12 else "")
    return f"<attnviz {type(obj).__name__}: {len(run.tokens)} tokens × {run.heads} heads: {words}>"


class Shown:
    """Its repr, and its text in a notebook: one line (a dataclass's would hold every array)."""

    def __repr__(self) -> str:
        return label(self)


class Page(Shown):
    """Shown as its interactive page, inline."""

    def _repr_html_(self) -> str:
        from . import inline  # attnviz.notebook's, at display time

        return inline(self)


class Picture(Shown):
    """Shown as its figure (a PNG): the views that have no page."""

    def _repr_png_(self) -> bytes:
        from . import png

        return png(self)
