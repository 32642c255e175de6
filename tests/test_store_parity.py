"""The same runs give the same export, score, metrics and report on SQLite and on PostgreSQL.

The demo portal is crawled (and probed) into SQLite once, `sitecheck store copy` moves the store
into PostgreSQL and back into a second SQLite file, and every reader is compared across them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from sitecheck.config import load_site
from sitecheck.demo.server import DemoServer
from sitecheck.metrics.exporter import exposition
from sitecheck.report.data import build_report
from sitecheck.report.period import parse_quarter
from sitecheck.store import Store

pytestmark = pytest.mark.e2e


ENV = dict(os.environ)  # XDG_DATA_HOME set by the fixture: scratch files of crawls into PostgreSQL


def _cli(*args: str, ok=(0,)) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "sitecheck.cli", *args], capture_output=True, text=True,
                          timeout=300, env=ENV)
    assert proc.returncode in ok, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def stores(tmp_path_factory, postgres_server):
    tmp = tmp_path_factory.mktemp("parity")
    ENV["XDG_DATA_HOME"] = str(tmp / "xdg-data")
    demo = DemoServer(port=0, timeout_fault_seconds=3.0, slow_seconds=0.5).start()
    try:
        site_file = demo.write_site_file(tmp / "demo.yaml")
        sqlite = str(tmp / "s.sqlite3")
        _cli("run", "--config", str(site_file), "--db", sqlite, "--progress", "off", ok=(0, 1))
        _cli("probe", "--config", str(site_file), "--db", sqlite, ok=(0, 1))
        crawled = postgres_server.database()  # a crawl that records into PostgreSQL itself
        direct = _cli("run", "--config", str(site_file), "--db", crawled, "--progress", "off", ok=(0, 1))
    finally:
        demo.stop()
    pg = postgres_server.database()
    copied = _cli("store", "copy", sqlite, pg)
    back = str(tmp / "back.sqlite3")
    _cli("store", "copy", pg, back)
    yield {"site_file": site_file, "sqlite": sqlite, "postgresql": pg, "back": back,
           "copy_output": copied.stdout, "crawled": crawled, "direct": direct}


def _each(stores):
    return [stores["sqlite"], stores["postgresql"], stores["back"]]


def test_copy_reports_what_it_copied(stores):
    out = stores["copy_output"]
    assert re.search(r"^runs: 1 rows$", out, re.M)
    assert re.search(r"^probes: [1-9]\d* rows$", out, re.M)
    assert re.search(r"^findings: [1-9]\d* rows$", out, re.M)
    assert re.search(r"^copied \d+ rows from .*s\.sqlite3 to postgresql://sitecheck@127\.0\.0\.1:\d+/t\d+$", out, re.M)


def test_export_is_the_same(stores):
    exports = [json.loads(_cli("export", "--site", "demo", "--db", db).stdout) for db in _each(stores)]
    assert exports[0]["findings"] and exports[0]["pages"]
    assert exports[1] == exports[0]
    assert exports[2] == exports[0]


def test_score_is_the_same(stores):
    scores = [json.loads(_cli("score", "--config", str(stores["site_file"]), "--db", db, "--json",
                              ok=(0, 1)).stdout) for db in _each(stores)]
    assert scores[0]["result"]
    assert scores[1] == scores[0] and scores[2] == scores[0]


def _metrics(db: str) -> list[str]:
    text, error = exposition(db)
    assert error == ""
    # The read's own duration differs from read to read; everything else comes from the store.
    return [line for line in text.decode().splitlines()
            if not line.startswith("sitecheck_exporter_collect_duration_seconds")]


def test_metrics_are_the_same(stores):
    first, *others = [_metrics(db) for db in _each(stores)]
    assert any(line.startswith("sitecheck_findings{") for line in first)
    assert any(line.startswith("sitecheck_probe_success{") for line in first)
    for other in others:
        assert other == first


def test_report_data_is_the_same(stores):
    site = load_site(stores["site_file"])
    now = datetime.now(timezone.utc)
    period = parse_quarter(f"{now.year}Q{(now.month - 1) // 3 + 1}")
    reports = []
    for db in _each(stores):
        with Store(db, readonly=True) as store:
            reports.append(build_report(store, "demo", period, now=now, site=site))
    assert reports[0]["rectification"]["items"]
    assert reports[1] == reports[0]
    assert reports[2] == reports[0]


def test_a_crawl_records_into_postgresql_as_into_sqlite(stores):
    assert stores["direct"].returncode == 1  # the demo's planted faults
    found = []
    for db in (stores["sqlite"], stores["crawled"]):
        export = json.loads(_cli("export", "--site", "demo", "--db", db).stdout)
        assert export["run"]["status"] == "complete"
        found.append(sorted((f["code"], f["url"]) for f in export["findings"]))
    assert found[0] and found[1] == found[0]


def test_copy_refuses_a_destination_that_holds_data(stores):
    proc = _cli("store", "copy", stores["sqlite"], stores["postgresql"], ok=(2,))
    assert re.search(r"the destination is not empty \(.*\b1 runs, .*\d+ findings", proc.stderr)
    assert "copy into a new, empty store" in proc.stderr
