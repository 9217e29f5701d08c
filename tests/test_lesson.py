"""attnviz lesson: a class in one file, a page per idea at slide size, its text extractable
(in Spanish too), the same bytes every time; as numbered PNG or SVG files in a folder."""

from pathlib import Path

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from attnviz.cli import app
from attnviz.views.labels import strings

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEXT = "The cat sat on the mat"
PAGES = ["title", "tokens", "qkv", "scores", "scaling", "mask", "softmax", "head_output",
         "multi_head", "heads", "masked", "scaled", "why", "commands"]  # fmt: skip
runner = CliRunner()


def lesson(*args):
    done = runner.invoke(app, ["lesson", *args])
    assert done.exit_code == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def pdf(tmp_path_factory):
    path = tmp_path_factory.mktemp("lesson") / "lesson.pdf"
    lesson(TEXT, "--heads", "4", "--d-model", "64", "-o", str(path))
    return path


def page_texts(path):
    return [" ".join(page.extract_text().split()) for page in PdfReader(path).pages]


def test_a_page_per_idea_at_slide_size_each_with_its_caption(pdf):
    reader = PdfReader(pdf)
    assert len(reader.pages) == len(PAGES)
    for page in reader.pages:  # 16:9, 13.333 x 7.5 inches
        assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(
            (13.333 * 72, 540)
        )
    texts, s = page_texts(pdf), strings("en")
    assert s["lesson_title"] in texts[0] and TEXT in texts[0] and "4 heads" in texts[0]
    for n, (name, text) in enumerate(zip(PAGES[1:], texts[1:], strict=True), start=2):
        caption = " ".join(s[f"lesson_{name}"].split())
        assert f"{n}. {caption}" in text, (name, text[:200])
    assert all(word in texts[1] for word in TEXT.split())  # the tokens page has every token
    assert "attnviz steps" in texts[-1] and "--heads 4 --d-model 64" in texts[-1]


def test_the_same_class_gives_the_same_bytes(pdf, tmp_path):
    again = tmp_path / "again.pdf"
    lesson(TEXT, "--heads", "4", "--d-model", "64", "-o", str(again))
    assert again.read_bytes() == pdf.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.pdf"]  # no temporary left


def test_in_spanish_every_page_speaks_spanish(tmp_path):
    path = tmp_path / "clase.pdf"
    lesson(TEXT, "--heads", "2", "--d-model", "16", "--lang", "es", "--theme", "dark", "-o",
           str(path))  # fmt: skip
    texts, s = page_texts(path), strings("es")
    assert s["lesson_title"] in texts[0]
    for name, text in zip(PAGES[1:], texts[1:], strict=True):
        assert " ".join(s[f"lesson_{name}"].split()) in text
    assert "sin escalar" in texts[PAGES.index("why")]
    assert "attnviz scaling --theme dark --lang es -o why.png" in texts[-1]


@pytest.mark.parametrize("fmt, size", [("png", None), ("svg", None)])
def test_a_folder_gets_numbered_files(tmp_path, fmt, size):
    folder = tmp_path / "class"
    args = [TEXT, "--heads", "2", "--d-model", "16", "-o", f"{folder}/"]
    lesson(*args, *(["--format", fmt] if fmt == "svg" else []))
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"{n:02d}-{name}.{fmt}" for n, name in enumerate(PAGES, start=1)]
    if fmt == "png":
        from PIL import Image

        for name in names:
            assert Image.open(folder / name).size == (1333, 750)


def test_a_checkpoint_and_a_planted_head(tmp_path):
    path = tmp_path / "bert.pdf"
    lesson(TEXT, "--model", str(FIXTURES / "bert-tiny"), "-o", str(path))
    texts = page_texts(path)
    assert len(texts) == len(PAGES) and "--against causal" in texts[-1]  # its own mask is none
    assert strings("en")["lesson_masked_causal"] in texts[PAGES.index("masked")]
    planted = tmp_path / "planted.pdf"
    lesson(TEXT, "--plant", "0=previous", "--heads", "2", "--d-model", "16", "--unscaled",
           "--no-annotate", "--cmap", "magma", "-o", str(planted))  # fmt: skip
    texts = page_texts(planted)
    assert "3b." in texts[PAGES.index("scaling")]  # the planted bias, b(i − j)
    # the commands remake the pages: every option given, but the unscaled run's own page
    assert "--unscaled --plant 0=previous --no-annotate --cmap magma" in texts[-1]
    assert "--plant 0=previous --no-annotate --cmap magma --against unscaled" in texts[-1]


@pytest.mark.parametrize(
    "args, words",
    [
        ([], "lesson writes a class: -o lesson.pdf"),
        (["-o", "x.png"], "-o writes a PDF (lesson.pdf) or a folder (lesson/), not .png"),
        (["-o", "x.pdf", "--format", "svg"], "--format chooses the files of a folder"),
        (["-o", "x/", "--format", "gif"], "unknown --format 'gif'"),
        (["-o", "x.pdf", "--preset", "paper"], "--preset changes nothing here"),
        (["-o", "x.pdf", "--title", "mine"], "--title changes nothing here"),
        (["-o", "x.pdf", "--dpi", "200"], "--dpi sets the pixels of PNG pages"),
        (["-o", "missing/x/"], "does not exist"),
        (["-o", "missing/x.pdf"], "does not exist"),
        (["-o", "x.pdf", "--head", "9"], "no head 9"),
    ],
)
def test_bad_options_are_refused_before_any_work(args, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    done = runner.invoke(app, ["lesson", TEXT, *args])
    code = 1 if "does not exist" in words else 2  # a folder missing: the output cannot be written
    assert done.exit_code == code and words in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []
