"""The baseline of the generation benchmark: transformers + PyTorch load a checkpoint folder
and continue a text greedily, keeping the attentions (as attnviz does), in float32.

Usage: python benchmarks/reference_generate.py MODEL_DIR TEXT N OUT.npy
       python benchmarks/reference_generate.py MODEL_DIR TEXT --per-token
(the second prints the time per generated token: the median time between two tokens
generated one after the other, over three runs of 21 new tokens after a warm-up run, the
model loaded once; a streamer hears each token as generate chooses it)
"""

import itertools
import statistics
import sys
import time

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

folder, text = sys.argv[1], sys.argv[2]
tokenizer = AutoTokenizer.from_pretrained(folder)
model = AutoModelForCausalLM.from_pretrained(
    folder, dtype=torch.float32, attn_implementation="eager"
).eval()
ids = tokenizer(text, return_tensors="pt")["input_ids"]


def generate(n, streamer=None):
    with torch.no_grad():
        return model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                              output_attentions=True, return_dict_in_generate=True,
                              attention_mask=torch.ones_like(ids), pad_token_id=0,
                              streamer=streamer)  # fmt: skip


class Clock:
    """A streamer that notes when each generated token arrives (the first put is the prompt)."""

    def __init__(self):
        self.times = []

    def put(self, value):
        self.times.append(time.perf_counter())

    def end(self):
        pass


if sys.argv[3] == "--per-token":
    generate(2)
    gaps = []
    for _ in range(3):
        clock = Clock()
        generate(21, clock)
        tokens = clock.times[1:]  # the prompt's put left out
        gaps += [b - a for a, b in itertools.pairwise(tokens)]
    print(statistics.median(gaps))
else:
    np.save(sys.argv[4], generate(int(sys.argv[3])).sequences.numpy())
