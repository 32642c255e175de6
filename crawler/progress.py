"""Progress display: a live line on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time

from scrapy import signals
from twisted.internet import task

log = logging.getLogger("sitecheck.progress")


class Progress:
    def __init__(self, crawler, mode: str, stream=None):
        self.crawler = crawler
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "live" if self.stream.isatty() else "log"
        self.mode = mode
        self.interval = 1.0 if mode == "live" else 10.0
        self.loop: task.LoopingCall | None = None
        self.started = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler):
        mode = crawler.settings.get("SITECHECK_PROGRESS", "auto")
        ext = cls(crawler, mode)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def opened(self, spider):
        if self.mode == "off":
            return
        self.loop = task.LoopingCall(self.tick)
        self.loop.start(self.interval, now=False)

    def closed(self, spider, reason):
        if self.loop and self.loop.running:
            self.loop.stop()
        if self.mode != "off":
            self.tick()  # the final figures, also for crawls shorter than one interval
        if self.mode == "live":
            self.stream.write("\n")
            self.stream.flush()

    def snapshot(self) -> dict:
        spider = self.crawler.spider
        recorder = spider.recorder
        queued = spider.pages_scheduled - spider.pages_done + spider.targets_pending
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return {"pages": recorder.pages, "targets": recorder.targets, "queue": queued,
                "findings": recorder.finding_count, "rate": recorder.targets / elapsed, "elapsed": elapsed,
                "rss_mb": _rss_mb()}

    def tick(self):
        s = self.snapshot()
        line = (f"pages {s['pages']:>6}  checked {s['targets']:>6}  queue {s['queue']:>5}  "
                f"findings {s['findings']:>4}  {s['rate']:6.1f} URL/s  {s['elapsed']:5.0f}s  {s['rss_mb']:4.0f} MB")
        if self.mode == "live":
            self.stream.write("\r" + line)
            self.stream.flush()
        else:
            log.info("progress: %s", line)


def _rss_mb() -> float:
    """Resident memory of this process now (Linux /proc), else its peak."""
    try:
        with open("/proc/self/statm") as fh:
            import os

            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
