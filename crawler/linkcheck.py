"""Checking one non-page link target (image, attachment, external page) without Scrapy.

Two thirds of a portal's link targets are files and other sites that are
checked, never parsed: one HEAD (or a GET cut at the headers) each.  Scrapy's
per-request machinery costs ~1 ms of CPU for such a request on our benchmark
machine, aiohttp's ~0.11 ms, libcurl's (`crawler/curl.py`) ~0.05 ms with its
event-loop hops (`bench/README.md`), so the target worker process
(`crawler/targets.py`) checks them here with libcurl, by the spider's rules:

* HEAD first; a status in HEAD_FALLBACK_STATUSES, a reset or a protocol error
  asks again with a GET that stops at the headers (many servers refuse HEAD);
* redirects are followed here, each hop checked by the address guard, loops
  and chains longer than MAX_REDIRECTS reported as such;
* retries as configured, for connection failures and 502/503/504 only;
* per-host concurrency and delay as the site file says; credentials go only
  to their own host;
* we connect to an address the check allowed: the check pins what it vetted
  (`netguard.AddressPins`) and each request tells libcurl those addresses
  (CURLOPT_RESOLVE); configured hosts go where the run's cached lookup says.

An outcome this client cannot classify (Reason.ERROR: a response libcurl
rejects as malformed, say) is not final: the worker hands it back and the main
process checks it with Scrapy, whose lenient parser is what the crawl is judged by.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from sitecheck import netguard
from sitecheck.config import SiteConfig
from sitecheck.model import Reason, Target, TargetKind

from .classify import (HEAD_FALLBACK_STATUSES, MAX_REDIRECTS, REQUEST_HEADERS, reason_for_client_error,
                       reason_for_status)
from .curl import AddressBook, CurlError, CurlSession
from .urls import normalize

RETRY_STATUSES = frozenset({502, 503, 504})
_RETRY_REASONS = (Reason.REFUSED, Reason.RESET)  # connection-level: a timeout is never retried


@dataclass(slots=True)
class Outcome:
    status: int | None = None
    headers: dict[bytes, list[bytes]] | None = None
    url: str = ""  # as requested on the wire (percent-encoded)
    error: BaseException | None = None


class Refused(Exception):
    """The address guard refused the URL (recorded as Reason.PRIVATE_ADDRESS)."""


class LinkChecker:
    """Checks targets concurrently; `check` returns the Target the spider would have recorded."""

    def __init__(self, site: SiteConfig, credentials: dict[str, dict[str, str]], *,
                 concurrency_per_host: int, delay_s: float = 0.0):
        crawl = site.crawl
        self.site = site
        self.credentials = credentials
        self.session_params = frozenset(p.lower() for p in crawl["session_params"])
        self.trusted = {n for h in site.hosts for n in h.netlocs}
        self.policy = netguard.AddressPolicy(crawl["allow_networks"])
        self.resolver = netguard.CachingResolver()
        self.timeout_s = float(crawl["timeout_seconds"])
        self.retries = crawl["retries"]
        self.per_host = max(1, concurrency_per_host)
        self.delay_s = delay_s
        self.user_agent = crawl["user_agent"]
        self._host_gates: dict[str, asyncio.Semaphore] = {}
        self._host_next: dict[str, float] = {}
        self.session: CurlSession | None = None
        # The proxies from the environment (http_proxy, https_proxy, no_proxy), as Scrapy's
        # HttpProxyMiddleware uses them for the pages.
        self.proxies = urllib.request.getproxies()
        self._headers: dict[str, list[str]] = {}  # netloc -> request header lines (credentials per host)
        self.addresses = AddressBook(self.resolver)

    async def __aenter__(self) -> "LinkChecker":
        # No certificate verification, as in the crawl: certificates are the probe's business.
        self.session = CurlSession(self.user_agent)
        return self

    async def __aexit__(self, *exc) -> None:
        if self.session is not None:
            await self.session.close()

    # --- one target ------------------------------------------------------------------

    async def check(self, url: str, kind: TargetKind, host_key: str | None) -> Target:
        method = "HEAD"
        chain: list[str] = []
        current = url
        while True:
            started = time.monotonic()
            outcome = await self._fetch_with_retries(current, method)
            latency = round(time.monotonic() - started, 4)
            if outcome.error is not None:
                if isinstance(outcome.error, Refused):
                    reason, error = Reason.PRIVATE_ADDRESS, str(outcome.error)
                else:
                    reason, error = reason_for_client_error(outcome.error)
                if method == "HEAD" and reason in (Reason.RESET, Reason.ERROR):
                    method = "GET"  # servers that drop HEAD: ask again, stop at the headers
                    continue
                return Target(url, kind, reason, final_url=outcome.url or current, redirects=chain,
                              latency_s=latency, method=method, error=error[:500], host_key=host_key)
            status, headers = outcome.status, outcome.headers or {}
            location = headers.get(b"location")
            if 300 <= status < 400 and location:
                loc = location[0].decode("latin-1")
                try:
                    next_url = normalize(urljoin(outcome.url, loc), self.session_params)
                except ValueError:
                    next_url = None
                hops = [*chain, outcome.url]
                if next_url is None:
                    return Target(url, kind, Reason.ERROR, status=status, redirects=hops,
                                  error=f"unusable Location header: {loc[:200]!r}", host_key=host_key)
                if next_url in hops or next_url == url or len(hops) > MAX_REDIRECTS:
                    looped = next_url in hops or next_url == url
                    return Target(url, kind, Reason.REDIRECT_LOOP if looped else Reason.TOO_MANY_REDIRECTS,
                                  status=status, final_url=next_url, redirects=hops, host_key=host_key)
                chain, current = hops, next_url
                continue
            if method == "HEAD" and status in HEAD_FALLBACK_STATUSES:
                method = "GET"
                continue
            ctype = b";".join(headers.get(b"content-type", [b""])).decode("latin-1")
            length = b"".join(headers.get(b"content-length", [b""]))
            return Target(url, kind, reason_for_status(status, headers), status=status,
                          final_url=outcome.url, redirects=chain, latency_s=latency,
                          size=int(length) if length.isdigit() else 0,
                          content_type=ctype.split(";")[0].strip(), method=method, host_key=host_key)

    async def _fetch_with_retries(self, url: str, method: str) -> Outcome:
        for attempt in range(self.retries + 1):
            outcome = await self._fetch(url, method)
            last = attempt == self.retries
            if outcome.error is not None:
                if last or isinstance(outcome.error, Refused):
                    return outcome
                reason, _ = reason_for_client_error(outcome.error)
                if reason not in _RETRY_REASONS:
                    return outcome
            elif last or outcome.status not in RETRY_STATUSES:
                return outcome
        return outcome  # pragma: no cover - the loop always returns

    async def _fetch(self, url: str, method: str) -> Outcome:
        """One request, cut at the headers."""
        try:
            netloc = urlsplit(url).netloc.lower()
        except ValueError as exc:
            return Outcome(url=url, error=exc)
        if netloc not in self.trusted:
            try:
                refusal = await asyncio.get_running_loop().run_in_executor(
                    None, netguard.vet_and_pin, url, self.policy, self.resolver)
            except netguard.ResolutionError as exc:
                return Outcome(url=url, error=exc)
            if refusal:
                return Outcome(url=url, error=Refused(f"not checked: {refusal}"))
        proxy = self._proxy_for(url, netloc)
        addresses = None
        if proxy is None:  # through a proxy, the proxy connects
            try:
                addresses = await self.addresses.addresses(url)
            except (netguard.ResolutionError, ValueError) as exc:
                return Outcome(url=url, error=exc)
        async with self._politely(netloc):
            try:
                # No body is read, as in the spider (HEAD, or a GET stopped at the headers).
                reply = await self.session.request(method, url, headers=self._header_lines(netloc),
                                                   timeout=self.timeout_s, addresses=addresses, proxy=proxy)
            except (CurlError, ValueError) as exc:
                return Outcome(url=url, error=exc)
            return Outcome(reply.status, reply.headers, reply.url)

    def _header_lines(self, netloc: str) -> list[str]:
        lines = self._headers.get(netloc)
        if lines is None:
            if len(self._headers) >= 10_000:  # a page can link to any number of hosts: stay bounded
                self._headers.clear()
            headers = {"User-Agent": self.user_agent, **REQUEST_HEADERS, **(self.credentials.get(netloc) or {})}
            lines = self._headers[netloc] = [f"{name}: {value}" for name, value in headers.items()]
        return lines

    def _proxy_for(self, url: str, netloc: str) -> str | None:
        if not self.proxies:
            return None
        proxy = self.proxies.get(url.split(":", 1)[0].lower())
        if proxy and urllib.request.proxy_bypass(netloc):
            return None
        return proxy

    def _politely(self, netloc: str) -> "_HostSlot":
        gate = self._host_gates.get(netloc)
        if gate is None:
            gate = self._host_gates[netloc] = asyncio.Semaphore(self.per_host)
        return _HostSlot(self, netloc, gate)


class _HostSlot:
    """Holds one of a host's concurrency slots and keeps the configured delay between request starts."""

    def __init__(self, checker: LinkChecker, netloc: str, gate: asyncio.Semaphore):
        self.checker, self.netloc, self.gate = checker, netloc, gate

    async def __aenter__(self):
        await self.gate.acquire()
        delay = self.checker.delay_s
        if delay > 0:
            now = time.monotonic()
            start = max(now, self.checker._host_next.get(self.netloc, 0.0))
            self.checker._host_next[self.netloc] = start + delay
            if start > now:
                await asyncio.sleep(start - now)
        return self

    async def __aexit__(self, *exc):
        self.gate.release()
