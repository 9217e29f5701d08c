"""The baseline of the decoder benchmark: transformers + PyTorch load a checkpoint folder (or
a GGUF file in it, which transformers dequantises whole with gguf's code) and compute the
attentions of one text, as attnviz does (eager attention, output_attentions=True, float32:
the same numbers attnviz computes).

Usage: python benchmarks/reference_decoder.py MODEL_DIR TEXT OUT.npy [FILE.gguf]
"""

import sys

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

folder, text, out = sys.argv[1:4]
file = {"gguf_file": sys.argv[4]} if len(sys.argv) > 4 else {}
tokenizer = AutoTokenizer.from_pretrained(folder, **file)
model = AutoModel.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager",
                                  **file).eval()  # fmt: skip
inputs = tokenizer(text, return_tensors="pt")
with torch.no_grad():
    attentions = model(**inputs, output_attentions=True).attentions
np.save(out, torch.stack(attentions).numpy())
