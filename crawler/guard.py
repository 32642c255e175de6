"""Downloader middleware: never request a private, loopback or metadata address for an untrusted link.

Configured hosts are trusted (the operator named them); every other URL, and
every redirect hop (hops are new requests here), is resolved and checked
against `sitecheck.netguard.AddressPolicy` before Scrapy connects, and the
addresses checked are pinned: the connection goes to one of them
(`netguard.AddressPins`), however the name answers a moment later.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from sitecheck import netguard


class AddressRefused(IgnoreRequest):
    """Not requested: the address is not allowed for links outside the site."""


class AddressGuardMiddleware:
    def __init__(self, trusted_netlocs: set[str], policy: "netguard.AddressPolicy", resolver):
        self.trusted = trusted_netlocs
        self.policy = policy
        self.resolve = resolver

    @classmethod
    def from_crawler(cls, crawler):
        site = crawler.spider.site
        trusted = {n for h in site.hosts for n in h.netlocs}
        policy = netguard.AddressPolicy(site.crawl["allow_networks"])
        from .download import shared_resolver

        return cls(trusted, policy, shared_resolver(crawler))

    async def process_request(self, request, spider=None):
        netloc = urlsplit(request.url).netloc.lower()
        if netloc in self.trusted:
            return None
        # Resolution blocks: run it in the reactor's thread pool (works with any reactor).
        refusal = await maybe_deferred_to_future(
            deferToThread(netguard.vet_and_pin, request.url, self.policy, self.resolve))
        if refusal:
            raise AddressRefused(f"not checked: {refusal}")
        return None


class CredentialsMiddleware:
    """Sets what every request carries: a host's configured credentials (to that host only), the
    User-Agent and default headers, and the download timeout.

    One middleware instead of Scrapy's DownloadTimeout, DefaultHeaders and UserAgent ones: each
    middleware costs a few coroutine hops per request whatever it does (runner.py switches those
    three off).  Credentials go first, so a configured header wins over a default one.
    """

    def __init__(self, by_netloc: dict[str, dict[str, str]], defaults: list[tuple[bytes, bytes]], timeout: float):
        self.by_netloc = by_netloc
        self.defaults = defaults
        self.timeout = timeout

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        defaults = [(name.encode("latin-1"), value.encode("latin-1"))
                    for name, value in settings.getdict("DEFAULT_REQUEST_HEADERS").items()]
        if settings.get("USER_AGENT"):
            defaults.append((b"User-Agent", settings["USER_AGENT"].encode("latin-1")))
        return cls(crawler.spider.credentials, defaults, settings.getfloat("DOWNLOAD_TIMEOUT"))

    def process_request(self, request, spider=None):
        headers = request.headers
        credentials = self.by_netloc.get(urlsplit(request.url).netloc.lower())
        if credentials:
            for name, value in credentials.items():
                headers.setdefault(name, value)
        elif b"Authorization" in headers:
            # Never carry a credential across hosts, whatever put it there.
            del headers[b"Authorization"]
        for name, value in self.defaults:
            headers.setdefault(name, value)
        if self.timeout:  # read by Scrapy's own handler (the lenient fallback); ours has the setting
            request.meta.setdefault("download_timeout", self.timeout)
        return None
