"""Scrapy's crawl statistics, kept in a plain dict (the `STATS_CLASS` setting).

Scrapy's scheduler, core statistics and middlewares count several things for every request
(enqueued, dequeued, responses received ...).  Since Scrapy 2.15 its own collectors look up
every one of their methods through a Python `__getattribute__` that wraps it in a deprecation
check for a `spider` argument; on a 20,000-page crawl the lookup and its share of the wrapper's
calls were ~2.7 % of the main process's CPU (docs/performance.md).  This class implements the same
documented Stats Collector API (https://docs.scrapy.org/en/latest/topics/stats.html) with plain
methods; the `spider` arguments older callers may still pass are accepted and ignored.

The run keeps a few of these figures (robots.txt requests, elapsed time: crawler/runner.py).
"""

from __future__ import annotations

import logging
import pprint
from typing import Any

log = logging.getLogger(__name__)


class CrawlStats:
    """Stats Collector API over one dict; the last crawl's stats stay readable after it closes."""

    def __init__(self, crawler=None):  # Scrapy builds it as STATS_CLASS(crawler)
        self._stats: dict[str, Any] = {}
        self._dump = bool(crawler and crawler.settings.getbool("STATS_DUMP"))

    def get_value(self, key: str, default: Any = None, spider=None) -> Any:
        return self._stats.get(key, default)

    def get_stats(self, spider=None) -> dict[str, Any]:
        return self._stats

    def set_value(self, key: str, value: Any, spider=None) -> None:
        self._stats[key] = value

    def set_stats(self, stats: dict[str, Any], spider=None) -> None:
        self._stats = stats

    def inc_value(self, key: str, count: int = 1, start: int = 0, spider=None) -> None:
        stats = self._stats
        stats[key] = stats.get(key, start) + count

    def max_value(self, key: str, value: Any, spider=None) -> None:
        stats = self._stats
        stats[key] = max(stats.setdefault(key, value), value)

    def min_value(self, key: str, value: Any, spider=None) -> None:
        stats = self._stats
        stats[key] = min(stats.setdefault(key, value), value)

    def clear_stats(self, spider=None) -> None:
        self._stats.clear()

    def open_spider(self, spider=None) -> None:
        pass

    def close_spider(self, spider=None, reason: str | None = None) -> None:
        if self._dump:
            log.info("Dumping Scrapy stats:\n%s", self)

    def __str__(self) -> str:
        return pprint.pformat(self._stats)
