"""A survey's corpus on a Dask cluster (``dask.distributed``): the chunks that ``--jobs 1`` runs
one after another go to the cluster's workers, a few per worker at a time, the corpus read as
they come back; each worker opens the model once (from a path every worker sees: corpus's
``on_worker``) and returns each text's running sums, which the caller adds in the corpus's
order: the same additions, of the same packs, as one process makes, so the same bits. A
worker that dies has its chunks run again elsewhere (Dask's own rescheduling); Ctrl-C cancels
what the cluster still has.

Imported only when a survey is given a scheduler: nothing of Dask is loaded otherwise.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from .errors import ConfigError, RunError

AHEAD = 2  # chunks in flight per worker thread: enough to keep it busy, the corpus not held
CONNECT = 5  # seconds to reach the scheduler (and to find a worker) before giving up


def connect(address: str) -> Any:
    """A client of the scheduler at ``address``, or one line saying why not."""
    import distributed

    Client: Any = distributed.Client  # untyped

    if "://" not in address and ":" not in address:
        raise ConfigError(f"--scheduler {address!r} is not a scheduler's address: give "
                          "tcp://HOST:PORT")  # fmt: skip
    try:
        return Client(address, timeout=f"{CONNECT}s", set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise RunError(f"cannot reach the Dask scheduler at {address} (--scheduler, or "
                       f"DASK_SCHEDULER_ADDRESS) within {CONNECT} s: "
                       f"{' '.join(str(e).split())[:200]}") from None  # fmt: skip
    except ValueError as e:
        raise ConfigError(f"--scheduler {address!r}: {e}") from None


def results(measure: Callable[[Any, list[str | None]], list[Any]], source: Any,
            chunks: Iterator[list[str | None]], address: str) -> Iterator[Any]:  # fmt: skip
    """Each text's sums (or why it was skipped), in the corpus's order: ``measure(source,
    chunk)`` run on the workers of the cluster at ``address``."""
    client = connect(address)
    waiting: deque[Any] = deque()
    try:
        try:
            client.wait_for_workers(1, timeout=CONNECT)
        except TimeoutError:
            raise RunError(f"the Dask scheduler at {address} has no workers: start some "
                           f"(dask worker {address})") from None  # fmt: skip
        threads = max(1, sum(client.nthreads().values()))
        for chunk in chunks:
            waiting.append(client.submit(measure, source, chunk, pure=False))
            while len(waiting) > AHEAD * threads:
                yield from waiting.popleft().result()
        while waiting:
            yield from waiting.popleft().result()
    finally:
        if waiting:  # Ctrl-C, or an error: what the cluster still has is cancelled
            client.cancel(list(waiting))
        client.close()
