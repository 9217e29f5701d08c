"""The command line: the app (``app``), every option declared once (``options``), the run and
its outputs (``emit``), and the commands (``commands``). It holds no logic the Python API
lacks: it parses strings into the API's values, calls the API, and emits the views.
"""

from . import commands as _commands  # noqa: F401  (registers the commands on the app)
from .app import app, main

__all__ = ["app", "main"]
