"""The statistics figure: heads x metrics, each column shaded from its smallest to its largest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ...stats import HEAD_METRICS
from ...trace import Trace
from .. import colors
from ..labels import head_label, strings, trace_line
from .base import PRESETS, add_title, check_figure_options, theme_rc

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def column_shades(stats: dict[str, np.ndarray]) -> np.ndarray:
    """(heads, metrics): each metric scaled to [0, 1] over the heads (0.5 where all are equal)."""
    columns = []
    for m in HEAD_METRICS:
        values = np.asarray(stats[m], dtype=np.float64)
        span = values.max() - values.min()
        columns.append((values - values.min()) / span if span > 0 else np.full_like(values, 0.5))
    return np.stack(columns, axis=1)


def stats_figure(
    stats: dict[str, np.ndarray],
    heads: Sequence[int],
    trace: Trace,
    *,
    cmap: str = colors.DEFAULT_CMAP,
    theme: str = "light",
    preset: str = "screen",
    title: str | None = None,
    lang: str = "en",
) -> Figure:
    """A heads x metrics heatmap of ``attnviz.stats.head_stats``, each value printed."""
    from matplotlib import rc_context
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    check_figure_options(theme=theme, preset=preset)
    p = PRESETS[preset]
    s = strings(lang)
    table = colors.lut(cmap)
    shades = column_shades(stats)
    width = p.width or 1.1 * len(HEAD_METRICS) + 1.5
    height = p.height or 0.38 * len(heads) + 2.6
    with rc_context(theme_rc(theme, p.font)):
        fig = Figure(figsize=(width, height), dpi=p.dpi, layout="constrained")
        ax = fig.add_subplot()
        ax.imshow(shades, cmap=ListedColormap(table / 255.0), vmin=0, vmax=1, aspect="auto")
        for (r, c), shade in np.ndenumerate(shades):
            value = float(stats[HEAD_METRICS[c]][r])
            ink = colors.ink(colors.rgb(table, float(shade)))
            ax.text(
                c, r, f"{value:.2f}", ha="center", va="center", color=ink, fontsize=p.font * 0.9
            )
        ax.set_xticks(range(len(HEAD_METRICS)), [s[f"m_{m}"] for m in HEAD_METRICS], rotation=30,
                      ha="right")  # fmt: skip
        ax.set_yticks(range(len(heads)), [head_label(trace.config, h, lang) for h in heads])
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        rows = int(stats["rows"][0]) if len(heads) else 0
        ax.set_xlabel(s["stats_caption"].format(rows=rows) + " · " + s["stats_shading"])
        add_title(fig, title if title is not None else trace_line(trace, lang), width, p.font)
    return fig
