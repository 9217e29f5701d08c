"""The project's exceptions. Only the CLI turns them into a message and an exit code."""


class AttnvizError(Exception):
    """Base class of every error attnviz raises on purpose."""


class ConfigError(AttnvizError, ValueError):
    """Invalid input: text, option value, mask spec, file contents (CLI exit code 2)."""


class RunError(AttnvizError, RuntimeError):
    """A failure at run time: cannot write the output, over a budget (CLI exit code 1)."""


class Interrupted(AttnvizError):
    """Ctrl-C, with what was done by then (CLI exit code 130)."""
