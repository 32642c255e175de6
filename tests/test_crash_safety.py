"""Killing a crawl at any moment leaves a consistent store; the next run completes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from sitecheck.demo.server import DemoServer
from sitecheck.store import Store

from .helpers import wait_until

pytestmark = pytest.mark.e2e


def _slow_site_file(demo: DemoServer, tmp_path):
    """The demo with a politeness delay, so a crawl lasts long enough to be killed mid-way."""
    path = demo.write_site_file(tmp_path / "demo.yaml")
    text = path.read_text(encoding="utf-8").replace("delay_seconds: 0", "delay_seconds: 0.02")
    assert "delay_seconds: 0.02" in text
    path.write_text(text, encoding="utf-8")
    return path


def _start(site_file, db):
    return subprocess.Popen([sys.executable, "-m", "sitecheck.cli", "run", "--config", str(site_file),
                             "--db", str(db), "--progress", "off"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for_run_row(db, proc, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with Store(db, readonly=True) as store:
                    if store.runs("demo", limit=1) and store.runs("demo", limit=1)[0].status == "running":
                        return
            except Exception:  # noqa: BLE001 - the store may be mid-creation
                pass
        time.sleep(0.05)


def test_sigkill_at_random_moments(tmp_path):
    rng = random.Random(20261127)
    db = tmp_path / "s.sqlite3"
    with DemoServer(port=0, timeout_fault_seconds=2.0, slow_seconds=1.2) as demo:
        site_file = _slow_site_file(demo, tmp_path)
        killed = []
        for _ in range(5):
            proc = _start(site_file, db)
            _wait_for_run_row(db, proc)
            time.sleep(rng.uniform(0.0, 2.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            with Store(db) as store:  # the next opener finds the dead run
                assert store.integrity_ok()
                store.recover_interrupted()
                runs = store.runs("demo")
                killed.append(runs[0].id)
                assert runs[0].status == "incomplete"
                assert all(r.status == "incomplete" for r in runs)
                assert [r.id for r in runs] == sorted(killed, reverse=True)
        proc = _start(site_file, db)
        assert proc.wait(120) == 1, proc.stderr.read()[-2000:]
    with Store(db, readonly=True) as store:
        assert store.integrity_ok()
        latest = store.latest_run("demo")
        assert latest.status == "complete" and latest.pages > 150
        assert len(store.runs("demo")) == 6
        assert not list(tmp_path.glob("*.scratch")) and not list(tmp_path.glob("*.queue"))


def test_sigterm_stops_gracefully_and_marks_incomplete(tmp_path):
    db = tmp_path / "s.sqlite3"
    with DemoServer(port=0, timeout_fault_seconds=2.0, slow_seconds=1.2) as demo:
        proc = _start(_slow_site_file(demo, tmp_path), db)
        _wait_for_run_row(db, proc)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    assert code == 1
    with Store(db, readonly=True) as store:
        assert store.integrity_ok()
        run = store.latest_run("demo", ("complete", "incomplete", "running"))
        assert run.status == "incomplete"
        assert run.error.startswith("crawl ended: shutdown")
        assert run.targets > 0  # what was checked before the signal is kept


def _children(pid: int, needle: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and needle in cmdline:
            found.append(int(entry))
    return found


def test_killed_record_process_closes_the_run_and_the_next_run_completes(tmp_path):
    """SIGKILL the second crawl process (target checks, checks, store writes) mid-crawl.

    Nothing more can be recorded, so the main process stops the crawl and closes the run as
    `incomplete`, naming the cause; what was written stays, the store is consistent, and the
    next run completes with exactly the planted broken links.
    """
    import json

    from sitecheck.demo import manifest as M

    db = tmp_path / "s.sqlite3"
    with DemoServer(port=0) as demo:  # the default faults: the 6 s page must time out at 3 s
        site_file = _slow_site_file(demo, tmp_path)
        text = site_file.read_text(encoding="utf-8").replace("delay_seconds: 0.02", "delay_seconds: 0.02\n  processes: 2")
        site_file.write_text(text, encoding="utf-8")
        proc = _start(site_file, db)
        workers = []
        deadline = time.monotonic() + 20
        while not workers and time.monotonic() < deadline and proc.poll() is None:
            workers = _children(proc.pid, "sitecheck.crawler.targets")
            time.sleep(0.05)
        assert workers, "the crawl did not start a record process"

        def recorded():
            with Store(db, readonly=True) as store:
                run = store.latest_run("demo", ("running",))
                return run and store.db.execute("SELECT count(*) FROM pages WHERE run_id = ?",
                                                (run.id,)).fetchone()[0]

        before = wait_until(recorded, timeout=30, what="the record process to write its first batch")
        os.kill(workers[0], signal.SIGKILL)
        code = proc.wait(120)
        stderr = proc.stderr.read()
        assert code == 1, stderr[-2000:]
        assert "the record process exited unexpectedly" in stderr, stderr[-2000:]
        with Store(db, readonly=True) as store:
            assert store.integrity_ok()
            run = store.latest_run("demo", ("complete", "incomplete", "running"))
            assert run.status == "incomplete"
            assert "record process exited unexpectedly" in run.error
            assert run.targets >= before  # what was recorded before the kill is kept
        assert not list(tmp_path.glob("*.scratch"))

        proc = _start(site_file, db)
        assert proc.wait(120) == 1, proc.stderr.read()[-2000:]
        export = json.loads(subprocess.run(
            [sys.executable, "-m", "sitecheck.cli", "export", "--site", "demo", "--db", str(db)],
            capture_output=True, text=True, check=True).stdout)
        urls = demo.urls
    assert export["run"]["status"] == "complete"
    found = {(f["url"], f["details"]["reason"], f["code"] == "link.broken_homepage")
             for f in export["findings"] if f["code"] in ("link.broken", "link.broken_homepage")}
    assert found == M.expected_broken(urls)
