"""The unreachable rule's rolling figures: ratio, the exact 5 % boundary, coverage, no data."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from sitecheck.model import Reason
from sitecheck.probe import availability, probe_summary
from sitecheck.probe.probe import ProbeResult, record_probes
from sitecheck.store import Store

END = dt.datetime(2026, 11, 27, 0, 0, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "s.sqlite3") as s:
        yield s


def add(store, site: str, when: dt.datetime, ok: bool, kind: str = "portal", url: str = "http://www.t.example/",
        host: str = "portal", name: str = "门户") -> None:
    r = ProbeResult(url, when, ok, Reason.OK if ok else Reason.TIMEOUT, status=200 if ok else None,
                    total_s=0.2 if ok else 15.0, kind=kind, host_key=host, name=name)
    record_probes(store, site, [r])


def fill_week(store, site: str, per_day: int, failed: int, kind: str = "portal", url: str = "http://www.t.example/"):
    """`per_day` probes spread over each of the 7 days before END; the first `failed` of them fail."""
    results = []
    n = 0
    for day in range(7):
        start = END - 7 * DAY + day * DAY
        for i in range(per_day):
            when = start + (i + 0.5) * DAY / per_day
            ok = n >= failed
            results.append(ProbeResult(url, when, ok, Reason.OK if ok else Reason.REFUSED, kind=kind,
                                       host_key="portal" if kind == "portal" else "sub", name=kind))
            n += 1
    record_probes(store, site, results)


def test_no_probes_is_no_data(store):
    f = availability(store, "t", END)
    assert (f["status"], f["probes"], f["failed"], f["ratio"]) == ("no_data", 0, 0, None)
    assert f["coverage"] == "insufficient" and len(f["insufficient_days"]) == 7
    assert probe_summary(store, "t", END) is None


@pytest.mark.parametrize("failed, status", [(6, "pass"), (7, "veto"), (8, "veto")])
def test_veto_at_exactly_five_percent_of_140(store, failed, status):
    fill_week(store, "t", per_day=20, failed=failed)
    f = availability(store, "t", END)
    assert (f["probes"], f["failed"], f["status"]) == (140, failed, status)
    assert f["veto_at_failed"] == 7  # 5 % of 140 is 7 exactly (0.05 * 140 in floats is 7.000000000000001)
    assert f["ratio"] == pytest.approx(failed / 140)
    assert f["coverage"] == "ok" and f["insufficient_days"] == []
    assert [d["probes"] for d in f["per_day"]] == [20] * 7


@pytest.mark.parametrize("failed, status", [(4, "pass"), (5, "veto")])
def test_veto_boundary_with_another_share(store, failed, status):
    for i in range(100):
        add(store, "t", END - dt.timedelta(hours=1, minutes=i), ok=i >= failed)
    f = availability(store, "t", END, failure_ratio=0.05)
    assert (f["probes"], f["failed"], f["status"]) == (100, failed, status)
    assert availability(store, "t", END, failure_ratio=0.06)["status"] == "pass"


def test_days_with_too_few_probes_make_coverage_insufficient(store):
    fill_week(store, "t", per_day=20, failed=0)
    # Remove one probe from the 3rd day: 19 probes there.
    third_start = END - 7 * DAY + 2 * DAY
    probe_id = store.db.execute("SELECT id FROM probes WHERE started_at >= ? ORDER BY started_at LIMIT 1",
                                (third_start.isoformat(timespec="milliseconds"),)).fetchone()[0]
    store.db.execute("DELETE FROM probes WHERE id = ?", (probe_id,))
    f = availability(store, "t", END)
    assert f["status"] == "pass" and f["coverage"] == "insufficient"
    assert f["insufficient_days"] == [third_start.isoformat(timespec="milliseconds")]
    assert [d["probes"] for d in f["per_day"]] == [20, 20, 19, 20, 20, 20, 20]
    assert availability(store, "t", END, min_daily_probes=19)["coverage"] == "ok"


def test_window_edges_and_other_sites(store):
    add(store, "t", END - 7 * DAY, ok=False)  # first instant of the window: counted
    add(store, "t", END - 7 * DAY - dt.timedelta(seconds=1), ok=False)  # before it
    add(store, "t", END, ok=False)  # the end is excluded
    add(store, "t", END - dt.timedelta(minutes=5), ok=True)
    add(store, "other", END - dt.timedelta(minutes=5), ok=False)
    f = availability(store, "t", END)
    assert (f["probes"], f["failed"]) == (2, 1)
    assert f["per_day"][0]["failed"] == 1 and f["per_day"][-1]["probes"] == 1
    assert f["last_probe"]["ok"] is True
    assert availability(store, "t", END, days=1)["probes"] == 1


def test_only_the_portal_homepage_decides_the_veto(store):
    fill_week(store, "t", per_day=20, failed=0)
    fill_week(store, "t", per_day=20, failed=140, kind="subsite", url="http://sub.t.example/")
    add(store, "t", END - dt.timedelta(hours=2), ok=False, kind="page", url="http://www.t.example/ly", name="留言")
    f = availability(store, "t", END)
    assert (f["status"], f["probes"], f["failed"]) == ("pass", 140, 0)
    targets = {t["url"]: t for t in f["targets"]}
    assert [t["kind"] for t in f["targets"]] == ["portal", "subsite", "page"]
    assert targets["http://sub.t.example/"]["would_veto"] is True
    assert targets["http://sub.t.example/"]["ratio"] == 1.0
    assert targets["http://www.t.example/ly"]["name"] == "留言"


def test_probe_summary_feeds_the_scoring_engine(store):
    fill_week(store, "t", per_day=20, failed=7)
    summary = probe_summary(store, "t", END)
    assert summary["probes"] == 140 and summary["failed"] == 7 and summary["status"] == "veto"
    assert summary["coverage"] == "ok" and summary["window_days"] == 7
    scoring = pytest.importorskip("sitecheck.scoring")
    rules = scoring.load_rules("gov-2019")
    verdict = scoring.score([], [], rules, probes=summary)
    unreachable = next(v for v in verdict.vetoes if v.id == "unreachable")
    assert unreachable.status == "veto"
    store.db.execute("UPDATE probes SET ok = 1 WHERE id = (SELECT min(id) FROM probes WHERE ok = 0)")
    summary = probe_summary(store, "t", END)
    assert summary["status"] == "pass"
    assert next(v for v in scoring.score([], [], rules, probes=summary).vetoes if v.id == "unreachable").status \
        == "pass"


def test_availability_command(tmp_path, store, capsys):
    from sitecheck.cli import main

    fill_week(store, "t", per_day=20, failed=7)
    site = tmp_path / "t.yaml"
    site.write_text("site: t\nname: 测试厅\nhosts:\n  - {key: portal, name: 门户, url: 'http://www.t.example/'}\n",
                    encoding="utf-8")
    argv = ["availability", "--config", str(site), "--db", str(store.path), "--end", END.isoformat()]
    assert main(argv + ["--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["probes"], figures["failed"], figures["status"]) == (140, 7, "veto")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "140 probes, 7 failed (5.00%)" in out and "VETO" in out


# --- probes a WAF challenged are "blocked": no valid data, never failures of the unreachable rule ---


def week(store, outcomes: list[Reason], kind: str = "portal") -> None:
    """One probe per slot, the slots spread over the 7 days before END, cycling through `outcomes`."""
    results = []
    per_day = 20
    for n in range(7 * per_day):
        reason = outcomes[n % len(outcomes)]
        when = END - 7 * DAY + (n + 0.5) * DAY / per_day
        results.append(ProbeResult("http://www.t.example/", when, reason == Reason.OK, reason,
                                   status=412 if reason == Reason.BLOCKED else 200, kind=kind, host_key="portal",
                                   error="waf: 瑞数 Ruishu: HTTP 412" if reason == Reason.BLOCKED else ""))
    record_probes(store, "t", results)


def test_only_blocked_probes_is_no_data_not_veto(store):
    week(store, [Reason.BLOCKED])
    f = availability(store, "t", END)
    assert (f["status"], f["probes"], f["failed"], f["blocked"], f["ratio"]) == ("no_data", 0, 0, 140, None)
    assert all(d["blocked"] == 20 and d["probes"] == 0 for d in f["per_day"])
    portal = f["targets"][0]
    assert (portal["probes"], portal["blocked"], portal["ratio"], portal["would_veto"]) == (0, 140, None, False)


def test_blocked_probes_leave_the_ratio(store):
    # Half the probes walled, the other half: 1 failure in 10.  Counting walls as failures would veto.
    week(store, [Reason.BLOCKED, Reason.OK, Reason.BLOCKED, Reason.OK, Reason.BLOCKED, Reason.OK,
                 Reason.BLOCKED, Reason.OK, Reason.BLOCKED, Reason.OK, Reason.BLOCKED, Reason.OK,
                 Reason.BLOCKED, Reason.OK, Reason.BLOCKED, Reason.OK, Reason.BLOCKED, Reason.OK,
                 Reason.BLOCKED, Reason.TIMEOUT])
    f = availability(store, "t", END)
    assert (f["probes"], f["blocked"], f["failed"]) == (70, 70, 7)
    assert f["status"] == "veto"  # 7 of 70 real probes failed: 10 %, over 5 %
    week_ok = availability(store, "t", END + 7 * DAY)
    assert week_ok["status"] == "no_data"


def test_a_failed_probe_is_still_a_failure(store):
    week(store, [Reason.OK] * 19 + [Reason.REFUSED])
    f = availability(store, "t", END)
    assert (f["probes"], f["failed"], f["blocked"], f["status"]) == (140, 7, 0, "veto")
