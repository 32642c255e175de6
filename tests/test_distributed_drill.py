"""Province drill: many generated sites dispatched through a real RabbitMQ to three worker processes.

Everything is real and on loopback: RabbitMQ (and Redis) started by tests/servers/brokers.py,
`sitecheck worker` processes standing in for three machines, `sitecheck dispatch`, the crawls
as `sitecheck run` children of the workers, one store shared by all of them (a PostgreSQL
database of the tests' cluster; a SQLite file where PostgreSQL is not installed), and a farm of
small sites on 127.0.3.x, each with its own polite delay (tests/servers/farm.py).

* Every site of the night is crawled exactly once (one complete run; its homepage fetched
  once), and its export equals that of the same site crawled on one machine (`run --all`).
* The same night dispatched twice crawls nothing twice.
* A worker killed with SIGKILL in the middle of a crawl: the site is crawled again by another
  worker, the killed run is `incomplete`, no site has two complete runs in the night.
* RabbitMQ restarted in the middle of a night: every task is still done.
* PostgreSQL restarted in the middle of a night: the workers reconnect and the night completes.
* Redis as the broker: the same night completes, once per site.

SITECHECK_DRILL_SITES sets the province's size (default DEFAULT_SITES, the issue's 200; at least
59, which the fault drills use: a smaller province is quicker to try things on).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import date

import pytest

from sitecheck.distributed.cli import format_nights
from sitecheck.store import Store
from tests.distributed_rig import STALE_AFTER_S, Workers, export_view, wait_night
from tests.servers.brokers import RabbitMQ, Redis, rabbitmq_missing, redis_missing
from tests.servers.farm import Farm, farm_sites

pytestmark = pytest.mark.e2e

DEFAULT_SITES = 200
SITES = int(os.environ.get("SITECHECK_DRILL_SITES") or DEFAULT_SITES)
SLOW = 4  # sites that take several seconds: the faults strike during them
PROVINCE, TWICE, KILLED, RESTARTED, ON_REDIS, DB_RESTARTED = (date(2026, 12, d) for d in range(1, 7))


@pytest.fixture(scope="module")
def rabbitmq(tmp_path_factory):
    if reason := rabbitmq_missing():
        pytest.skip(reason)
    broker = RabbitMQ(tmp_path_factory.mktemp("rabbitmq")).start()
    yield broker
    broker.close()


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    assert SITES >= 59, "the drills below use 59 of the farm's sites"
    farm = Farm(tmp_path_factory.mktemp("province"), farm_sites(SITES, slow=SLOW))
    yield farm
    farm.close()


@pytest.fixture(scope="module")
def pg(request):
    """The tests' PostgreSQL cluster (tests/conftest.py), or None where PostgreSQL is not installed."""
    try:
        return request.getfixturevalue("postgres_server")
    except pytest.skip.Exception:
        return None


@pytest.fixture(scope="module")
def db(pg, tmp_path_factory):
    """The store every worker shares: a PostgreSQL database, else (no PostgreSQL here) one SQLite file."""
    return pg.database() if pg is not None else str(tmp_path_factory.mktemp("store") / "province.sqlite3")


@pytest.fixture(scope="module")
def workers(rabbitmq, farm, db, tmp_path_factory):
    workers = Workers(rabbitmq.url, db, farm.config_dir, tmp_path_factory.mktemp("worker-logs"))
    for name in ("w1", "w2", "w3"):
        workers.start(name)
    yield workers
    workers.close()


def sitecheck(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sitecheck.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def dispatch(broker, db: str, farm: Farm, night: date, *sites: str) -> str:
    which = [a for key in sites for a in ("--site", key)] or ["--all"]
    proc = sitecheck("dispatch", *which, "--night", night.isoformat(), "--broker", broker.url, "--db", db,
                     "--config-dir", str(farm.config_dir))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def night_runs(db: str, night: date) -> list:
    with Store(db, readonly=True) as store:
        return [r for r in store.runs(limit=100_000) if r.night == night]


def gets_since(farm: Farm, before: dict[str, int]) -> Counter:
    now = farm.homepage_gets()
    return Counter({k: now[k] - before.get(k, 0) for k in now if now[k] - before.get(k, 0)})


# --- the province drill ----------------------------------------------------------------------------


def test_province_night_crawls_every_site_once_with_the_findings_of_one_machine(rabbitmq, farm, db, workers,
                                                                                  tmp_path):
    before = farm.homepage_gets()
    started = time.monotonic()
    out = dispatch(rabbitmq, db, farm, PROVINCE)
    assert f"{SITES} site(s); {SITES} newly queued, {SITES} task(s) sent" in out
    states = wait_night(db, PROVINCE, SITES, timeout=60 + SITES * 2.5, workers=workers)
    wall = time.monotonic() - started
    assert Counter(n.run_status for n in states) == Counter({"complete": SITES})
    assert all(n.attempts == 1 for n in states)
    runs = night_runs(db, PROVINCE)
    assert Counter(r.site for r in runs if r.status == "complete") == Counter({s.key: 1 for s in farm.sites})
    assert len(runs) == SITES
    assert gets_since(farm, before) == Counter({s.key: 1 for s in farm.sites})
    assert len({n.worker.split("@")[0] for n in states}) == 3, "all three workers took crawls"
    assert workers.total("sitecheck_worker_crawls_total") == SITES  # each worker counted its own

    # The same sites crawled on one machine, into a SQLite store of their own.
    alone = tmp_path / "alone.sqlite3"
    proc = sitecheck("run", "--all", "--config-dir", str(farm.config_dir), "--db", str(alone), timeout=600)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    with Store(db, readonly=True) as shared, Store(alone, readonly=True) as single:
        by_site = {r.site: r for r in runs}
        differ = []
        for site in farm.sites:
            mine = export_view(shared, by_site[site.key])
            theirs = export_view(single, single.latest_run(site.key))
            if mine != theirs:
                differ.append((site.key, mine, theirs))
        problems = Counter(f["code"] for r in runs for _fid, f in
                           [(None, f) for f in export_view(shared, r)["findings"]])
    assert not differ, differ[:2]
    shown = sitecheck("runs", "--night", PROVINCE.isoformat(), "--db", db)
    assert shown.stdout.splitlines()[-1] == f"{SITES} done (complete)", shown.stdout[-2000:]
    assert problems["link.broken_homepage"] >= SITES // 5  # the farm's problems were found, not nothing
    print(f"\n{SITES} sites on 3 workers through RabbitMQ: {wall:.1f} s")


def test_the_same_night_dispatched_twice_crawls_nothing_twice(rabbitmq, farm, db, workers):
    keys = [s.key for s in farm.sites[SLOW:SLOW + 12]]
    before = farm.homepage_gets()
    conflicts = workers.total("sitecheck_worker_claim_conflicts_total")
    first = dispatch(rabbitmq, db, farm, TWICE, *keys)
    second = dispatch(rabbitmq, db, farm, TWICE, *keys)  # while the first tasks are queued or running
    assert "12 newly queued, 12 task(s) sent" in first
    assert "0 newly queued" in second
    copies = int(re.search(r"(\d+) task\(s\) sent", second).group(1))
    wait_night(db, TWICE, len(keys), timeout=120, workers=workers)
    third = dispatch(rabbitmq, db, farm, TWICE, *keys)
    assert "0 newly queued, 0 task(s) sent, 0 running, 12 done" in third
    # Every copy the second dispatch sent is delivered, finds its night claimed or done, and is counted.
    deadline = time.monotonic() + 30
    while workers.total("sitecheck_worker_claim_conflicts_total") < conflicts + copies and time.monotonic() < deadline:
        time.sleep(0.5)
    assert workers.total("sitecheck_worker_claim_conflicts_total") == conflicts + copies
    assert Counter(r.site for r in night_runs(db, TWICE)) == Counter({k: 1 for k in keys})
    assert gets_since(farm, before) == Counter({k: 1 for k in keys})


def test_a_worker_killed_mid_crawl_has_its_site_crawled_again_by_another(rabbitmq, farm, db, workers):
    keys = [s.key for s in farm.sites[:SLOW]] + [s.key for s in farm.sites[SLOW + 12:SLOW + 20]]
    dispatch(rabbitmq, db, farm, KILLED, *keys)
    slow = {s.key for s in farm.sites[:SLOW]}
    states = wait_night(db, KILLED, len(keys), timeout=60, workers=workers, until=lambda states: any(
        n.site in slow and n.state == "running" and n.heartbeat_at is not None for n in states))
    victim = next(n for n in states if n.site in slow and n.state == "running")
    time.sleep(1.0)  # well into the crawl
    workers.kill(workers.name_of(victim.worker))
    try:
        states = wait_night(db, KILLED, len(keys), timeout=120 + STALE_AFTER_S, workers=workers)
    finally:
        workers.start(workers.name_of(victim.worker))  # three workers again for the next drills
    runs = night_runs(db, KILLED)
    killed = [r for r in runs if r.id == victim.run_id]
    assert [r.status for r in killed] == ["incomplete"]
    again = next(n for n in states if n.site == victim.site)
    assert (again.run_status, again.attempts) == ("complete", 2)
    assert again.run_id != victim.run_id and not again.worker.startswith(victim.worker.split("@")[0] + "@")
    complete = Counter(r.site for r in runs if r.status == "complete")
    assert complete == Counter({k: 1 for k in keys}), "no night has two complete runs of one site"
    assert Counter(r.site for r in runs) == Counter({k: 1 for k in keys}) + Counter({victim.site: 1})


def restarted_mid_night(service, rabbitmq, farm, db, workers, night: date, keys: list[str], ready) -> tuple:
    """Dispatch `keys`, restart `service` once `ready(states)` holds, wait for the night: (states,
    complete runs by site)."""
    dispatch(rabbitmq, db, farm, night, *keys)
    wait_night(db, night, len(keys), timeout=60, workers=workers, until=ready)
    service.restart()
    states = wait_night(db, night, len(keys), timeout=180, workers=workers)
    return states, Counter(r.site for r in night_runs(db, night) if r.status == "complete")


def test_a_broker_restarted_mid_night_loses_no_task(rabbitmq, farm, db, workers):
    keys = [s.key for s in farm.sites[:SLOW]] + [s.key for s in farm.sites[SLOW + 20:SLOW + 36]]
    states, complete = restarted_mid_night(rabbitmq, rabbitmq, farm, db, workers, RESTARTED, keys,
                                           lambda states: sum(n.state == "done" for n in states) >= 3)
    assert Counter(n.run_status for n in states) == Counter({"complete": len(keys)})
    assert complete == Counter({k: 1 for k in keys})


def test_serve_dispatch_queues_the_due_crawls_and_the_workers_run_them(rabbitmq, farm, db, workers, tmp_path):
    from sitecheck.distributed.dispatch import night_of

    keys = [s.key for s in farm.sites[SLOW + 36:SLOW + 39]]
    serve = subprocess.Popen(
        [sys.executable, "-m", "sitecheck.cli", "serve", "--dispatch", "--crawl-on-start", "--listen", "off",
         "--broker", rabbitmq.url, "--db", db, "--config-dir", str(farm.config_dir),
         *[a for key in keys for a in ("--site", key)]],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        night = night_of()
        states = wait_night(db, night, len(keys), timeout=90, workers=workers)
    finally:
        serve.terminate()
        output = serve.communicate(timeout=30)[0]
    assert serve.returncode == 0, output[-3000:]
    assert sorted((n.site, n.run_status) for n in states) == [(k, "complete") for k in keys]
    seen = workers.scrape("w2")  # tonight's view, the same from every worker
    assert seen[("sitecheck_night_sites", (("state", "done"),))] == len(keys)
    assert seen[("sitecheck_night_sites", (("state", "running"),))] == 0
    assert seen[("sitecheck_dispatch_queue_messages", ())] == 0
    assert seen[("sitecheck_dispatch_broker_up", ())] == 1
    assert sum(v for (n, _l), v in seen.items() if n == "sitecheck_worker_crawls_running") == 0


def test_postgresql_restarted_mid_night_the_workers_reconnect_and_finish(rabbitmq, farm, db, workers, pg):
    if pg is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    keys = [s.key for s in farm.sites[:SLOW]] + [s.key for s in farm.sites[SLOW + 51:SLOW + 55]]
    states, complete = restarted_mid_night(pg, rabbitmq, farm, db, workers, DB_RESTARTED, keys,
                                           lambda states: sum(n.state == "running" for n in states) >= 2)
    assert all(n.state == "done" for n in states)
    assert complete == Counter({k: 1 for k in keys}), format_nights(states, DB_RESTARTED)


# --- Redis ---------------------------------------------------------------------------------------------


def test_a_night_on_redis_completes_once_per_site(farm, tmp_path):
    if reason := redis_missing():
        pytest.skip(reason)
    redis = Redis(tmp_path / "redis").start()
    db = str(tmp_path / "redis-night.sqlite3")
    workers = Workers(redis.url, db, farm.config_dir, tmp_path / "logs")
    keys = [s.key for s in farm.sites[SLOW + 39:SLOW + 51]]
    try:
        for name in ("r1", "r2"):
            workers.start(name)
        before = farm.homepage_gets()
        dispatch(redis, db, farm, ON_REDIS, *keys)
        dispatch(redis, db, farm, ON_REDIS, *keys)
        states = wait_night(db, ON_REDIS, len(keys), timeout=120, workers=workers)
    finally:
        workers.close()
        redis.close()
    assert Counter(n.run_status for n in states) == Counter({"complete": len(keys)})
    assert gets_since(farm, before) == Counter({k: 1 for k in keys})
