"""How a Trace and the views show themselves in a notebook (IPython's rich display): as their
interactive page inline, or as their figure when they have no page. The drawing is
``attnviz.notebook``'s, above everything else; these hooks reach it through the package's
public names, and only when a notebook asks (importing them costs nothing).
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigError


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
    """Shown as its interactive page, inline; as its figure where it has no page (a streamed
    run's pooled heatmap)."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from . import inline, png  # attnviz.notebook's, at display time

        try:
            return {"text/html": inline(self)}
        except ConfigError:
            pass
        try:
            return {"image/png": png(self)}
        except ConfigError as e:  # one line, as the command line says it: no traceback
            return {"text/plain": f"attnviz: error: {e}"}

    def _repr_html_(self) -> str | None:
        """The inline page, or None where there is none (IPython then shows another form)."""
        from . import inline

        try:
            return inline(self)
        except ConfigError:
            return None


class Picture(Shown):
    """Shown as its figure (a PNG): the views that have no page."""

    def _repr_png_(self) -> bytes:
        from . import png

        return png(self)


def kernel() -> Any:
    """The IPython kernel this runs in (a notebook's), or None."""
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell if shell is not None and "IPKernelApp" in shell.config else None


def figures_shown() -> None:
    """In a notebook, a Matplotlib Figure a cell returns shows as its PNG, as ``-o x.png``
    writes it (Matplotlib's inline backend registers a Figure's PNG only once pyplot is
    imported, and attnviz draws without pyplot); a PNG already registered stays."""
    shell = kernel()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["image/png"]
    try:
        formatter.lookup_by_type("matplotlib.figure.Figure")
    except KeyError:
        formatter.for_type_by_name("matplotlib.figure", "Figure", _png)


def _png(fig: Any) -> bytes:
    from . import png

    return png(fig)
