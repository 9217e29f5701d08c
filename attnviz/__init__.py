"""attnviz: see multi-head masked attention, with exact NumPy numbers and the mask drawn on.

>>> import attnviz
>>> trace = attnviz.attend("The cat sat on the mat", heads=2, d_model=16)
>>> trace.weights.shape              # (heads, tokens, tokens)
(2, 6, 6)
"""

from .attention import scaled_dot_product_attention, softmax
from .errors import AttnvizError, ConfigError, RunError
from .export import load, save, save_json, save_npz
from .masks import build_mask, parse_masks
from .render.figures import compare_figure, heatmap_figure, save_figure, steps_figure
from .stats import Comparison, compare
from .tokens import Token, tokenize
from .trace import AttentionConfig, Trace, attend, run

__version__ = "0.1.0"

__all__ = [
    "AttentionConfig",
    "AttnvizError",
    "Comparison",
    "ConfigError",
    "RunError",
    "Token",
    "Trace",
    "__version__",
    "attend",
    "build_mask",
    "compare",
    "compare_figure",
    "heatmap_figure",
    "load",
    "parse_masks",
    "run",
    "save",
    "save_figure",
    "save_json",
    "save_npz",
    "scaled_dot_product_attention",
    "softmax",
    "steps_figure",
    "tokenize",
]
