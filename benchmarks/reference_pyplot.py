"""The script a user would write for attnviz's heatmap figure, plainly: NumPy attention for
8 heads of a 9-token sentence, plt.subplots(2, 4), imshow per head with both tick labels and a
title, tight_layout, savefig at dpi 100. The baseline of the figure benchmark.

Usage: python benchmarks/reference_pyplot.py OUT.png
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

tokens = ["The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"]
T, D, H = len(tokens), 512, 8
rng = np.random.default_rng(0)
x = rng.standard_normal((T, D))
w_q, w_k = (rng.standard_normal((H, D, D // H)) / np.sqrt(D) for _ in range(2))
q, k = x @ w_q, x @ w_k  # (H, T, Dh)
scores = q @ k.transpose(0, 2, 1) / np.sqrt(D // H)
scores = np.where(np.tril(np.ones((T, T), dtype=bool)), scores, -np.inf)
weights = np.exp(scores - scores.max(-1, keepdims=True))
weights /= weights.sum(-1, keepdims=True)

fig, axes = plt.subplots(2, 4, figsize=(12, 6))
for h, ax in enumerate(axes.flat):
    ax.imshow(weights[h], cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(T), tokens, rotation=90)
    ax.set_yticks(range(T), tokens)
    ax.set_title(f"head {h}")
fig.tight_layout()
fig.savefig(sys.argv[1], dpi=100)
