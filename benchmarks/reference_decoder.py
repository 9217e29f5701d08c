"""The baseline of the decoder benchmark: transformers + PyTorch load a checkpoint folder and
compute the attentions of one text, as attnviz does (eager attention, output_attentions=True,
float32: the same numbers attnviz computes).

Usage: python benchmarks/reference_decoder.py MODEL_DIR TEXT OUT.npy
"""

import sys

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

folder, text, out = sys.argv[1:4]
tokenizer = AutoTokenizer.from_pretrained(folder)
model = AutoModel.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
inputs = tokenizer(text, return_tensors="pt")
with torch.no_grad():
    attentions = model(**inputs, output_attentions=True).attentions
np.save(out, torch.stack(attentions).numpy())
