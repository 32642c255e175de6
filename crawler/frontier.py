"""Scrapy's disk request queue: the first requests in memory, the rest on disk as a few plain values.

The frontier lives on disk so memory stays flat however large the site is.  Most of the time it
is short, though (a page's links are mostly pages already seen), and a disk queue that empties
is closed and its directory removed, to be made again at the next push: so each queue keeps up
to MEMORY_REQUESTS requests as they are and only spills to disk beyond that (docs/performance.md
has what that saves).  Nothing reads the queue after a run (runs are not resumed), so requests
still in memory when the crawl is stopped are simply dropped with it.

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

_OUR_META = frozenset({"sc", "dont_redirect", "handle_httpstatus_all", "dont_obey_robotstxt", "verbatim_url"})


class CompactFifoDiskQueue:
    """A FIFO of requests: up to MEMORY_REQUESTS in memory, the later ones in a queuelib disk queue.

    Order is kept by construction: while anything is on disk, new requests go to disk too, and
    the memory part (all older than the disk part) is served first."""

    # ~1 KB a request: 256 is a quarter of a megabyte a queue, however many sites a process crawls.
    MEMORY_REQUESTS = 256

    def __init__(self, crawler, key: str):
        self.spider = crawler.spider
        self.path = key
        self._memory: deque[Request] = deque()
        self._disk: _queuelib.FifoDiskQueue | None = None  # made at the first spill

    @classmethod
    def from_crawler(cls, crawler, key: str, *args, **kwargs):
        return cls(crawler, key)

    def push(self, request: Request) -> None:
        disk = self._disk
        if (disk is None or not len(disk)) and len(self._memory) < self.MEMORY_REQUESTS:
            self._memory.append(request)
            return
        if disk is None:
            disk = self._disk = _queuelib.FifoDiskQueue(self.path)
        disk.push(self._encode(request))

    def pop(self) -> Request | None:
        if self._memory:
            return self._memory.popleft()
        data = self._disk.pop() if self._disk is not None else None
        return self._decode(data) if data else None

    def peek(self) -> Request | None:
        if self._memory:
            return self._memory[0]
        data = self._disk.peek() if self._disk is not None else None
        return self._decode(data) if data else None

    def __len__(self) -> int:
        return len(self._memory) + (len(self._disk) if self._disk is not None else 0)

    def close(self) -> None:
        self._memory.clear()
        if self._disk is not None:
            self._disk.close()  # removes its files and directory once empty

    def _encode(self, request: Request) -> bytes:
        meta = request.meta
        spider = self.spider
        fetch = meta.get("sc")
        if (fetch is not None and meta.keys() <= _OUR_META and not request.headers and not request.body
                and not request.cookies and request.dont_filter
                and request.callback == spider.on_response and request.errback == spider.on_error):
            return pickle.dumps((request.url, request.method, request.priority, "dont_obey_robotstxt" in meta,
                                 fetch.url, fetch.kind.value, fetch.host_key, fetch.depth, fetch.is_homepage,
                                 fetch.headers_only, fetch.sent.attempt, fetch.sent.chain, fetch.claimed,
                                 fetch.started),
                                protocol=pickle.HIGHEST_PROTOCOL)
        return pickle.dumps(request.to_dict(spider=spider), protocol=pickle.HIGHEST_PROTOCOL)

    def _decode(self, data: bytes) -> Request:
        value = pickle.loads(data)
        if isinstance(value, dict):
            return request_from_dict(value, spider=self.spider)
        from .policy import Sent
        from .spider import Fetch

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
