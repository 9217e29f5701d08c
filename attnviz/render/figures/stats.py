"""The statistics figure: heads x metrics, each column shaded from its smallest to its largest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import ConfigError
from ...stats import metrics_of
from ...trace import Trace
from ...views.labels import head_label, strings
from ...views.stats import StatsView, stats_view
from .. import colors
from .draw import add_title
from .layout import DEFAULT_STYLE, Style, text_width, theme_rc, wrap

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def column_shades(stats: dict[str, np.ndarray]) -> np.ndarray:
    """(heads, metrics): each metric scaled to [0, 1] over the heads (0.5 where all are equal)."""
    columns = []
    for m in metrics_of(stats):
        values = np.nan_to_num(np.asarray(stats[m], dtype=np.float64))  # NaN: not measured
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
    stats, heads, shown = view.numbers, view.heads, view.metrics
    table = colors.lut(cmap)
    shades = column_shades(stats)
    width = p.width or 1.1 * len(shown) + 1.5
    height = p.height or 0.38 * len(heads) + 2.6
    names = [head_label(view.trace, h, view.lang) for h in heads]
    metrics = [s[f"m_{m}"] for m in shown]
    rows = int(stats["rows"][0]) if len(heads) else 0
    em = p.font / 72
    with rc_context(theme_rc(theme, p.font)):
        heading = wrap(
            title if title is not None else view.title, width * 72 / (0.6 * p.font * 1.1)
        )
        unmeasured = any(np.isnan(stats[m]).any() for m in shown)
        caption = wrap(s["stats_caption"].format(rows=rows) + " · " + s["stats_shading"]
                       + (" · " + s["streamed_keys_90"] if unmeasured else ""),
                       width * 72 / (0.6 * p.font))  # fmt: skip
        # the metric names slant at 30°: as tall as half their width and a line
        slant = 0.5 * text_width(metrics, p.font) + 0.9 * em
        left = 0.5 * em + text_width(names, p.font) + 0.5 * em
        cell = (width - left - em) / len(shown)  # the first name must not leave the page
        left = max(left, 0.87 * text_width(metrics[:1], p.font) + 0.5 * em - 0.5 * cell)
        bottom = 0.5 * em + (caption.count("\n") + 1) * 1.3 * em + 0.3 * em + slant + 0.4 * em
        top = 0.5 * em + (heading.count("\n") + 1) * 1.45 * em + 0.5 * em
        fig = Figure(figsize=(width, height), dpi=p.dpi)
        ax = fig.add_axes((left / width, bottom / height, 1 - (left + em) / width,
                           1 - (bottom + top) / height))  # fmt: skip
        ax.imshow(shades, cmap=ListedColormap(table / 255.0), vmin=0, vmax=1, aspect="auto")
        for (r, c), shade in np.ndenumerate(shades):
            value = float(stats[shown[c]][r])
            ink = colors.ink(colors.rgb(table, float(shade)))
            ax.text(c, r, "—" if np.isnan(value) else f"{value:.2f}", ha="center",
                    va="center", color=ink, fontsize=p.font * 0.9)  # fmt: skip
        ax.set_xticks(range(len(shown)), metrics, rotation=30, ha="right",
                      rotation_mode="anchor")  # fmt: skip
        ax.set_yticks(range(len(heads)), names)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        fig.text(0.5, 0.5 * em / height, caption, ha="center", va="bottom", gid="caption")
        add_title(fig, heading, p.font, height)
    return fig
