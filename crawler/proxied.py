"""Requests libcurl does not carry for the crawl: through a proxy, or with a body, on aiohttp.

Scrapy's HttpProxyMiddleware (on only when the environment names a proxy) puts the proxy's
credentials in a header meant for the proxy; aiohttp takes the proxy as a parameter of the
request.  `crawler.download.PageDownloadHandler` imports this module on the first such request:
aiohttp takes ~0.15 s of CPU to import, at the start of a crawl, when one core does all the work,
and most crawls never need it.

What the handler relies on, as for libcurl: the connection goes to an address the address guard
checked (`GuardedResolver`), the whole response has a deadline, the body stops at the size limit
or at the spider's cut (`stop`), and failures come out as Scrapy's download exceptions or as the
client's own (`CLIENT_ERRORS`, which the handler classifies) or as `Rejected` (aiohttp's strict
parser refused the response: the handler asks Scrapy's lenient client).
"""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
from aiohttp.abc import AbstractResolver
from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError, ResponseDataLossError
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes

from sitecheck import netguard

_CHUNK = 64 * 1024

CLIENT_ERRORS = (aiohttp.ClientError, OSError, ValueError)


class Rejected(Exception):
    """aiohttp's strict parser refused the response."""


class GuardedResolver(AbstractResolver):
    """aiohttp resolver: the addresses the address guard pinned for a name it checked, else
    (configured hosts, which are not checked) the answer of the guard's CachingResolver."""

    def __init__(self, cache: netguard.CachingResolver, pins: netguard.AddressPins = netguard.PINS):
        self.cache = cache
        self.pins = pins

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET):
        try:
            addresses = await asyncio.get_running_loop().run_in_executor(
                None, netguard.connect_addresses, host, port, self.cache, self.pins)
        except netguard.ResolutionError as exc:
            raise OSError(f"cannot resolve {host}: {exc}") from exc
        out = []
        for ip in addresses:
            fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
            out.append({"hostname": host, "host": ip, "port": port, "family": fam,
                        "proto": 0, "flags": socket.AI_NUMERICHOST})
        return out

    async def close(self) -> None:
        return None


class ProxiedClient:
    def __init__(self, cache: netguard.CachingResolver):
        self.cache = cache
        self.session: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self.session is None:  # needs the running event loop
            # No limits here: Scrapy's downloader slots already bound concurrency per host.
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, resolver=GuardedResolver(self.cache),
                                             use_dns_cache=False, ssl=False)  # as Scrapy: no verification
            self.session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"))
        return self.session

    async def download(self, request, *, timeout: float, maxsize: int, stop):
        """The Scrapy response to `request`; `stop(headers, request)` True ends it at the headers."""
        headers = [(k.decode("latin-1"), v.decode("latin-1"))
                   for k, values in request.headers.items() for v in values]
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                async with self._session().request(
                        request.method, request.url, headers=headers, data=request.body or None,
                        proxy=request.meta.get("proxy"),  # set by Scrapy's HttpProxyMiddleware (env)
                        allow_redirects=False, raise_for_status=False, compress=None) as resp:
                    request.meta["download_latency"] = time.monotonic() - started
                    raw = Headers()
                    for name, value in resp.raw_headers:
                        raw.appendlist(name, value)
                    # As Scrapy's handler: no body for HEAD, then the spider's cut, then the size limit.
                    if request.method == "HEAD":
                        body, flags = b"", []
                    elif stop is not None and stop(raw, request):
                        body, flags = b"", ["download_stopped"]
                        resp.close()  # the body is not wanted: drop the connection, not read it
                    else:
                        length = resp.content_length
                        if maxsize and length and length > maxsize:
                            raise DownloadCancelledError(
                                f"Cancelling download of {request.url}: expected response size ({length}) "
                                f"larger than download max size ({maxsize}).")
                        body = await _read_capped(resp, maxsize, request.url)
                        flags = []
        except TimeoutError as exc:
            raise DownloadTimeoutError(f"Getting {request.url} took longer than {timeout} seconds.") from exc
        except aiohttp.ClientResponseError as exc:
            raise Rejected(str(exc)) from exc
        respcls = responsetypes.from_args(headers=raw, url=request.url, body=body)
        return respcls(url=request.url, status=resp.status, headers=raw, body=body, flags=flags,
                       request=request, protocol="HTTP/1.1")

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


async def _read_capped(resp, maxsize: int, url: str) -> bytes:
    chunks, size = [], 0
    try:
        async for chunk in resp.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if maxsize and size > maxsize:
                resp.close()
                raise DownloadCancelledError(
                    f"Cancelling download of {url}: received response size ({size}) "
                    f"larger than download max size ({maxsize}).")
            chunks.append(chunk)
    except aiohttp.ClientPayloadError as exc:
        raise ResponseDataLossError(f"Connection to {url} was closed before the whole body: {exc}") from exc
    return b"".join(chunks)
