"""The baseline of the generation benchmark: transformers + PyTorch load a checkpoint folder
and continue a text greedily, keeping the attentions (as attnviz does), in float32.

Usage: python benchmarks/reference_generate.py MODEL_DIR TEXT N OUT.npy
       python benchmarks/reference_generate.py MODEL_DIR TEXT --per-token
(the second prints the time per generated token: generate(21) − generate(1), over 20, the
median of three such pairs, loaded once, after a warm-up run)
"""

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


def generate(n):
    with torch.no_grad():
        return model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                              output_attentions=True, return_dict_in_generate=True,
                              attention_mask=torch.ones_like(ids), pad_token_id=0)  # fmt: skip


if sys.argv[3] == "--per-token":
    generate(2)
    per = []
    for _ in range(3):
        times = {}
        for n in (1, 21):
            t = time.perf_counter()
            generate(n)
            times[n] = time.perf_counter() - t
        per.append((times[21] - times[1]) / 20)
    print(statistics.median(per))
else:
    np.save(sys.argv[4], generate(int(sys.argv[3])).sequences.numpy())
