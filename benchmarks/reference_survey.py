"""The baseline of the survey benchmark: transformers + PyTorch run a BERT-family checkpoint
over a corpus, one text at a time with ``output_attentions=True``, and compute attnviz's
measures from the attentions in PyTorch (running sums per head, as attnviz keeps them).

Usage: python benchmarks/reference_survey.py MODEL_DIR CORPUS.txt OUT.npy
"""

import sys
import unicodedata

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer


def punctuation(text: str) -> bool:
    core = text.removeprefix("##").strip()
    return bool(core) and all(unicodedata.category(c).startswith("P") for c in core)


def measures(w: torch.Tensor, sep: torch.Tensor, punct: torch.Tensor) -> torch.Tensor:
    """(9, L, H) sums over the rows of w (L, H, T, T): first, separator, punctuation,
    previous, next, self, entropy, distance, largest weight."""
    T = w.shape[-1]
    i = torch.arange(T)
    logs = torch.where(w > 0, torch.log(w), torch.zeros_like(w))
    return torch.stack([
        w[..., 0].sum(-1),
        (w * sep).sum((-1, -2)),
        (w * punct).sum((-1, -2)),
        w[..., i[1:], i[1:] - 1].sum(-1),
        w[..., i[:-1], i[:-1] + 1].sum(-1),
        w[..., i, i].sum(-1),
        -(w * logs).sum((-1, -2)),
        (w * (i[:, None] - i[None, :]).abs()).sum((-1, -2)),
        w.max(-1).values.sum(-1),
    ])  # fmt: skip


def main() -> None:
    folder, corpus, out = sys.argv[1:4]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    total, rows = None, 0
    with torch.no_grad(), open(corpus, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            inputs = tokenizer(line.rstrip("\n"), return_tensors="pt")
            w = torch.stack(model(**inputs, output_attentions=True).attentions)[:, 0].double()
            tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
            special = [t in tokenizer.all_special_tokens for t in tokens]
            sep = torch.tensor([s and n > 0 for n, s in enumerate(special)], dtype=w.dtype)
            punct = torch.tensor([not s and punctuation(t) for t, s in zip(tokens, special, strict=True)],
                                 dtype=w.dtype)  # fmt: skip
            sums = measures(w, sep, punct)
            total = sums if total is None else total + sums
            rows += w.shape[-1]
    np.save(out, (total / rows).numpy())


if __name__ == "__main__":
    main()
