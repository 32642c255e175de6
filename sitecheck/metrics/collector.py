"""`StoreCollector`: the store as Prometheus metric families, read on every scrape.

Nothing is kept between scrapes except the store-error counter and a cache of
label sets seen in past runs (used to initialise series to 0), so the metrics
are always what the store says now.  Each scrape opens the store read-only and
reads in one transaction: a crawl writing at the same time (WAL) is neither
blocked nor seen half-written.

What a scrape reports, per site:
- the latest finished run (`complete`, `incomplete` or `failed`): times, status;
- the latest *complete* run: pages, findings, broken links, latency histogram,
  columns, message boards and the indicator verdict;
- the run counts by status, and the probes of the last 1 and 7 days.

Labels are bounded: site and host keys, codes, severities, kinds, reasons,
veto item ids, and the column, board and probe-page names of the site file
(configured, never crawled).  Never a URL.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sitecheck import __version__
from sitecheck.model import Reason, Severity, TargetKind
from sitecheck.store import Run, Store, StoreError, store_location
from sitecheck.storedb import Location, operational_errors

log = logging.getLogger("sitecheck.metrics")

CHINA = timezone(timedelta(hours=8))  # dates on Chinese government pages are Beijing dates (no DST)
DAY_S = 86400.0
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 15.0, 30.0)
RUN_STATUSES = ("complete", "incomplete", "failed")
VETO_ITEMS = ("unreachable", "homepage_stale", "columns_stale", "interaction_poor", "service_useless",
              "serious_error")
INDICATOR_STATUSES = ("pass", "veto", "no_data")
PROBE_WINDOWS = (("1d", 1), ("7d", 7))
BROKEN_LINK_CODES = {"link.broken_homepage": "homepage", "link.broken": "other"}
_KINDS = {k.value for k in TargetKind}
_REASONS = {r.value for r in Reason}
# Statuses a verdict body may spell in other ways.
_STATUS_ALIASES = {"pass": "pass", "passed": "pass", "ok": "pass", "通过": "pass",
                   "veto": "veto", "vetoed": "veto", "fail": "veto", "否决": "veto",
                   "no_data": "no_data", "nodata": "no_data", "unknown": "no_data", "无数据": "no_data"}

Clock = Callable[[], "datetime | float"]


@dataclass(frozen=True)
class MetricSpec:
    name: str  # the sample name (counters end in _total; histograms add _bucket/_gcount/_gsum)
    type: str  # gauge | counter | gaugehistogram
    help: str
    labels: tuple[str, ...]

    def sample_names(self) -> tuple[str, ...]:
        if self.type == "gaugehistogram":
            return (f"{self.name}_bucket", f"{self.name}_gcount", f"{self.name}_gsum")
        return (self.name,)


def _g(name: str, help: str, *labels: str) -> MetricSpec:
    return MetricSpec(name, "gauge", help, labels)


METRICS: tuple[MetricSpec, ...] = (
    # --- runs ----------------------------------------------------------------------------
    _g("sitecheck_last_run_start_timestamp_seconds", "Start of the latest finished run.", "site"),
    _g("sitecheck_last_run_end_timestamp_seconds", "End of the latest finished run.", "site"),
    _g("sitecheck_last_run_duration_seconds", "Duration of the latest finished run.", "site"),
    _g("sitecheck_last_run_success", "1 if the latest finished run completed, else 0.", "site"),
    _g("sitecheck_last_run_status", "1 for the status of the latest finished run, 0 for the others.",
       "site", "status"),
    _g("sitecheck_last_success_timestamp_seconds",
       "End of the latest complete run (the run the other results come from).", "site"),
    _g("sitecheck_run_in_progress", "1 while the site's newest run is still running.", "site"),
    _g("sitecheck_run_in_progress_start_timestamp_seconds", "Start of the run still running (absent when "
       "none is); a crawl killed without a trace stays `running` until the next crawl opens the store.",
       "site"),
    MetricSpec("sitecheck_runs_total", "counter", "Runs in the store by final status.", ("site", "status")),
    # --- results of the latest complete run -------------------------------------------------
    _g("sitecheck_pages_crawled", "HTML pages fetched on configured hosts.", "site"),
    _g("sitecheck_targets_checked", "Distinct URLs checked (pages, images, attachments, external links).",
       "site"),
    _g("sitecheck_findings", "Findings by code and severity.", "site", "code", "severity"),
    _g("sitecheck_broken_links", "Distinct broken link targets, by where they are linked (homepage or other "
       "pages), target kind and failure reason.", "site", "host", "location", "kind", "reason"),
    MetricSpec("sitecheck_page_latency_seconds", "gaugehistogram",
               "Download time of the HTML pages of the latest complete run.", ("site", "host")),
    _g("sitecheck_columns_checked", "Configured columns judged for freshness.", "site", "host"),
    _g("sitecheck_columns_stale", "Columns not updated within their category's window.", "site", "host"),
    _g("sitecheck_columns_blank", "Blank columns (no dated item at all).", "site", "host"),
    _g("sitecheck_column_newest_item_timestamp_seconds",
       "Publication date (00:00 Beijing time) of a column's newest item.", "site", "host", "column", "category"),
    _g("sitecheck_column_update_window_seconds",
       "How long a column of this category may go without a new item.", "site", "host", "column", "category"),
    _g("sitecheck_homepage_newest_item_timestamp_seconds",
       "Date (00:00 Beijing time) of the newest dated item on a homepage.", "site", "host"),
    _g("sitecheck_homepage_unchanged_since_timestamp_seconds",
       "For a homepage without dates: since when its items have not changed.", "site", "host"),
    _g("sitecheck_interaction_channel_present", "1 if the homepage offers an effective interaction channel.",
       "site", "host"),
    _g("sitecheck_messages", "Messages read from a message board.", "site", "host", "board"),
    _g("sitecheck_messages_unanswered", "Messages without a reply (any age).", "site", "host", "board"),
    _g("sitecheck_messages_overdue", "Messages asked within the look-back period and unanswered for longer "
       "than the reply limit.", "site", "host", "board"),
    _g("sitecheck_messages_late_replies", "Messages answered later than the reply limit.", "site", "host", "board"),
    _g("sitecheck_message_reply_median_seconds", "Median time from question to reply.", "site", "host", "board"),
    # --- the indicator verdict (单项否决, score) -------------------------------------------
    _g("sitecheck_indicator_status", "1 for a veto item's status in the verdict (pass, veto, no_data), "
       "0 for the others; no verdict means no_data.", "site", "item", "status"),
    _g("sitecheck_veto_risk", "1 if a veto item is failed, 0 if passed; absent when it has no data.",
       "site", "item"),
    _g("sitecheck_score_estimate", "Estimated inspection score out of 100 (some point values are reported, "
       "not confirmed).", "site"),
    _g("sitecheck_verdict_qualified", "1 if the verdict is 合格, 0 if 不合格.", "site"),
    _g("sitecheck_deduction_points", "Points deducted by a deduction item (estimate).", "site", "item", "area"),
    # --- probes ------------------------------------------------------------------------------
    _g("sitecheck_probe_success_ratio", "Share of probes of a page that succeeded within the window.",
       "site", "host", "kind", "name", "window"),
    _g("sitecheck_probes", "Probes of a page within the window.", "site", "host", "kind", "name", "window"),
    _g("sitecheck_probe_success", "1 if the latest probe of a page succeeded.", "site", "host", "kind", "name"),
    _g("sitecheck_probe_duration_seconds", "Total time of the latest probe of a page.",
       "site", "host", "kind", "name"),
    _g("sitecheck_last_probe_timestamp_seconds", "Start of the latest probe of a page.",
       "site", "host", "kind", "name"),
    _g("sitecheck_tls_cert_expiry_timestamp_seconds", "Expiry of the TLS certificate the latest probe saw.",
       "site", "host"),
    # --- the exporter itself --------------------------------------------------------------
    _g("sitecheck_exporter_store_up", "1 if the last read of the store succeeded."),
    MetricSpec("sitecheck_exporter_store_errors_total", "counter", "Reads of the store that failed.", ()),
    _g("sitecheck_exporter_collect_duration_seconds", "Time the last read of the store took."),
    _g("sitecheck_build_info", "Always 1; the sitecheck version as a label.", "version"),
)

SPECS: dict[str, MetricSpec] = {m.name: m for m in METRICS}
EXPORTER_METRICS = ("sitecheck_exporter_store_up", "sitecheck_exporter_store_errors_total",
                    "sitecheck_exporter_collect_duration_seconds", "sitecheck_build_info")


def exported_names() -> set[str]:
    """Every sample name the collector can export (what PromQL can select)."""
    return {n for m in METRICS for n in m.sample_names()}


class _Families:
    """Values keyed by label values; zero-initialisation uses `init`, which never overwrites."""

    def __init__(self) -> None:
        self.values: dict[str, dict[tuple[str, ...], float]] = defaultdict(dict)
        self.histograms: dict[str, dict[tuple[str, ...], tuple[list[tuple[str, float]], float]]] = defaultdict(dict)

    @staticmethod
    def _key(metric: str, labels: dict[str, Any]) -> tuple[str, ...]:
        spec = SPECS[metric]
        if set(labels) != set(spec.labels):
            raise ValueError(f"{metric}: labels {sorted(labels)} != {sorted(spec.labels)}")
        return tuple("" if labels[k] is None else str(labels[k]) for k in spec.labels)

    # Metric names are positional-only: "name" is also a label (probe page names).
    def set(self, metric: str, value: float, /, **labels: Any) -> None:
        self.values[metric][self._key(metric, labels)] = float(value)

    def add(self, metric: str, value: float, /, **labels: Any) -> None:
        key = self._key(metric, labels)
        self.values[metric][key] = self.values[metric].get(key, 0.0) + float(value)

    def init(self, metric: str, /, **labels: Any) -> None:
        self.values[metric].setdefault(self._key(metric, labels), 0.0)

    def histogram(self, metric: str, observations: list[float], /, **labels: Any) -> None:
        counts = [sum(1 for v in observations if v <= le) for le in LATENCY_BUCKETS]
        buckets = [(_le(le), float(n)) for le, n in zip(LATENCY_BUCKETS, counts)]
        buckets.append(("+Inf", float(len(observations))))
        # fsum: the correctly rounded sum, the same whatever order the store returned the rows in
        self.histograms[metric][self._key(metric, labels)] = (buckets, math.fsum(observations))

    def families(self, names: Iterable[str]) -> Iterator[Metric]:
        for name in names:
            spec = SPECS[name]
            if spec.type == "gaugehistogram":
                fam = GaugeHistogramMetricFamily(name, spec.help, labels=spec.labels)
                for key, (buckets, total) in sorted(self.histograms.get(name, {}).items()):
                    fam.add_metric(list(key), buckets, gsum_value=total)
            elif spec.type == "counter":
                fam = CounterMetricFamily(name, spec.help, labels=spec.labels)
                for key, value in sorted(self.values.get(name, {}).items()):
                    fam.add_metric(list(key), value)
            else:
                fam = GaugeMetricFamily(name, spec.help, labels=spec.labels)
                for key, value in sorted(self.values.get(name, {}).items()):
                    fam.add_metric(list(key), value)
            yield fam


def _le(bound: float) -> str:
    return repr(float(bound))


class StoreCollector(Collector):
    """A prometheus_client collector over a sitecheck store.

    `clock` returns the current time (an aware datetime or epoch seconds); it sets
    the probe windows.  Register it in a fresh `CollectorRegistry`, or let
    `sitecheck.metrics.exporter` do it.
    """

    def __init__(self, db_path: str | Path | Location, clock: Clock = time.time):
        self.db_path = store_location(db_path)
        self.clock = clock
        self._lock = threading.Lock()
        self._store_errors = 0
        self._known: dict[tuple[str, int], _Known] = {}
        self.last_error = ""

    def describe(self) -> Iterator[Metric]:
        return _Families().families(SPECS)

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        out = _Families()
        try:
            with Store(self.db_path, readonly=True) as store:
                self._read(store, out)
            up = 1.0
            self.last_error = ""
        except Exception as exc:  # a scrape must always answer: report the failure as metrics
            with self._lock:
                self._store_errors += 1
            error = f"{type(exc).__name__}: {exc}"
            # Logged once per distinct error, not on every scrape while it lasts.
            log.log(logging.DEBUG if error == self.last_error else logging.WARNING,
                    "cannot read the store %s: %s", self.db_path, error, exc_info=not _expected_error(exc))
            self.last_error = error
            out = _Families()
            up = 0.0
        out.set("sitecheck_exporter_store_up", up)
        with self._lock:
            out.set("sitecheck_exporter_store_errors_total", self._store_errors)
        out.set("sitecheck_exporter_collect_duration_seconds", time.monotonic() - started)
        out.set("sitecheck_build_info", 1, version=__version__)
        yield from out.families(SPECS)

    # --- reading ---------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self.clock()
        if isinstance(now, datetime):
            return now if now.tzinfo else now.replace(tzinfo=timezone.utc)
        return datetime.fromtimestamp(float(now), timezone.utc)

    def _read(self, store: Store, out: _Families) -> None:
        db = store.db
        db.execute("BEGIN")  # one snapshot for the whole scrape
        try:
            probe_sites = _probe_sites(db)
            sites = sorted(set(store.sites()) | probe_sites)
            live = set()
            for site in sites:
                latest = self._runs(store, out, site)
                if latest is not None:
                    self._results(store, out, site, latest)
                    live.add((site, latest.id))
            self._probes(store, out)
        finally:
            db.execute("COMMIT")
        for key in set(self._known) - live:  # forget sites and runs that are gone
            self._known.pop(key, None)

    def _runs(self, store: Store, out: _Families, site: str) -> Run | None:
        """Run times, status and counts; returns the latest complete run."""
        db = store.db
        counts = dict(db.execute("SELECT status, count(*) FROM runs WHERE site = ? GROUP BY status", (site,)))
        for status in RUN_STATUSES:
            out.set("sitecheck_runs_total", counts.get(status, 0), site=site, status=status)
        newest = db.execute("SELECT status, started_at FROM runs WHERE site = ? ORDER BY id DESC LIMIT 1",
                            (site,)).fetchone()
        if newest is None:
            return None  # a site known from probes only
        out.set("sitecheck_run_in_progress", newest[0] == "running", site=site)
        if newest[0] == "running":
            started = _timestamp(newest[1])
            if started is not None:
                out.set("sitecheck_run_in_progress_start_timestamp_seconds", started, site=site)
        last = store.latest_run(site, RUN_STATUSES)
        if last is not None:
            out.set("sitecheck_last_run_start_timestamp_seconds", last.started_at.timestamp(), site=site)
            if last.ended_at is not None:
                out.set("sitecheck_last_run_end_timestamp_seconds", last.ended_at.timestamp(), site=site)
                out.set("sitecheck_last_run_duration_seconds", last.duration_s, site=site)
            out.set("sitecheck_last_run_success", last.status == "complete", site=site)
            for status in RUN_STATUSES:
                out.set("sitecheck_last_run_status", last.status == status, site=site, status=status)
        complete = store.latest_run(site, ("complete",))
        if complete is not None and complete.ended_at is not None:
            out.set("sitecheck_last_success_timestamp_seconds", complete.ended_at.timestamp(), site=site)
        return complete

    def _results(self, store: Store, out: _Families, site: str, run: Run) -> None:
        db = store.db
        out.set("sitecheck_pages_crawled", run.pages, site=site)
        out.set("sitecheck_targets_checked", run.targets, site=site)
        known = self._known_labels(db, site, run.id)

        for code, sev in known.findings:
            out.init("sitecheck_findings", site=site, code=code, severity=_severity(sev))
        for code, sev, n in db.execute("SELECT code, severity, count(*) FROM findings WHERE run_id = ? "
                                       "GROUP BY code, severity", (run.id,)):
            out.set("sitecheck_findings", n, site=site, code=code, severity=_severity(sev))

        for labels in known.broken_links:
            out.init("sitecheck_broken_links", site=site, **labels)
        for labels, n in _broken_links(db, run.id).items():
            out.set("sitecheck_broken_links", n, site=site, **dict(labels))

        latencies: dict[str, list[float]] = defaultdict(list)
        for host, latency in db.execute(
                "SELECT host_key, latency_s FROM pages WHERE run_id = ? AND kind = 'page' AND status IS NOT NULL "
                "AND latency_s IS NOT NULL", (run.id,)):
            latencies[host or ""].append(float(latency))
        for host, values in latencies.items():
            out.histogram("sitecheck_page_latency_seconds", values, site=site, host=host)

        self._freshness(store, out, site, run.id)
        self._interaction(store, out, site, run.id)
        self._verdict(db, out, site, run.id)

    def _known_labels(self, db, site: str, run_id: int) -> "_Known":
        """Label sets to initialise to 0: codes seen in any run of the site, broken-link label sets
        of the previous complete run.  Cached until the site's latest complete run changes."""
        key = (site, run_id)
        if key not in self._known:
            findings = {(c, s) for c, s in db.execute(
                "SELECT DISTINCT f.code, f.severity FROM findings f JOIN runs r ON r.id = f.run_id "
                "WHERE r.site = ? AND r.status = 'complete'", (site,))}
            previous = db.execute("SELECT id FROM runs WHERE site = ? AND status = 'complete' AND id < ? "
                                  "ORDER BY id DESC LIMIT 1", (site, run_id)).fetchone()
            broken = [dict(labels) for labels in _broken_links(db, previous[0])] if previous else []
            self._known[key] = _Known(sorted(findings), broken)
        return self._known[key]

    def _freshness(self, store: Store, out: _Families, site: str, run_id: int) -> None:
        hosts: set[str] = set()
        for fact in store.facts(run_id, "column.newest"):
            value = fact.value if isinstance(fact.value, dict) else {}
            host = fact.host_key or ""
            hosts.add(host)
            out.add("sitecheck_columns_checked", 1, site=site, host=host)
            labels = dict(site=site, host=host, column=fact.key, category=value.get("category") or "")
            newest = _date_ts(value.get("date"))
            if newest is not None:
                out.set("sitecheck_column_newest_item_timestamp_seconds", newest, **labels)
            window = _number(value.get("window_days"))
            if window is not None and not value.get("no_update_expected"):
                out.set("sitecheck_column_update_window_seconds", window * DAY_S, **labels)
        counts = Counter()
        for code, host, n in store.db.execute(
                "SELECT code, coalesce(host_key, ''), count(*) FROM findings WHERE run_id = ? "
                "AND code IN ('column.stale', 'column.blank', 'column.unreachable') GROUP BY code, host_key",
                (run_id,)):
            hosts.add(host)
            counts[code, host] = n
        for host in hosts:
            out.set("sitecheck_columns_stale", counts["column.stale", host], site=site, host=host)
            out.set("sitecheck_columns_blank", counts["column.blank", host], site=site, host=host)
        for fact in store.facts(run_id, "homepage.newest"):
            ts = _date_ts(_get(fact.value, "date"))
            if ts is not None:
                out.set("sitecheck_homepage_newest_item_timestamp_seconds", ts, site=site, host=fact.host_key or "")
        for fact in store.facts(run_id, "homepage.unchanged_since"):
            ts = _date_ts(_get(fact.value, "since"))
            if ts is not None:
                out.set("sitecheck_homepage_unchanged_since_timestamp_seconds", ts, site=site,
                        host=fact.host_key or "")

    def _interaction(self, store: Store, out: _Families, site: str, run_id: int) -> None:
        for fact in store.facts(run_id, "interaction.channel"):
            found = _get(fact.value, "found")
            if isinstance(found, bool):
                out.set("sitecheck_interaction_channel_present", found, site=site, host=fact.host_key or "")
        for fact in store.facts(run_id, "board.stats"):
            labels = dict(site=site, host=fact.host_key or "", board=fact.key)
            for metric, field in (("sitecheck_messages", "count"), ("sitecheck_messages_unanswered", "unanswered"),
                                  ("sitecheck_messages_late_replies", "late")):
                value = _number(_get(fact.value, field))
                if value is not None:
                    out.set(metric, value, **labels)
            median = _number(_get(fact.value, "median_reply_days"))
            if median is not None:
                out.set("sitecheck_message_reply_median_seconds", median * DAY_S, **labels)
            out.init("sitecheck_messages_overdue", **labels)
        for host, details in store.db.execute(
                "SELECT coalesce(host_key, ''), details FROM findings WHERE run_id = ? "
                "AND code = 'interaction.unanswered'", (run_id,)):
            board = _get(_json(details), "board")
            out.add("sitecheck_messages_overdue", 1, site=site, host=host, board=board or "")

    def _verdict(self, db, out: _Families, site: str, run_id: int) -> None:
        row = db.execute("SELECT result, score, body FROM verdicts WHERE run_id = ?", (run_id,)).fetchone()
        result, score, body = (row[0], row[1], _json(row[2])) if row else ("", None, {})
        statuses = {item: "no_data" for item in VETO_ITEMS}
        statuses.update(_veto_statuses(body))
        for item, status in statuses.items():
            for s in INDICATOR_STATUSES:
                out.set("sitecheck_indicator_status", s == status, site=site, item=item, status=s)
            if status != "no_data":
                out.set("sitecheck_veto_risk", status == "veto", site=site, item=item)
        if not row:
            return
        score = _number(score if score is not None else _get(body, "score"))
        if score is not None:
            out.set("sitecheck_score_estimate", score, site=site)
        if result in ("合格", "不合格"):
            out.set("sitecheck_verdict_qualified", result == "合格", site=site)
        deductions = body.get("deductions") if isinstance(body, dict) else None
        for d in deductions if isinstance(deductions, list) else []:
            points = _number(_get(d, "points"))
            if points is not None and isinstance(d.get("id"), str):
                out.set("sitecheck_deduction_points", points, site=site, item=d["id"], area=d.get("area") or "")

    def _probes(self, store: Store, out: _Families) -> None:
        db = store.db
        columns = store.columns("probes")
        if not columns:
            return
        kind = "kind" if "kind" in columns else "''"
        page = "name" if "name" in columns else "''"
        now = self._now()
        since = {w: _iso(now - timedelta(days=days)) for w, days in PROBE_WINDOWS}
        longest = min(since.values())
        targets = set()
        for w, _days in PROBE_WINDOWS:
            for site, host, k, p, n, ok in db.execute(
                    f"SELECT site, host_key, {kind}, {page}, count(*), "
                    f"sum(CASE WHEN ok != 0 THEN 1 ELSE 0 END) FROM probes "
                    f"WHERE started_at >= ? GROUP BY 1, 2, 3, 4", (since[w],)):
                labels = dict(site=site, host=host, kind=k, name=p)
                targets.add(tuple(labels.items()))
                out.set("sitecheck_probes", n, window=w, **labels)
                out.set("sitecheck_probe_success_ratio", ok / n, window=w, **labels)
        for labels in targets:  # a page probed this week but not today: 0 probes in the 1d window
            for w, _days in PROBE_WINDOWS:
                out.init("sitecheck_probes", window=w, **dict(labels))
        for site, host, k, p, ok, total, started in db.execute(
                f"SELECT site, host_key, k, p, ok, total_s, started_at FROM ("
                f"  SELECT site, host_key, {kind} AS k, {page} AS p, ok, total_s, started_at, row_number() OVER ("
                f"    PARTITION BY site, host_key, {kind}, {page} ORDER BY started_at DESC, id DESC) AS n "
                f"  FROM probes WHERE started_at >= ?) latest WHERE n = 1", (longest,)):
            labels = dict(site=site, host=host, kind=k, name=p)
            out.set("sitecheck_probe_success", bool(ok), **labels)
            if total is not None:
                out.set("sitecheck_probe_duration_seconds", total, **labels)
            ts = _timestamp(started)
            if ts is not None:
                out.set("sitecheck_last_probe_timestamp_seconds", ts, **labels)
        for site, host, expiry in db.execute(
                "SELECT site, host_key, cert_expiry FROM ("
                "  SELECT site, host_key, cert_expiry, row_number() OVER ("
                "    PARTITION BY site, host_key ORDER BY started_at DESC, id DESC) AS n "
                "  FROM probes WHERE started_at >= ? AND cert_expiry IS NOT NULL AND cert_expiry != '') latest "
                "WHERE n = 1", (longest,)):
            ts = _timestamp(expiry)
            if ts is not None:
                out.set("sitecheck_tls_cert_expiry_timestamp_seconds", ts, site=site, host=host)


@dataclass
class _Known:
    findings: list[tuple[str, int]]
    broken_links: list[dict[str, str]]


def _broken_links(db, run_id: int) -> Counter:
    """Broken-link findings of a run counted by (host, location, kind, reason).

    The host is the target's configured host; for an external target, the host of
    a page linking to it (homepage referrers first), so each sub-site sees its own.
    """
    counts: Counter = Counter()
    marks = ",".join("?" * len(BROKEN_LINK_CODES))
    for code, details, host in db.execute(
            f"""SELECT f.code, f.details, coalesce(f.host_key, (
                    SELECT p.host_key FROM links l JOIN pages p ON p.run_id = l.run_id AND p.url = l.from_url
                    WHERE l.run_id = f.run_id AND l.to_url = f.url AND p.host_key IS NOT NULL
                    ORDER BY l.on_homepage DESC, l.from_url LIMIT 1), 'external')
                FROM findings f WHERE f.run_id = ? AND f.code IN ({marks})""",
            (run_id, *BROKEN_LINK_CODES)):
        d = _json(details)
        kind = d.get("kind") if d.get("kind") in _KINDS else "resource"
        reason = d.get("reason") if d.get("reason") in _REASONS else "error"
        counts[(("host", host), ("location", BROKEN_LINK_CODES[code]), ("kind", kind), ("reason", reason))] += 1
    return counts


def _veto_statuses(body: Any) -> dict[str, str]:
    """{item id: pass|veto|no_data} from a verdict body, whatever shape it has.

    Accepted: body["vetoes"] or body["veto"] as a list of {"id", "status"} or as a
    mapping id -> status or id -> {"status"}.
    """
    if not isinstance(body, dict):
        return {}
    items = body.get("vetoes", body.get("veto"))
    pairs: list[tuple[Any, Any]] = []
    if isinstance(items, dict):
        pairs = [(k, v.get("status") if isinstance(v, dict) else v) for k, v in items.items()]
    elif isinstance(items, list):
        pairs = [(v.get("id"), v.get("status")) for v in items if isinstance(v, dict)]
    out = {}
    for item, status in pairs:
        status = _STATUS_ALIASES.get(str(status).strip().lower()) if status is not None else None
        if isinstance(item, str) and item and status:
            out[item] = status
    return out


def _probe_sites(db) -> set[str]:
    try:
        return {r[0] for r in db.execute("SELECT DISTINCT site FROM probes")}
    except sqlite3.OperationalError:  # no probes table
        return set()


def _severity(value: int) -> str:
    try:
        return Severity(int(value)).label
    except ValueError:
        return str(value)


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _date_ts(text: Any) -> float | None:
    """A YYYY-MM-DD date as the epoch seconds of 00:00 Beijing time that day."""
    if not isinstance(text, str):
        return None
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=CHINA).timestamp()


def _timestamp(value: Any) -> float | None:
    """An ISO 8601 time (naive = UTC) or epoch seconds as epoch seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


def _expected_error(exc: Exception) -> bool:
    """Errors a user fixes (missing or foreign file, locked store): logged without a traceback."""
    return isinstance(exc, (StoreError, *operational_errors()))
