"""The metrics collector over a store filled through the real Store API.

Probes are written the way `sitecheck probe` writes them (sitecheck.probe.probe.record_probes);
verdicts are the real scorer's output for the stored findings and facts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sitecheck.cli import main
from sitecheck.metrics import METRICS, StoreCollector, exported_names, start_http_exporter, write_textfile
from sitecheck.metrics.cli import parse_listen
from sitecheck.metrics.collector import LATENCY_BUCKETS, VETO_ITEMS
from sitecheck.model import Fact, Finding, Reason, Severity, Target, TargetKind
from sitecheck.store import Store

from .helpers import add_link_occurrences

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)  # 12:00 in Beijing
P = "http://127.0.0.2:8801"  # portal
Z = "http://127.0.0.3:8801"  # a sub-site
EXT = "http://127.0.0.6:8801"  # outside the site


def ts(dt: datetime) -> float:
    return dt.timestamp()


def beijing_midnight(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=timezone(timedelta(hours=8))).timestamp()


def page(url, host, latency, homepage=False, status=200, reason=Reason.OK, kind=TargetKind.PAGE):
    return Target(url, kind, reason, status=status, latency_s=latency, host_key=host), {"is_homepage": homepage}


def broken(url, host, kind, reason, on_homepage, status=404, severity=Severity.ERROR):
    code = "link.broken_homepage" if on_homepage else "link.broken"
    return Finding(code, severity, url, "链接不可用", "links", host,
                   details={"reason": reason, "status": status, "kind": kind, "internal": host is not None,
                            "on_homepage": on_homepage})


def record(store: Store, site: str, started: datetime, *, targets=(), links=(), findings=(), facts=(),
           status="complete", duration_s=90.0) -> int:
    run = store.start_run(site, "digest", started_at=started)
    store.add_targets(run, list(targets))
    if links:
        add_link_occurrences(store, links)
    store.add_findings(run, list(findings))
    store.add_facts(run, list(facts))
    if status != "running":
        store.finish_run(run, status, ended_at=started + timedelta(seconds=duration_s))
    return run


def probe_rows(store: Store, rows):
    """Rows as `sitecheck probe` records them."""
    from sitecheck.probe.probe import ProbeResult, record_probes

    results = []
    for host, kind, name, started, ok, total, expiry in rows:
        r = ProbeResult(url=f"{P}/" if host == "portal" else f"{Z}/", started_at=started, ok=ok,
                        reason=Reason.OK if ok else Reason.TIMEOUT, status=200 if ok else None, total_s=total,
                        cert_expiry=expiry)
        r.kind, r.host_key, r.name = kind, host, name
        results.append(r)
    record_probes(store, "demo", results)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "store.sqlite3"
    with Store(path) as store:
        # run 1: an older complete run with a code and a broken-link label set the latest run lacks
        record(store, "demo", NOW - timedelta(days=2), targets=[
            page(f"{P}/", "portal", 0.05, homepage=True),
            page(f"{P}/old.pdf", "portal", 0.01, status=500, reason=Reason.SERVER_ERROR, kind=TargetKind.ATTACHMENT),
        ], links=[(f"{P}/old.pdf", f"{P}/", "附件", "a", 1)], findings=[
            broken(f"{P}/old.pdf", "portal", "attachment", "server_error", True, status=500),
            Finding("words.wrong", Severity.ERROR, f"{P}/a.html", "错别字", "words", "portal"),
        ])
        # run 2: the latest complete run
        facts = [
            Fact("column.newest", {"date": "2026-11-18", "age_days": 2, "category": "动态要闻", "window_days": 14,
                                   "items": 20, "no_update_expected": False}, "portal", "工作动态"),
            Fact("column.newest", {"date": "2026-01-05", "age_days": 319, "category": "通知公告", "window_days": 183,
                                   "items": 8, "no_update_expected": False}, "portal", "通知公告"),
            Fact("column.newest", {"date": None, "age_days": None, "category": "政策文件", "window_days": 183,
                                   "items": 0, "no_update_expected": False}, "zxqy", "政策法规"),
            Fact("column.newest", {"date": "2020-06-01", "age_days": 2000, "category": "动态要闻", "window_days": 14,
                                   "items": 5, "no_update_expected": True}, "portal", "脱贫攻坚专题"),
            Fact("homepage.newest", {"date": "2026-11-19", "age_days": 1, "recent_dates": 6}, "portal"),
            Fact("homepage.unchanged_since", {"since": "2026-10-01", "days": 50, "items": 30}, "zxqy"),
            Fact("interaction.channel", {"found": True, "via": "主任信箱"}, "portal"),
            Fact("interaction.channel", {"found": False, "via": None}, "zxqy"),
            Fact("board.stats", {"count": 12, "answered": 9, "unanswered": 3, "late": 1, "median_reply_days": 4.5,
                                 "pages": 2}, "portal", "主任信箱"),
            Fact("board.stats", {"count": 0, "answered": 0, "unanswered": 0, "late": 0, "median_reply_days": None,
                                 "pages": 1}, "zxqy", "主任信箱"),
        ]
        findings = [
            broken(f"{P}/missing.html", "portal", "page", "not_found", True),
            broken(f"{P}/images/missing.png", "portal", "image", "not_found", True),
            broken(f"{P}/fault/timeout.html", "portal", "page", "timeout", False, status=None),
            broken(f"{EXT}/gone.html", None, "external", "not_found", False, severity=Severity.WARNING),
            Finding("column.stale", Severity.ERROR, f"{P}/tzgg/", "栏目不更新", "columns", "portal",
                    details={"host": "portal", "name": "通知公告", "category": "通知公告"}),
            Finding("column.blank", Severity.ERROR, f"{Z}/zcfg/", "空白栏目", "columns", "zxqy",
                    details={"host": "zxqy", "name": "政策法规", "category": "政策文件"}),
            Finding("interaction.unanswered", Severity.CRITICAL, f"{P}/hdjl/1.html", "未回复", "interaction", "portal",
                    details={"host": "portal", "board": "主任信箱", "age_days": 120}),
            Finding("interaction.unanswered", Severity.CRITICAL, f"{P}/hdjl/2.html", "未回复", "interaction", "portal",
                    details={"host": "portal", "board": "主任信箱", "age_days": 100}),
            Finding("interaction.no_channel", Severity.CRITICAL, f"{Z}/", "无互动渠道", "interaction", "zxqy",
                    details={"host": "zxqy"}),
            Finding("page.slow", Severity.WARNING, f"{Z}/slow.html", "慢", "slow_pages", "zxqy"),
        ]
        run2 = record(store, "demo", NOW - timedelta(hours=20), targets=[
            page(f"{P}/", "portal", 0.08, homepage=True),
            page(f"{P}/a.html", "portal", 0.3),
            page(f"{P}/b.html", "portal", 1.5),
            page(f"{P}/missing.html", "portal", 0.02, status=404, reason=Reason.NOT_FOUND),
            page(f"{P}/fault/timeout.html", "portal", None, status=None, reason=Reason.TIMEOUT),
            page(f"{P}/images/missing.png", "portal", 0.01, status=404, reason=Reason.NOT_FOUND, kind=TargetKind.IMAGE),
            page(f"{Z}/", "zxqy", 0.2, homepage=True),
            page(f"{Z}/slow.html", "zxqy", 4.0),
            (Target(f"{EXT}/gone.html", TargetKind.EXTERNAL, Reason.NOT_FOUND, status=404, latency_s=0.01), {}),
        ], links=[
            (f"{P}/missing.html", f"{P}/", "缺失", "a", 1),
            (f"{P}/images/missing.png", f"{P}/", "", "img", 1),
            (f"{P}/fault/timeout.html", f"{P}/a.html", "超时", "a", 0),
            (f"{EXT}/gone.html", f"{Z}/slow.html", "外部", "a", 0),
        ], findings=findings, facts=facts, duration_s=300.0)
        from sitecheck.scoring import load_rules, score

        verdict = score(findings, facts, load_rules("gov-2019"), probes={"probes": 140, "failed": 2})
        store.save_verdict(run2, verdict.result, verdict.score, verdict.to_dict())
        # run 3: a later run that was killed: the latest finished run, but results stay with run 2
        record(store, "demo", NOW - timedelta(hours=2), status="incomplete", duration_s=60.0)
        # probes: portal every 6 hours for 8 days (one failure 3 days ago), a key page once
        rows = []
        for i in range(8 * 4):
            started = NOW - timedelta(hours=6 * i + 1)
            rows.append(("portal", "portal", "门户网站", started, i != 12, 0.4 + i / 100,
                         NOW + timedelta(days=40) if i < 3 else None))
        rows.append(("zxqy", "page", "网上办事大厅", NOW - timedelta(days=3), False, None, None))
        probe_rows(store, rows)
    return path


def collect(path, now=NOW):
    registry = CollectorRegistry()
    collector = StoreCollector(path, clock=lambda: now)
    registry.register(collector)
    return registry, collector


def value(registry, metric, /, **labels):
    """One sample's value (each call is a scrape: the collector reads the store again)."""
    return registry.get_sample_value(metric, labels)


def samples(registry):
    return [s for fam in registry.collect() for s in fam.samples]


# --- names and types --------------------------------------------------------------------------


def test_names_follow_prometheus_practice():
    for m in METRICS:
        assert m.name.startswith("sitecheck_"), m.name
        assert m.name.endswith("_total") == (m.type == "counter"), m.name
        assert "url" not in m.labels and "le" not in m.labels
        assert not m.name.endswith(("_days", "_hours", "_minutes", "_milliseconds", "_ms")), "use base units"
        if "timestamp" in m.name:
            assert m.name.endswith("_timestamp_seconds"), m.name
        assert m.help and m.type in ("gauge", "counter", "gaugehistogram")


def test_collected_families_match_the_declared_table(db):
    registry, _ = collect(db)
    declared = {m.name: m for m in METRICS}
    seen = set()
    for fam in registry.collect():
        name = fam.name + "_total" if fam.type == "counter" else fam.name
        assert name in declared, name
        spec = declared[name]
        assert fam.type == spec.type
        for s in fam.samples:
            assert s.name in exported_names()
            assert set(s.labels) - {"le"} == set(spec.labels), (s.name, s.labels)
        seen.add(name)
    assert seen == set(declared)


def test_never_a_url_in_any_label(db):
    registry, _ = collect(db)
    for s in samples(registry):
        for key, val in s.labels.items():
            assert "://" not in val and not val.startswith("/"), (s.name, key, val)
            assert key != "url"


# --- runs ---------------------------------------------------------------------------------------


def test_latest_finished_run_and_latest_complete_run(db):
    r, _ = collect(db)
    started = NOW - timedelta(hours=2)
    assert value(r, "sitecheck_last_run_start_timestamp_seconds", site="demo") == ts(started)
    assert value(r, "sitecheck_last_run_end_timestamp_seconds", site="demo") == ts(started) + 60
    assert value(r, "sitecheck_last_run_duration_seconds", site="demo") == 60
    assert value(r, "sitecheck_last_run_success", site="demo") == 0
    assert value(r, "sitecheck_last_run_status", site="demo", status="incomplete") == 1
    assert value(r, "sitecheck_last_run_status", site="demo", status="complete") == 0
    assert value(r, "sitecheck_last_run_status", site="demo", status="failed") == 0
    assert value(r, "sitecheck_last_success_timestamp_seconds", site="demo") == ts(NOW - timedelta(hours=20)) + 300
    assert value(r, "sitecheck_runs_total", site="demo", status="complete") == 2
    assert value(r, "sitecheck_runs_total", site="demo", status="incomplete") == 1
    assert value(r, "sitecheck_runs_total", site="demo", status="failed") == 0
    assert value(r, "sitecheck_run_in_progress", site="demo") == 0
    assert value(r, "sitecheck_run_in_progress_start_timestamp_seconds", site="demo") is None


def test_a_running_crawl(db):
    with Store(db) as store:
        run = store.start_run("demo", "digest", started_at=NOW - timedelta(minutes=5))
        r, _ = collect(db)
        assert value(r, "sitecheck_run_in_progress", site="demo") == 1
        assert value(r, "sitecheck_run_in_progress_start_timestamp_seconds", site="demo") == ts(NOW) - 300
        # the running run is not "finished": the incomplete run stays the latest
        assert value(r, "sitecheck_last_run_status", site="demo", status="incomplete") == 1
        assert value(r, "sitecheck_runs_total", site="demo", status="complete") == 2
        store.finish_run(run, "complete", ended_at=NOW)
    r, _ = collect(db)
    assert value(r, "sitecheck_run_in_progress", site="demo") == 0
    assert value(r, "sitecheck_last_run_success", site="demo") == 1
    assert value(r, "sitecheck_runs_total", site="demo", status="complete") == 3
    # the new complete run has no findings: every code seen before is initialised to 0
    assert value(r, "sitecheck_findings", site="demo", code="link.broken_homepage", severity="error") == 0
    assert value(r, "sitecheck_findings", site="demo", code="words.wrong", severity="error") == 0
    # and the broken-link label sets of the previous complete run (run 2) too
    assert value(r, "sitecheck_broken_links", site="demo", host="portal", location="homepage", kind="image",
                 reason="not_found") == 0
    assert value(r, "sitecheck_pages_crawled", site="demo") == 0


# --- results of the latest complete run --------------------------------------------------------


def test_pages_findings_and_zero_initialised_codes(db):
    r, _ = collect(db)
    assert value(r, "sitecheck_pages_crawled", site="demo") == 6  # HTML pages answered over HTTP
    assert value(r, "sitecheck_targets_checked", site="demo") == 9
    assert value(r, "sitecheck_findings", site="demo", code="link.broken_homepage", severity="error") == 2
    assert value(r, "sitecheck_findings", site="demo", code="link.broken", severity="error") == 1
    assert value(r, "sitecheck_findings", site="demo", code="link.broken", severity="warning") == 1
    assert value(r, "sitecheck_findings", site="demo", code="interaction.unanswered", severity="critical") == 2
    assert value(r, "sitecheck_findings", site="demo", code="page.slow", severity="warning") == 1
    # seen only in run 1: initialised to 0, not absent
    assert value(r, "sitecheck_findings", site="demo", code="words.wrong", severity="error") == 0
    # never seen in this site: not invented
    assert value(r, "sitecheck_findings", site="demo", code="words.forbidden", severity="critical") is None


def test_broken_links_homepage_apart_from_other_pages(db):
    r, _ = collect(db)
    b = "sitecheck_broken_links"
    assert value(r, b, site="demo", host="portal", location="homepage", kind="page", reason="not_found") == 1
    assert value(r, b, site="demo", host="portal", location="homepage", kind="image", reason="not_found") == 1
    assert value(r, b, site="demo", host="portal", location="other", kind="page", reason="timeout") == 1
    # an external target counts for the sub-site whose page links to it
    assert value(r, b, site="demo", host="zxqy", location="other", kind="external", reason="not_found") == 1
    # run 1's label set is initialised to 0 (it was broken yesterday, fixed today)
    assert value(r, b, site="demo", host="portal", location="homepage", kind="attachment",
                 reason="server_error") == 0
    total = sum(s.value for s in samples(r) if s.name == b)
    assert total == 4


def test_latency_histogram_per_host(db):
    r, _ = collect(db)
    h = "sitecheck_page_latency_seconds"
    # portal pages with a latency: 0.08, 0.3, 1.5 and the 404 page 0.02 (the image is not a page)
    assert value(r, h + "_gcount", site="demo", host="portal") == 4
    assert value(r, h + "_gsum", site="demo", host="portal") == pytest.approx(1.9)
    assert value(r, h + "_bucket", site="demo", host="portal", le="0.1") == 2
    assert value(r, h + "_bucket", site="demo", host="portal", le="0.5") == 3
    assert value(r, h + "_bucket", site="demo", host="portal", le="2.0") == 4
    assert value(r, h + "_bucket", site="demo", host="portal", le="+Inf") == 4
    assert value(r, h + "_bucket", site="demo", host="zxqy", le="3.0") == 1
    assert value(r, h + "_bucket", site="demo", host="zxqy", le="5.0") == 2
    les = [s.labels["le"] for s in samples(r) if s.name == h + "_bucket" and s.labels["host"] == "portal"]
    assert les == [repr(float(b)) for b in LATENCY_BUCKETS] + ["+Inf"]


def test_columns_and_homepages(db):
    r, _ = collect(db)
    assert value(r, "sitecheck_columns_checked", site="demo", host="portal") == 3
    assert value(r, "sitecheck_columns_checked", site="demo", host="zxqy") == 1
    assert value(r, "sitecheck_columns_stale", site="demo", host="portal") == 1
    assert value(r, "sitecheck_columns_stale", site="demo", host="zxqy") == 0
    assert value(r, "sitecheck_columns_blank", site="demo", host="zxqy") == 1
    assert value(r, "sitecheck_columns_blank", site="demo", host="portal") == 0
    col = dict(site="demo", host="portal", column="通知公告", category="通知公告")
    assert value(r, "sitecheck_column_newest_item_timestamp_seconds", **col) == beijing_midnight("2026-01-05")
    assert value(r, "sitecheck_column_update_window_seconds", **col) == 183 * 86400
    blank = dict(site="demo", host="zxqy", column="政策法规", category="政策文件")
    assert value(r, "sitecheck_column_newest_item_timestamp_seconds", **blank) is None  # no date: no value
    assert value(r, "sitecheck_column_update_window_seconds", **blank) == 183 * 86400
    topic = dict(site="demo", host="portal", column="脱贫攻坚专题", category="动态要闻")
    assert value(r, "sitecheck_column_newest_item_timestamp_seconds", **topic) == beijing_midnight("2020-06-01")
    assert value(r, "sitecheck_column_update_window_seconds", **topic) is None  # no update expected
    assert value(r, "sitecheck_homepage_newest_item_timestamp_seconds", site="demo", host="portal") == \
        beijing_midnight("2026-11-19")
    assert value(r, "sitecheck_homepage_unchanged_since_timestamp_seconds", site="demo", host="zxqy") == \
        beijing_midnight("2026-10-01")


def test_message_boards_and_channels(db):
    r, _ = collect(db)
    portal = dict(site="demo", host="portal", board="主任信箱")
    zxqy = dict(site="demo", host="zxqy", board="主任信箱")
    assert value(r, "sitecheck_messages", **portal) == 12
    assert value(r, "sitecheck_messages_unanswered", **portal) == 3
    assert value(r, "sitecheck_messages_overdue", **portal) == 2
    assert value(r, "sitecheck_messages_late_replies", **portal) == 1
    assert value(r, "sitecheck_message_reply_median_seconds", **portal) == 4.5 * 86400
    assert value(r, "sitecheck_messages_overdue", **zxqy) == 0
    assert value(r, "sitecheck_message_reply_median_seconds", **zxqy) is None  # no reply yet: no median
    assert value(r, "sitecheck_interaction_channel_present", site="demo", host="portal") == 1
    assert value(r, "sitecheck_interaction_channel_present", site="demo", host="zxqy") == 0


# --- the verdict --------------------------------------------------------------------------------


def test_verdict_from_the_real_scorer(db):
    r, _ = collect(db)
    # interaction.unanswered + no_channel veto interaction_poor; 2/140 failed probes pass unreachable
    assert value(r, "sitecheck_veto_risk", site="demo", item="interaction_poor") == 1
    assert value(r, "sitecheck_veto_risk", site="demo", item="unreachable") == 0
    assert value(r, "sitecheck_indicator_status", site="demo", item="interaction_poor", status="veto") == 1
    assert value(r, "sitecheck_indicator_status", site="demo", item="interaction_poor", status="pass") == 0
    assert value(r, "sitecheck_indicator_status", site="demo", item="interaction_poor", status="no_data") == 0
    for item in VETO_ITEMS:  # every veto item has exactly one status
        assert sum(value(r, "sitecheck_indicator_status", site="demo", item=item, status=s)
                   for s in ("pass", "veto", "no_data")) == 1
    # no words facts or findings: serious_error has no data, so no veto_risk sample
    assert value(r, "sitecheck_indicator_status", site="demo", item="serious_error", status="no_data") == 1
    assert value(r, "sitecheck_veto_risk", site="demo", item="serious_error") is None
    assert value(r, "sitecheck_verdict_qualified", site="demo") == 0
    score = value(r, "sitecheck_score_estimate", site="demo")
    assert score is not None and 0 <= score <= 100
    with Store(db, readonly=True) as store:
        body = store.verdict(store.latest_run("demo").id)
    deductions = {d["id"]: d["points"] for d in body["deductions"]}
    for item, points in deductions.items():
        area = next(d["area"] for d in body["deductions"] if d["id"] == item)
        assert value(r, "sitecheck_deduction_points", site="demo", item=item, area=area) == points


@pytest.mark.parametrize("body", [
    {"veto": {"homepage_stale": "veto", "columns_stale": {"status": "pass"}, "serious_error": "no_data"}},
    {"veto": [{"id": "homepage_stale", "status": "veto"}, {"id": "columns_stale", "status": "pass"}]},
    {"vetoes": [{"id": "homepage_stale", "status": "否决"}, {"id": "columns_stale", "status": "通过"},
                {"id": "odd", "status": "???"}, {"status": "veto"}, "junk"]},
])
def test_verdict_bodies_of_other_shapes(tmp_path, body):
    path = tmp_path / "s.sqlite3"
    with Store(path) as store:
        run = record(store, "gxt", NOW - timedelta(hours=1))
        store.save_verdict(run, "不合格", None, body)
    r, _ = collect(path)
    assert value(r, "sitecheck_veto_risk", site="gxt", item="homepage_stale") == 1
    assert value(r, "sitecheck_veto_risk", site="gxt", item="columns_stale") == 0
    assert value(r, "sitecheck_indicator_status", site="gxt", item="unreachable", status="no_data") == 1
    assert value(r, "sitecheck_score_estimate", site="gxt") is None  # no score: nothing invented
    assert value(r, "sitecheck_verdict_qualified", site="gxt") == 0


def test_no_verdict_means_no_data_for_the_six_items(tmp_path):
    path = tmp_path / "s.sqlite3"
    with Store(path) as store:
        record(store, "gxt", NOW - timedelta(hours=1))
    r, _ = collect(path)
    for item in VETO_ITEMS:
        assert value(r, "sitecheck_indicator_status", site="gxt", item=item, status="no_data") == 1
        assert value(r, "sitecheck_indicator_status", site="gxt", item=item, status="veto") == 0
        assert value(r, "sitecheck_veto_risk", site="gxt", item=item) is None
    assert value(r, "sitecheck_score_estimate", site="gxt") is None


# --- probes -------------------------------------------------------------------------------------


def test_probe_windows_last_probe_and_certificate(db):
    r, _ = collect(db)
    portal = dict(site="demo", host="portal", kind="portal", name="门户网站")
    # 1 day: probes 1, 7, 13, 19 hours ago, all ok
    assert value(r, "sitecheck_probes", window="1d", **portal) == 4
    assert value(r, "sitecheck_probe_success_ratio", window="1d", **portal) == 1
    # 7 days: 28 probes (1 ... 163 hours ago), one failed (73 hours ago)
    assert value(r, "sitecheck_probes", window="7d", **portal) == 28
    assert value(r, "sitecheck_probe_success_ratio", window="7d", **portal) == pytest.approx(27 / 28)
    assert value(r, "sitecheck_probe_success", **portal) == 1
    assert value(r, "sitecheck_probe_duration_seconds", **portal) == pytest.approx(0.4)
    assert value(r, "sitecheck_last_probe_timestamp_seconds", **portal) == pytest.approx(ts(NOW) - 3600)
    assert value(r, "sitecheck_tls_cert_expiry_timestamp_seconds", site="demo", host="portal") == \
        pytest.approx(ts(NOW + timedelta(days=40)))
    page = dict(site="demo", host="zxqy", kind="page", name="网上办事大厅")
    assert value(r, "sitecheck_probes", window="1d", **page) == 0  # known this week, not probed today
    assert value(r, "sitecheck_probe_success_ratio", window="1d", **page) is None  # 0 of 0: no ratio
    assert value(r, "sitecheck_probe_success_ratio", window="7d", **page) == 0
    assert value(r, "sitecheck_probe_success", **page) == 0
    assert value(r, "sitecheck_probe_duration_seconds", **page) is None
    assert value(r, "sitecheck_tls_cert_expiry_timestamp_seconds", site="demo", host="zxqy") is None


def test_the_clock_moves_the_probe_windows(db):
    r, _ = collect(db, now=NOW + timedelta(days=30))
    assert value(r, "sitecheck_probes", site="demo", host="portal", kind="portal", name="门户网站",
                 window="7d") is None
    assert value(r, "sitecheck_last_probe_timestamp_seconds", site="demo", host="portal", kind="portal",
                 name="门户网站") is None
    assert value(r, "sitecheck_last_run_success", site="demo") == 0  # runs do not depend on the clock


def test_a_site_with_probes_only(tmp_path):
    path = tmp_path / "s.sqlite3"
    with Store(path) as store:
        probe_rows(store, [("portal", "portal", "门户网站", NOW - timedelta(minutes=5), True, 0.2, None)])
    r, _ = collect(path)
    assert value(r, "sitecheck_probes", site="demo", host="portal", kind="portal", name="门户网站", window="1d") == 1
    assert value(r, "sitecheck_last_run_success", site="demo") is None
    assert value(r, "sitecheck_indicator_status", site="demo", item="unreachable", status="no_data") is None


# --- the exporter itself ------------------------------------------------------------------------


def test_store_errors_are_counted_and_scrapes_still_answer(tmp_path):
    r, collector = collect(tmp_path / "missing.sqlite3")
    assert value(r, "sitecheck_exporter_store_up") == 0  # scrape 1
    assert value(r, "sitecheck_exporter_store_errors_total") == 2  # scrape 2: every scrape reads again
    assert value(r, "sitecheck_exporter_store_errors_total") == 3
    assert "no such database" in collector.last_error
    assert value(r, "sitecheck_build_info", version=__import__("sitecheck").__version__) == 1
    foreign = tmp_path / "foreign.sqlite3"
    foreign.write_bytes(b"not a database at all" * 100)
    r, collector = collect(foreign)
    assert value(r, "sitecheck_exporter_store_up") == 0
    assert value(r, "sitecheck_last_run_success", site="demo") is None


def test_store_up_and_empty_store(tmp_path):
    path = tmp_path / "s.sqlite3"
    Store(path).close()
    r, collector = collect(path)
    assert value(r, "sitecheck_exporter_store_up") == 1
    assert value(r, "sitecheck_exporter_store_errors_total") == 0
    assert collector.last_error == ""
    assert value(r, "sitecheck_exporter_collect_duration_seconds") >= 0


def test_the_collector_never_writes_the_store(db):
    before = db.read_bytes()
    os.chmod(db, 0o444)
    try:
        r, _ = collect(db)
        assert value(r, "sitecheck_exporter_store_up") == 1
    finally:
        os.chmod(db, 0o644)
    assert db.read_bytes() == before


def test_exposition_is_parseable_text_format(db):
    r, _ = collect(db)
    text = generate_latest(r).decode()
    names = {s.name for fam in text_string_to_metric_families(text) for s in fam.samples}
    assert "sitecheck_findings" in names and "sitecheck_runs_total" in names
    assert "sitecheck_page_latency_seconds_bucket" in names


def test_http_exporter_on_a_free_port(db):
    server, thread = start_http_exporter(db, "127.0.0.1", 0)
    try:
        assert server.server_address[0] == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10) as resp:
            body = resp.read().decode()
        assert 'sitecheck_last_run_success{site="demo"} 0.0' in body
        assert "sitecheck_exporter_store_up 1.0" in body
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_textfile_is_written_atomically(db, tmp_path):
    out = tmp_path / "textfile" / "sitecheck.prom"
    out.parent.mkdir()
    out.write_text("old\n")
    assert write_textfile(db, out) == ""
    text = out.read_text()
    assert 'sitecheck_runs_total{site="demo",status="complete"} 2.0' in text
    assert sorted(p.name for p in out.parent.iterdir()) == ["sitecheck.prom"]  # no temporary file left


# --- the commands ------------------------------------------------------------------------------


def test_metrics_command_prints_writes_and_fails_on_a_missing_store(db, tmp_path, capsys):
    assert main(["metrics", "--db", str(db)]) == 0
    assert 'sitecheck_pages_crawled{site="demo"} 6.0' in capsys.readouterr().out
    out = tmp_path / "m.prom"
    assert main(["metrics", "--db", str(db), "--textfile", str(out)]) == 0
    assert "sitecheck_findings" in out.read_text()
    assert main(["metrics", "--db", str(tmp_path / "nope.sqlite3"), "--textfile", str(out)]) == 2
    assert "sitecheck_exporter_store_up 0.0" in out.read_text()
    assert "cannot read the store" in capsys.readouterr().err
    assert main(["metrics", "--db", str(db), "--textfile", str(tmp_path / "no" / "dir.prom")]) == 2


def test_push_to_a_gateway(db):
    """A stand-in Pushgateway on loopback receives a PUT of the exposition for the job."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    got = {}

    class Gateway(BaseHTTPRequestHandler):
        def do_PUT(self):
            got["path"] = self.path
            got["body"] = self.rfile.read(int(self.headers["Content-Length"])).decode()
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):
            pass

    gw = HTTPServer(("127.0.0.1", 0), Gateway)
    t = threading.Thread(target=gw.serve_forever, daemon=True)
    t.start()
    try:
        assert main(["metrics", "--db", str(db), "--push", f"http://127.0.0.1:{gw.server_port}",
                     "--job", "sitecheck-nightly"]) == 0
    finally:
        gw.shutdown()
        gw.server_close()
    assert got["path"] == "/metrics/job/sitecheck-nightly"
    assert 'sitecheck_findings{code="page.slow"' in got["body"]


@pytest.mark.parametrize("text,expected", [
    ("127.0.0.1:9787", ("127.0.0.1", 9787)), ("0.0.0.0:0", ("0.0.0.0", 0)), ("[::1]:9787", ("::1", 9787)),
    ("localhost:80", ("localhost", 80)),
])
def test_parse_listen(text, expected):
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["9787", ":9787", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:70000"])
def test_parse_listen_rejects(text):
    with pytest.raises(ValueError, match="--listen"):
        parse_listen(text)


def test_exporter_command_serves_and_exits_cleanly_on_sigterm(db):
    proc = subprocess.Popen([sys.executable, "-m", "sitecheck.cli", "exporter", "--listen", "127.0.0.1:0",
                             "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "serving http://127.0.0.1:" in line, line + proc.stderr.read()
        url = line.split("serving ", 1)[1].split()[0]
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert "sitecheck_runs_total" in resp.read().decode()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert "stopped" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_exporter_command_reports_a_bad_address(db, capsys):
    assert main(["exporter", "--listen", "nonsense", "--db", str(db)]) == 2
    assert "HOST:PORT" in capsys.readouterr().err


def test_docs_describe_every_metric_and_label():
    """docs/metrics.md names every metric and every label."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "metrics.md").read_text(encoding="utf-8")
    for m in METRICS:
        assert f"`{m.name}`" in doc, f"docs/metrics.md does not describe {m.name}"
    labels = {label for m in METRICS for label in m.labels}
    for label in labels:
        assert f"`{label}`" in doc, f"docs/metrics.md does not describe the label {label}"
