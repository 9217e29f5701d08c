"""The names some options choose among, in a module that loads nothing: the command line's
help is written from them without NumPy."""

POSITIONS = ("sinusoidal", "none")
DTYPES = ("float64", "float32")
PATTERNS = ("previous", "self", "first", "uniform", "same")  # of planted heads (seeded.py)
ATTENTIONS = ("encoder", "decoder", "cross")  # the kinds of attention of an encoder-decoder
