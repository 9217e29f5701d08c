"""Views: what attnviz shows, as data every renderer shares.

A view turns a Trace (or two) into renderer-neutral data: panels with their values, masks,
labels, titles and colour limits, the summary numbers, and the one JSON (and CSV) of each
output. The terminal, the figures and the page draw views; they compute nothing of their own.
Views import the core (trace, stats) and never a renderer.
"""
