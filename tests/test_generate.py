"""Generation: greedy tokens against transformers' generate(do_sample=False) for every
family's fixture (tests/fixtures/make.py, gen-*.npz), the cached attention rows against
transformers' full forward pass and against attnviz's own uncached pass, seeded sampling,
stopping and refusals."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from attnviz.errors import ConfigError
from attnviz.models import Checkpoint
from attnviz.models.generate import Sampling, generate
from attnviz.trace import AttentionConfig, Pretrained

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PROMPTS = json.loads((FIXTURES / "gen-prompts.json").read_text(encoding="utf-8"))
MODELS = ["gpt2-tiny", "llama-tiny", "mistral-tiny", "qwen2-tiny", "qwen3-tiny", "gemma3-tiny",
          "pythia-tiny", "neox-serial-tiny"]  # fmt: skip


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("n", range(len(PROMPTS)))
def test_greedy_tokens_and_attention_rows_equal_transformers(name, n):
    expected = np.load(FIXTURES / f"gen-{name}-{n}.npz")
    ck = Checkpoint.open(str(FIXTURES / name))
    prompt, _ = ck.encode(PROMPTS[n])
    assert prompt == expected["prompt"].tolist()
    g = generate(ck, prompt, 8)
    assert g.ids == expected["ids"].tolist()
    P = len(prompt)
    assert len(g.rows) == len(g.generated) - 1  # the last token is never passed
    for i, rows in enumerate(g.rows):  # generated token i, fed in at position P + i
        np.testing.assert_allclose(rows, expected["attentions"][:, :, P + i, : P + i + 1],
                                   atol=1e-5, rtol=0)  # fmt: skip


@pytest.mark.parametrize("name", ["gpt2-tiny", "gemma3-tiny", "pythia-tiny"])
@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-9), ("float32", 1e-5)])
def test_the_cached_rows_equal_a_pass_over_the_whole_sequence(name, dtype, tolerance):
    """Key/value cache or none: the same rows (gemma3-tiny has sliding layers). In float32
    the two sum in other orders: its sharp heads differ by up to 3e-6."""
    ck = Checkpoint.open(str(FIXTURES / name))
    prompt, tokens = ck.encode(PROMPTS[0])
    g = generate(ck, prompt, 6, dtype=dtype)
    labels = tokens[:1] * len(g.ids)  # labels do not enter the numbers
    config = AttentionConfig(mask=("none",), dtype=dtype, source=Pretrained(str(FIXTURES / name)))
    whole = ck.run(g.ids, labels, config).model.layer_weights  # (L,H,T,T), no cache
    for i, rows in enumerate(g.rows):
        np.testing.assert_allclose(rows, whole[:, :, len(prompt) + i, : len(prompt) + i + 1],
                                   atol=tolerance, rtol=0)  # fmt: skip


def test_seeded_sampling_gives_the_same_tokens_run_after_run():
    ck = Checkpoint.open(str(FIXTURES / "llama-tiny"))
    prompt, _ = ck.encode(PROMPTS[1])
    hot = Sampling(temperature=5.0, seed=3)
    first, again = generate(ck, prompt, 8, hot), generate(ck, prompt, 8, hot)
    assert first.generated == again.generated
    others = {tuple(generate(ck, prompt, 8, Sampling(temperature=5.0, seed=s)).generated)
              for s in range(4, 8)}  # fmt: skip
    assert len(others | {tuple(first.generated)}) > 1  # the seed matters
    greedy = generate(ck, prompt, 8).generated
    assert generate(ck, prompt, 8, Sampling(temperature=5.0, top_k=1)).generated == greedy
    assert generate(ck, prompt, 8, Sampling(temperature=5.0, top_p=1e-9)).generated == greedy


def test_it_stops_after_an_end_of_text_token(tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(FIXTURES / "llama-tiny", folder)
    ck = Checkpoint.open(str(folder))
    prompt, _ = ck.encode(PROMPTS[0])
    second = generate(ck, prompt, 8).generated[1]
    (folder / "generation_config.json").write_text(json.dumps({"eos_token_id": second}))
    g = generate(Checkpoint.open(str(folder)), prompt, 8)
    assert g.generated[-1] == second and len(g.generated) == 2 and g.stopped


@pytest.mark.parametrize(
    "name, n, sampling, message",
    [
        ("bert-tiny", 4, {}, "has no language-model head"),
        ("llama-tiny", 0, {}, "`max_new_tokens` must be a whole number >= 1"),
        ("llama-tiny", 70, {}, "more than the 64 positions"),
        ("llama-tiny", 4, {"temperature": -1.0}, "`temperature` must be a number >= 0"),
        ("llama-tiny", 4, {"temperature": 1.0, "top_k": 0}, "`top_k` must be a whole number >= 1"),
        ("llama-tiny", 4, {"temperature": 1.0, "top_p": 1.5}, "`top_p` must be a number in (0, 1]"),
        ("llama-tiny", 4, {"top_k": 3}, "give a `temperature` above 0 too"),
    ],
)  # fmt: skip
def test_what_cannot_be_generated_is_refused(name, n, sampling, message):
    ck = Checkpoint.open(str(FIXTURES / name))
    prompt, _ = ck.encode(PROMPTS[0])
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):  # fmt: skip
        generate(ck, prompt, n, Sampling(**sampling))
