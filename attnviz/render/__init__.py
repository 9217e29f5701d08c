"""Renderers: they take a Trace and show it; they never compute attention."""
