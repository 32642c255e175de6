"""End to end on the platform demo (sitecheck/demo/platform.py): lists from the list service, commented
items ignored, a failing service is "unknown"; behind the simulated WAF, the allowlist header lets the
crawl through; `sitecheck discover` writes a site file that passes check-config.

The demo servers run in this process (threads); every sitecheck command runs in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from sitecheck.config import load_site
from sitecheck.demo.platform import COLUMNS, SITE_CODE, PlatformDemoServer, article_id, write_allow_headers
from sitecheck.model import Reason

from .helpers import serve_handler

pytestmark = pytest.mark.e2e
BROKEN_OR_DOWN = {"link.broken", "link.broken_homepage", "site.homepage_down", "column.unreachable"}
SECRET = "demo-allow-7f3a9c"


def sitecheck(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sitecheck.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def crawl(server: PlatformDemoServer, tmp: Path, name: str, allow: bool = False) -> dict:
    headers = write_allow_headers(tmp / f"{name}.headers", SECRET) if allow else None
    site_file = server.write_site_file(tmp / f"{name}.yaml", headers)
    db = tmp / f"{name}.sqlite3"
    started = time.monotonic()
    proc = sitecheck("run", "--config", str(site_file), "--db", str(db), "--progress", "off")
    elapsed = time.monotonic() - started
    export = json.loads(sitecheck("export", "--config", str(site_file), "--db", str(db)).stdout)
    return {"proc": proc, "export": export, "elapsed": elapsed, "site_file": site_file, "db": db,
            "stats": server.stats()}


def codes(export) -> list[str]:
    return sorted(f["code"] for f in export["findings"])


def by_column(export, code) -> dict[str, dict]:
    return {f["details"]["name"]: f for f in export["findings"] if f["code"] == code}


def column_facts(db: Path) -> dict[tuple[str, str], dict]:
    from sitecheck.store import Store

    with Store(db, readonly=True) as store:
        run = store.latest_run("demoplat", ("complete", "incomplete"))
        return {(f.name, f.key): f.value for f in store.facts(run.id)}


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("platform")
    with PlatformDemoServer() as server:
        yield {**crawl(server, tmp, "plain"), "server": server, "tmp": tmp}


def test_columns_come_from_the_list_service(plain):
    assert plain["proc"].returncode == 1, plain["proc"].stderr[-2000:]  # the stale column is an error
    expected = {c.name: c.expect for c in COLUMNS}
    stale = by_column(plain["export"], "column.stale")
    unknown = by_column(plain["export"], "column.unknown")
    assert set(stale) == {n for n, e in expected.items() if e == "stale"} == {"工作动态"}
    assert set(unknown) == {n for n, e in expected.items() if e == "unknown"} == {"政策解读"}
    assert unknown["政策解读"]["details"]["reason"] == "server_error" and unknown["政策解读"]["details"]["status"] == 500
    assert "column.blank" not in codes(plain["export"])
    facts = column_facts(plain["db"])
    today = plain["server"].today
    for col in COLUMNS:
        if col.expect == "unknown":
            assert ("column.newest", col.name) not in facts
            continue
        fact = facts[("column.newest", col.name)]
        assert fact["source"] == "list_service"
        assert fact["date"] == (today - timedelta(days=col.ages[0])).isoformat()  # not the commented copy
        assert fact["items"] == len(col.ages)
    assert facts[("column.newest", "经济运行")]["window_days"] == 45


def test_one_service_request_per_column_and_no_commented_item_fetched(plain):
    by_path = plain["stats"]["requests_by_path"]
    for col in COLUMNS:
        assert by_path.get(f"/common/search/{col.channel}") == 1, col.name
    stale = {f"/{article_id(col, 900 + i)}.shtml" for col in COLUMNS for i in range(len(col.stale_ages))}
    assert len(stale) == 5 and not [p for p in by_path if p.endswith(tuple(stale))]  # commented items: never read
    listed = {path for col in COLUMNS if col.expect != "unknown"
              for _title, path, _day in plain["server"].site.articles[col.channel]}
    assert listed <= set(by_path)  # every article the services list was reached through them


def test_discover_writes_a_site_file_that_passes_check_config(plain):
    draft = plain["tmp"] / "draft.yaml"
    proc = sitecheck("discover", "--config", str(plain["site_file"]), "--write", str(draft))
    assert proc.returncode == 0, proc.stderr[-2000:]
    for col in COLUMNS:
        assert col.name in proc.stdout and col.channel in proc.stdout
    assert "互动交流" in proc.stdout and f"网站标识码 {SITE_CODE}" in proc.stdout
    assert "3407000003" not in proc.stdout  # the stale jiucuo code in the footer comment
    check = sitecheck("check-config", str(draft))
    assert check.returncode == 0, check.stderr
    site = load_site(draft)
    assert site.platform == "gansu-jiyuehua" and site.portal.gov["site_code"] == SITE_CODE
    got = {c["name"]: c for c in site.portal.gov["columns"]}
    assert set(got) == {c.name for c in COLUMNS}
    assert got["经济运行"]["category"] == "经济运行" and got["政策法规"]["category"] == "政策文件"


@pytest.fixture(scope="module")
def walled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("waf")
    with PlatformDemoServer(waf=True, allow_secret=SECRET) as server:
        yield {"server": server, "tmp": tmp}


def test_allowlist_header_crawls_normally_and_says_so(walled, plain):
    before = walled["server"].gate.challenged
    got = crawl(walled["server"], walled["tmp"], "allow", allow=True)
    assert walled["server"].gate.challenged == before  # no request of the crawl met the wall
    assert set(codes(got["export"])) - {"crawl.allowlisted"} == set(codes(plain["export"]))
    assert [f["host"] for f in got["export"]["findings"] if f["code"] == "crawl.allowlisted"] == ["portal"]
    assert "crawl.allowlisted" in got["proc"].stdout  # visible in the run summary


def test_check_config_probe_says_whether_the_allowlist_works(walled):
    server, tmp = walled["server"], walled["tmp"]
    bare = server.write_site_file(tmp / "probe-bare.yaml")
    proc = sitecheck("check-config", "--probe", str(bare))
    assert proc.returncode == 0 and "portal: " in proc.stdout
    assert "challenged by 瑞数 Ruishu (HTTP 412" in proc.stdout
    allowed = server.write_site_file(tmp / "probe-allow.yaml", write_allow_headers(tmp / "p.headers", SECRET))
    proc = sitecheck("check-config", "--probe", str(allowed))
    assert "with credentials: not challenged (HTTP 200)" in proc.stdout and SECRET not in proc.stdout


def test_walled_run_ends_quickly_with_one_blocked_by_waf_finding(walled):
    before = walled["server"].gate.challenged
    got = crawl(walled["server"], walled["tmp"], "wall")
    found = codes(got["export"])
    assert found.count("crawl.blocked_by_waf") == 1
    assert not set(found) & BROKEN_OR_DOWN
    blocked = next(f for f in got["export"]["findings"] if f["code"] == "crawl.blocked_by_waf")
    assert blocked["details"]["product"] == "瑞数 Ruishu"
    assert walled["server"].gate.challenged - before <= 4  # robots.txt and at most max_walls (3) requests
    assert got["elapsed"] < 30


def test_probes_record_blocked(walled):
    from sitecheck.probe.probe import probe_site

    site = load_site(walled["server"].write_site_file(walled["tmp"] / "probe.yaml"))
    results = probe_site(site, None)
    assert [r.reason for r in results] == [Reason.BLOCKED]
    assert results[0].status == 412


@pytest.mark.parametrize("processes", [1, 2])
def test_allowlist_header_goes_to_the_site_hosts_only(tmp_path, processes):
    """The credentials store sends the allowlist header to the listed host's own name only: not to an
    external page it links to, not to an image there, not across a redirect to another host."""
    from http.server import BaseHTTPRequestHandler

    seen: list[tuple[str, str, str | None]] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the base class's name
            seen.append((self.server.server_address[0], self.path, self.headers.get("X-Sitecheck-Allow")))
            body = b""
            if self.path == "/":
                body = (f'<html><body><a href="{external}/page.html">外部</a><img src="{external}/logo.png">'
                        f'<a href="/hop">跳转</a></body></html>').encode()
                self.send_response(200)
            elif self.path == "/hop":
                self.send_response(302)
                self.send_header("Location", f"{external}/landing.html")
            else:
                self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, *args):
            pass

    site_server, site_url = serve_handler(Recorder, "127.0.0.2")
    ext_server, external = serve_handler(Recorder, "127.0.0.3")
    try:
        write_allow_headers(tmp_path / "allow.headers", SECRET)
        site_file = tmp_path / "s.yaml"
        site_file.write_text(f"""site: allow
name: 白名单
hosts:
  - {{key: h, name: 测试, url: "{site_url}/"}}
auth:
  - {{hosts: [h], headers_file: allow.headers}}
crawl: {{timeout_seconds: 5, progress: "off", robots: ignore, processes: {processes}, retries: 0,
        allow_networks: [127.0.0.0/8]}}
""", encoding="utf-8")
        proc = sitecheck("run", "--config", str(site_file), "--db", str(tmp_path / "s.sqlite3"))
        assert proc.returncode in (0, 1), proc.stderr[-2000:]
        assert SECRET not in proc.stdout + proc.stderr
    finally:
        site_server.shutdown()
        ext_server.shutdown()
    on_site = {(path, value) for ip, path, value in seen if ip == "127.0.0.2"}
    on_external = [(path, value) for ip, path, value in seen if ip == "127.0.0.3"]
    assert ("/", SECRET) in on_site and ("/hop", SECRET) in on_site
    assert {path for path, _ in on_external} >= {"/page.html", "/logo.png", "/landing.html"}
    assert all(value is None for _, value in on_external)


def test_discover_on_a_walled_site_says_so_and_writes_nothing(walled):
    site_file = walled["server"].write_site_file(walled["tmp"] / "discover-walled.yaml")
    draft = walled["tmp"] / "walled-draft.yaml"
    proc = sitecheck("discover", "--config", str(site_file), "--write", str(draft))
    assert proc.returncode == 1
    assert "challenged by 瑞数 Ruishu" in proc.stdout and "docs/waf.md" in proc.stdout
    assert not draft.exists()
