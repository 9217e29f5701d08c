"""``survey``'s command: the corpus read one line at a time (a bad line is a skip, not an
error), the options checked, the run (``attnviz.corpus``) under a progress bar, the view of
its means and labels."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..corpus import Source, default_jobs, survey
from ..errors import ConfigError
from ..trace import AttentionConfig
from ..views.labels import strings, visible
from ..views.survey import SurveyView
from .app import progress
from .options import Options, config, size

LINE_BYTES = 1 << 20  # a longer line is skipped, not read whole


def lines(file: Path, jsonl: bool, limit: int | None) -> Iterator[str | None]:
    """The texts of a corpus (None for a line that is not one), from ``file`` or, for "-",
    standard input; one per line, or the "text" of each JSON line; at most ``limit``."""
    if str(file) == "-":
        yield from _texts(sys.stdin.buffer, jsonl, limit)
        return
    if file.is_dir():
        raise ConfigError(f"--file {str(file)!r} is a folder, not a text file")
    try:
        handle = open(file, "rb")  # noqa: SIM115 (closed below, after the generator's last text)
    except OSError as e:
        raise ConfigError(f"cannot read --file {str(file)!r}: {e.strerror or e}") from e
    with handle:
        yield from _texts(handle, jsonl, limit)


def _texts(handle: BinaryIO, jsonl: bool, limit: int | None) -> Iterator[str | None]:
    n = 0
    while limit is None or n < limit:
        raw = handle.readline(LINE_BYTES)
        if not raw:
            return
        if len(raw) == LINE_BYTES and not raw.endswith(b"\n"):
            while (rest := handle.readline(LINE_BYTES)) and not rest.endswith(b"\n"):
                pass  # the rest of a line too long to be a sentence
            yield None
        else:
            yield _text(raw, jsonl)
        n += 1


def _text(raw: bytes, jsonl: bool) -> str | None:
    """A line's text: valid UTF-8 without NUL, or the string "text" of a JSON object."""
    if b"\0" in raw:
        return None
    try:
        line = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return None
    if not jsonl:
        return line
    if not line.strip():
        return ""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    text = data.get("text") if isinstance(data, dict) else None
    return text if isinstance(text, str) else None


MAX_JOBS = 256


def _checked(o: Options, limit: int | None, words: bool, induction: bool, jobs: int | None
             ) -> Options:  # fmt: skip
    """The options of the run, checked; with --model, --seed draws the induction samples (it
    seeds the seeded model otherwise)."""
    if o.file is None:
        raise ConfigError("survey reads a corpus: --file PATH (one text per line), or --file - "
                          "for standard input")  # fmt: skip
    for flag, value in (("--limit", limit), ("--jobs", jobs)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} must be at least 1, not {value}")
    if jobs is not None and jobs > MAX_JOBS:
        raise ConfigError(f"--jobs must be at most {MAX_JOBS} (a process each), not {jobs}")
    if words and o.model is None:
        raise ConfigError("--words merges the word pieces of a --model's tokenizer; the seeded "
                          "tokenizers make whole words (or characters): give a --model")  # fmt: skip
    if induction and o.model is None:
        raise ConfigError("--induction measures a decoder --model (induction heads copy what "
                          "followed an earlier occurrence): give one")  # fmt: skip
    if o.model is not None and "seed" in o.given:
        if not induction:
            raise ConfigError("--seed with --model draws the samples of --induction: give "
                              "--induction too")  # fmt: skip
        return o.without("seed")
    return o


def survey_view(o: Options, jsonl: bool, limit: int | None, words: bool, induction: bool,
                jobs: int | None, scheduler: str | None = None) -> SurveyView:  # fmt: skip
    """Measure the corpus of --file (on the Dask cluster of ``scheduler``, when given); the
    view of its means, labels and skips."""
    from ..survey import labels

    if scheduler is not None and jobs is not None:
        raise ConfigError("--jobs counts this machine's cores; a --scheduler's cluster (or "
                          "DASK_SCHEDULER_ADDRESS's) runs on its workers: give one of them")  # fmt: skip
    run_o = _checked(o, limit, words, induction, jobs).having(layer=None)  # every layer
    c = config(run_o)
    if induction and c.pretrained is not None:
        _decoder(c.pretrained.model)
    source = Source(c, words, o.max_tokens, size(o.memory_budget))
    with _bar(o.file, limit) as bar:
        totals = survey(source, lines(o.file, jsonl, limit), jobs or default_jobs(), bar,
                        scheduler)  # fmt: skip
    skipped = dict(totals.skipped or {})
    if totals.tally is None:
        raise ConfigError(f"no text of --file {visible(str(o.file))!r} could be measured: "
                          f"{_why(skipped, jsonl)}")  # fmt: skip
    means = totals.tally.means()
    scores = _induction(c, o.seed) if induction else None
    kind = _kind(c)
    name = _name(c) + (f", {strings(o.lang)['attn_' + kind]}" if kind else "")
    return SurveyView(name, means, labels(means, scores["induction"] if scores else None),
                      totals.used, skipped, words, scores, o.lang, kind)  # fmt: skip


def _kind(c: AttentionConfig) -> str:
    """The kind of attention an encoder-decoder's survey measures (cross by default); ""."""
    from ..models.config import is_encoder_decoder

    if c.pretrained is None or not is_encoder_decoder(c.pretrained.model):
        return ""
    return c.pretrained.attention or "cross"


WHY = {"bad": "not text (NUL bytes, invalid UTF-8, over 1 MiB)",
       "empty": "empty", "long": "over --max-tokens or the model's positions",
       "memory": "over --memory-budget",
       "target": "without a target after a tab (source<TAB>target; or --attention encoder)"}  # fmt: skip


def _why(skipped: dict[str, int], jsonl: bool) -> str:
    """Why every text was skipped, in the flags' words."""
    said = ", ".join(f"{n} {WHY[why]}" for why, n in sorted(skipped.items())) or "no lines"
    if jsonl and "bad" in skipped:
        said += '; with --jsonl each line is a JSON object with a "text" string'
    return said


def _decoder(model: str) -> None:
    from ..models import Checkpoint
    from ..models.generate import decoders

    ck = Checkpoint.open(model)
    if not ck.family.lm_head:
        raise ConfigError(f"--induction measures decoders ({decoders()}); {model!r} is a "
                          f"{ck.family.model_type} encoder")  # fmt: skip


def _induction(c: AttentionConfig, seed: int) -> dict[str, np.ndarray]:
    from ..models import Checkpoint
    from ..survey import induction

    assert c.pretrained is not None
    prefix, previous = induction(Checkpoint.open(c.pretrained.model), seed, c.dtype)
    return {"induction": prefix, "induction_previous": previous}


def _name(c: AttentionConfig) -> str:
    """What ran: the checkpoint's name, or the seeded model's settings."""
    if c.pretrained is not None:
        from ..models.config import open_config

        about = open_config(c.pretrained.model).get("gguf")  # a GGUF file: its quantisation
        quant = about["quantization"] if isinstance(about, dict) else None
        return replace(c.pretrained, quant=quant).name
    s = c.seeded
    assert s is not None
    planted = f", planted {' '.join(s.plant)}" if s.plant else ""
    return f"the seeded model, d_model {s.d_model}, seed {s.seed}, {s.tokenizer} tokens{planted}"


@contextlib.contextmanager
def _bar(file: Path, limit: int | None) -> Iterator[Any]:
    """A progress bar on standard error, only on a terminal: texts done, rate, time left
    (of a file's lines; standard input's are not known before)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich import progress as rp
    from rich.console import Console
    from rich.text import Text

    progress.stop()
    total = None if str(file) == "-" else _line_count(file)
    if total is not None and limit is not None:
        total = min(total, limit)

    class Rate(rp.ProgressColumn):
        def render(self, task: Any) -> Any:
            return Text(f"{task.speed:.0f}/s" if task.speed else "", style="dim")

    columns = (rp.TextColumn("texts"), rp.BarColumn(), rp.MofNCompleteColumn(), Rate(),
               rp.TimeRemainingColumn())  # fmt: skip
    with rp.Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("survey", total=total)
        yield lambda: bar.advance(task)


def _line_count(file: Path) -> int | None:
    """The lines of a regular file (counted in blocks), None for anything else."""
    if not file.is_file():
        return None
    n, last = 0, b"\n"
    with open(file, "rb") as f:
        while block := f.read(1 << 20):
            n, last = n + block.count(b"\n"), block[-1:]
    return n + (last != b"\n")
