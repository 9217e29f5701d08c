"""Matplotlib figures of Traces. Data are prepared by pure functions first, then drawn.

Matplotlib is imported inside the drawing functions only, so that importing this package (as
``attnviz`` does) costs nothing on the terminal path.
"""

from .base import (
    FIGURE_FORMATS,
    PRESETS,
    SCALES,
    Panel,
    boundary_segments,
    cell_text,
    check_figure_options,
    hidden_runs,
    save_figure,
    tick_labels,
)
from .compare import compare_figure, prepare_compare
from .heatmap import heatmap_figure, model_figure, prepare_heatmap, rollout_figure
from .stats import stats_figure
from .steps import stage_panel, steps_figure

__all__ = [
    "FIGURE_FORMATS",
    "PRESETS",
    "SCALES",
    "Panel",
    "boundary_segments",
    "cell_text",
    "check_figure_options",
    "compare_figure",
    "heatmap_figure",
    "hidden_runs",
    "model_figure",
    "prepare_compare",
    "prepare_heatmap",
    "rollout_figure",
    "save_figure",
    "stage_panel",
    "stats_figure",
    "steps_figure",
    "tick_labels",
]
