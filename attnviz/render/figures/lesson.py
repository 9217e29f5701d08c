"""attnviz lesson: a class in one file. One idea per page at slide size (16:9), each page
titled with its one-line caption: the title, the tokens, each stage of the computation, every
head, what the mask and the scaling change, why √d_k, and the commands that remake the pages.
Written as one PDF, or as numbered PNG or SVG files for a slide program."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ...scaling import Sweep
from ...stats import Comparison
from ...trace import Trace
from ...views.compare import compare_view
from ...views.heatmap import heatmap_view
from ...views.labels import shorten, strings
from ...views.scaling import ScalingView
from ...views.steps import StepsView, head_stages
from .compare import draw_compare
from .heatmap import draw_heatmap
from .layout import Style, text_width, theme_rc, wrap_to
from .scaling import draw_scaling
from .steps import draw_steps

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# The steps pages: (name, the stage numbers they show); stage 1 (Q, K, V) and its rotations.
STEP_PAGES = (("qkv", ("1",)), ("scores", ("2",)), ("scaling", ("3",)), ("mask", ("4",)),
              ("softmax", ("5",)), ("head_output", ("6",)), ("multi_head", ("7",)))  # fmt: skip
TOKENS_SHOWN = 64  # the tokens page lists at most this many


@dataclass(frozen=True)
class Lesson:
    """What the pages show: the run, the comparisons with the mask and the scaling, the sweep,
    the head of the steps pages, and the command line of each page."""

    text: str
    trace: Trace
    masked: Comparison
    scaled: Comparison
    sweep: Sweep
    head: int
    settings: str  # the run's options, as a line
    commands: list[str]  # the lines of the commands page: the command that remakes each page


@dataclass(frozen=True)
class Page:
    name: str
    figure: Figure


def lesson_pages(lesson: Lesson, style: Style, lang: str = "en") -> Iterator[Page]:
    """Every page, in order, as figures at slide size, each titled with its caption; made one
    at a time (a page is written before the next is drawn)."""
    s, trace = strings(lang), lesson.trace
    number = iter(range(2, 100))  # the title is page 1

    def titled(name: str) -> Style:
        return replace(style, title=f"{next(number)}. {s['lesson_' + name]}")

    yield Page("title", _title_page(lesson, style, s))
    yield Page("tokens", _tokens_page(trace, titled("tokens"), s))
    stages = head_stages(trace, lesson.head, lang)
    for name, numbers in STEP_PAGES:
        chosen = [st for st in stages if st.number.rstrip("abc") in numbers]
        yield Page(name, draw_steps(StepsView(trace, lesson.head, chosen, lang=lang),
                                    titled(name)))  # fmt: skip
    yield Page("heads", draw_heatmap(heatmap_view(trace, lang=lang), titled("heads")))
    one = [lesson.head]  # A, B and B − A of the steps' head: readable on a slide
    unmasked = lesson.masked.a.config.mask == ("none",)  # then B is causal
    yield Page("masked", draw_compare(compare_view(lesson.masked, one, lang=lang),
                                      titled("masked_causal" if unmasked else "masked")))  # fmt: skip
    yield Page("scaled", draw_compare(compare_view(lesson.scaled, one, lang=lang),
                                      titled("scaled")))  # fmt: skip
    yield Page("why", draw_scaling(ScalingView(lesson.sweep, lang), _lines(titled("why"))))
    yield Page("commands", _commands_page(lesson, titled("commands")))


def _lines(style: Style) -> Style:
    """The style of the scaling figure: it draws lines, so no cell options."""
    return replace(style, annotate=None, labels="auto")


def _title_page(lesson: Lesson, style: Style, s: dict[str, str]) -> Figure:
    """The title, the text, the settings, and what the pages show, numbered in two columns."""
    from matplotlib import rc_context

    items = [f"{n}. {item}" for n, item in enumerate(s["lesson_pages"].split(" · "), start=2)]
    half = -(-len(items) // 2)
    with rc_context(theme_rc(style.theme, style.p.font)):
        fig = _blank(style)
        font, width = style.p.font, fig.get_size_inches()[0]
        y = _line(fig, s["lesson_title"], 0.9, font * 2.2, width)
        y = _line(fig, f"“{shorten(lesson.text, 300)}”", y - 0.03, font * 1.5, width)
        y = _line(fig, lesson.settings, y - 0.03, font, width, color="#777777")
        for column, chosen in enumerate((items[:half], items[half:])):
            fig.text(0.06 + 0.46 * column, y - 0.08, "\n".join(chosen), fontsize=font,
                     va="top", linespacing=1.7)  # fmt: skip
    return fig


def _blank(style: Style) -> Figure:
    from matplotlib.figure import Figure

    p = style.p
    return Figure(figsize=(p.width or 13.333, p.height or 7.5), dpi=p.dpi)


def _line(fig: Figure, text: str, y: float, size: float, width: float, **more: object) -> float:
    """``text`` wrapped to the page from ``y`` (a fraction of the height) down; where it ends."""
    lines = wrap_to(text, width * 0.88, size, " ")
    fig.text(0.06, y, lines, fontsize=size, va="top", **more)  # type: ignore[arg-type]
    return y - (lines.count("\n") + 1) * 1.5 * size / 72 / fig.get_size_inches()[1]


def _tokens_page(trace: Trace, style: Style, s: dict[str, str]) -> Figure:
    """The tokens as boxes in reading order, each with its index and its span of the text
    below it (the first TOKENS_SHOWN of a long text)."""
    from matplotlib import rc_context
    from matplotlib.patches import FancyBboxPatch

    shown = trace.tokens[:TOKENS_SHOWN]
    with rc_context(theme_rc(style.theme, style.p.font)):
        fig = _blank(style)
        width, height = fig.get_size_inches()
        assert style.title is not None
        top = _line(fig, style.title, 0.94, style.p.font * 1.5, width)
        few = len(shown) <= 12  # then large, in the middle of the page
        size = style.p.font * (2.4 if few else 1.5 if len(shown) <= 24 else 1.0)
        em_w, em_h = size / 72 / width, size / 72 / height
        x, y = 0.06, min(top - 2 * em_h, 0.6) if few else top - 2 * em_h
        for i, t in enumerate(shown):
            label = shorten(t.text, 16)
            box = (text_width([label], size) / width) + 1.2 * em_w
            if x + box > 0.94:
                x, y = 0.06, y - 4.2 * em_h
            fig.patches.append(FancyBboxPatch((x, y - 1.2 * em_h), box, 1.6 * em_h,
                                              boxstyle="round,pad=0.004", transform=fig.transFigure,
                                              facecolor="none", edgecolor="#888888"))  # fmt: skip
            fig.text(x + box / 2, y - 0.4 * em_h, label, fontsize=size, ha="center", va="center")
            fig.text(x + box / 2, y - 2.0 * em_h, f"{i} · [{t.start}, {t.end})",
                     fontsize=size * 0.55, ha="center", va="center", color="#777777")  # fmt: skip
            x += box + 0.8 * em_w
        if len(trace.tokens) > TOKENS_SHOWN:
            _line(fig, s["lesson_more_tokens"].format(n=len(trace.tokens) - TOKENS_SHOWN),
                  y - 4.2 * em_h, size, width)  # fmt: skip
    return fig


def _commands_page(lesson: Lesson, style: Style) -> Figure:
    """The commands that remake the pages, in a monospaced font, each wrapped to the page."""
    from matplotlib import rc_context

    assert style.title is not None
    with rc_context(theme_rc(style.theme, style.p.font)):
        fig = _blank(style)
        width = fig.get_size_inches()[0]
        y = _line(fig, style.title, 0.94, style.p.font * 1.5, width) - 0.02
        for line in lesson.commands:
            y = _line(fig, line, y, style.p.font * 0.8, width, family="monospace")
    return fig


def write_lesson(pages: Iterable[Page], path: str | os.PathLike[str], fmt: str,
                 dpi: int | None = None) -> list[str]:  # fmt: skip
    """Write the pages as they come: one PDF at ``path``, or (``fmt`` png or svg) numbered
    files in the folder ``path`` (01-title.png, 02-tokens.png ...); each file atomically, the
    same bytes every time. The files written."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_pdf import PdfPages

    from ...export import atomic_open
    from . import save_figure  # the package's: what tests stand in for
    from .draw import numbers_as_text
    from .save import one_glyph_warning

    if fmt != "pdf":
        os.makedirs(path, exist_ok=True)  # its parent was checked before the run
        names = []
        for n, page in enumerate(pages, start=1):
            names.append(os.path.join(path, f"{n:02d}-{page.name}.{fmt}"))
            save_figure(page.figure, names[-1], dpi)
        return names
    with (rc_context({"pdf.fonttype": 42}), atomic_open(path) as f, one_glyph_warning(),
          PdfPages(f, metadata={"CreationDate": None}) as pdf):  # fmt: skip
        for page in pages:
            with numbers_as_text(page.figure):
                pdf.savefig(page.figure)
    return [str(path)]
