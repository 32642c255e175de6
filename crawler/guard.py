"""Downloader middleware: never request a private, loopback or metadata address for an untrusted link.

Configured hosts are trusted (the operator named them); every other URL, and
every redirect hop (hops are new requests here), is resolved and checked
against `sitecheck.netguard.AddressPolicy` before Scrapy connects.
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
            deferToThread(netguard.check_url, request.url, self.policy, self.resolve))
        if refusal:
            raise AddressRefused(f"not checked: {refusal}")
        return None


class CredentialsMiddleware:
    """Adds a host's configured credentials to requests for that host (and only that host)."""

    def __init__(self, by_netloc: dict[str, dict[str, str]]):
        self.by_netloc = by_netloc

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.spider.credentials)

    def process_request(self, request, spider=None):
        headers = self.by_netloc.get(urlsplit(request.url).netloc.lower())
        if headers:
            for name, value in headers.items():
                request.headers.setdefault(name, value)
        elif b"Authorization" in request.headers:
            # Never carry a credential across hosts, whatever put it there.
            del request.headers[b"Authorization"]
        return None
