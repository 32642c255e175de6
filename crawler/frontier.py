"""Scrapy's disk request queue: the first requests in memory, then as a few plain values, the rest on disk.

The frontier lives on disk so memory stays flat however large the site is.  Most of the time it
is short, though (a page's links are mostly pages already seen), and a disk queue that empties
is closed and its directory removed, to be made again at the next push.  So each queue has three
parts, oldest first: up to MEMORY_REQUESTS requests as they are; then up to COMPACT_REQUESTS
requests kept in memory as the plain values the disk part would store (a few hundred bytes each
instead of a kilobyte, and no pickling or file I/O: on a site that is almost all pages the frontier
runs to thousands of requests for most of the crawl); then the disk.  docs/performance.md has what
each part saves.  Nothing reads the queue after a run (runs are not resumed), so requests still in
memory when the crawl is stopped are simply dropped with it.

Scrapy's own disk queue serialises each request with `Request.to_dict`, which
looks the callback up with `inspect.getmembers(spider)` on every push: ~10 % of
the crawl's CPU in a profile of the 20,000-page benchmark.  Requests the spider
made (`SiteSpider._request`: known meta keys, no headers, body or cookies) are
stored as a tuple of the URL, method, priority and the Fetch fields; anything
else (a retry middleware's copy, say) goes through Scrapy's generic form.
"""

from __future__ import annotations

import pickle
from collections import deque

from queuelib import queue as _queuelib
from scrapy.http import Request
from scrapy.utils.request import request_from_dict

from sitecheck.model import TargetKind

from .policy import Sent
from .spider import Fetch

_OUR_META = frozenset({"sc", "dont_redirect", "handle_httpstatus_all", "dont_obey_robotstxt", "verbatim_url"})


class CompactFifoDiskQueue:
    """A FIFO of requests: MEMORY_REQUESTS as they are, COMPACT_REQUESTS more as plain values in
    memory, the later ones in a queuelib disk queue.

    Order is kept by construction: a request goes to the first part that is not full, unless a
    later part already holds requests (then it joins the latest of those); pops drain the parts
    oldest first."""

    # ~1 KB a request: 256 is a quarter of a megabyte a queue, however many sites a process crawls.
    MEMORY_REQUESTS = 256
    # ~0.4 KB a request as plain values: 16,384 are ~7 MB at most, for as long as the frontier is that long.
    COMPACT_REQUESTS = 16_384

    def __init__(self, crawler, key: str):
        self.spider = crawler.spider
        self.path = key
        self._memory: deque[Request] = deque()
        self._compact: deque[tuple | dict] = deque()
        self._disk: _queuelib.FifoDiskQueue | None = None  # made at the first spill

    @classmethod
    def from_crawler(cls, crawler, key: str, *args, **kwargs):
        return cls(crawler, key)

    def push(self, request: Request) -> None:
        disk = self._disk
        if disk is None or not len(disk):
            if not self._compact and len(self._memory) < self.MEMORY_REQUESTS:
                self._memory.append(request)
                return
            if len(self._compact) < self.COMPACT_REQUESTS:
                self._compact.append(self._state(request))
                return
        if disk is None:
            disk = self._disk = _queuelib.FifoDiskQueue(self.path)
        disk.push(pickle.dumps(self._state(request), protocol=pickle.HIGHEST_PROTOCOL))

    def pop(self) -> Request | None:
        if self._memory:
            return self._memory.popleft()
        if self._compact:
            return self._request(self._compact.popleft())
        data = self._disk.pop() if self._disk is not None else None
        return self._request(pickle.loads(data)) if data else None

    def peek(self) -> Request | None:
        if self._memory:
            return self._memory[0]
        if self._compact:
            return self._request(self._compact[0])
        data = self._disk.peek() if self._disk is not None else None
        return self._request(pickle.loads(data)) if data else None

    def __len__(self) -> int:
        return len(self._memory) + len(self._compact) + (len(self._disk) if self._disk is not None else 0)

    def close(self) -> None:
        self._memory.clear()
        self._compact.clear()
        if self._disk is not None:
            self._disk.close()  # removes its files and directory once empty

    def _state(self, request: Request) -> tuple | dict:
        """The request as plain values: a tuple for the spider's own requests, Scrapy's dict otherwise."""
        meta = request.meta
        spider = self.spider
        fetch = meta.get("sc")
        if (fetch is not None and meta.keys() <= _OUR_META and not request.headers and not request.body
                and not request.cookies and request.dont_filter
                and request.callback == spider.on_response and request.errback == spider.on_error):
            return (request.url, request.method, request.priority, "dont_obey_robotstxt" in meta,
                    fetch.url, fetch.kind.value, fetch.host_key, fetch.depth, fetch.is_homepage,
                    fetch.headers_only, fetch.sent.attempt, fetch.sent.chain, fetch.claimed, fetch.started)
        return request.to_dict(spider=spider)

    def _request(self, value: tuple | dict) -> Request:
        if isinstance(value, dict):
            return request_from_dict(value, spider=self.spider)
        (url, method, priority, no_robots, f_url, kind, host_key, depth, is_homepage, headers_only, attempt, chain,
         claimed, started) = value
        fetch = Fetch(f_url, TargetKind(kind), host_key, depth, is_homepage, headers_only,
                      Sent(url, method, attempt, chain), claimed, started)
        # The URL is the one Scrapy made safe when the spider created the request: `verbatim_url`
        # spares Request() a second safe_url_string (~25 us, half of what creating a request costs).
        meta = {"sc": fetch, "dont_redirect": True, "handle_httpstatus_all": True, "verbatim_url": True}
        if no_robots:
            meta["dont_obey_robotstxt"] = True
        spider = self.spider
        return Request(url, method=method, callback=spider.on_response, errback=spider.on_error, meta=meta,
                       dont_filter=True, priority=priority)
