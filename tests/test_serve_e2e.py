"""`sitecheck serve` as a real process: a site that goes down and comes back, and serve killed mid-crawl.

Every server binds 127.0.0.1; every process started here is killed in a finally block.
`--probe-interval` replaces the probe cron (one probe a minute at best) so a test takes seconds.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from .helpers import wait_until
from prometheus_client.parser import text_string_to_metric_families

from sitecheck.probe import availability
from sitecheck.store import Store, _pid_alive
from tests.test_probe import LoopbackServer

pytestmark = pytest.mark.e2e


class Serve:
    """One `sitecheck serve` child, its output in files (no pipe can fill up and block it)."""

    def __init__(self, tmp_path: Path, *args: str, name: str = "serve"):
        self.out = tmp_path / f"{name}.out"
        self.err = tmp_path / f"{name}.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "sitecheck.cli", "serve", *args, "-v"],
                                         stdout=out, stderr=err, start_new_session=True)

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.out.read_text(encoding="utf-8", errors="replace"))
            if found:
                return found
            assert self.proc.poll() is None, f"serve exited early ({self.proc.returncode}):\n{self.log()}"
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in serve's output:\n{self.log()}")

    def log(self) -> str:
        return self.out.read_text(errors="replace") + "\n--- stderr ---\n" + self.err.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"serve did not stop within {timeout} s:\n{self.log()}") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def query(db: Path, sql: str, args: tuple = ()) -> list[tuple]:
    if not db.exists():
        return []
    with Store(db, readonly=True) as store:
        return store.db.execute(sql, args).fetchall()


def write_site(path: Path, url: str, extra: str = "") -> Path:
    path.write_text(textwrap.dedent(f"""\
        site: t
        name: 测试厅
        hosts:
          - key: portal
            name: 门户
            url: {url}
        crawl:
          concurrency: 1
          concurrency_per_host: 1
          timeout_seconds: 5
          retries: 0
          progress: "off"
        probe:
          threshold_seconds: 2
          timeout_seconds: 2
        """) + extra, encoding="utf-8")
    return path


class WebhookSink:
    """Collects the JSON bodies POSTed to it."""

    def __init__(self):
        self.bodies: list[dict] = []
        sink = self

        class Hook(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                sink.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

        self.httpd = HTTPServer(("127.0.0.1", 0), Hook)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode("utf-8")
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def sample(metrics: dict, name: str, **labels: str) -> float:
    """The one sample of `name` whose labels include `labels` (other labels, e.g. the page name, may vary)."""
    found = [v for (n, ls), v in metrics.items() if n == name and labels.items() <= dict(ls).items()]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def test_site_down_and_back_agrees_in_store_availability_and_metrics(tmp_path):
    db = tmp_path / "store.sqlite3"
    site_server = LoopbackServer().start()
    hook = WebhookSink()
    serve = None
    try:
        site = write_site(tmp_path / "t.yaml", site_server.url("/"),
                          f"notify:\n  webhook_url: {hook.url}\n  after_failures: 3\n")
        serve = Serve(tmp_path, "--config", str(site), "--db", str(db), "--no-crawl", "--probe-interval", "0.2",
                      "--listen", "127.0.0.1:0")
        metrics_url = serve.wait_for(r"metrics (http://127\.0\.0\.1:\d+/metrics)").group(1)

        def count(ok: int | None = None) -> int:
            sql = "SELECT count(*) FROM probes WHERE site = 't'" + ("" if ok is None else f" AND ok = {ok}")
            return (query(db, sql) or [(0,)])[0][0]

        wait_until(lambda: count(1) >= 5, what="probes while the site is up")
        site_server.stop()
        wait_until(lambda: count(0) >= 5, what="failed probes while the site is down")
        site_server.restart()  # same port
        ok_before = count(1)
        wait_until(lambda: count(1) >= ok_before + 5, what="probes after the site came back")

        # Store, availability() and the metrics endpoint must tell the same story; probes keep
        # arriving, so take a scrape between two identical counts of the store.
        for _attempt in range(50):
            before = count()
            metrics = scrape(metrics_url)
            with Store(db, readonly=True) as store:
                figures = availability(store, "t", datetime.now(timezone.utc))
                rows = store.db.execute("SELECT ok, reason FROM probes WHERE site = 't' ORDER BY started_at, id"
                                        ).fetchall()
            if before == count() == len(rows) == figures["probes"]:
                break
        else:
            raise AssertionError("the store never held still for a scrape")
        failed = sum(1 for ok, _ in rows if not ok)
        assert figures["failed"] == failed > 0 and figures["probes"] == len(rows)
        assert figures["ratio"] == pytest.approx(failed / len(rows))
        assert figures["status"] == "veto"  # far more than 5 % failed in this short history
        assert figures["coverage"] == "insufficient"  # minutes of probes, not 20 a day for a week
        # up, then down (refused), then up again
        pattern = "".join("1" if ok else "0" for ok, _ in rows)
        assert re.fullmatch(r"1+0+1+", pattern), pattern
        assert "refused" in {reason for ok, reason in rows if not ok}

        portal = {"site": "t", "host": "portal", "kind": "portal"}
        assert sample(metrics, "sitecheck_probes", window="7d", **portal) == len(rows)
        assert sample(metrics, "sitecheck_probe_success_ratio", window="7d", **portal) == \
            pytest.approx(1 - figures["ratio"])
        assert sample(metrics, "sitecheck_probe_success", **portal) == 1.0

        # Three failures in a row were alerted once, and the recovery once.
        events = [b["event"] for b in hook.bodies]
        assert events.count("probe_down") == 1 and events.count("probe_recovered") == 1
        assert events.count("availability_veto") == 1
        down = next(b for b in hook.bodies if b["event"] == "probe_down")
        assert down["site"] == "t" and down["details"]["consecutive_failures"] == 3

        assert serve.stop(signal.SIGTERM) == 0
        assert "sitecheck serve: stopped" in serve.out.read_text()
        with Store(db) as store:
            assert store.integrity_ok()
    finally:
        if serve:
            serve.kill()
        site_server.stop()
        hook.close()


def _crawl_child_pid(db: Path) -> int:
    rows = query(db, "SELECT pid FROM runs WHERE status = 'running' ORDER BY id DESC LIMIT 1")
    return rows[0][0] if rows else 0


def test_serve_killed_mid_crawl_leaves_the_store_consistent(tmp_path):
    db = tmp_path / "store.sqlite3"
    pages = LoopbackServer(pages=50, page_delay=0.0).start()
    serves: list[Serve] = []
    child_pids: list[int] = []

    def start(name: str) -> Serve:
        serve = Serve(tmp_path, "--config", str(site), "--db", str(db), "--crawl-on-start", "--probe-interval", "0.5",
                      "--listen", "off", "--stop-timeout", "15", name=name)
        serves.append(serve)
        serve.wait_for(r"sitecheck serve: 1 site")
        return serve

    def runs() -> dict[int, tuple]:
        return {r[0]: r[1:] for r in query(db, "SELECT id, status, pages, error FROM runs ORDER BY id")}

    def mid_crawl() -> int:
        hits_before = sum(v for k, v in pages.hits.items() if k.startswith("/pages/"))
        pid = wait_until(lambda: _crawl_child_pid(db), what="the crawl to start")
        wait_until(lambda: sum(v for k, v in pages.hits.items() if k.startswith("/pages/")) >= hits_before + 5,
                   what="the crawl to get going")
        child_pids.append(pid)
        return pid

    try:
        site = write_site(tmp_path / "t.yaml", pages.url("/"))
        # 1. A complete run to keep.
        serve = start("serve1")
        wait_until(lambda: runs().get(1, ("",))[0] == "complete", what="the first crawl to complete")
        assert serve.stop() == 0
        first = runs()[1]
        assert first[1] >= 50
        first_pages = query(db, "SELECT url, status FROM pages WHERE run_id = 1 ORDER BY url")

        # 2. SIGTERM mid-crawl: serve passes SIGTERM on, the crawl closes its run as incomplete.
        pages.page_delay = 0.3
        serve = start("serve2")
        pid = mid_crawl()
        assert serve.stop(signal.SIGTERM) == 0
        assert not _pid_alive(pid)
        assert runs()[2][0] == "incomplete"
        assert "stopped" in serve.log()

        # 3. SIGKILL of serve alone: the crawl gets SIGTERM from the kernel (parent-death signal),
        #    closes its run as incomplete and exits - no orphan crawl keeps going.
        serve = start("serve3")
        pid = mid_crawl()
        serve.proc.kill()
        serve.proc.wait(10)
        wait_until(lambda: not _pid_alive(pid), timeout=20, what="the orphaned crawl to stop")
        assert runs()[3][0] == "incomplete"

        # 4. SIGKILL of serve and its crawl (power loss, OOM): the run is left `running`.
        serve = start("serve4")
        pid = mid_crawl()
        os.kill(serve.proc.pid, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
        serve.proc.wait(10)
        wait_until(lambda: not _pid_alive(pid), timeout=10, what="the crawl child to die")
        assert runs()[4][0] in ("running", "incomplete")  # `running` unless the child won a µs race
        with Store(db, readonly=True) as store:
            assert store.integrity_ok()

        # 5. The next start marks it incomplete and carries on with a complete crawl and probes.
        pages.page_delay = 0.0
        probes_before = query(db, "SELECT count(*) FROM probes")[0][0]
        serve = start("serve5")
        wait_until(lambda: runs().get(4, ("",))[0] == "incomplete", timeout=10, what="run 4 marked incomplete")
        wait_until(lambda: runs().get(5, ("",))[0] == "complete", what="a new complete crawl")
        wait_until(lambda: query(db, "SELECT count(*) FROM probes")[0][0] > probes_before + 2, what="probes")
        assert serve.stop() == 0

        final = runs()
        assert [final[i][0] for i in sorted(final)] == ["complete", "incomplete", "incomplete", "incomplete",
                                                        "complete"]
        assert final[1] == first
        assert "stopped before it finished" in final[4][2]
        with Store(db) as store:
            assert store.integrity_ok()
            assert store.db.execute("SELECT url, status FROM pages WHERE run_id = 1 ORDER BY url").fetchall() \
                == first_pages
        assert not list(tmp_path.glob("store.sqlite3.run*.scratch"))  # no scratch file left behind
    finally:
        for serve in serves:
            serve.kill()
        for pid in child_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        pages.stop()
