"""Scrapy download handler for http/https: the crawl's pages go through here, on libcurl.

Why not Scrapy's own HTTP/1.1 handler: on the benchmark machine it costs 1.29 ms
of CPU per 20 KB page against 0.90 ms with aiohttp (Scrapy's engine alone is
~0.5 ms), and libcurl (crawler/curl.py) takes 42–45 µs a page where aiohttp
took 131–139 µs (client alone, `bench/README.md`).  Scrapy still schedules, de-duplicates, applies the
middlewares (address guard, credentials, cookies, robots.txt, retries,
decompression with its size limit) and calls the spider; only the bytes on the
wire are libcurl's.  A request through a proxy (Scrapy's HttpProxyMiddleware
puts its credentials in a header meant for the proxy) or with a body goes
through aiohttp instead (`crawler/proxied.py`, imported on the first such request).

What the spider relies on, kept here:
* `DOWNLOAD_TIMEOUT` bounds the whole response (a trickling server times out);
* `DOWNLOAD_MAXSIZE` cancels a body announced or grown past it;
* `spider.stop_at_headers(headers, request)` ends a download at the headers
  (HEAD fallbacks, attachments linked like pages) — Scrapy's `headers_received`
  signal does the same for its handler, at the price of a signal dispatch per
  response;
* failures become Scrapy's download exceptions, which `classify.reason_for_failure`
  and the retry middleware know;
* we connect to an address the address guard checked: libcurl is told the
  pinned addresses with each request, aiohttp's resolver answers from them.
A response libcurl or aiohttp rejects is fetched again with Scrapy's lenient
HTTP/1.1 handler: government servers send odd headers, and a page a browser
shows must not become a crawl error because of our parser.  Twisted resolves
names for that handler; `PinnedTwistedResolver` (installed by the runner)
makes it answer from the same pins.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pycurl
from scrapy.exceptions import (CannotResolveHostError, DownloadCancelledError, DownloadConnectionRefusedError,
                               DownloadFailedError, DownloadTimeoutError, ResponseDataLossError)
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolverSimple
from twisted.internet.threads import deferToThreadPool
from zope.interface import implementer

from sitecheck import netguard

from .classify import reason_for_client_error
from .curl import AddressBook, CurlError, CurlSession
from sitecheck.model import Reason

def shared_resolver(crawler) -> netguard.CachingResolver:
    """One DNS cache per crawl, shared by the address guard and the connections."""
    resolver = getattr(crawler, "_sitecheck_resolver", None)
    if resolver is None:
        resolver = crawler._sitecheck_resolver = netguard.CachingResolver()
    return resolver


@implementer(IResolverSimple)
class PinnedTwistedResolver:
    """Twisted's resolver (Scrapy's TWISTED_DNS_RESOLVER): the pinned addresses of a name the
    address guard checked, else a cached lookup (configured hosts, which are not checked).

    Without it, Scrapy's own HTTP/1.1 handler (our lenient fallback) resolved names on its own,
    so a name answering differently after the check could move the connection.
    """

    def __init__(self, reactor, pins: netguard.AddressPins = netguard.PINS):
        self.reactor = reactor
        self.pins = pins
        self.cache = netguard.CachingResolver()

    @classmethod
    def from_crawler(cls, crawler, reactor):
        return cls(reactor)

    def install_on_reactor(self) -> None:
        self.reactor.installResolver(self)  # Twisted derives its name resolver from this one

    def getHostByName(self, name: str, timeout=()) -> Deferred:
        d = deferToThreadPool(self.reactor, self.reactor.getThreadPool(),
                              netguard.connect_addresses, name, 0, self.cache, self.pins)

        def first(addresses):
            return addresses[0]

        def not_found(failure):
            failure.trap(netguard.ResolutionError)
            raise DNSLookupError(str(failure.value))

        return d.addCallbacks(first, not_found)


class PageDownloadHandler:
    """GET and HEAD on libcurl (crawler/curl.py); a request through a proxy, or with a body, on aiohttp."""

    lazy = False

    def __init__(self, crawler):
        self.crawler = crawler
        settings = crawler.settings
        self.timeout = settings.getfloat("DOWNLOAD_TIMEOUT")
        self.maxsize = settings.getint("DOWNLOAD_MAXSIZE")
        self._proxied = None  # crawler.proxied.ProxiedClient, built (and aiohttp imported) on first need
        self._curl: CurlSession | None = None
        self._addresses: AddressBook | None = None
        self._lenient = None  # Scrapy's HTTP/1.1 handler, built on first need

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def download_request(self, request, spider=None):
        if request.meta.get("proxy") or request.body or request.method not in ("GET", "HEAD"):
            return await self._aiohttp_download(request)
        return await self._curl_download(request)

    async def _curl_download(self, request):
        timeout = request.meta.get("download_timeout", self.timeout)
        maxsize = request.meta.get("download_maxsize", self.maxsize)
        if self._curl is None:  # needs the running event loop, so not in __init__
            self._curl = CurlSession()  # the User-Agent comes with the request's headers
            self._addresses = AddressBook(shared_resolver(self.crawler))
        headers = [f"{k.decode('latin-1')}: {v.decode('latin-1')}" for k, values in request.headers.items()
                   for v in values]
        spider_stop = getattr(self.crawler.spider, "stop_at_headers", None)
        asked: list[Headers] = []  # the headers as the spider saw them, kept for the response

        def stop(received) -> bool:
            asked.append(Headers(received))
            return spider_stop(asked[0], request)
        try:
            addresses = await self._addresses.addresses(request.url)
            reply = await self._curl.request(request.method, request.url, headers=headers, timeout=timeout,
                                             addresses=addresses, want_body=request.method != "HEAD",
                                             max_body=maxsize, stop=stop if spider_stop else None)
        except CurlError as exc:
            if exc.code == pycurl.E_FILESIZE_EXCEEDED:
                raise DownloadCancelledError(f"Cancelling download of {request.url}: response size larger than "
                                             f"download max size ({maxsize}).") from exc
            if exc.reason == Reason.ERROR:  # a response libcurl rejects: ask Scrapy's lenient client
                return await self._lenient_download(request)
            raise _scrapy_error(exc, request.url) from exc
        except (netguard.ResolutionError, ValueError) as exc:
            raise _scrapy_error(exc, request.url) from exc
        request.meta["download_latency"] = reply.first_byte_s
        raw = asked[0] if asked else Headers(reply.headers)
        respcls = responsetypes.from_args(headers=raw, url=request.url, body=reply.body)
        return respcls(url=request.url, status=reply.status, headers=raw, body=reply.body,
                       flags=["download_stopped"] if reply.stopped else [], request=request, protocol="HTTP/1.1")

    async def _aiohttp_download(self, request):
        from . import proxied

        if self._proxied is None:
            self._proxied = proxied.ProxiedClient(shared_resolver(self.crawler))
        try:
            return await self._proxied.download(
                request, timeout=request.meta.get("download_timeout", self.timeout),
                maxsize=request.meta.get("download_maxsize", self.maxsize),
                stop=getattr(self.crawler.spider, "stop_at_headers", None))
        except (DownloadCancelledError, DownloadTimeoutError):
            raise
        except proxied.Rejected:  # the strict parser said no: ask Scrapy's lenient one
            return await self._lenient_download(request)
        except proxied.CLIENT_ERRORS as exc:
            raise _scrapy_error(exc, request.url) from exc

    async def _lenient_download(self, request):
        from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler

        if self._lenient is None:
            self._lenient = HTTP11DownloadHandler(self.crawler)
        return await self._lenient.download_request(request)

    async def close(self) -> None:
        if self._curl is not None:
            await self._curl.close()
        if self._proxied is not None:
            await self._proxied.close()
        if self._lenient is not None:
            await self._lenient.close()


def _scrapy_error(exc: BaseException, url: str) -> Exception:
    reason, text = reason_for_client_error(exc)
    netloc = urlsplit(url).netloc
    if reason == Reason.DNS:
        return CannotResolveHostError(f"DNS lookup failed for {netloc}: {text}")
    if reason == Reason.REFUSED:
        return DownloadConnectionRefusedError(f"Connection refused by {netloc}: {text}")
    if reason == Reason.TIMEOUT:
        return DownloadTimeoutError(f"Getting {url} took longer than allowed: {text}")
    if reason == Reason.RESET:
        return ResponseDataLossError(f"Connection to {netloc} was reset: {text}")
    return DownloadFailedError(text)  # TLS errors keep "SSL" in the text: classify reads it
