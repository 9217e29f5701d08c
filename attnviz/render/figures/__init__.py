"""Matplotlib figures of Traces. Data are prepared by pure functions first, then drawn.

Matplotlib is imported inside the drawing functions only, so that importing this package (as
``attnviz`` does) costs nothing on the terminal path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...views.panel import Panel
from .blocks import draw_blocks
from .compare import compare_figure, draw_compare
from .draw import boundary_segments, cell_text, hidden_runs
from .heatmap import (
    draw_generation,
    draw_heatmap,
    draw_model,
    draw_rollout,
    heatmap_figure,
    model_figure,
    rollout_figure,
)
from .layout import PRESETS, Style, check_figure_options, tick_labels
from .save import FIGURE_FORMATS, save_figure
from .scaling import draw_scaling
from .sink import draw_sink
from .stats import draw_stats, stats_figure
from .steps import draw_steps, stage_panel, steps_figure
from .survey import draw_survey

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "FIGURE_FORMATS",
    "PRESETS",
    "Panel",
    "Style",
    "boundary_segments",
    "cell_text",
    "check_figure_options",
    "compare_figure",
    "draw",
    "draw_blocks",
    "draw_compare",
    "draw_generation",
    "draw_heatmap",
    "draw_model",
    "draw_rollout",
    "draw_scaling",
    "draw_sink",
    "draw_stats",
    "draw_steps",
    "draw_survey",
    "heatmap_figure",
    "hidden_runs",
    "model_figure",
    "rollout_figure",
    "save_figure",
    "stage_panel",
    "stats_figure",
    "steps_figure",
    "tick_labels",
]


DRAWERS = {"HeatmapView": draw_heatmap, "ModelView": draw_model, "BlocksView": draw_blocks,
           "RolloutView": draw_rollout, "CompareView": draw_compare, "StepsView": draw_steps,
           "StatsView": draw_stats, "GenerationView": draw_generation,
           "SurveyView": draw_survey, "ScalingView": draw_scaling, "SinkView": draw_sink}  # fmt: skip


def draw(view: Any, style: Style | None = None) -> Figure:
    """The figure of any view, as ``-o x.png`` draws it."""
    from ...errors import ConfigError

    drawer: Any = DRAWERS.get(type(view).__name__)
    if drawer is None:
        raise ConfigError(f"a {type(view).__name__} is not a view attnviz draws")
    return drawer(view, style or Style())
