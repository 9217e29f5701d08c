"""attnviz lesson: the runs a class shows (the text's, and the same without the mask and
without the scaling), and the command lines that remake each page."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError, RunError
from ..export import check_output
from ..trace import config_against
from .emit import run
from .options import LOOK, RUN, Options, config, heads_count, output_memory

LESSON_FORMATS = ("png", "svg")


def destination(o: Options, fmt: str | None) -> str:
    """What -o asks for: "pdf" (a file), or the format of the files of a folder; checked, with
    the options of how the pages look."""
    from ..render import colors
    from ..render.figures import check_figure_options
    from ..views.labels import strings

    for name, why in (("preset", "a class is at slide size (16:9)"),
                      ("title", "each page is titled with its caption")):  # fmt: skip
        if name in o.given:
            raise ConfigError(f"--{name} changes nothing here: {why}")
    check_figure_options(dpi=o.dpi, theme=o.theme, labels=o.labels)
    strings(o.lang)
    colors.lut(o.cmap)
    out = o.output
    if out is None:
        raise ConfigError("lesson writes a class: -o lesson.pdf, or -o lesson/ for numbered PNG "
                          "files (or --format svg)")  # fmt: skip
    folder = str(out).endswith("/") or out.is_dir() or not out.suffix
    if not folder and out.suffix.lower() != ".pdf":
        raise ConfigError(f"-o writes a PDF (lesson.pdf) or a folder (lesson/), not {out.suffix}")
    if fmt is not None and not folder:
        raise ConfigError("--format chooses the files of a folder (-o lesson/): a PDF is a PDF")
    if folder and (fmt or "png") not in LESSON_FORMATS:
        raise ConfigError(f"unknown --format {fmt!r}; choose one of: {', '.join(LESSON_FORMATS)}")
    if not folder:
        check_output(out, (".pdf",))  # its folder exists, it is not a folder
    elif not Path(out).parent.is_dir():
        raise RunError(f"cannot write {str(out)!r}: the folder {str(Path(out).parent)!r} does "
                       "not exist")  # fmt: skip
    if "dpi" in o.given and not folder:
        raise ConfigError("--dpi sets the pixels of PNG pages: give -o lesson/")
    return (fmt or "png") if folder else "pdf"


def runs(o: Options, text: str, memory: Any) -> tuple[Any, Any, Any]:
    """The run of the options; the same with the mask none (or causal, when it is none); the
    same scaled and unscaled."""
    c = config(o)
    masks = ["causal"] if c.mask == ("none",) else ["none"]
    trace = run(o, text, c, memory)
    masked = run(o, text, config_against(c, masks), memory)
    other = run(o, text, replace(c, scaled=not c.scaled), memory)
    return trace, (trace, masked), (trace, other) if c.scaled else (other, trace)


def _given(o: Options, names: tuple[str, ...]) -> list[str]:
    """The options among ``names`` given on the command line, as flags and values."""
    flags: list[str] = []
    for opt in (*RUN, *LOOK):
        if opt.name in names and opt.name in o.given and opt.name not in ("file", "output"):
            value = getattr(o, opt.name)
            if value is True or value is False:  # --unscaled, --bos; --annotate/--no-annotate
                flags.append(opt.flag if value else "--no-" + opt.flag[2:])
            else:
                for v in value if isinstance(value, list) else [value]:
                    flags += [opt.flag, str(v)]
    return flags


def commands(o: Options, text: str, head: int, masks: str) -> list[str]:
    """The lines of the commands page: the text, then each page's command under the page
    numbers it remakes (as shell comments, so that the page can be pasted into a shell)."""
    lang_theme = _given(o, ("lang", "theme"))  # and, but for scaling's lines, how cells look
    flags = _given(o, tuple(opt.name for opt in RUN)) + lang_theme
    flags += _given(o, ("cmap", "annotate", "labels"))
    run_flags = shlex.join(flags)
    scaled_flags = shlex.join(f for f in flags if f != "--unscaled")  # B is the unscaled one
    source = f"--file {shlex.quote(str(o.file))}" if o.file else '"$TEXT"'
    slides = "--preset slides"
    pages = [
        ("1-14", f"attnviz lesson {source} {run_flags} -o lesson.pdf"),
        ("3-9", f"attnviz steps {source} {run_flags} --head {head} -o steps.png {slides}"),
        ("10", f"attnviz heatmap {source} {run_flags} -o heads.png {slides}"),
        ("11", f"attnviz compare {source} {run_flags} --against {masks} --head {head} "
               f"-o mask.png {slides}"),
        ("12", f"attnviz compare {source} {scaled_flags} --against unscaled --head {head} "
               f"-o scaling.png {slides}"),
        ("13", f"attnviz scaling {shlex.join(lang_theme)} -o why.png {slides}"),
    ]  # fmt: skip
    lines = [] if o.file else [f"TEXT={shlex.quote(text)}"]
    for numbers, command in pages:
        lines += [f"# {numbers}", " ".join(command.split())]
    return lines


def pages(o: Options, text: str, head: int) -> Iterator[Any]:
    """The lesson of ``text`` laid out, page by page: the run the options describe, the same
    masked against unmasked and scaled against unscaled, the steps of ``head``; each page
    drawn when it is asked for (written before the next is drawn)."""
    from ..render.figures import Style
    from ..render.figures.lesson import Lesson, lesson_pages
    from ..scaling import sweep
    from ..stats import compare as compare_runs
    from ..views.labels import trace_line
    from .app import progress

    memory = output_memory(o, "lesson", None, 0, heads_count(o)[0])  # the page of every head
    trace, masked, scaled = runs(o, text, memory)
    against = "causal" if masked[0].config.mask == ("none",) else "none"
    style = Style(o.annotate, o.cmap, o.theme, "slides", None, o.labels)
    lesson = Lesson(text, trace, compare_runs(*masked), compare_runs(*scaled), sweep(), head,
                    trace_line(trace, o.lang), commands(o, text, head, against))  # fmt: skip
    progress.step("drawing the pages")
    return lesson_pages(lesson, style, o.lang)
