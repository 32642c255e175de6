"""Garbage-collector settings for the crawl processes.

A crawl allocates millions of short-lived objects (requests, responses, tuples, Deferreds) and
makes almost no reference cycles: in a 20,000-page crawl the collector ran 4,444 times in the
main process and found a few thousand cyclic objects in all, yet spent 5.25 s doing it (the
crawl used 70.6 CPU s over both processes); each older-generation pass re-scans the long-lived
heap (Scrapy's machinery, the frontier, the seen-set's owners).

So, once a crawl process has started:

* `gc.freeze()` moves everything alive at start (modules, config, Scrapy's machinery) out of the
  collector's sight for good;
* a young generation of 50,000 objects instead of 700 makes collections ~70x rarer; cycles are
  still found, just later, and the few there are cost little memory (peak RSS unchanged at 20k
  and 100k pages: bench/README.md).

Measured with `bench/run.py --pages 20000 --tools sitecheck`: GC time in the main process
5.25 s -> 0.07 s, the run's CPU 3.53 -> 3.22 s per 1,000 pages.

And at the end, `exit_without_cleanup`: freeing a crawl's objects one by one at interpreter exit
took 0.23 s in the record process and 0.43 s in the main process at 20,000 pages.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Iterator
from typing import NoReturn
from contextlib import contextmanager

YOUNG = 50_000
OLDER = (20, 10)


@contextmanager
def tuned_for_crawl() -> Iterator[None]:
    """The settings above for the duration of a crawl; the previous ones afterwards (tests crawl in-process)."""
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, *OLDER)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


def exit_without_cleanup(code: int) -> NoReturn:
    """Flush the standard streams and the log handlers, then leave at once (`os._exit`).

    For a crawl process whose work is written and closed: what interpreter exit would still do
    is free the crawl's objects one by one (see above) and run atexit hooks, and nothing of ours
    is left to them.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said on it
            pass
    logging.shutdown()
    os._exit(code)
