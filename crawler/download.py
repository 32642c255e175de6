"""Scrapy download handler for http/https: the crawl's pages go through the one transport.

Scrapy schedules, applies the middlewares (robots.txt, cookies, decompression with its size
limit) and calls the spider; the request itself is sent by crawler/transport.py, the same
transport the link checker uses, so the address guard, per-host politeness, credentials and
proxies hold for pages exactly as for every other request.  This is Scrapy's public extension
point for a transport (DOWNLOAD_HANDLERS), as scrapy-playwright uses it.

What the spider relies on, kept here:
* the whole response is bounded by the crawl's timeout (a trickling server times out);
* a body announced or grown past DOWNLOAD_MAXSIZE ends the download (reason too_large);
* `spider.stop_at_headers(headers, request)` ends a download once the headers are in (HEAD
  fallbacks, attachments linked like pages);
* the response's headers as received (names lower-cased, every value) travel in
  `request.meta["wire_headers"]` for the fetch policy;
* failures are `transport.FetchError`, which carries its Reason.
robots.txt answers also tell the politeness gate the Crawl-delay they ask of us.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

from scrapy.http import Headers
from scrapy.responsetypes import responsetypes

from sitecheck.model import Reason

from .transport import FetchError

log = logging.getLogger(__name__)

# Headers the transport sets itself for every request (User-Agent, Accept, credentials); what
# Scrapy's components add (Cookie, Accept-Encoding from the decompression middleware) is passed on.
_TRANSPORT_HEADERS = frozenset({b"user-agent", b"accept", b"accept-language", b"authorization"})


class PageDownloadHandler:
    lazy = False

    def __init__(self, crawler):
        self.crawler = crawler
        settings = crawler.settings
        self.timeout = settings.getfloat("DOWNLOAD_TIMEOUT")
        self.maxsize = settings.getint("DOWNLOAD_MAXSIZE")
        self.user_agent = settings.get("USER_AGENT") or ""
        self.obey_robots = settings.getbool("ROBOTSTXT_OBEY")

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def download_request(self, request, spider=None):
        spider = self.crawler.spider
        transport = spider.transport
        wall = spider.walled(request.url) if request.meta.get("sc") else None
        if wall:  # queued before the host walled the crawl off: not sent
            raise FetchError(Reason.BLOCKED, wall)
        maxsize = request.meta.get("download_maxsize", self.maxsize)
        extra = [f"{k.decode('latin-1')}: {v.decode('latin-1')}" for k, values in request.headers.items()
                 if k.lower() not in _TRANSPORT_HEADERS for v in values]
        asked: list[dict[bytes, list[bytes]]] = []

        def stop(received) -> bool:
            asked.append(received)
            return spider.stop_at_headers(received, request)

        reply = await transport.send(request.method, request.url, timeout=request.meta.get(
                                         "download_timeout", self.timeout),
                                     extra_headers=extra, want_body=request.method != "HEAD",
                                     max_body=maxsize, stop=stop)
        request.meta["download_latency"] = reply.first_byte_s
        request.meta["wire_headers"] = reply.headers
        if self.obey_robots and reply.status == 200 and urlsplit(request.url).path == "/robots.txt":
            self._crawl_delay(transport, request.url, reply.body)
        headers = Headers({k: v for k, v in reply.headers.items()})
        respcls = responsetypes.from_args(headers=headers, url=request.url, body=reply.body)
        return respcls(url=request.url, status=reply.status, headers=headers, body=reply.body,
                       flags=["download_stopped"] if reply.stopped else [], request=request, protocol="HTTP/1.1")

    def _crawl_delay(self, transport, url: str, body: bytes) -> None:
        """robots.txt may ask for a Crawl-delay: the politeness gate keeps it for that host."""
        try:
            from protego import Protego

            delay = Protego.parse(body.decode("utf-8", "replace")).crawl_delay(self.user_agent or "*")
        except Exception:  # noqa: BLE001 - an unreadable robots.txt asks nothing of us
            return
        if delay:
            netloc = urlsplit(url).netloc.lower()
            transport.politeness.set_crawl_delay(netloc, float(delay))
            log.info("robots.txt of %s asks for a Crawl-delay of %s s", netloc, delay)

    async def close(self) -> None:
        pass  # the transport belongs to the spider, which closes it


class LegacyPageDownloadHandler(PageDownloadHandler):
    """The same handler for Scrapy releases whose downloader wants a Deferred (before coroutine
    handlers: Scrapy 2.13)."""

    def download_request(self, request, spider=None):  # noqa: D102 - Scrapy's older handler interface
        from twisted.internet.defer import Deferred

        return Deferred.fromFuture(asyncio.ensure_future(PageDownloadHandler.download_request(self, request, spider)))

    def close(self):
        return None


def handler_path() -> str:
    """The handler class this Scrapy's downloader can call (coroutine handlers came after 2.13)."""
    from scrapy.core.downloader.handlers import DownloadHandlers

    name = "PageDownloadHandler" if hasattr(DownloadHandlers, "download_request_async") else "LegacyPageDownloadHandler"
    return f"sitecheck.crawler.download.{name}"
