"""The statistics figure: heads x metrics, each column shaded from its smallest to its largest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import ConfigError
from ...stats import HEAD_METRICS
from ...trace import Trace
from ...views.labels import head_label, strings
from ...views.stats import StatsView, stats_view
from .. import colors
from .draw import add_title
from .layout import DEFAULT_STYLE, Style, theme_rc

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
    trace: Trace, heads: Sequence[int] | None = None, *, lang: str = "en", **style: Any
) -> Figure:
    """A heads x metrics heatmap of ``attnviz.head_stats`` of ``trace``, each value printed;
    ``style`` as in heatmap_figure, but for ``annotate`` and ``labels`` (every value is
    printed; there are no token labels)."""
    return draw_stats(stats_view(trace, heads, lang=lang), Style(**style))


def draw_stats(view: StatsView, style: Style = DEFAULT_STYLE) -> Figure:
    """The figure of a StatsView."""
    from matplotlib import rc_context
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    if style.annotate is not None or style.labels != "auto":
        raise ConfigError("the figure of stats prints every value and has no token labels: "
                          "it takes no annotate or labels")  # fmt: skip
    p, s, cmap, theme, title = style.p, strings(view.lang), style.cmap, style.theme, style.title
    stats, heads = view.numbers, view.heads
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
        config = view.trace.config
        ax.set_yticks(range(len(heads)), [head_label(config, h, view.lang) for h in heads])
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        rows = int(stats["rows"][0]) if len(heads) else 0
        ax.set_xlabel(s["stats_caption"].format(rows=rows) + " · " + s["stats_shading"])
        add_title(fig, title if title is not None else view.title, width, p.font)
    return fig
