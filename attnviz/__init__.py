"""attnviz: see multi-head masked attention, with exact NumPy numbers and the mask drawn on.

>>> import attnviz
>>> trace = attnviz.attend("The cat sat on the mat", heads=2, d_model=16)
>>> trace.weights.shape              # (heads, tokens, tokens)
(2, 6, 6)

Names are imported when first used (PEP 562), so that ``import attnviz`` and the command
line's start-up pay only for what they touch.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_WHERE = {
    "scaled_dot_product_attention": "attention",
    "softmax": "attention",
    "AttnvizError": "errors",
    "ConfigError": "errors",
    "RunError": "errors",
    "load": "export",
    "save": "export",
    "save_json": "export",
    "save_npz": "export",
    "build_mask": "masks",
    "parse_masks": "masks",
    "compare_figure": "render.figures",
    "heatmap_figure": "render.figures",
    "model_figure": "render.figures",
    "rollout_figure": "render.figures",
    "save_figure": "render.figures",
    "Style": "render.figures",
    "steps_figure": "render.figures",
    "Comparison": "stats",
    "compare": "stats",
    "head_stats": "stats",
    "hide_special": "stats",
    "rollout": "stats",
    "Token": "tokens",
    "tokenize": "tokens",
    "AttentionConfig": "trace",
    "ModelInfo": "trace",
    "Pretrained": "trace",
    "Seeded": "trace",
    "Trace": "trace",
    "Crop": "trace",
    "Limits": "pipeline",
    "attend": "pipeline",
    "run": "pipeline",
    "run_kinds": "pipeline",
    "figure": "notebook",
    "inline": "notebook",
    "png": "notebook",
    "show": "notebook",
    "view": "notebook",
}

__all__ = [
    "AttentionConfig",
    "AttnvizError",
    "Comparison",
    "ConfigError",
    "Crop",
    "Limits",
    "ModelInfo",
    "Pretrained",
    "RunError",
    "Seeded",
    "Style",
    "Token",
    "Trace",
    "__version__",
    "attend",
    "build_mask",
    "compare",
    "compare_figure",
    "figure",
    "head_stats",
    "heatmap_figure",
    "hide_special",
    "inline",
    "load",
    "model_figure",
    "parse_masks",
    "png",
    "rollout",
    "rollout_figure",
    "run",
    "run_kinds",
    "save",
    "save_figure",
    "save_json",
    "save_npz",
    "scaled_dot_product_attention",
    "show",
    "softmax",
    "steps_figure",
    "tokenize",
    "view",
]

if TYPE_CHECKING:
    from .attention import scaled_dot_product_attention, softmax
    from .errors import AttnvizError, ConfigError, RunError
    from .export import load, save, save_json, save_npz
    from .masks import build_mask, parse_masks
    from .notebook import figure, inline, png, show, view
    from .pipeline import Limits, attend, run, run_kinds
    from .render.figures import (
        Style,
        compare_figure,
        heatmap_figure,
        model_figure,
        rollout_figure,
        save_figure,
        steps_figure,
    )
    from .stats import Comparison, compare, head_stats, hide_special, rollout
    from .tokens import Token, tokenize
    from .trace import AttentionConfig, Crop, ModelInfo, Pretrained, Seeded, Trace


if "IPython" in sys.modules:  # in a notebook, the figures attnviz returns show as PNGs
    from .display import figures_shown

    figures_shown()


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'attnviz' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value  # the next lookup is an ordinary one
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
