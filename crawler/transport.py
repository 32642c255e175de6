"""The one way sitecheck talks to a monitored site during a crawl.

Pages (through Scrapy's download handler, crawler/download.py) and link targets (crawler/
linkcheck.py) are sent here, and nowhere else, so every rule about the wire holds for both:

* the address guard: a host outside the site file is resolved and vetted against the
  address policy before any connection (`sitecheck.netguard`), and the connection goes to an
  address that was vetted (libcurl is told the pinned addresses; crawler/curl.py refuses any
  other); configured hosts go where the run's cached lookup says;
* politeness: `Politeness.slot(netloc)` around every request (crawler/politeness.py), and every
  answer reported back to it (Retry-After, back-off);
* what each request carries: the User-Agent, the default headers, and a host's configured
  credentials to that host only;
* proxies from the environment (http_proxy, https_proxy, no_proxy), which libcurl speaks
  itself (CONNECT for https), credentials in the proxy URL included;
* failures as one Reason each (`FetchError`), with libcurl's words kept as detail.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sitecheck import netguard
from sitecheck.model import Reason

from .classify import REQUEST_HEADERS
from .curl import AddressBook, CurlError, CurlReply, CurlSession
from .policy import retry_after_s
from .politeness import Politeness


ABANDON_GRACE_S = 0.05


class FetchError(Exception):
    """No response: the reason the crawl records, and what happened in words."""

    def __init__(self, reason: Reason, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(slots=True)
class WireRules:
    """What the transport needs of the site file."""

    user_agent: str
    trusted_netlocs: frozenset[str]  # the site's hosts (and aliases): not vetted, the operator named them
    policy: netguard.AddressPolicy
    credentials: dict[str, dict[str, str]]  # netloc -> headers, sent to that netloc only


class Transport:
    def __init__(self, rules: WireRules, politeness: Politeness, resolver: netguard.CachingResolver | None = None,
                 *, max_hold_s: float = 60.0):
        self.rules = rules
        self.max_hold_s = max_hold_s  # the longest a Retry-After holds a host
        self.politeness = politeness
        self.resolver = resolver or netguard.CachingResolver()
        self.addresses = AddressBook(self.resolver)
        self.proxies = urllib.request.getproxies()
        self._session: CurlSession | None = None
        self._header_lines: dict[str, list[str]] = {}

    @classmethod
    def for_site(cls, site, credentials: dict[str, dict[str, str]], politeness: Politeness | None = None
                 ) -> "Transport":
        """The transport of one crawl of `site`: its hosts trusted, its address policy, its politeness."""
        crawl = site.crawl
        if politeness is None:
            politeness = Politeness(crawl.concurrency_per_host, crawl.delay_seconds, crawl.delay_jitter)
        rules = WireRules(crawl.user_agent, frozenset(n for h in site.hosts for n in h.netlocs),
                          netguard.AddressPolicy(crawl.allow_networks), dict(credentials or {}))
        return cls(rules, politeness, max_hold_s=crawl.max_retry_after_seconds)

    async def send(self, method: str, url: str, *, timeout: float, extra_headers: list[str] = (),
                   want_body: bool = False, max_body: int = 0,
                   stop: Callable[[dict[bytes, list[bytes]]], bool] | None = None) -> CurlReply:
        """One request, politely; raises FetchError when no response came."""
        try:
            netloc = urlsplit(url).netloc.lower()
        except ValueError as exc:
            raise FetchError(Reason.ERROR, f"unusable URL: {exc}") from None
        if netloc not in self.rules.trusted_netlocs:
            await self._vet(url)
        proxy = self._proxy_for(url, netloc)
        addresses = None
        if proxy is None:  # through a proxy, the proxy connects
            try:
                addresses = await self.addresses.addresses(url)
            except netguard.ResolutionError as exc:
                raise FetchError(Reason.DNS, str(exc)) from None
            except ValueError as exc:
                raise FetchError(Reason.ERROR, f"unusable URL: {exc}") from None
        if self._session is None:  # needs the running event loop, so not in __init__
            self._session = CurlSession(self.rules.user_agent)
        headers = self._headers_for(netloc)
        if extra_headers:
            headers = [*headers, *extra_headers]
        async with self.politeness.slot(netloc) as slot:
            try:
                reply = await self._session.request(method, url, headers=headers, timeout=timeout,
                                                    addresses=addresses, proxy=proxy, want_body=want_body,
                                                    max_body=max_body, stop=stop,
                                                    on_send=slot.sent if slot.spaced else None)
            except CurlError as exc:
                reason = exc.reason
                self.politeness.observe(netloc, None, reason)
                if reason == Reason.TIMEOUT:
                    # The server may still be working on the request we gave up on until it sees the
                    # connection close: let it, before the slot goes to the next request.
                    await asyncio.sleep(ABANDON_GRACE_S)
                detail = f"timed out after {timeout:g} s: {exc}" if reason == Reason.TIMEOUT else str(exc)
                raise FetchError(reason, detail) from None
        self.politeness.observe(netloc, reply.status, None)
        if reply.status in (429, 503):
            pause = retry_after_s(reply.headers)
            if pause:
                self.politeness.hold(netloc, min(pause, self.max_hold_s))
        return reply

    async def _vet(self, url: str) -> None:
        """A host outside the site: resolve it and check the address policy before any connection."""
        try:
            refusal = await asyncio.get_running_loop().run_in_executor(
                None, netguard.vet_and_pin, url, self.rules.policy, self.resolver)
        except netguard.ResolutionError as exc:
            raise FetchError(Reason.DNS, str(exc)) from None
        if refusal:
            raise FetchError(Reason.PRIVATE_ADDRESS, f"not checked: {refusal}")

    def _headers_for(self, netloc: str) -> list[str]:
        lines = self._header_lines.get(netloc)
        if lines is None:
            if len(self._header_lines) >= 10_000:  # a page can link to any number of hosts: stay bounded
                self._header_lines.clear()
            headers = {**REQUEST_HEADERS, **(self.rules.credentials.get(netloc) or {})}
            lines = self._header_lines[netloc] = [f"{name}: {value}" for name, value in headers.items()]
        return lines

    def _proxy_for(self, url: str, netloc: str) -> str | None:
        if not self.proxies:
            return None
        proxy = self.proxies.get(url.split(":", 1)[0].lower())
        if proxy and urllib.request.proxy_bypass(netloc):
            return None
        return proxy

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
