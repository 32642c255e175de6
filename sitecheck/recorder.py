"""From crawl results to stored findings: runs the checks and writes the store in batches.

The crawler hands every finished fetch to `RunRecorder.record`; nothing here
knows about Scrapy.  Writes are batched (one transaction per few hundred rows)
because per-row commits would dominate a 20,000-page crawl.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol
from urllib.parse import urlsplit

from sitecheck.checks import registry
from sitecheck.checks.base import Check
from sitecheck.config import SiteConfig
from sitecheck.model import Fact, Finding, Page, Severity, Target
from sitecheck.store import Store

log = logging.getLogger("sitecheck.recorder")

Clock = Callable[[], datetime]


def utc_clock() -> datetime:
    return datetime.now(timezone.utc)


def build_checks(site: SiteConfig) -> tuple[list[Check], dict[str, str]]:
    """Instantiate the site's enabled checks; returns (checks, {name: reason} of disabled ones)."""
    return registry.build(site)


class StoreRunView:
    """The RunView checks see in on_finish, backed by the store."""

    def __init__(self, store: Store, site: SiteConfig, run_id: int, now: datetime, pages: int):
        self.store, self.site, self.run_id, self.now, self._pages = store, site, run_id, now, pages

    def targets(self, failed_only: bool = True) -> Iterator[Target]:
        return self.store.targets(self.run_id, failed_only)

    def previous_fact(self, name: str, host_key: str | None = None, key: str = "") -> Any:
        return self.store.previous_fact(self.site.key, self.run_id, name, host_key, key)

    def pages_seen(self) -> int:
        return self._pages


class Recorder(Protocol):
    """What the crawl hands its results to: RunRecorder in this process, or
    crawler.targets.RemoteRecorder, which sends them to a second process that runs a RunRecorder."""

    run_id: int
    pages: int
    targets: int
    finding_count: int

    def record(self, target: Target, extra: dict, page: Page | None = None,
               links: tuple[str, int, str, str] | None = None) -> None:
        """A finished fetch; `links` is the page's link row (crawler.pageparse.occurrences)."""

    def record_crawl(self, traps: list[dict], backoffs: list[dict]) -> None:
        """What the crawler itself noticed: URL shapes its trap defences cut off, hosts it slowed down for."""

    def finish(self, status: str, error: str = "", stats: dict[str, Any] | None = None) -> "RunSummary":
        """Run the end-of-crawl checks and the verdict, close the run with `status`."""


@dataclass
class RunSummary:
    run_id: int
    status: str
    pages: int = 0
    targets: int = 0
    findings_by_severity: Counter = field(default_factory=Counter)
    findings_by_code: Counter = field(default_factory=Counter)
    check_errors: dict[str, int] = field(default_factory=dict)
    verdict: dict[str, Any] | None = None
    duration_s: float = 0.0


class RunRecorder:
    # Rows written per transaction. Each commit rewrites the index pages its rows land on, so
    # fewer, larger batches cost less (docs/performance.md). The time bound below limits loss.
    BATCH = 2000
    FLUSH_SECONDS = 2.0  # a killed crawl loses at most this much of its records

    def __init__(self, store: Store, site: SiteConfig, *, clock: Clock = utc_clock, run_id: int | None = None):
        self.store = store
        self.site = site
        self.clock = clock
        self.started = clock()
        self.checks, self.disabled = build_checks(site)
        self.silenced = frozenset(site.silence)
        if run_id is None:
            self.run_id = store.start_run(site.key, site.digest, self.started)
        else:  # the crawl process started the run and hands its recording to us (crawler/targets.py)
            self.run_id = run_id
            store.take_over_run(run_id)
        self._targets: list[tuple[Target, dict]] = []
        self._links: list[tuple[str, int, str, str]] = []  # one row per page: Store.add_page_links
        self._findings: list[Finding] = []
        self._facts: list[Fact] = []
        self.pages = 0
        self.targets = 0
        self.finding_count = 0
        self.check_errors: Counter = Counter()
        self._flushed_at = time.monotonic()

    # --- during the crawl ------------------------------------------------------------

    def record(self, target: Target, extra: dict, page: Page | None = None,
               links: tuple[str, int, str, str] | None = None) -> None:
        """A finished fetch; `links` is the page's link row (crawler.pageparse.occurrences)."""
        self._targets.append((target, extra))
        self.targets += 1
        if links is not None:
            self._links.append(links)
        if page is not None:
            self.pages += 1
            for check in self.checks:
                self._collect(check, check.on_page, page)
        if (len(self._targets) >= self.BATCH or len(self._links) >= self.BATCH
                or time.monotonic() - self._flushed_at > self.FLUSH_SECONDS):
            self.flush()

    def _collect(self, check: Check, hook, arg) -> None:
        try:
            for out in hook(arg) or ():
                if isinstance(out, Finding):
                    if out.code in self.silenced:
                        continue
                    out.check = out.check or check.name
                    self._findings.append(out)
                    self.finding_count += 1
                else:
                    out.check = out.check or check.name
                    self._facts.append(out)
        except Exception:  # noqa: BLE001 - one broken check must not stop the crawl or the others
            self.check_errors[check.name] += 1
            if self.check_errors[check.name] <= 3:
                log.error("check %s failed on %s:\n%s", check.name, getattr(arg, "url", "run end"),
                          traceback.format_exc())

    def flush(self) -> None:
        self._flushed_at = time.monotonic()
        if self._targets:
            self.store.add_targets(self.run_id, self._targets)
            self._targets = []
        if self._links:
            self.store.add_page_links(self._links)
            self._links = []
        if self._findings:
            self.store.add_findings(self.run_id, self._findings)
            self._findings = []
        if self._facts:
            self.store.add_facts(self.run_id, self._facts)
            self._facts = []

    def record_crawl(self, traps: list[dict], backoffs: list[dict]) -> None:
        """One finding per URL shape the trap defences cut off, so the webmaster can see what was
        skipped; one per host the crawl slowed down for, so the operator can see why it took longer."""
        for t in traps:
            self._crawl_finding(Finding(
                "crawl.trap", Severity.INFO, t["example"],
                f"疑似爬虫陷阱，已跳过 {t['count']} 个同类链接：{t['rule']}", "crawler",
                self._host_key(t["example"]), details=t))
        for b in backoffs:
            causes = "、".join(f"{cause} ×{n}" for cause, n in sorted(b["causes"].items()))
            self._crawl_finding(Finding(
                "crawl.backoff", Severity.INFO, f"http://{b['netloc']}/",
                f"服务器响应变慢或报错（{causes}），爬取已放慢 {b['times']} 次，最长请求间隔 {b['longest_gap_s']} 秒",
                "crawler", self._host_key(f"http://{b['netloc']}/"), details=b))

    def _crawl_finding(self, finding: Finding) -> None:
        if finding.code in self.silenced:
            return
        self._findings.append(finding)
        self.finding_count += 1

    def _host_key(self, url: str) -> str | None:
        host = self.site.host_for(urlsplit(url).netloc)
        return host.key if host else None

    # --- at the end -------------------------------------------------------------------

    def finish(self, status: str, error: str = "", stats: dict[str, Any] | None = None) -> RunSummary:
        """Run the end-of-crawl checks, the verdict, and close the run with `status`."""
        self.flush()
        self.store.resolve_landings(self.run_id)
        self.store.fold_links(self.run_id)
        now = self.clock()
        view = StoreRunView(self.store, self.site, self.run_id, now, self.pages)
        for check in self.checks:
            self._collect(check, check.on_finish, view)
        self.flush()
        verdict = self._verdict()
        run_stats = dict(stats or {})
        run_stats["check_errors"] = dict(self.check_errors)
        run_stats["disabled_checks"] = self.disabled
        self.store.finish_run(self.run_id, status, ended_at=now, error=error, stats=run_stats)
        # The counts the store keeps: every HTML page fetched, parsed or not (a 404 page is a page
        # of the run too), and every distinct URL; self.pages counts only the pages the checks read.
        stored = self.store.run(self.run_id)
        summary = RunSummary(self.run_id, status, stored.pages, stored.targets, check_errors=dict(self.check_errors),
                             verdict=verdict, duration_s=(now - self.started).total_seconds())
        for _fid, f in self.store.findings(self.run_id):
            summary.findings_by_severity[f.severity] += 1
            summary.findings_by_code[f.code] += 1
        return summary

    def _verdict(self) -> dict[str, Any] | None:
        from sitecheck import verdicts

        return verdicts.judge_run(self.store, self.site, self.run_id)
