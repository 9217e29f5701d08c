"""``python -m attnviz``."""

from .cli import main

main()
