"""The baseline of the real-model benchmark: what a BertViz user runs to see one sentence.

Usage: python benchmarks/reference_transformers.py MODEL_DIR TEXT OUT.html

transformers + PyTorch compute the attentions (eager attention, output_attentions=True) and
BertViz's head view writes them as HTML; without BertViz, the attentions go to an .npy file.
"""

import sys

import torch
from transformers import BertModel, BertTokenizerFast

folder, text, out = sys.argv[1:4]
tokenizer = BertTokenizerFast.from_pretrained(folder)
model = BertModel.from_pretrained(folder, attn_implementation="eager").eval()
inputs = tokenizer(text, return_tensors="pt")
with torch.no_grad():
    attentions = model(**inputs, output_attentions=True).attentions
tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
try:
    from bertviz import head_view

    html = head_view(attentions, tokens, html_action="return")
    with open(out, "w", encoding="utf-8") as f:
        f.write(html.data)
except ImportError:
    import numpy as np

    np.save(out + ".npy", torch.stack(attentions).numpy())
