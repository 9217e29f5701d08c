"""The steps figure: the computation of one head, a numbered panel per stage, in order."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np

from ...trace import Crop, Trace
from ...views.labels import strings
from ...views.panel import Panel, signed_limit
from ...views.steps import Stage, StepsView, steps_view
from .. import colors
from .compare import DIVERGING_CMAP
from .draw import add_hidden_legend, add_title, colorbar, draw_panel
from .layout import (
    DEFAULT_STYLE,
    Style,
    auto_annotate,
    crop_texts,
    crop_texts_both,
    grid,
    layout,
    theme_rc,
    tick_labels,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def stage_title(stage: Stage, max_chars: float) -> str:
    """ "2. attention scores" over its formula, each wrapped to the panel's width."""
    width = max(int(max_chars), 12)
    return "\n".join(
        [
            *textwrap.wrap(f"{stage.number}. {stage.name}", width),
            *textwrap.wrap(stage.formula, width),
        ]
    )


def stage_panel(stage: Stage, head: int, title: str = "") -> Panel:
    """A T x T stage as a Panel: weights on [0, 1], signed stages on a symmetric scale."""
    values = stage.values.astype(np.float64)
    hidden = np.zeros(values.shape, dtype=bool) if stage.hidden is None else stage.hidden
    title = title or f"{stage.number}. {stage.name}\n{stage.formula}"
    if stage.kind == "weights":
        return Panel(head, title, values, hidden, row0=stage.row0, col0=stage.col0)
    top = max(float(np.abs(values[~hidden]).max(initial=0.0)), 1e-12)
    signed = np.where(hidden, 0.0, values)
    return Panel(head, title, signed, hidden, top, True, stage.row0, stage.col0)


def _draw_matrix(
    ax: Axes,
    stage: Stage,
    title: str,
    texts: list[str],
    font: float,
    axis_points: float,
    labels: str = "auto",
) -> Any:
    """A T x columns stage (Q, K, V, head output, concat, output): rows are tokens."""
    top = signed_limit(stage.values)
    lut = colors.lut(DIVERGING_CMAP)
    from matplotlib.colors import ListedColormap

    image = ax.imshow(
        stage.values.astype(np.float64),
        cmap=ListedColormap(lut / 255.0),
        vmin=-top,
        vmax=top,
        aspect="auto",
        interpolation="nearest",
    )
    ax.set_title(title, fontsize=font)
    rows = crop_texts(texts, stage.row0, stage.values.shape[0])
    ys, yl = tick_labels(rows, axis_points, font * 0.85, labels, stage.row0)
    ax.set_yticks(ys, yl, fontsize=font * 0.85)
    ax.tick_params(length=0, labelsize=font * 0.75)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return image


def steps_figure(
    trace: Trace,
    head: int = 0,
    *,
    lang: str = "en",
    crop: Crop | None = None,
    **style: Any,
) -> Figure:
    """Every stage of head ``head`` (Q, K, V, scores, scaled, masked, weights, head output,
    concat, output), numbered, left to right and top to bottom; with ``crop``, the part of
    each stage that it shows; ``style`` as in heatmap_figure."""
    return draw_steps(steps_view(trace, head, crop=crop, lang=lang), Style(**style))


def draw_steps(view: StepsView, style: Style = DEFAULT_STYLE) -> Figure:
    """The figure of a StepsView."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    p, s = style.p, strings(view.lang)
    theme, cmap, labels, annotate = style.theme, style.cmap, style.labels, style.annotate
    stages, crop, head = view.stages, view.crop, view.head
    texts = view.trace.texts
    T = len(texts)
    rows, cols = grid(len(stages), max(1, min(5, int((p.width or 99) / 1.5))))  # paper: 2
    shown = crop_texts_both(texts, crop)
    width, height, column = layout(p, rows, cols, shown)
    panel_in = column - 5.5 * p.font / 72  # each panel shares its column with a colour bar
    if annotate is None:
        side = max(crop.q1 - crop.q0, crop.k1 - crop.k0) if crop else T
        annotate = auto_annotate(p.font, panel_in * 72, side)
    heading = style.title if style.title is not None else view.title
    with rc_context(theme_rc(theme, p.font)):
        fig = Figure(figsize=(width, height), dpi=p.dpi, layout="constrained")
        axes = fig.subplots(rows, cols, squeeze=False)
        for n, (ax, stage) in enumerate(zip(axes.flat, stages, strict=False)):
            shape = " × ".join(str(d) for d in stage.shape)
            title = stage_title(stage, column * 72 / (0.6 * p.font * 0.85))  # the panel's
            if stage.kind == "matrix":
                _draw_matrix(ax, stage, title, texts, p.font * 0.85, panel_in * 72, labels)
                bar = colorbar(
                    fig,
                    ax,
                    DIVERGING_CMAP,
                    -signed_limit(stage.values),
                    signed_limit(stage.values),
                    "",
                )
            else:
                panel = stage_panel(stage, head, title)
                draw_panel(
                    ax, panel, texts, cmap=DIVERGING_CMAP if panel.signed else cmap, theme=theme,
                    annotate=annotate and stage.kind == "weights", font=p.font,
                    axis_points=panel_in * 72, show_rows=n % cols == 0, show_cols=True, s=s,
                    key_title=f"({shape})", title_size=p.font * 0.85,
                    labels=labels,
                )  # fmt: skip
                if panel.signed:
                    bar = colorbar(
                        fig,
                        ax,
                        DIVERGING_CMAP,
                        -signed_limit(stage.values),
                        signed_limit(stage.values),
                        "",
                    )
                else:
                    bar = colorbar(fig, ax, cmap, 0, 1, "")
            bar.ax.tick_params(labelsize=p.font * 0.7)
            if stage.kind == "matrix":  # its title is _draw_matrix's
                ax.set_xlabel(f"({shape})", fontsize=p.font * 0.85)
            if n % cols and stage.kind == "matrix":
                ax.set_yticks(ax.get_yticks(), [])
        for ax in list(axes.flat)[len(stages) :]:
            ax.set_axis_off()
        add_hidden_legend(fig, theme, s["hidden"] + " (−∞)", p.font, "outside lower right")
        add_title(fig, heading, width, p.font)
    return fig
