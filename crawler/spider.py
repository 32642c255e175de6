"""The site spider: crawls every configured host, checks every link target once.

One request per distinct URL: links are normalised (crawler/urls.py) and de-duplicated here,
redirect hops included, so Scrapy's dupefilter is off.  Pages on configured hosts are fetched
whole, parsed and followed as Scrapy requests; everything else (images, attachments, external
pages) is checked by the link checker (crawler/linkcheck.py) in this process.  Both send through
one transport (crawler/transport.py: address guard, per-host politeness) and both decide what
comes next by one policy (crawler/policy.py: redirects hop by hop, HEAD fallback, retries,
reasons).  Redirects are followed here rather than by Scrapy's middleware, so every hop passes
the address guard and the chain is recorded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest

from sitecheck.config import SiteConfig
from sitecheck.model import Element, Page, Reason, Target, TargetKind

from .boards import PRIORITY as BOARD_PRIORITY, BoardPages
from .decode import decode_body
from .linkcheck import Checked, LinkChecker, landed_elsewhere, target_for
from .pageparse import PageRules, occurrences, read_page
from .policy import AsGet, Done, Follow, Got, Retry, Rules, Sent, next_step, resend, wants_body
from .transport import FetchError, Transport
from .urls import TrapGuard, kind_of, normalize
from .waf import WallWatch, wall_error, wall_from_error

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Fetch:
    """What the spider knows about one page fetch in flight (carried in request.meta["sc"])."""

    url: str  # the normalised URL the fetch started from
    kind: TargetKind
    host_key: str | None
    depth: int = 0
    is_homepage: bool = False
    headers_only: bool = False  # a GET standing in for a HEAD, or a page whose landing is crawled elsewhere
    sent: Sent | None = None
    claimed: list[str] = field(default_factory=list)  # hop URLs this fetch marked as seen
    started: float = 0.0


class SiteSpider(scrapy.Spider):
    name = "sitecheck"
    custom_settings: dict = {}

    def __init__(self, site: SiteConfig, recorder=None, credentials=None, **kwargs):
        super().__init__(**kwargs)
        self.site = site
        # sitecheck.recorder.Recorder: RunRecorder, or crawler.targets.RemoteRecorder when a second
        # process runs the checks and writes the store
        self.recorder = recorder
        self.lender = recorder if getattr(recorder, "lends_pages", False) else None
        crawl = site.crawl
        self.crawl_opts = crawl
        self.session_params = frozenset(p.lower() for p in crawl.session_params)
        self.trap = TrapGuard(crawl.max_pages_per_pattern, crawl.max_url_length,
                              crawl.max_repeated_segments)
        self.rules = PageRules.for_site(site)  # title, soft-404, links: crawler/pageparse.py
        self.fetch_rules = Rules(retries=crawl.retries, max_retry_after_s=crawl.max_retry_after_seconds)
        self.timeout_s = float(crawl.timeout_seconds)
        self.transport = Transport.for_site(site, credentials or {})
        self.politeness = self.transport.politeness
        self.links = LinkChecker(self.transport, self.fetch_rules, self._normalise, self.timeout_s)
        self.walls = WallWatch()  # hosts whose anti-bot wall keeps challenging us are given up
        self.seen: set[str] = set()
        self.pages_scheduled = 0
        self.pages_done = 0
        self.targets_pending = 0
        self._tasks: set[asyncio.Task] = set()  # link checkers running
        self._target_queues: dict[str, deque] = {}  # netloc -> link targets waiting to be checked
        self._target_checkers: dict[str, int] = {}  # netloc -> checkers running for it
        self._closing: asyncio.Future | None = None
        self.homepages = {normalize(h.url, self.session_params): h.key for h in site.hosts}
        self.boards = BoardPages.for_site(site, self._normalise)
        # Page URLs the crawl's limits turned away (kept only when the site has boards): a board's
        # list page may still ask for them (crawler/boards.py).
        self.turned_away: set[str] | None = set() if self.boards.boards else None

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        return spider

    def _normalise(self, url: str) -> str | None:
        return normalize(url, self.session_params)

    def claim(self, url: str) -> bool:
        """Mark a URL as seen; True if it was new (then this fetch is its one request)."""
        if url in self.seen:
            return False
        self.seen.add(url)
        return True

    # --- the crawl's life --------------------------------------------------------------

    def traps(self) -> list[dict]:
        """What the trap defences refused, one entry per URL shape (for the run's findings)."""
        return [{"rule": rule, "shape": shape, "count": n, "example": example}
                for (rule, shape), (n, example) in self.trap.refused.items()]

    def backoffs(self) -> list[dict]:
        """Hosts the crawl slowed down for (for the run's findings)."""
        return [{"netloc": b.netloc, "times": b.times, "longest_gap_s": round(b.longest_gap_s, 2),
                 "causes": b.causes} for b in self.politeness.backoffs.values()]

    def _busy(self) -> bool:
        return self.targets_pending > 0 or (self.lender is not None and self.lender.busy)

    def _idle(self, spider=None):
        if self._busy() and not (self.lender is not None and self.lender.lost):
            raise DontCloseSpider  # link targets are being checked, or pages read in the record process

    def _maybe_finished(self) -> None:
        """Work outside Scrapy's queue just ended: if Scrapy has nothing left either, the crawl is done.

        Scrapy asks `spider_idle` only when its own queue runs dry or at its heartbeat (every
        5 s); the last link checks end later, so the spider closes the crawl itself, through the
        engine's public calls, rather than wait for the heartbeat."""
        engine = getattr(getattr(self, "crawler", None), "engine", None)
        if self._busy() or engine is None or not engine.running or not engine.spider_is_idle():
            return
        self._close_crawl("finished")

    def _close_crawl(self, reason: str) -> None:
        engine = self.crawler.engine
        if hasattr(engine, "close_spider_async"):  # Scrapy 2.14 and later
            self._closing = asyncio.ensure_future(engine.close_spider_async(reason=reason))
        else:
            engine.close_spider(self, reason)

    def _keep(self, task: asyncio.Future) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _lender_lost(self) -> None:
        """The record process died: nothing more can be recorded, so the crawl stops (run incomplete)."""
        log.error("the record process exited unexpectedly; stopping the crawl")
        if self.crawler.engine is not None and self.crawler.engine.running:
            self._close_crawl("record_process_lost")

    async def _closed(self, spider=None, reason=None):
        for task in list(self._tasks):  # link checks still running when the crawl was stopped
            task.cancel()
        await self.transport.close()

    # --- requests -------------------------------------------------------------------

    async def start(self):
        if self.lender is not None:
            self.lender.bind(on_lost=self._lender_lost, on_page_read=self._page_read)
        for url, host_key in self.homepages.items():
            self.seen.add(url)
            self.pages_scheduled += 1
            yield self._request(Fetch(url, TargetKind.PAGE, host_key, 0, True), Sent(url, "GET"), priority=100)

    def _request(self, fetch: Fetch, sent: Sent, priority: int = 0) -> scrapy.Request:
        fetch.sent = sent
        fetch.started = time.monotonic()
        meta = {"sc": fetch, "dont_redirect": True, "handle_httpstatus_all": True}
        if fetch.host_key is None:
            meta["dont_obey_robotstxt"] = True  # robots.txt governs crawling, not checking where a link lands
        return scrapy.Request(sent.url, method=sent.method, callback=self.on_response, errback=self.on_error,
                              meta=meta, dont_filter=True, priority=priority)

    def _host_key(self, url: str) -> str | None:
        host = self.site.host_for(urlsplit(url).netloc)
        return host.key if host else None

    def _discover(self, link_url: str, element: Element, depth: int) -> scrapy.Request | None:
        """A request for a newly found page, or None: a link target (checked here), beyond the
        horizon, or a trap."""
        host_key = self._host_key(link_url)
        kind = kind_of(link_url, element, host_key is not None)
        if host_key is not None and self.walls.given_up(host_key):
            return None  # the host walled the crawl off: nothing more is asked of it
        if kind == TargetKind.PAGE:
            if depth > self.crawl_opts.max_depth or self.pages_scheduled >= self.crawl_opts.max_pages:
                if self.turned_away is not None:
                    self.turned_away.add(link_url)
                return None  # beyond the crawl's horizon: neither fetched nor judged
            if self.trap.refusal(link_url):
                return None  # counted by the guard, reported once per URL shape
            self.pages_scheduled += 1
            return self._request(Fetch(link_url, kind, host_key, depth), Sent(link_url, "GET"))
        if host_key is None and not self.crawl_opts.check_external:
            return None
        self._queue_target(link_url, kind, host_key, depth)
        return None

    def _queue_target(self, url: str, kind: TargetKind, host_key: str | None, depth: int) -> None:
        """Queue a link target by host; each host has at most `concurrency_per_host` checkers.

        A queued target is a tuple, not a waiting task: a portal discovers targets far faster
        than politeness lets them be checked, and a task parked at the gate costs a few
        kilobytes where a tuple costs a hundred bytes.  Per host, so a hanging host's queue
        holds up nobody else's."""
        self.targets_pending += 1
        netloc = urlsplit(url).netloc.lower()
        queue = self._target_queues.get(netloc)
        if queue is None:
            queue = self._target_queues[netloc] = deque()
        queue.append((url, kind, host_key, depth))
        running = self._target_checkers.get(netloc, 0)
        if running < self.politeness.concurrency:
            self._target_checkers[netloc] = running + 1
            self._keep(asyncio.ensure_future(self._check_targets(netloc, queue)))

    async def _check_targets(self, netloc: str, queue: deque) -> None:
        try:
            while queue:
                await self._check_target(*queue.popleft())
        finally:
            left = self._target_checkers[netloc] - 1
            if left:
                self._target_checkers[netloc] = left
            else:  # a page can link any number of hosts: keep no state for idle ones
                del self._target_checkers[netloc]
                if not queue:
                    self._target_queues.pop(netloc, None)

    def walled(self, url: str) -> str | None:
        """The wall (as a target's error text) of a configured host the crawl has given up, else None."""
        if not self.walls.closed_any:
            return None
        host_key = self._host_key(url)
        wall = self.walls.given_up(host_key) if host_key else None
        return wall_error(wall) if wall else None

    async def _check_target(self, url: str, kind: TargetKind, host_key: str | None, depth: int) -> None:
        try:
            wall = self.walled(url)
            if wall:  # not requested: the host's wall has answered every request for a while
                checked = Checked(Target(url, kind, Reason.BLOCKED, error=wall, host_key=host_key))
            else:
                checked = await self.links.check(url, kind, host_key, self.claim)
        except Exception as exc:  # noqa: BLE001 - a bug must not lose the target or hang the crawl
            log.exception("checking %s failed", url)
            checked = Checked(Target(url, kind, Reason.ERROR, error=f"{type(exc).__name__}: {exc}"[:500],
                                     host_key=host_key))
        self.targets_pending -= 1
        extra = {"depth": depth}
        self.recorder.record(checked.target, extra)
        for out in self._hop_results(checked.claimed, url, checked.target, extra):
            self.recorder.record(*out)
        self._maybe_finished()

    # --- responses ------------------------------------------------------------------

    def stop_at_headers(self, headers: dict[bytes, list[bytes]], request) -> bool:
        """Called by the download handler once the headers are in: True when the body is not wanted."""
        fetch = request.meta.get("sc")
        if fetch is None:
            return False  # Scrapy's own requests (robots.txt)
        return not wants_body(fetch.kind, fetch.headers_only, headers)

    def on_response(self, response) -> None:
        fetch: Fetch = response.meta["sc"]
        headers = response.meta.get("wire_headers") or {}
        got = Got(response.status, headers, body_head=response.body[:4096] if response.status >= 400 else b"")
        self._next(fetch, got, response)

    def on_error(self, failure) -> None:
        request = failure.request
        fetch: Fetch = request.meta["sc"]
        exc = failure.value
        if isinstance(exc, FetchError):
            got = Got(failure=exc.reason, detail=exc.detail)
        elif isinstance(exc, IgnoreRequest):  # a downloader middleware said no: robots.txt, or decompression
            text = str(exc)
            reason = Reason.TOO_LARGE if "DOWNLOAD_MAXSIZE" in text else Reason.ROBOTS
            got = Got(failure=reason, detail=text or "disallowed by robots.txt")
        else:
            got = Got(failure=Reason.ERROR, detail=f"{type(exc).__name__}: {exc}")
        self._next(fetch, got, None)

    def _next(self, fetch: Fetch, got: Got, response) -> None:
        sent = fetch.sent
        step = next_step(sent, got, self.fetch_rules, self._normalise)
        if isinstance(step, Follow):
            if not self.claim(step.url):
                # The landing URL is fetched on its own account (or was): one request per resource.
                # The store gives this chain the landing's outcome when the run ends.
                self._done(fetch, got, landed_elsewhere(step.url), response)
                return
            fetch.claimed.append(step.url)
            if fetch.kind == TargetKind.PAGE and self._host_key(step.url) is None:
                fetch.headers_only = True  # a page that redirects off-site: check where it lands, do not crawl
            method = "GET" if fetch.headers_only or fetch.kind == TargetKind.PAGE else sent.method
            self._schedule(self._request(fetch, resend(sent, step, method)))
        elif isinstance(step, (Retry, AsGet)):
            fetch.headers_only = fetch.headers_only or isinstance(step, AsGet)
            self._schedule(self._request(fetch, resend(sent, step)))
        else:
            self._done(fetch, got, step, response)

    def _schedule(self, request: scrapy.Request) -> None:
        self.crawler.engine.crawl(request)

    def _done(self, fetch: Fetch, got: Got, done: Done, response) -> None:
        self.pages_done += 1
        latency = time.monotonic() - fetch.started
        if response is not None:
            latency = response.meta.get("download_latency", latency)
        target = target_for(fetch.url, fetch.kind, fetch.host_key, fetch.sent, got, done, round(latency, 4))
        if fetch.host_key is not None and got.status is not None:
            if self.walls.observe(fetch.host_key, wall_from_error(done.detail)) and done.reason == Reason.BLOCKED:
                log.warning("%s: the site's anti-bot wall answers every request (%s); not crawled further",
                            fetch.host_key, done.detail)
        if response is not None and not target.size:
            target.size = len(response.body)
        read_body = response is not None and "download_stopped" not in response.flags
        if fetch.kind == TargetKind.PAGE and response is not None and not read_body and not fetch.headers_only \
                and got.status is not None and got.status < 300:
            # linked like a page, served as a file
            target.kind = TargetKind.IMAGE if target.content_type.startswith("image/") else TargetKind.ATTACHMENT
        extra = {"depth": fetch.depth, "is_homepage": fetch.is_homepage, "fetched_at": datetime.now(timezone.utc)}
        if (fetch.kind == TargetKind.PAGE and read_body and not fetch.headers_only and got.status == 200
                and isinstance(response, scrapy.http.TextResponse)):
            self._parse_page(response, fetch, target, extra)
            return
        self._finish(fetch, target, extra)

    def _page(self, response, fetch: Fetch, target: Target, extra: dict, html: str, encoding: str,
              problem: str) -> Page:
        return Page(url=fetch.url, html=html, host_key=fetch.host_key, site=self.site.key,
                    final_url=response.url, status=response.status, depth=fetch.depth,
                    is_homepage=fetch.is_homepage, encoding=encoding, decode_problem=problem,
                    content_type=target.content_type, latency_s=target.latency_s or 0.0,
                    size=target.size or 0, fetched_at=extra["fetched_at"],
                    body=response.body if not problem else None)

    def _parse_page(self, response, fetch: Fetch, target: Target, extra: dict) -> None:
        board = self.boards.board_of(fetch.host_key, fetch.url, response.url)
        if board is None and self.lender is not None and self.lender.has_spare_time():
            # The record process decodes and reads this page (the same functions) and sends its
            # links back: lent undecoded, with the header its encoding is read from.
            page = self._page(response, fetch, target, extra, "", "", "")
            self.lender.read_for_us(page, response.url, target, extra, context=fetch,
                                    content_type=response.headers.get(b"Content-Type"))
            return
        html, encoding, problem = decode_body(response.body, response.url, response.headers.get(b"Content-Type"))
        page = self._page(response, fetch, target, extra, html, encoding, problem)
        extra["encoding"] = encoding
        distinct = read_page(page, response.url, self.rules)
        extra["title"] = page.title
        if distinct is None:
            target.reason = Reason.SOFT_404
            self._finish(fetch, target, extra)
            return
        self.recorder.record(target, extra, page, occurrences(distinct, fetch.url, fetch.is_homepage))
        if board is not None:  # read here, not lent: its messages are found in its markup
            self._follow_board(fetch, board, page, distinct)
        self._follow(fetch, distinct)
        for out in self._hop_results(fetch.claimed, fetch.url, target, extra):
            self.recorder.record(*out)

    def _page_read(self, fetch: Fetch, target: Target, extra: dict,
                   links: list[tuple[str, str, Element]] | None) -> None:
        """The record process read a page for us: follow its links (None: it was a soft-404)."""
        if links is None:
            target.reason = Reason.SOFT_404  # as _parse_page does: redirect hops to it say so too
        self._follow(fetch, links or ())
        for out in self._hop_results(fetch.claimed, fetch.url, target, extra):
            self.recorder.record(*out)
        self._maybe_finished()

    def _follow(self, fetch: Fetch, distinct) -> None:
        """Requests for the links of a page not seen before; link targets go to the link checker."""
        seen, depth = self.seen, fetch.depth + 1
        for url, _text, element in distinct:
            if url in seen:
                continue
            seen.add(url)
            request = self._discover(url, Element.A if element == Element.PAGINATION else element, depth)
            if request is not None:
                self._schedule(request)

    def _follow_board(self, fetch: Fetch, board, page: Page, distinct) -> None:
        """A board's list page: its messages and further list pages are requested first, whatever
        max_depth and max_pages say, up to the board's cap (crawler/boards.py); the scope, trap
        and wall rules still apply."""
        turned_away = self.turned_away
        taken = (lambda url: url in self.seen and url not in turned_away)
        for url in self.boards.wanted(board, page.tree, page.final_url, distinct, taken):
            host_key = self._host_key(url)
            if host_key is None or self.walls.given_up(host_key) or kind_of(url, Element.A, True) != TargetKind.PAGE:
                continue  # off the configured hosts, walled off, or a file: left to the ordinary rules
            if self.trap.refusal(url):
                continue
            self.seen.add(url)
            turned_away.discard(url)
            self.pages_scheduled += 1
            self._schedule(self._request(Fetch(url, TargetKind.PAGE, host_key, fetch.depth + 1), Sent(url, "GET"),
                                         priority=BOARD_PRIORITY))

    def _finish(self, fetch: Fetch, target: Target, extra: dict) -> None:
        self.recorder.record(target, extra)
        for out in self._hop_results(fetch.claimed, fetch.url, target, extra):
            self.recorder.record(*out)

    def _hop_results(self, claimed: list[str], url: str, target: Target, extra: dict):
        """Hop URLs a chain reached first get their own record, so links to them are judged too."""
        for hop in claimed:
            if hop == url:
                continue
            yield (Target(hop, target.kind, target.reason, status=target.status, final_url=target.final_url,
                          latency_s=target.latency_s, size=target.size, content_type=target.content_type,
                          method=target.method, error=target.error, host_key=self._host_key(hop)),
                   {"depth": extra.get("depth", 0)})
