"""The frontier (crawler/frontier.py): requests come back as they went in, in order, from memory or disk."""

from __future__ import annotations

import scrapy
from w3lib.url import safe_url_string

from sitecheck.crawler.frontier import CompactFifoDiskQueue
from sitecheck.crawler.policy import Sent
from sitecheck.crawler.spider import Fetch
from sitecheck.model import TargetKind


class _Spider:
    name = "frontier-test"

    def on_response(self, response):  # pragma: no cover - never called
        pass

    def on_error(self, failure):  # pragma: no cover - never called
        pass


class _Crawler:
    def __init__(self):
        self.spider = _Spider()


# URLs a government site really links: Chinese path, space, stray percent sign, query, fragment-free.
URLS = [
    "http://127.0.0.1:8080/",
    "http://127.0.0.1:8080/xxgk/通知公告/index.html",
    "http://127.0.0.1:8080/a b/c.html?q=甘肃&x=1",
    "http://127.0.0.1:8080/100%/report.pdf",
    "http://127.0.0.1:8080/already%20escaped/%E4%B8%AD.html",
]


def _spider_request(spider, url: str, method: str, **fetch) -> scrapy.Request:
    # As SiteSpider._request builds them.
    meta = {"sc": Fetch(url, TargetKind.PAGE, "www", **fetch), "dont_redirect": True,
            "handle_httpstatus_all": True}
    return scrapy.Request(url, method=method, callback=spider.on_response, errback=spider.on_error,
                          meta=meta, dont_filter=True, priority=3)


def _disk_only(crawler, path) -> CompactFifoDiskQueue:
    queue = CompactFifoDiskQueue(crawler, str(path))
    queue.MEMORY_REQUESTS = queue.COMPACT_REQUESTS = 0  # every request takes the disk form
    return queue


def test_spider_requests_round_trip_with_the_same_safe_url(tmp_path):
    crawler = _Crawler()
    queue = _disk_only(crawler, tmp_path / "q")
    pushed = [_spider_request(crawler.spider, url, "GET", depth=2,
                              sent=Sent(safe_url_string(url), "GET", 2, ("http://127.0.0.1:8080/old",)))
              for url in URLS]
    for request in pushed:
        queue.push(request)
    popped = [queue.pop() for _ in pushed]
    assert queue.pop() is None
    for before, after in zip(pushed, popped):
        # Scrapy made the URL safe once, when the spider created the request; the frontier keeps it
        # as is, which is what escaping it again would give.
        assert after.url == before.url == safe_url_string(before.url)
        assert after.method == before.method and after.priority == before.priority
        assert after.callback == crawler.spider.on_response and after.errback == crawler.spider.on_error
        assert after.meta["sc"] == before.meta["sc"]
        assert after.dont_filter
    assert "%E7%94%98%E8%82%83" in popped[2].url and "a%20b" in popped[2].url
    queue.close()


def test_other_requests_take_scrapys_generic_form(tmp_path):
    crawler = _Crawler()
    queue = _disk_only(crawler, tmp_path / "q")
    retry = _spider_request(crawler.spider, URLS[2], "HEAD").replace(
        meta={**_spider_request(crawler.spider, URLS[2], "HEAD").meta, "retry_times": 1},
        headers={"X-Test": "1"})
    queue.push(retry)
    back = queue.pop()
    assert back.url == retry.url and back.method == "HEAD"
    assert back.meta["retry_times"] == 1 and back.headers.get("X-Test") == b"1"
    assert back.meta["sc"] == retry.meta["sc"]
    queue.close()


def _numbered(spider, n: int) -> scrapy.Request:
    url = f"http://127.0.0.1:8080/p{n}.html"
    return _spider_request(spider, url, "GET", sent=Sent(url, "GET"))


def test_a_short_frontier_stays_in_memory_and_touches_no_disk(tmp_path):
    crawler = _Crawler()
    queue = CompactFifoDiskQueue(crawler, str(tmp_path / "q"))
    pushed = [_numbered(crawler.spider, n) for n in range(CompactFifoDiskQueue.MEMORY_REQUESTS)]
    for request in pushed:
        queue.push(request)
    assert len(queue) == len(pushed)
    assert queue.peek() is pushed[0]
    assert [queue.pop() for _ in pushed] == pushed  # the very objects, in order
    assert queue.pop() is None and len(queue) == 0
    queue.close()
    assert not (tmp_path / "q").exists()


def test_beyond_the_memory_parts_requests_spill_to_disk_in_order(tmp_path):
    crawler = _Crawler()
    queue = CompactFifoDiskQueue(crawler, str(tmp_path / "q"))
    queue.MEMORY_REQUESTS, queue.COMPACT_REQUESTS = 3, 2
    urls = []
    popped = []
    n = 0
    # Pushes and pops interleaved, so new requests arrive while older ones are on disk and while
    # the memory part is being drained: the order must still be first in, first out.
    for pushes, pops in ((5, 2), (4, 4), (1, 0), (6, 3)):
        for _ in range(pushes):
            queue.push(_numbered(crawler.spider, n))
            urls.append(f"http://127.0.0.1:8080/p{n}.html")
            n += 1
        popped += [queue.pop().url for _ in range(pops)]
        assert len(queue) == len(urls) - len(popped)
    assert (tmp_path / "q").is_dir()  # the spill went to disk
    while (request := queue.pop()) is not None:
        popped.append(request.url)
    assert popped == urls
    queue.close()
    assert not (tmp_path / "q").exists()  # drained: its files and directory are gone


def test_the_compact_part_gives_back_the_same_requests_without_touching_disk(tmp_path):
    """Beyond MEMORY_REQUESTS, requests wait as plain values in memory: they come back equal (URL,
    method, priority, callbacks, the spider's Fetch), in order, and no file is written."""
    crawler = _Crawler()
    queue = CompactFifoDiskQueue(crawler, str(tmp_path / "q"))
    queue.MEMORY_REQUESTS = 1
    pushed = [_spider_request(crawler.spider, url, "GET", depth=2,
                              sent=Sent(safe_url_string(url), "GET", 1, ("http://127.0.0.1:8080/old",)))
              for url in URLS]
    retry = pushed[3].replace(meta={**pushed[3].meta, "retry_times": 1}, headers={"X-Test": "1"})
    pushed.append(retry)  # not the spider's own shape: kept in Scrapy's generic form
    for request in pushed:
        queue.push(request)
    assert len(queue) == len(pushed) and not (tmp_path / "q").exists()
    assert queue.peek() is pushed[0]
    popped = [queue.pop() for _ in pushed]
    assert queue.pop() is None and len(queue) == 0
    assert popped[0] is pushed[0]
    for before, after in zip(pushed[1:], popped[1:]):
        assert after is not before
        assert (after.url, after.method, after.priority) == (before.url, before.method, before.priority)
        assert after.callback == crawler.spider.on_response and after.errback == crawler.spider.on_error
        assert after.meta["sc"] == before.meta["sc"] and after.dont_filter
    assert popped[-1].meta["retry_times"] == 1 and popped[-1].headers.get("X-Test") == b"1"
    queue.close()
    assert not (tmp_path / "q").exists()
