"""Probes a WAF challenged are "blocked": no valid data, never failures of the unreachable rule."""

from __future__ import annotations

import datetime as dt

import pytest

from sitecheck.model import Reason
from sitecheck.probe import availability
from sitecheck.probe.probe import ProbeResult, record_probes
from sitecheck.store import Store

END = dt.datetime(2026, 11, 27, 0, 0, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "s.sqlite3") as s:
        yield s


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
