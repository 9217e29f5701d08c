"""Real checkpoints run in NumPy: finding and reading a folder, the tokenizer as trained,
the architecture table, one module per family (``pip install 'attnviz[models]'``)."""

from .checkpoint import Checkpoint
from .families import FAMILIES, Family

__all__ = ["FAMILIES", "Checkpoint", "Family"]
