"""The serve scheduler with an injected clock and sleeper: due times, no overlap, failures, stopping;
and the webhook notifications it sends."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from sitecheck.config import ConfigError, load_site
from sitecheck.model import Reason
from sitecheck.probe.notify import Event, Notifier, payload, send
from sitecheck.probe.probe import ProbeResult, record_probes
from sitecheck.probe.scheduler import CronSchedule, IntervalSchedule, Scheduler
from sitecheck.store import Store

UTC = dt.timezone.utc
START = dt.datetime(2026, 11, 20, 0, 0, tzinfo=UTC)  # 08:00 in Beijing


class FakeTime:
    """The clock and the sleeper: sleeping moves the clock; `until` stops the scheduler."""

    def __init__(self, start: dt.datetime = START):
        self.now = start
        self.scheduler: Scheduler | None = None
        self.until: dt.datetime | None = None
        self.sleeps = 0
        self.on_sleep = None

    def __call__(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps += 1
        assert self.sleeps < 100_000, "the loop does not advance"
        self.now += dt.timedelta(seconds=seconds)
        if self.on_sleep:
            self.on_sleep(self)
        if self.until is not None and self.now >= self.until and self.scheduler is not None:
            self.scheduler.stop()

    def wake(self) -> None:
        pass


class FakeCrawl:
    """A crawl child that takes `minutes` of fake time and records a complete run when it ends."""

    next_pid = 4_000_000  # above pid_max: never a live process

    def __init__(self, clock: FakeTime, db: Path, site: str, minutes: float, code: int = 0, record: bool = True,
                 vetoes: tuple[str, ...] = ()):
        FakeCrawl.next_pid += 1
        self.pid = FakeCrawl.next_pid
        self.clock, self.db, self.site, self.code, self.record = clock, db, site, code, record
        self.vetoes = vetoes
        self.started = clock()
        self.ends = self.started + dt.timedelta(minutes=minutes)
        self.returncode: int | None = None
        self.signals: list[int] = []

    def poll(self):
        if self.returncode is None and self.clock() >= self.ends:
            self._exit(self.code)
        return self.returncode

    def _exit(self, code: int) -> None:
        self.returncode = code
        if self.record:
            with Store(self.db) as store:
                run_id = store.start_run(self.site, "digest", self.started)
                store.db.execute("UPDATE runs SET pid = ? WHERE id = ?", (self.pid, run_id))
                if self.vetoes:
                    store.save_verdict(run_id, "不合格", 40.0, {"vetoes": [
                        {"id": v, "title": v, "status": "veto"} for v in self.vetoes]})
                store.finish_run(run_id, "complete" if code in (0, 1) else "incomplete", ended_at=self.clock())

    def send_signal(self, sig):
        self.signals.append(sig)
        self._exit(-sig)

    def kill(self):
        self._exit(-9)

    def wait(self, timeout=None):
        return self.returncode


def make_site(tmp_path: Path, key: str = "t", crawl: str = "30 1 * * *", probe: str = "0 * * * *",
              zone: str = "Asia/Shanghai", extra: str = "") -> object:
    path = tmp_path / f"{key}.yaml"
    path.write_text(textwrap.dedent(f"""\
        site: {key}
        name: 测试厅
        hosts:
          - {{key: portal, name: 门户, url: 'http://127.0.0.1:9/'}}
        schedule:
          crawl: '{crawl}'
          probe: '{probe}'
          timezone: {zone}
        """) + extra, encoding="utf-8")
    return load_site(path)


def fake_probe(calls: list, fail_every: int = 0):
    def probe(site, store, clock, stop=None):
        calls.append(clock())
        if fail_every and len(calls) % fail_every == 0:
            raise RuntimeError("probe machinery broke")
        results = [ProbeResult(site.portal.url, clock(), True, Reason.OK, status=200, total_s=0.1,
                               host_key="portal", name="门户")]
        record_probes(store, site.key, results)
        return results
    return probe


# --- due times ----------------------------------------------------------------------------------


def test_cron_due_times_in_the_site_time_zone():
    nightly = CronSchedule("30 1 * * *", "Asia/Shanghai")
    assert nightly.next_after(START) == dt.datetime(2026, 11, 20, 17, 30, tzinfo=UTC)  # 01:30 Beijing
    assert nightly.next_after(dt.datetime(2026, 11, 20, 17, 30, tzinfo=UTC)) == \
        dt.datetime(2026, 11, 21, 17, 30, tzinfo=UTC)
    assert CronSchedule("30 1 * * *", "UTC").next_after(START) == dt.datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
    every5 = CronSchedule("*/5 * * * *")
    assert every5.next_after(START + dt.timedelta(minutes=2)) == START + dt.timedelta(minutes=5)
    assert IntervalSchedule(2.5).next_after(START) == START + dt.timedelta(seconds=2.5)


def test_default_probe_schedule_gives_enough_probes_a_day(tmp_path):
    site = load_site(_minimal(tmp_path))
    assert site.ops["schedule"] == {"crawl": "30 1 * * *", "probe": "*/5 * * * *", "timezone": "Asia/Shanghai"}
    sched, t, n = CronSchedule(site.ops["schedule"]["probe"]), START, 0
    while (t := sched.next_after(t)) <= START + dt.timedelta(days=1):
        n += 1
    assert n == 288 >= site.ops["probe"]["min_daily_probes"] == 20
    assert site.ops["probe"]["threshold_seconds"] == 15 and site.ops["probe"]["failure_ratio_veto"] == 0.05
    assert site.ops["notify"]["webhook_url"] is None and site.ops["notify"]["format"] == "generic"


def _minimal(tmp_path: Path) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text("site: m\nname: 测试\nhosts:\n  - {key: portal, name: 门户, url: 'http://127.0.0.1:9/'}\n",
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("yaml_text, message", [
    ("schedule: {probe: 'every 5 minutes'}", "schedule.probe: invalid cron expression"),
    ("probe: {urls: [{name: 信箱}]}", "probe.urls[0].url: missing required key"),
    ("notify: {format: slack}", "notify.format: 'slack' is not one of: generic, dingtalk, wecom"),
    ("notify: {webhook_url: 'ftp://x'}", "notify.webhook_url: not an http(s) URL"),
    ("probe: {failure_ratio_veto: 5}", "probe.failure_ratio_veto: must be at most 1"),
])
def test_ops_settings_are_validated(tmp_path, yaml_text, message):
    path = _minimal(tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + yaml_text + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_site(path)
    assert message in str(info.value)
    assert str(info.value).startswith(f"{path}:5:")


def test_unknown_time_zone_is_a_config_error(tmp_path):
    site = make_site(tmp_path, zone="Asia/Atlantis")
    with pytest.raises(ConfigError, match="schedule.timezone: unknown time zone 'Asia/Atlantis'"):
        Scheduler([site], tmp_path / "s.sqlite3")


# --- the loop -----------------------------------------------------------------------------------


def test_a_simulated_day_runs_every_probe_and_one_crawl(tmp_path):
    clock, db = FakeTime(), tmp_path / "s.sqlite3"
    site = make_site(tmp_path)
    calls, procs = [], []

    def spawn(cmd):
        assert cmd[cmd.index("--config") + 1] == str(site.path.resolve())
        assert cmd[cmd.index("--db") + 1] == str(db.resolve())
        procs.append(FakeCrawl(clock, db, "t", minutes=40))
        return procs[-1]

    s = Scheduler([site], db, clock=clock, sleeper=clock, spawn=spawn, probe=fake_probe(calls),
                  threaded_probes=False)
    clock.scheduler, clock.until = s, START + dt.timedelta(days=1, minutes=1)
    s.run()
    assert calls == [START + dt.timedelta(hours=h) for h in range(1, 25)]
    assert len(procs) == 1 and procs[0].started == dt.datetime(2026, 11, 20, 17, 30, tzinfo=UTC)
    assert s.counts[("t", "crawl", "finished")] == 1
    assert s.store is None  # closed at shutdown
    with Store(db) as store:
        assert store.db.execute("SELECT count(*) FROM probes").fetchone()[0] == 24
        assert [r.status for r in store.runs("t")] == ["complete"]
    # At most a minute asleep (so a changed clock is noticed), once a second while a crawl runs.
    assert clock.sleeps <= 24 * 60 + 40 * 60 + 50


def test_a_crawl_still_running_is_never_started_twice(tmp_path):
    clock, db = FakeTime(), tmp_path / "s.sqlite3"
    site = make_site(tmp_path, crawl="0 * * * *", probe="*/30 * * * *")
    procs, alive_max = [], []

    def spawn(cmd):
        procs.append(FakeCrawl(clock, db, "t", minutes=150))
        return procs[-1]

    def watch(t: FakeTime):
        alive_max.append(sum(1 for p in procs if p.poll() is None))

    clock.on_sleep = watch
    s = Scheduler([site], db, clock=clock, sleeper=clock, spawn=spawn, probe=fake_probe([]), threaded_probes=False)
    clock.scheduler, clock.until = s, START + dt.timedelta(hours=6, minutes=20)
    s.run()
    # Due every hour; each crawl takes 2.5 h: started at 01:00, 04:00, skipped in between.
    assert [p.started for p in procs] == [START + dt.timedelta(hours=h) for h in (1, 4)]
    assert max(alive_max) == 1
    skipped = [e for e in s.events if e.job == "crawl" and e.what == "skipped"]
    assert [e.time for e in skipped] == [START + dt.timedelta(hours=h) for h in (2, 3, 5, 6)]
    assert "still running" in skipped[0].detail
    assert s.counts[("t", "crawl", "finished")] == 1
    assert procs[1].signals == [signal.SIGTERM]  # stopped at shutdown
    assert s.counts[("t", "crawl", "stopped")] == 1


def test_a_crawl_by_another_process_is_not_overlapped(tmp_path):
    clock, db = FakeTime(), tmp_path / "s.sqlite3"
    with Store(db) as store:  # a manual `sitecheck run` of this site is going on (this test process)
        store.start_run("t", "digest")
    site = make_site(tmp_path, crawl="0 * * * *")
    spawned = []
    s = Scheduler([site], db, clock=clock, sleeper=clock, spawn=spawned.append, probe=fake_probe([]),
                  threaded_probes=False)
    clock.scheduler, clock.until = s, START + dt.timedelta(hours=1, minutes=1)
    s.run()
    assert spawned == []
    assert f"pid {os.getpid()}" in next(e.detail for e in s.events if e.what == "skipped")


def test_failures_are_recorded_and_do_not_stop_the_loop(tmp_path):
    clock, db = FakeTime(), tmp_path / "s.sqlite3"
    site = make_site(tmp_path, crawl="0 */2 * * *", probe="0 * * * *")
    calls, attempts = [], []

    def spawn(cmd):
        attempts.append(clock())
        if len(attempts) == 1:
            raise OSError("cannot fork")
        # The crawl dies at once with a usage error, before recording a run.
        proc = FakeCrawl(clock, db, "t", minutes=0, code=2, record=False)
        return proc

    s = Scheduler([site], db, clock=clock, sleeper=clock, spawn=spawn, probe=fake_probe(calls, fail_every=2),
                  threaded_probes=False)
    clock.scheduler, clock.until = s, START + dt.timedelta(hours=6, minutes=30)
    s.run()
    assert len(calls) == 6  # every hourly round ran although every second one raised
    assert s.counts[("t", "probe", "failed")] == 3 and s.counts[("t", "probe", "finished")] == 3
    assert len(attempts) == 3  # 02:00 could not start; 04:00 and 06:00 were still tried
    assert s.counts[("t", "crawl", "failed")] == 3
    with Store(db) as store:
        runs = store.runs("t")
        assert [r.status for r in runs] == ["failed", "failed"]
        assert "exited with code 2 before recording a run" in runs[0].error
        assert store.integrity_ok()


def test_a_complete_run_with_a_veto_is_notified_an_interrupted_one_is_not(tmp_path):
    clock, db = FakeTime(), tmp_path / "s.sqlite3"
    site = make_site(tmp_path, crawl="0 * * * *", probe="0 0 1 1 *")
    codes = iter([0, -15])
    s = Scheduler([site], db, clock=clock, sleeper=clock, probe=fake_probe([]), threaded_probes=False,
                  spawn=lambda cmd: FakeCrawl(clock, db, "t", minutes=10, code=next(codes),
                                              vetoes=("homepage_stale",)))
    clock.scheduler, clock.until = s, START + dt.timedelta(hours=2, minutes=30)
    s.run()
    sent = s.notifiers["t"].sent
    assert [(e.kind, e.details["vetoes"]) for e in sent] == [("veto", ["homepage_stale"])]
    assert s.counts[("t", "crawl", "finished")] == 1 and s.counts[("t", "crawl", "incomplete")] == 1


@pytest.mark.parametrize("argv, message", [
    (["serve"], "name the sites to serve"),
    (["serve", "--config", "{a}", "--config", "{b}"], "site key 't' is also used by"),
    (["serve", "--config", "{a}", "--listen", "localhost"], "expected HOST:PORT"),
    (["serve", "--config", "{a}", "--probe-interval", "0"], "--probe-interval must be a positive"),
    (["serve", "--site", "nope", "--config-dir", "{dir}"], "no site file for site 'nope'"),
])
def test_serve_usage_errors_exit_2(tmp_path, capsys, argv, message):
    from sitecheck.cli import main

    a = make_site(tmp_path).path
    b = tmp_path / "copy.yaml"
    b.write_text(a.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "sites").mkdir()
    argv = [x.format(a=a, b=b, dir=tmp_path) for x in argv] + ["--db", str(tmp_path / "s.sqlite3")]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_probe_rounds_of_one_site_never_overlap(tmp_path):
    db = tmp_path / "s.sqlite3"
    site = make_site(tmp_path)
    release, started = threading.Event(), threading.Event()

    def slow_probe(site, store, clock, stop=None):
        started.set()
        release.wait(10)
        return []

    s = Scheduler([site], db, clock=FakeTime(), probe=slow_probe, crawls=False, probe_interval=60)
    s.start()
    try:
        s.tick(START)
        assert started.wait(5)
        s.tick(START + dt.timedelta(minutes=1))
        assert s.counts[("t", "probe", "skipped")] == 1
        release.set()
        s.probe_threads["t"].join(5)
        s.tick(START + dt.timedelta(minutes=2))
        assert s.counts[("t", "probe", "skipped")] == 1
    finally:
        release.set()
        s.shutdown()


def test_probe_interval_and_crawl_on_start_fire_at_once(tmp_path):
    clock, db = FakeTime(), tmp_path / "s.sqlite3"
    site = make_site(tmp_path)
    calls, procs = [], []
    s = Scheduler([site], db, clock=clock, sleeper=clock, probe=fake_probe(calls), threaded_probes=False,
                  spawn=lambda cmd: procs.append(FakeCrawl(clock, db, "t", minutes=1)) or procs[-1],
                  probe_interval=2.0, crawl_on_start=True)
    clock.scheduler, clock.until = s, START + dt.timedelta(seconds=9)
    s.run()
    assert calls == [START + dt.timedelta(seconds=2 * i) for i in range(5)]
    assert procs[0].started == START


def _child(tmp_path: Path, body: str) -> list[str]:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(body), encoding="utf-8")
    return [sys.executable, str(script)]


@pytest.mark.parametrize("ignores_sigterm", [False, True])
def test_sigterm_stops_scheduling_and_stops_crawls(tmp_path, ignores_sigterm):
    """A SIGTERM handler calls stop(): running crawls get SIGTERM, then SIGKILL after stop_timeout; a run the
    child left open is marked incomplete; the store is closed and intact."""
    db = tmp_path / "s.sqlite3"
    ready = tmp_path / "ready"
    command = _child(tmp_path, f"""
        import signal, sys, time
        from sitecheck.store import Store
        store = Store({str(db)!r})
        run_id = store.start_run("t", "digest")
        if {ignores_sigterm!r}:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        else:
            def stop(*_):
                store.finish_run(run_id, "incomplete", error="stopped")
                sys.exit(0)
            signal.signal(signal.SIGTERM, stop)
        open({str(ready)!r}, "w").close()
        time.sleep(60)
        """)
    with Store(db) as store:  # an earlier run that must stay intact
        earlier = store.start_run("t", "digest")
        store.finish_run(earlier, "complete")
    clock = FakeTime()
    site = make_site(tmp_path)
    s = Scheduler([site], db, clock=clock, sleeper=clock, command=lambda site, db: command,
                  probe=fake_probe([]), threaded_probes=False, crawl_on_start=True, stop_timeout=1.0)
    children = []

    def spawn(cmd):
        proc = subprocess.Popen(cmd, start_new_session=True)
        children.append(proc)
        return proc

    s.spawn = spawn

    def on_sleep(t: FakeTime):
        if ready.exists():
            os.kill(os.getpid(), signal.SIGTERM)
        else:
            time.sleep(0.05)

    clock.on_sleep = on_sleep
    previous = signal.signal(signal.SIGTERM, lambda *_: s.stop())
    try:
        s.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        for proc in children:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert len(children) == 1
    assert children[0].returncode == (-signal.SIGKILL if ignores_sigterm else 0)
    assert s.store is None
    with Store(db) as store:
        assert store.integrity_ok()
        runs = {r.id: r for r in store.runs("t")}
        assert runs[earlier].status == "complete"
        [killed] = [r for r in runs.values() if r.id != earlier]
        assert killed.status == "incomplete"
    assert s.counts[("t", "crawl", "stopped")] == 1


def test_delay_sleeps_until_the_next_job_and_polls_running_crawls(tmp_path):
    clock, db = FakeTime(), tmp_path / "s.sqlite3"
    s = Scheduler([make_site(tmp_path, probe="*/5 * * * *")], db, clock=clock, sleeper=clock,
                  spawn=lambda cmd: FakeCrawl(clock, db, "t", minutes=60), poll_interval=1.0)
    s.start()
    try:
        assert s.delay(START) == 60.0  # capped: next probe is 5 minutes away
        assert s.delay(START + dt.timedelta(minutes=4, seconds=30)) == 30.0
        s._fire_crawl(s.sites[0], START)
        assert s.delay(START) == 1.0
    finally:
        s.shutdown()


# --- notifications ------------------------------------------------------------------------------------


def _probe_result(site, ok: bool, when: dt.datetime) -> ProbeResult:
    return ProbeResult(site.portal.url, when, ok, Reason.OK if ok else Reason.TIMEOUT, status=200 if ok else None,
                       total_s=0.3 if ok else 15.2, host_key="portal", name="门户",
                       error="" if ok else "opened in 15.2 s, over the 15 s threshold")


def test_consecutive_failures_alert_once_and_recovery_once(tmp_path):
    site = make_site(tmp_path, extra="notify: {webhook_url: 'http://127.0.0.1:9/hook', format: dingtalk, "
                                     "after_failures: 3}\n")
    posts = []
    notifier = Notifier(site, post=lambda url, **kw: posts.append((url, kw)) or _Response(200, {"errcode": 0}))
    with Store(tmp_path / "s.sqlite3") as store:
        pattern = [True, False, False, False, False, True, True, False]
        for i, ok in enumerate(pattern):
            result = _probe_result(site, ok, START + dt.timedelta(minutes=5 * i))
            record_probes(store, "t", [result])
            notifier.after_probes(store, [result])
    kinds = [e.kind for e in notifier.sent]
    assert kinds == ["probe_down", "probe_recovered"]
    assert notifier.sent[0].details["consecutive_failures"] == 3
    assert len(posts) == 2
    url, kw = posts[0]
    body = json.loads(kw["data"].decode("utf-8"))
    assert url == "http://127.0.0.1:9/hook" and kw["timeout"] == 10.0
    assert body["msgtype"] == "text" and "连续 3 次无法打开" in body["text"]["content"]


def test_veto_notifications_from_a_run_and_from_the_probe_ratio(tmp_path):
    site = make_site(tmp_path, extra="notify: {webhook_url: 'http://127.0.0.1:9/hook'}\n")
    notifier = Notifier(site, post=lambda url, **kw: _Response(200, {}))
    with Store(tmp_path / "s.sqlite3") as store:
        run_id = store.start_run("t", "d")
        store.finish_run(run_id, "complete")
        store.save_verdict(run_id, "不合格", 55.0, {"vetoes": [
            {"id": "homepage_stale", "title": "首页不更新", "status": "veto"},
            {"id": "unreachable", "title": "站点无法访问", "status": "no_data"}]})
        notifier.after_run(store, run_id)
    figures = {"status": "veto", "window": {"days": 7}, "failed": 7, "probes": 140, "ratio": 0.05,
               "failure_ratio_veto": 0.05, "coverage": "ok"}
    notifier.after_availability(figures)
    notifier.after_availability(figures)  # still vetoed: no repeat
    notifier.after_availability({**figures, "status": "pass"})
    notifier.after_availability(figures)
    assert [e.kind for e in notifier.sent] == ["veto", "availability_veto", "availability_veto"]
    assert notifier.sent[0].details["vetoes"] == ["首页不更新"]
    assert "7/140" in notifier.sent[1].text


class _Response:
    def __init__(self, status_code, data):
        self.status_code, self._data = status_code, data

    def json(self):
        return self._data


def test_payload_formats():
    event = Event("probe_down", "t", "标题", "正文", {"url": "http://x/"}, START)
    assert payload("dingtalk", event) == {"msgtype": "text", "text": {"content": "标题\n正文"}}
    assert payload("wecom", event) == {"msgtype": "text", "text": {"content": "标题\n正文"}}
    assert payload("generic", event) == {"event": "probe_down", "site": "t", "title": "标题", "text": "正文",
                                         "details": {"url": "http://x/"}, "time": "2026-11-20T00:00:00+00:00"}


def test_webhook_failures_are_logged_never_raised(caplog):
    event = Event("probe_down", "t", "标题", "正文")
    settings = {"webhook_url": "http://127.0.0.1:9/hook", "format": "wecom", "timeout_seconds": 1}

    def broken(url, **kw):
        raise ConnectionError("connection refused")

    assert send(settings, event, post=broken) is False
    assert send(settings, event, post=lambda url, **kw: _Response(500, {})) is False
    assert send(settings, event, post=lambda url, **kw: _Response(200, {"errcode": 310000})) is False
    assert send({"webhook_url": None}, event) is False
    assert "connection refused" in caplog.text and "HTTP 500" in caplog.text and "errcode 310000" in caplog.text


def test_webhook_is_posted_over_http_with_a_timeout():
    received = []

    class Hook(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], json.loads(body)))
            reply = b'{"errcode":0,"errmsg":"ok"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    httpd = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/robot/send?access_token=x"
        ok = send({"webhook_url": url, "format": "dingtalk", "timeout_seconds": 5},
                  Event("veto", "t", "【单项否决风险】", "首页不更新"))
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert ok is True
    assert received == [("/robot/send?access_token=x", "application/json; charset=utf-8",
                         {"msgtype": "text", "text": {"content": "【单项否决风险】\n首页不更新"}})]
