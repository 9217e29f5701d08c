"""A corpus run and measured text by text, for ``survey``: each text's running sums (never
the attentions of two texts at once); short texts of a checkpoint packed into one run; on
``jobs`` cores: with ``jobs`` above 1, the texts go in chunks to ``jobs`` − 1 worker
processes and to this one, one BLAS thread in each, and their sums are added in the corpus's
order (the same additions as one process makes: the same bits).

The workers import this module, not the command line's: a worker starts on what it runs."""

from __future__ import annotations

import os
import threading
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import chain, islice
from typing import Any

import numpy as np

from .errors import ConfigError, Interrupted, RunError
from .models.tokenizer import PIECE
from .pipeline import Limits, check_budget
from .survey import STREAMED_ROWS, Tally, cross_tally, key_kinds, streamed_tally, tally
from .trace import AttentionConfig
from .words import merge_words, word_groups, word_texts

CHUNK = 32  # texts sent to a worker at a time (and packed together)
AHEAD = 4  # chunks read before workers start: a corpus of no more runs in this process
MAX_DEFAULT = 8  # the most processes --jobs is when not given
PACK = 256  # the most tokens of texts run as one sequence


@dataclass(frozen=True)
class Source:
    """What a run of one text needs, picklable for a worker: the run's configuration, whether
    pieces are merged into words, the most tokens a text may have, the memory budget."""

    config: AttentionConfig
    words: bool
    max_tokens: int
    budget: int


class Runner:
    """Runs the texts of a Source: a checkpoint opened once, its tensors kept from text to
    text (converted once, not for every text); the seeded model's weights drawn once."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.ck: Any = None
        self.kept: dict[str, Any] = {}
        if source.config.pretrained is not None:
            from .models import Checkpoint

            self.ck = Checkpoint.open(source.config.pretrained.model)
            self.ck.check_kind(source.config.pretrained)
            if source.config.pretrained.target is not None:
                raise ConfigError("`target`: a survey of an encoder-decoder reads each line's "
                                  "target after a tab (source<TAB>target)")  # fmt: skip

    def measure_many(self, texts: list[str | None]) -> list[Tally | str]:
        """Each text's sums (or why it is skipped). A model whose forward pass takes
        positions runs its texts packed, PACK tokens at a time, each text seeing only itself
        (a block of the mask), its positions from 0: one pass for many short texts."""
        if self.ck is None or not self.ck.family.packs:
            return [self.measure(t) for t in texts]
        out: list[Tally | str] = []
        ready: list[tuple[int, list[int], list[Any]]] = []
        for n, text in enumerate(texts):
            got = self._encoded(text)
            if got == "memory" and text is not None:
                out.append(self._streamed(text))  # a Tally, or why not even streamed
                continue
            out.append(got if isinstance(got, str) else "")
            if not isinstance(got, str):
                ready.append((n, *got))
        while ready:
            size, pack = 0, ready[:0]  # the texts of one run, PACK tokens at most
            while ready and (not pack or size + len(ready[0][1]) <= PACK):
                pack.append(ready.pop(0))
                size += len(pack[-1][1])
            for n, result in self._packed(pack):
                out[n] = result
        return out

    def _encoded(self, text: str | None) -> tuple[list[int], list[Any]] | str:
        """A checkpoint's ids and tokens of ``text``, or why it is skipped."""
        if text is None:
            return "bad"
        if not text.strip():
            return "empty"
        ck, limit = self.ck, min(self.source.max_tokens, self.ck.max_positions)
        if len(text) > PIECE and ck.over(text, limit) is not None:  # not tokenised whole
            return "long"
        ids, tokens = ck.encode(text)
        if len(ids) > limit:
            return "long"
        T = max(len(ids), PACK) if ck.family.packs else len(ids)  # a pack is run whole
        if not self._fits(ck.heads, ck.d_model, T, ck.layers, ck.tensors.layer_elements(),
                          ck.kept_bytes(self.source.config.dtype)):  # fmt: skip
            return "memory"
        return ids, tokens

    def _packed(self, pack: list[tuple[int, list[int], list[Any]]]) -> list[tuple[int, Tally]]:
        """Run texts as one sequence, the mask a block per text; each text's sums."""
        c, ck = self.source.config, self.ck
        spans, start = [], 0
        for _, ids, _ in pack:
            spans.append((start, start + len(ids)))
            start += len(ids)
        allowed = np.zeros((ck.layers, start, start), dtype=bool)
        for (a, b), (_, ids, _) in zip(spans, pack, strict=True):
            allowed[:, a:b, a:b] = ck.layer_masks(c.mask, len(ids))
        ids = [i for _, one, _ in pack for i in one]
        positions = [p for a, b in spans for p in range(b - a)]
        runs = ck.forward(ck.params(c.dtype, self.kept), ids, list(allowed), c.scaled,
                          positions=positions)  # fmt: skip
        layers = [r.weights for r in runs]  # L of (H, N, N): only each text's squares stacked
        return [(n, self._tally(np.stack([w[:, a:b, a:b] for w in layers]), allowed[:, a:b, a:b],
                                [t.text for t in tokens], [t.special for t in tokens]))
                for (n, _, tokens), (a, b) in zip(pack, spans, strict=True)]  # fmt: skip

    def _tally(self, w: np.ndarray, allowed: np.ndarray, texts: list[str], special: list[bool]
               ) -> Tally:  # fmt: skip
        """One text's sums, its pieces merged into words first with ``source.words``."""
        if self.source.words:
            groups = word_groups(texts, special)
            w, allowed = merge_words(w, allowed, groups)
            texts = word_texts(texts, groups)
            special = [len(g) == 1 and special[g[0]] for g in groups]
        return tally(w, allowed, *key_kinds(texts, special))

    def measure(self, text: str | None) -> Tally | str:
        """One text's sums, or why it is skipped: "bad" (not a text), "empty", "long" (over
        the model's positions or ``max_tokens``), "memory" (over the budget); of an
        encoder-decoder, "target" (a line with no target after its tab)."""
        if text is None:
            return "bad"
        if not text.strip():
            return "empty"
        if self.ck is not None and self.ck.family.seq2seq is not None:
            return self._pair(text)
        trace = self._run(text)
        if trace == "memory":
            return self._streamed(text)
        if isinstance(trace, str):
            return trace
        return self._tally(trace.layer_weights, trace.layer_allowed, list(trace.texts),
                           [t.special for t in trace.tokens])  # fmt: skip

    def _pair(self, line: str) -> Tally | str:
        """The sums of an encoder-decoder's line, source<TAB>target (the source alone for the
        encoder's attention), of the kind of attention the run names (cross by default)."""
        c, ck = self.source.config, self.ck
        assert c.pretrained is not None
        kind = c.pretrained.attention or "cross"
        source, _, target = line.partition("\t")
        if kind != "encoder" and not target.strip():
            return "target"
        limit = min(self.source.max_tokens, ck.max_positions)
        if not source.strip() or ck.over(source, limit) is not None:
            return "empty" if not source.strip() else "long"
        src = ck.encode(source)
        tgt = ck.encode_target(target) if kind != "encoder" else None
        T = max(len(src[0]), len(tgt[0]) if tgt else 0)
        if tgt is not None and len(tgt[0]) > limit:
            return "long"
        if not self._fits(ck.heads, ck.d_model, T, ck.layers, ck.tensors.layer_elements(),
                          ck.kept_bytes(c.dtype)):  # fmt: skip
            return "memory"
        run = replace(c, source=replace(c.pretrained, attention=kind))
        trace = ck.run_seq2seq(src, tgt, run, kept=self.kept)[0]
        if kind != "cross":
            return self._tally(trace.layer_weights, trace.layer_allowed, list(trace.texts),
                               [t.special for t in trace.tokens])  # fmt: skip
        return self._cross_tally(trace)

    def _cross_tally(self, trace: Any) -> Tally:
        """A pair's cross-attention sums, pieces merged into words on both axes with words."""
        if self.source.words:
            from .stats import words

            trace = words(trace)
        special = [t.special for t in trace.key_tokens]
        return cross_tally(trace.layer_weights, *key_kinds(trace.key_texts, special))

    def _streamed(self, text: str) -> Tally | str:
        """The sums of a text whose dense run is over the budget, streamed (its row measures
        as its weights are computed), or "memory" when merging pieces into words (which
        needs the weights whole) or when not even the stream fits."""
        from . import longrun
        from .wanted import Wanted

        c = self.source.config
        if self.source.words:
            return "memory"
        if self.ck is None:
            from .tokens import tokenize

            s = c.seeded
            assert s is not None
            tokens = tokenize(text, s.tokenizer, bos=s.bos, pad_to=s.pad_to)
            heads, layers = s.heads, 1
        else:
            ids, tokens = self.ck.encode(text)
            heads, layers = self.ck.heads, self.ck.layers
        wanted = Wanted(tuple(range(heads)), tuple(range(layers)), None, measures=STREAMED_ROWS)
        budget = self.source.budget - self.ck.kept_bytes(c.dtype) if self.ck else self.source.budget
        try:
            if self.ck is None:
                return streamed_tally(longrun.seeded(tokens, c, wanted, budget))
            return streamed_tally(longrun.checkpoint(self.ck, ids, tokens, c, wanted, budget))
        except longrun.TooSmall:
            return "memory"

    def _run(self, text: str) -> Any:
        """The Trace of ``text`` (every layer's weights), or why it cannot be run."""
        c, src = self.source.config, self.source
        if self.ck is None:
            from .seeded import run_seeded
            from .tokens import tokenize

            s = c.seeded
            assert s is not None
            tokens = tokenize(text, s.tokenizer, bos=s.bos, pad_to=s.pad_to)
            if len(tokens) > src.max_tokens:
                return "long"
            if not self._fits(s.heads, s.d_model, len(tokens), 1, None):
                return "memory"
            return run_seeded(tokens, c, kept=self.kept)
        got = self._encoded(text)
        return got if isinstance(got, str) else self.ck.run(*got, c, kept=self.kept)

    def _fits(self, heads: int, d_model: int, T: int, layers: int, elements: int | None,
              kept: int = 0) -> bool:  # fmt: skip
        """Whether a text of T tokens fits the budget, with the tensors ``kept`` beside it."""
        limits = Limits(memory_budget=self.source.budget, extra_bytes=lambda T: kept)
        try:
            check_budget(limits, heads, d_model, self.source.config.dtype, T, layers, elements)
        except RunError:
            return False
        return True


_RUNNER: Runner | None = None  # a worker's own


def _start(source: Source) -> None:
    """A worker's start: its runner, and BLAS held to one thread (the workers are the
    threads: two BLAS threads in each of two workers made the run four times slower)."""
    global _RUNNER
    blas_threads(1)  # set at once, and never undone: for the worker's life
    _RUNNER = Runner(source)


def _chunk(texts: list[str | None]) -> list[Tally | str]:
    assert _RUNNER is not None
    return _RUNNER.measure_many(texts)


_LOCK = threading.Lock()  # a Dask worker's threads share its one runner, a chunk at a time


def on_worker(source: Source, texts: list[str | None]) -> list[Tally | str]:
    """A chunk's results on a Dask worker: its runner of ``source`` started once, as a --jobs
    worker's is."""
    with _LOCK:
        if _RUNNER is None or _RUNNER.source != source:
            _usual_malloc()
            _start(source)
        return _chunk(texts)


def _usual_malloc() -> None:
    """Undo a fixed MALLOC_TRIM_THRESHOLD_ (Dask's nanny gives its workers 64 KiB): glibc then
    no longer raises its mmap threshold, and every array over 128 KiB is mapped and zeroed
    afresh; a survey took 2.5 times as long, most of it in the kernel. Linux's glibc only."""
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD: arrays under 64 MiB from the heap
    libc.mallopt(-1, 128 << 20)  # M_TRIM_THRESHOLD: keep up to 128 MiB freed for the next text


def _chunks(texts: Iterator[str | None]) -> Iterator[list[str | None]]:
    chunk: list[str | None] = []
    for text in texts:
        chunk.append(text)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def cores() -> int:
    """The cores this process may use (its affinity, where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_jobs() -> int:
    """``--jobs`` when not given: a process for each core this one may use, at most
    MAX_DEFAULT (each process holds the model)."""
    return min(cores(), MAX_DEFAULT)


def results(source: Source, texts: Iterator[str | None], jobs: int,
            scheduler: str | None = None) -> Iterator[Tally | str]:  # fmt: skip
    """Each text's sums (or why it was skipped), in the corpus's order, on ``jobs`` cores.
    This process alone when ``jobs`` is 1 or the corpus is AHEAD chunks or fewer (a worker
    takes longer to start than they take to run); else this process and ``jobs`` − 1
    workers. One BLAS thread in each, always: OpenBLAS on two threads sums some products in
    another order (seen on an AMD EPYC), and the bits must not depend on ``jobs``. With a
    ``scheduler``'s address, the chunks go to that Dask cluster's workers instead."""
    chunks = _chunks(texts)
    if scheduler is not None:
        from . import cluster

        yield from cluster.results(on_worker, source, chunks, scheduler)
        return
    first = list(islice(chunks, AHEAD + 1)) if jobs > 1 else []
    if len(first) <= AHEAD:  # the same chunks as the workers get: the same packs, the same bits
        with blas_threads(1):
            runner = Runner(source)
            for chunk in chain(first, chunks):
                yield from runner.measure_many(chunk)
        return
    with blas_threads(1):
        yield from _pooled(source, chain(first, chunks), jobs)


def blas_threads(n: int) -> Any:
    """BLAS held to ``n`` threads (never more than it had) from now until the context ends."""
    from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

    blas = ThreadpoolController().select(user_api="blas")
    had = max((lib.num_threads for lib in blas.lib_controllers), default=1)
    return blas.limit(limits=min(n, had))


def _pooled(source: Source, chunks: Iterator[list[str | None]], jobs: int
            ) -> Iterator[Tally | str]:  # fmt: skip
    """The chunks' results from this process and ``jobs`` − 1 workers, in order. This
    process starts at once, where a worker first starts an interpreter and opens the model;
    it opens its own model once the workers have their first chunks."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked threads
    with ProcessPoolExecutor(jobs - 1, mp_context=context, initializer=_start,
                             initargs=(source,)) as pool:  # fmt: skip
        waiting: deque[Any] = deque()  # a worker's future, or the results of a chunk run here
        here: Runner | None = None
        for chunk in chunks:
            busy = sum(not isinstance(w, list) and not w.done() for w in waiting)
            if busy < 2 * (jobs - 1):  # the workers have too little ahead: one more for them
                waiting.append(pool.submit(_chunk, chunk))
            else:
                here = here or Runner(source)
                waiting.append(here.measure_many(chunk))
            while waiting and (len(waiting) > 4 * jobs or _ready(waiting[0])):
                yield from _got(waiting.popleft())
        while waiting:
            yield from _got(waiting.popleft())


def _ready(entry: Any) -> bool:
    return isinstance(entry, list) or entry.done()


def _got(entry: Any) -> list[Tally | str]:
    return entry if isinstance(entry, list) else entry.result()


@dataclass
class Totals:
    """The corpus's sums, and the texts skipped by reason."""

    tally: Tally | None = None
    skipped: Counter[str] | None = None

    @property
    def used(self) -> int:
        return self.tally.texts if self.tally else 0


def survey(source: Source, texts: Iterator[str | None], jobs: int, bar: Any = None,
           scheduler: str | None = None) -> Totals:  # fmt: skip
    """Run and measure every text (on the Dask cluster of ``scheduler``, when given); ``bar``
    hears of each. Ctrl-C ends it with Interrupted, saying how many texts were done."""
    totals = Totals(None, Counter())
    assert totals.skipped is not None
    try:
        for result in results(source, texts, jobs, scheduler):
            if isinstance(result, str):
                totals.skipped[result] += 1
            elif totals.tally is None:
                totals.tally = result
            else:
                totals.tally += result
            if bar is not None:
                bar()
    except KeyboardInterrupt:
        done = totals.used + sum(totals.skipped.values())
        raise Interrupted(f"interrupted after {done} texts ({totals.used} measured): nothing "
                          "written") from None  # fmt: skip
    return totals
