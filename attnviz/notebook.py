"""attnviz in a notebook. A Trace or a view shows itself as its interactive page, inline: the
page ``-o x.html`` writes, whole, in an ``<iframe srcdoc>``, so that its ids, styles and
script are its own and several in one notebook never meet; the page's own policy forbids
every request. The views that have no page show their figure. ``show`` does the same from
anywhere; ``figure`` gives the Matplotlib figure; ``view`` the view of a command line.
"""

from __future__ import annotations

import io
import shlex
import tempfile
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .display import kernel
from .errors import ConfigError
from .longrun import Streamed
from .render import colors
from .render.html import PageView, page
from .stats import Comparison
from .trace import Trace
from .views.blocks import BlocksView
from .views.compare import CompareView, compare_view
from .views.generation import GenerationView
from .views.heatmap import HeatmapView, ModelView, heatmap_view
from .views.labels import strings
from .views.steps import StepsView
from .views.survey import SurveyView

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PAGES = (HeatmapView, ModelView, BlocksView, CompareView, StepsView, GenerationView, SurveyView)
HEIGHT = 480  # the frame's height, in pixels, until the page's script fits it to the page
# what look like a command line's options but belong to the drawing, not the view
LOOKS = ("-o", "--output", "--format", "--cmap", "--theme", "--title", "--preset", "--dpi",
         "--annotate", "--no-annotate", "--labels")  # fmt: skip


def _view(obj: Any) -> Any:
    """The view ``obj`` shows: a run's heatmap, a comparison's A / B / B − A, or itself."""
    if isinstance(obj, Trace | Streamed):
        return heatmap_view(obj)
    if isinstance(obj, Comparison):
        return compare_view(obj)
    return obj


def _page_view(obj: Any) -> PageView:
    view = _view(obj)
    if not isinstance(view, PAGES):
        raise ConfigError(f"a {type(obj).__name__} has no page; attnviz.figure(obj) draws it")
    return view


def inline(
    obj: Any, *, cmap: str = colors.DEFAULT_CMAP, theme: str = "light", title: str | None = None
) -> str:
    """The HTML a notebook shows for ``obj`` (a Trace, a Comparison or a view with a page): its
    page in a frame as wide as the cell, as tall as the page, after a line saying what it is
    (which the page removes when its script runs)."""
    view = _page_view(obj)
    text = page(view, cmap=cmap, theme=theme, title=title)  # each checked there
    name = title if title is not None else view.title
    note = strings(view.lang)["html_inline"].format(title=name)
    # the note is what a viewer that strips frames and scripts shows; the page removes it
    return (f'<div><p data-attnviz="note" style="font: 13px sans-serif; color: #666">'
            f'{escape(note)}</p><iframe title="{escape(name)}" srcdoc="{escape(text)}" '
            f'style="width: 100%; height: {HEIGHT}px; border: 0"></iframe></div>')  # fmt: skip


def figure(obj: Any, **style: Any) -> Figure:
    """The Matplotlib figure of ``obj`` (a Trace, a Comparison or any view), as ``-o x.png``
    draws it; ``style``: the keywords of ``attnviz.Style``."""
    from .render.figures import Style, draw

    if _is_figure(obj):
        if style:
            raise ConfigError("this Figure is drawn already: give its style when it is made")
        return obj
    return draw(_view(obj), _style(Style, style))


def _is_figure(obj: Any) -> bool:
    import sys

    module = sys.modules.get("matplotlib.figure")
    return module is not None and isinstance(obj, module.Figure)


def _look(cmap: str = colors.DEFAULT_CMAP, theme: str = "light",
          title: str | None = None) -> dict[str, Any]:  # fmt: skip
    """What a page takes of a style."""
    return {"cmap": cmap, "theme": theme, "title": title}


def png(obj: Any, **style: Any) -> bytes:
    """The figure of ``obj`` as PNG bytes, as ``-o x.png`` writes it."""
    fig = figure(obj, **style)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=fig.dpi, metadata={"Software": None})
    return out.getvalue()


def _style(make: Any, style: dict[str, Any]) -> Any:
    """``make(**style)``, an unknown keyword a ConfigError naming the ones there are."""
    import inspect

    names = list(inspect.signature(make).parameters)
    for key in style:
        if key not in names:
            raise ConfigError(f"{key}= is not an option here: give {', '.join(names)}")
    return make(**style)


def show(obj: Any, **style: Any) -> Path | None:
    """Show ``obj`` now: in a notebook, in the output of the cell that runs (where the rich
    display would not: a loop, a function); elsewhere, in the web browser, from a file in the
    temporary folder (its path returned). ``style``: for a page cmap, theme and title; for a
    figure the keywords of ``attnviz.Style``."""
    import webbrowser

    drawn = not isinstance(_view(obj), PAGES)
    look = {} if drawn else _style(_look, style)
    if kernel() is not None:
        import IPython.display

        from .display import label

        shown = {"image/png": png(obj, **style)} if drawn else {"text/html": inline(obj, **look)}
        ipd: Any = IPython.display  # untyped
        ipd.display(shown | {"text/plain": label(obj)}, raw=True)
        return None
    data = png(obj, **style) if drawn else page(_page_view(obj), **look).encode("utf-8")
    with tempfile.NamedTemporaryFile("wb", suffix=".png" if drawn else ".html",
                                     prefix="attnviz-", delete=False) as f:  # fmt: skip
        f.write(data)
    webbrowser.open(Path(f.name).as_uri())
    return Path(f.name)


def view(line: str) -> Any:
    """The view a command line shows, as an object (a notebook displays it as its page):
    ``attnviz.view('generate "The capital of France is" --model smollm2')``. The options are
    the command's, checked as the command checks them; how it is drawn (-o, --format,
    --cmap, --theme, --title, --preset, --dpi, --annotate, --labels) is ``show``'s and
    ``figure``'s, and refused here."""
    from .cli import view as command_view

    args = shlex.split(line)
    if args[:1] == ["attnviz"]:
        args = args[1:]
    for arg in args[: args.index("--") if "--" in args else len(args)]:
        flag = arg.split("=", 1)[0]
        if flag in LOOKS or (flag.startswith("-o") and not flag.startswith("--")):
            raise ConfigError(f"attnviz.view gives the view, not its output: leave {flag} out "
                              "and pass cmap=, theme=, title= to attnviz.show (or the "
                              "figure's style to attnviz.figure)")  # fmt: skip
    return command_view(args)
