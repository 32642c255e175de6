"""The worker's side of a distributed night, without a broker: claim, child crawl, heartbeat, finish.

`crawl_night` is what the `crawl_site` task runs; these tests call it directly on a SQLite
store and real loopback sites (tests/servers/farm.py), with real `sitecheck run` children.
The brokers and worker processes are in tests/test_distributed_drill.py.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import datetime as dt
from datetime import date

import pytest

from sitecheck.config.inventory import find_site
from sitecheck.distributed.crawl import crawl_night
from sitecheck.distributed.dispatch import Sweeper, dispatch, night_of
from sitecheck.store import Store
from tests.servers.farm import Farm, farm_sites

pytestmark = pytest.mark.e2e

NIGHT = date(2026, 12, 7)


@pytest.fixture
def farm(tmp_path):
    farm = Farm(tmp_path / "config", farm_sites(3, slow=1))
    yield farm
    farm.close()


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "store.sqlite3")


def test_run_records_into_the_run_it_was_given(farm, db):
    site = farm.sites[1]
    with Store(db) as store:
        run_id = store.claim_night(site.key, NIGHT, "w1", 60)
    proc = subprocess.run([sys.executable, "-m", "sitecheck.cli", "run", "--site", site.key, "--config-dir",
                           str(farm.config_dir), "--db", db, "--claimed-run", str(run_id)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    with Store(db) as store:
        runs = store.runs()
        assert [(r.id, r.site, r.status, r.night) for r in runs] == [(run_id, site.key, "complete", NIGHT)]
        assert runs[0].pages == site.pages + 1 + (site.problem == "broken")  # a 404 page is a page too


def test_claimed_run_must_be_a_running_run_of_the_site(farm, db):
    with Store(db) as store:
        run_id = store.claim_night(farm.sites[1].key, NIGHT, "w1", 60)
    proc = subprocess.run([sys.executable, "-m", "sitecheck.cli", "run", "--site", farm.sites[2].key,
                           "--config-dir", str(farm.config_dir), "--db", db, "--claimed-run", str(run_id)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"--claimed-run {run_id}: not a running run of site 'p003' (run of site 'p002', running)" in proc.stderr


def test_a_night_is_crawled_once_however_often_its_task_arrives(farm, db):
    site = farm.sites[2]
    with Store(db) as store:
        first = crawl_night(store, site.key, NIGHT, db=db, config_dir=farm.config_dir, worker="w1")
        again = crawl_night(store, site.key, NIGHT, db=db, config_dir=farm.config_dir, worker="w2")
        [state] = store.nights(NIGHT)
    assert (first.status, first.exit_code) == ("complete", 1)  # exit 1: the site has findings
    assert (again.status, again.run_id) == ("skipped", None)
    assert (state.state, state.run_id, state.run_status, state.attempts, state.worker) == (
        "done", first.run_id, "complete", 1, "w1")
    assert farm.homepage_gets()[site.key] == 1
    # The run records which site file the night was crawled with, as `sitecheck run` does.
    with Store(db) as store:
        assert store.run(first.run_id).config_digest == find_site(site.key, farm.config_dir).digest != ""


def test_a_worker_whose_claim_was_taken_over_stops_its_crawl(farm, db):
    slow = farm.sites[0]  # 15 pages, 0.4 s apart
    claimed = threading.Event()
    outcome = []
    with Store(db) as store:
        worker = threading.Thread(target=lambda: outcome.append(crawl_night(
            store, slow.key, NIGHT, db=db, config_dir=farm.config_dir, worker="w1", heartbeat_s=0.2,
            stale_after_s=60, on_claim=lambda _run: claimed.set())))
        worker.start()
        assert claimed.wait(30)
        time.sleep(1.0)
        with Store(db) as other:  # another worker presumed w1 dead and took the night over
            assert other.sweep_stale_nights(0) == [(slow.key, NIGHT)]
            taken = other.claim_night(slow.key, NIGHT, "w2", 60)
        started = time.monotonic()
        worker.join(60)
        stopped_in = time.monotonic() - started
        [out] = outcome
        [state] = store.nights(NIGHT)
        first = store.run(out.run_id)
    assert out.status == "lost"
    assert stopped_in < 3.0  # the next heartbeat saw it; a whole crawl takes several seconds more
    assert first.status == "incomplete"
    assert (state.state, state.run_id, state.worker) == ("running", taken, "w2")


def test_a_crawl_process_that_dies_leaves_its_run_incomplete_and_the_night_done(farm, db):
    def killed(_command):  # a crawl child the kernel killed (out of memory, say)
        return subprocess.Popen([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])

    with Store(db) as store:
        out = crawl_night(store, farm.sites[1].key, NIGHT, db=db, config_dir=farm.config_dir, start=killed)
        run = store.run(out.run_id)
        [state] = store.nights(NIGHT)
    assert (out.status, out.exit_code) == ("incomplete", -9)
    assert run.status == "incomplete" and "exited with code -9" in run.error
    assert (state.state, state.run_status) == ("done", "incomplete")


def test_a_site_unknown_to_the_worker_fails_its_night_with_the_reason(farm, db, tmp_path):
    with Store(db) as store:
        out = crawl_night(store, "nosuch", NIGHT, db=db, config_dir=farm.config_dir)
        run = store.run(out.run_id)
        [state] = store.nights(NIGHT)
    assert out.status == "failed"
    assert "no site file for site 'nosuch'" in run.error
    assert (state.site, state.state, state.run_status) == ("nosuch", "done", "failed")


def test_dispatch_enqueues_and_sends_only_what_is_still_queued(db):
    sent = []
    with Store(db) as store:
        first = dispatch(store, lambda site, night: sent.append((site, night)), ["a", "b", "c"], NIGHT)
        run_b = store.claim_night("b", NIGHT, "w1", 60)
        run_c = store.claim_night("c", NIGHT, "w1", 60)
        store.finish_night("c", NIGHT, run_c, "complete")
        second = dispatch(store, lambda site, night: sent.append((site, night)), ["a", "b", "c"], NIGHT)
    assert (first.enqueued, first.sent) == (["a", "b", "c"], ["a", "b", "c"])
    assert (second.enqueued, second.sent, second.running, second.done) == ([], ["a"], ["b"], ["c"])
    assert sent == [("a", NIGHT), ("b", NIGHT), ("c", NIGHT), ("a", NIGHT)]
    assert run_b is not None


def test_sweeper_requeues_and_resends_a_dead_workers_night_once(db):
    sent = []
    with Store(db) as store:
        store.enqueue_night("a", NIGHT)
        dead = store.claim_night("a", NIGHT, "w1", 60)
        live = store.claim_night("b", NIGHT, "w2", 60)
        store.heartbeat_night("b", NIGHT, live)
    time.sleep(1.1)
    with Store(db) as store:
        store.heartbeat_night("b", NIGHT, live)
    sweeper = Sweeper(lambda: Store(db), lambda site, night: sent.append((site, night)), stale_after_s=1.0)
    assert sweeper.sweep_once() == [("a", NIGHT)]
    assert sweeper.sweep_once() == []
    assert sent == [("a", NIGHT)]
    with Store(db) as store:
        assert store.run(dead).status == "incomplete"
        assert {n.site: n.state for n in store.nights(NIGHT)} == {"a": "queued", "b": "running"}


def test_sweeper_sends_again_what_the_broker_refused(db):
    sent, refuse = [], [True]

    def send(site, night):
        if refuse[0]:
            raise ConnectionError("broker restarting")
        sent.append(site)

    with Store(db) as store:
        store.claim_night("a", NIGHT, "w1", 60)
    time.sleep(1.1)
    sweeper = Sweeper(lambda: Store(db), send, stale_after_s=1.0)
    with pytest.raises(ConnectionError):
        sweeper.sweep_once()
    refuse[0] = False
    assert sweeper.sweep_once() == []  # nothing stale any more, yet the refused night goes out now
    assert sent == ["a"]


def test_the_night_is_the_date_where_the_sites_are():
    from datetime import datetime, timezone

    assert night_of(datetime(2026, 12, 7, 17, 30, tzinfo=timezone.utc)) == date(2026, 12, 8)  # 01:30 in Beijing
    assert night_of(datetime(2026, 12, 7, 17, 30, tzinfo=timezone.utc), "UTC") == date(2026, 12, 7)


def test_serve_dispatch_queues_each_due_crawl_for_its_night_instead_of_crawling(tmp_path, db):
    from sitecheck.distributed.dispatch import scheduled
    from sitecheck.probe.scheduler import Scheduler
    from tests.test_scheduler import START, FakeTime, fake_probe, make_site

    sent, spawned = [], []
    clock = FakeTime(START)  # 08:00 in Beijing on 2026-11-20; crawls due at 01:30 Beijing
    sites = [make_site(tmp_path, "a"), make_site(tmp_path, "b", crawl="0 2 * * *", zone="UTC")]
    scheduler = Scheduler(sites, tmp_path / "local.sqlite3", clock=clock, sleeper=clock, spawn=spawned.append,
                          probe=fake_probe([]), threaded_probes=False,
                          dispatch=scheduled(lambda: Store(db), lambda site, night: sent.append((site, night))))
    clock.scheduler, clock.until = scheduler, START + dt.timedelta(days=2)
    scheduler.run()
    assert spawned == []
    # b crawls at 02:00 UTC, so its night is the UTC date; a at 01:30 in Beijing, 17:30 UTC the day before
    assert sent == [("b", date(2026, 11, 20)), ("a", date(2026, 11, 21)), ("b", date(2026, 11, 21)),
                    ("a", date(2026, 11, 22))]
    assert scheduler.counts[("a", "crawl", "dispatched")] == 2
    with Store(db) as store:
        assert [(n.site, n.state) for n in store.nights(date(2026, 11, 21))] == [("a", "queued"), ("b", "queued")]


def test_dispatch_without_a_broker_says_so_and_keeps_the_nights_queued(farm, db):
    from tests.conftest import free_port

    broker = f"amqp://guest:guest@127.0.0.1:{free_port()}//"  # nothing listens there
    proc = subprocess.run([sys.executable, "-m", "sitecheck.cli", "dispatch", "--site", farm.sites[1].key,
                           "--night", NIGHT.isoformat(), "--broker", broker, "--db", db,
                           "--config-dir", str(farm.config_dir)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"error: cannot send the tasks to the broker {broker}:" in proc.stderr
    assert "dispatch again when the broker is back" in proc.stderr
    with Store(db) as store:
        assert [(n.site, n.state) for n in store.nights(NIGHT)] == [(farm.sites[1].key, "queued")]
