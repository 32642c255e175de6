"""The site spider: crawls every configured host, checks every link target once.

One request per distinct URL (our own seen-set replaces Scrapy's dupefilter,
since a link is normalised before it is requested).  Pages on configured hosts
are fetched whole, parsed and followed; everything else (images, attachments,
external pages) is checked with HEAD, falling back to a GET that stops at the
headers, so a 200 MiB attachment costs a few kilobytes.  Redirects are followed
here rather than by Scrapy's middleware so every hop passes the network guard
and the chain is recorded.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, StopDownload

from sitecheck.config import SiteConfig
from sitecheck.model import Element, Page, Reason, Target, TargetKind

from .decode import decode_page
from .classify import HEAD_FALLBACK_STATUSES, MAX_REDIRECTS, reason_for_failure, reason_for_status
from .guard import AddressRefused
from .pageparse import PageRules, occurrences, read_page
from .urls import TrapGuard, kind_of, normalize

_HTML_TYPES = ("text/html", "application/xhtml", "text/plain")


@dataclass(slots=True)
class Fetch:
    """What the spider knows about one fetch in flight (carried in request.meta["sc"])."""

    url: str  # the normalised URL the chain started from
    kind: TargetKind
    host_key: str | None
    depth: int = 0
    is_homepage: bool = False
    headers_only: bool = False
    chain: list[str] = field(default_factory=list)  # URLs redirected from, in order
    claimed: list[str] = field(default_factory=list)  # hop URLs this chain marked as seen
    not_html: bool = False
    started: float = 0.0


@dataclass(slots=True)
class PageResult:
    """A finished fetch, as the spider's generators yield it; `_emit` hands it to the recorder."""

    target: Target
    extra: dict
    page: Page | None = None
    links: tuple[str, int, str, str] | None = None  # the page's link row: crawler.pageparse.occurrences


class SiteSpider(scrapy.Spider):
    name = "sitecheck"
    custom_settings: dict = {}

    def __init__(self, site: SiteConfig, recorder=None, credentials=None, **kwargs):
        super().__init__(**kwargs)
        self.site = site
        # sitecheck.recorder.RunRecorder, or crawler.targets.RemoteRecorder when a second process
        # checks the non-page targets and records the run
        self.recorder = recorder
        self.credentials = credentials or {}  # netloc -> headers (sitecheck.credentials)
        self.worker = recorder if hasattr(recorder, "submit") else None
        crawl = site.crawl
        self.crawl_opts = crawl
        self.session_params = frozenset(p.lower() for p in crawl["session_params"])
        self.trap = TrapGuard(crawl["max_pages_per_pattern"], crawl["max_url_length"],
                              crawl["max_repeated_segments"])
        self.rules = PageRules.for_site(site)  # title, soft-404, links: crawler/pageparse.py
        self.seen: set[str] = set()
        self.pages_scheduled = 0
        self.homepages = {normalize(h.url, self.session_params): h.key for h in site.hosts}

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._headers_received, signal=signals.headers_received)
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        return spider

    # --- the record process (crawler/targets.py), when there is one ----------------------

    def _worker_handback(self, url: str, kind: TargetKind, host_key: str | None, depth: int) -> None:
        """The record process could not classify this target: check it here, with Scrapy's lenient client."""
        if self.crawler.engine is not None and self.crawler.engine.running:
            self.crawler.engine.crawl(self._request(Fetch(url, kind, host_key, depth), url))
            self._wake_engine()

    def _worker_lost(self) -> None:
        """The record process died: nothing more can be recorded, so the crawl stops (run incomplete)."""
        self.logger.error("the record process exited unexpectedly; stopping the crawl")
        engine = self.crawler.engine
        if engine is not None and engine.running:
            from twisted.internet.defer import Deferred

            Deferred.fromFuture(asyncio.ensure_future(engine.close_spider_async(reason="record_process_lost")))

    def _idle(self, spider=None):
        if self.worker is not None and self.worker.busy and not self.worker.lost:
            raise DontCloseSpider  # targets are being checked, or pages read, in the record process

    def _wake_engine(self) -> None:
        # Without this the engine notices it is idle only at its next 5-second heartbeat.
        try:
            self.crawler.engine._slot.nextcall.schedule()
        except AttributeError:  # engine internals differ between Scrapy versions: wait for the heartbeat
            pass

    # --- requests -------------------------------------------------------------------

    def traps(self) -> list[dict]:
        """What the trap defences refused, one entry per URL shape (for the run's findings)."""
        return [{"rule": rule, "shape": shape, "count": n, "example": example}
                for (rule, shape), (n, example) in self.trap.refused.items()]

    async def start(self):
        if self.worker is not None:
            self.worker.bind(on_handback=self._worker_handback, on_lost=self._worker_lost,
                             on_drained=self._wake_engine, on_page_read=self._page_read)
        for url, host_key in self.homepages.items():
            self.seen.add(url)
            self.pages_scheduled += 1
            yield self._request(Fetch(url, TargetKind.PAGE, host_key, 0, True), url, priority=100)

    def _request(self, fetch: Fetch, url: str, method: str | None = None, priority: int = 0) -> scrapy.Request:
        if method is None:
            method = "GET" if fetch.kind == TargetKind.PAGE else "HEAD"
        fetch.started = time.monotonic()
        meta = {"sc": fetch, "dont_redirect": True, "handle_httpstatus_all": True}
        if fetch.kind != TargetKind.PAGE or fetch.host_key is None:
            meta["dont_obey_robotstxt"] = True  # robots.txt governs crawling, not checking one link
        if fetch.kind != TargetKind.PAGE:
            # Checking a target creates no new work: doing it first keeps the queue (memory) small.
            priority += 50
        return scrapy.Request(url, method=method, callback=self.on_response, errback=self.on_error,
                              meta=meta, dont_filter=True, priority=priority)

    def _host_key(self, url: str) -> str | None:
        host = self.site.host_for(urlsplit(url).netloc)
        return host.key if host else None

    def _discover(self, link_url: str, element: Element, depth: int) -> scrapy.Request | None:
        """A request for a newly found URL, or None when it is beyond the horizon or a trap."""
        host_key = self._host_key(link_url)
        kind = kind_of(link_url, element, host_key is not None)
        if kind == TargetKind.PAGE:
            if depth > self.crawl_opts["max_depth"]:
                return None  # beyond the crawl's horizon: neither fetched nor judged
            if self.pages_scheduled >= self.crawl_opts["max_pages"]:
                return None
            if self.trap.refusal(link_url):
                return None  # counted by the guard, reported once per URL shape
            self.pages_scheduled += 1
        elif host_key is None and not self.crawl_opts["check_external"]:
            return None
        if kind != TargetKind.PAGE and self.worker is not None:
            self.worker.submit(link_url, kind, host_key, depth)
            return None
        return self._request(Fetch(link_url, kind, host_key, depth), link_url)

    # --- responses ------------------------------------------------------------------

    def stop_at_headers(self, headers, request) -> bool:
        """True when the body is not wanted: a GET standing in for HEAD, or a "page" that is a file.

        Called by our download handler (crawler/download.py) once the headers are in.
        """
        fetch = request.meta.get("sc")
        if fetch is None:
            return False
        if fetch.headers_only:
            return True
        if fetch.kind == TargetKind.PAGE:
            ctype = (headers.get(b"Content-Type") or b"").decode("latin-1").split(";")[0].strip().lower()
            if ctype and not ctype.startswith(_HTML_TYPES) and b"Location" not in headers:
                fetch.not_html = True
                return True
        return False

    def _headers_received(self, headers, body_length, request, spider):
        """The same cut for Scrapy's own handler (the lenient fallback), via its signal."""
        if self.stop_at_headers(headers, request):
            raise StopDownload(fail=False)

    # Scrapy callbacks. Results and new requests do not travel back through Scrapy's item
    # pipeline and spider-middleware chains (each costs several coroutine hops per object, ~20 %
    # of the crawl's CPU in a profile): the spider records and schedules them itself.

    def on_response(self, response) -> None:
        for out in self._on_response(response):
            self._emit(out)

    def on_error(self, failure) -> None:
        for out in self._on_error(failure):
            self._emit(out)

    def _emit(self, out) -> None:
        if isinstance(out, PageResult):
            self.recorder.record(out.target, out.extra, out.page, out.links)
        else:
            self.crawler.engine.crawl(out)

    def _on_response(self, response):
        fetch: Fetch = response.meta["sc"]
        status = response.status
        if 300 <= status < 400 and response.headers.get(b"Location"):
            yield from self._redirect(response, fetch)
            return
        latency = response.meta.get("download_latency", time.monotonic() - fetch.started)
        ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        length = response.headers.get(b"Content-Length")
        size = int(length) if length and length.isdigit() else len(response.body)
        target = Target(fetch.url, fetch.kind, reason_for_status(status, response.headers, _head_text(response)),
                        status=status, final_url=response.url, redirects=list(fetch.chain),
                        latency_s=round(latency, 4), size=size, content_type=ctype.split(";")[0].strip(),
                        method=response.request.method, host_key=fetch.host_key)
        if response.request.method == "HEAD" and status in HEAD_FALLBACK_STATUSES:
            # Many government servers refuse HEAD: ask again with a GET cut at the headers.
            fetch.headers_only = True
            yield self._request(fetch, response.url, method="GET")
            return
        if fetch.not_html:  # linked like a page, served as a file
            target.kind = TargetKind.IMAGE if target.content_type.startswith("image/") else TargetKind.ATTACHMENT
        extra = {"depth": fetch.depth, "is_homepage": fetch.is_homepage,
                 "fetched_at": datetime.now(timezone.utc)}
        if (fetch.kind == TargetKind.PAGE and not fetch.not_html and not fetch.headers_only
                and status == 200 and isinstance(response, scrapy.http.TextResponse)):
            yield from self._parse_page(response, fetch, target, extra)
            return
        yield from self._finish(fetch, target, extra)

    def _parse_page(self, response, fetch: Fetch, target: Target, extra: dict):
        try:
            html, encoding, problem = decode_page(response.body, response.encoding, lambda: response.text)
        except Exception:  # noqa: BLE001 - undecodable bytes: treat as an empty page, say so
            html, encoding, problem = "", response.encoding, "invalid: the body could not be decoded"
        page = Page(url=fetch.url, html=html, host_key=fetch.host_key, site=self.site.key,
                    final_url=response.url, status=response.status, depth=fetch.depth,
                    is_homepage=fetch.is_homepage, encoding=encoding, decode_problem=problem,
                    content_type=target.content_type, latency_s=target.latency_s or 0.0,
                    size=target.size or 0, fetched_at=extra["fetched_at"],
                    body=response.body if not problem else None)
        extra["encoding"] = encoding
        if self.worker is not None and self.worker.has_spare_time():
            # The record process reads this page (same function) and sends its links back.
            self.worker.read_for_us(page, response.url, target, extra, context=fetch)
            return
        distinct = read_page(page, response.url, self.rules)
        extra["title"] = page.title
        if distinct is None:
            target.reason = Reason.SOFT_404
            yield from self._finish(fetch, target, extra)
            return
        yield PageResult(target, extra, page, occurrences(distinct, fetch.url, fetch.is_homepage))
        yield from self._follow(fetch, distinct)
        yield from self._claimed_results(fetch, target, extra)

    def _page_read(self, fetch: Fetch, target: Target, extra: dict,
                   links: list[tuple[str, str, Element]] | None) -> None:
        """The record process read a page for us: follow its links (None: it was a soft-404)."""
        if links is None:
            target.reason = Reason.SOFT_404  # as _parse_page does: redirect hops to it say so too
        for out in self._follow(fetch, links or ()):
            self._emit(out)
        for out in self._claimed_results(fetch, target, extra):
            self._emit(out)
        self._wake_engine()

    def _follow(self, fetch: Fetch, distinct):
        """Requests for the links of a page not seen before (the rest are submitted to the worker)."""
        seen, depth = self.seen, fetch.depth + 1
        for url, _text, element in distinct:
            if url in seen:
                continue
            seen.add(url)
            request = self._discover(url, Element.A if element == Element.PAGINATION else element, depth)
            if request is not None:
                yield request

    def _redirect(self, response, fetch: Fetch):
        location = response.headers[b"Location"].decode("latin-1")
        try:
            next_url = normalize(urljoin(response.url, location), self.session_params)
        except ValueError:
            next_url = None
        chain = [*fetch.chain, response.url]
        if next_url is None:
            target = Target(fetch.url, fetch.kind, Reason.ERROR, status=response.status, redirects=chain,
                            error=f"unusable Location header: {location[:200]!r}", host_key=fetch.host_key)
            yield from self._finish(fetch, target, {"depth": fetch.depth})
            return
        if next_url in chain or next_url == fetch.url or len(chain) > MAX_REDIRECTS:
            reason = Reason.REDIRECT_LOOP if (next_url in chain or next_url == fetch.url) else Reason.TOO_MANY_REDIRECTS
            target = Target(fetch.url, fetch.kind, reason, status=response.status, final_url=next_url,
                            redirects=chain, host_key=fetch.host_key)
            yield from self._finish(fetch, target, {"depth": fetch.depth})
            return
        fetch.chain = chain
        fetch.not_html = False
        next_host = self._host_key(next_url)
        if fetch.kind == TargetKind.PAGE and next_host is None:
            # A page that redirects off-site: check where it lands, do not crawl there.
            fetch.headers_only = True
        if next_url not in self.seen:
            self.seen.add(next_url)
            fetch.claimed.append(next_url)
        elif fetch.kind == TargetKind.PAGE:
            fetch.headers_only = True  # the landing page is crawled on its own account
        yield self._request(fetch, next_url, method="GET" if fetch.headers_only else None)

    def _on_error(self, failure):
        request = failure.request
        fetch: Fetch = request.meta["sc"]
        if isinstance(failure.value, AddressRefused):
            reason, error = Reason.PRIVATE_ADDRESS, str(failure.value)
        else:
            reason, error = reason_for_failure(failure)
        if request.method == "HEAD" and reason in (Reason.RESET, Reason.ERROR):
            fetch.headers_only = True
            yield self._request(fetch, request.url, method="GET")
            return
        latency = time.monotonic() - fetch.started
        target = Target(fetch.url, fetch.kind, reason, final_url=request.url, redirects=list(fetch.chain),
                        latency_s=round(latency, 4), method=request.method, error=error[:500],
                        host_key=fetch.host_key)
        yield from self._finish(fetch, target, {"depth": fetch.depth, "is_homepage": fetch.is_homepage})

    def _finish(self, fetch: Fetch, target: Target, extra: dict):
        yield PageResult(target, extra)
        yield from self._claimed_results(fetch, target, extra)

    def _claimed_results(self, fetch: Fetch, target: Target, extra: dict):
        """Hop URLs this chain claimed get their own record, so links to them are judged too."""
        for url in fetch.claimed:
            if url == fetch.url:
                continue
            yield PageResult(Target(url, target.kind, target.reason, status=target.status,
                                    final_url=target.final_url, latency_s=target.latency_s, size=target.size,
                                    content_type=target.content_type, method=target.method,
                                    error=target.error, host_key=self._host_key(url)),
                             {"depth": fetch.depth})


def _head_text(response) -> str:
    if response.status != 403:
        return ""
    try:
        return response.text[:4000]
    except Exception:  # noqa: BLE001
        return ""
