"""What the frontier's memory part saves: requests through a queue that keeps emptying.

    python bench/frontier.py [--requests 20000]

A portal's frontier is mostly short (a page's links are mostly pages already seen), so Scrapy's
priority queues keep emptying their queue, closing it and making it again.  This pushes the
requests through a frontier that fills to ~50 and drains every 100 requests, closing and
re-making the queue each time it empties, once with every request on disk (MEMORY_REQUESTS = 0,
the frontier before its memory part) and once as configured, and prints the CPU and wall time per
request of each.  Writes only under a temporary directory.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

import scrapy

from sitecheck.crawler.frontier import CompactFifoDiskQueue
from sitecheck.crawler.policy import Sent
from sitecheck.crawler.spider import Fetch
from sitecheck.model import TargetKind


class _Spider:
    def on_response(self, response):  # pragma: no cover - never called
        pass

    def on_error(self, failure):  # pragma: no cover - never called
        pass


class _Crawler:
    spider = _Spider()


def _requests(n: int) -> list[scrapy.Request]:
    spider = _Crawler.spider
    out = []
    for i in range(n):
        url = f"http://127.0.0.1:8080/hdjl/ghjh/202005/t20200527_{i}.html"
        meta = {"sc": Fetch(url, TargetKind.PAGE, "portal", 3, sent=Sent(url, "GET")), "dont_redirect": True,
                "handle_httpstatus_all": True}
        out.append(scrapy.Request(url, callback=spider.on_response, errback=spider.on_error, meta=meta,
                                  dont_filter=True))
    return out


def run(requests: list[scrapy.Request], memory: int, workdir: str) -> tuple[float, float]:
    """CPU and wall seconds per request."""
    cpu, wall = time.process_time(), time.perf_counter()
    queue = None
    for i, request in enumerate(requests):
        if queue is None:
            queue = CompactFifoDiskQueue(_Crawler(), f"{workdir}/q")
            queue.MEMORY_REQUESTS = memory
        queue.push(request)
        if i % 100 >= 50:
            queue.pop()
            queue.pop()
            if not len(queue):
                queue.close()
                queue = None
    if queue is not None:
        queue.close()
    n = len(requests)
    return (time.process_time() - cpu) / n, (time.perf_counter() - wall) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    requests = _requests(args.requests)
    for _ in range(args.rounds):
        for label, memory in (("all on disk", 0), ("memory part", CompactFifoDiskQueue.MEMORY_REQUESTS)):
            workdir = tempfile.mkdtemp(prefix="sitecheck-frontier-")
            try:
                cpu, wall = run(requests, memory, workdir)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            print(f"{label:12s} {cpu * 1e6:6.1f} µs CPU, {wall * 1e6:6.1f} µs wall per request")


if __name__ == "__main__":
    main()
