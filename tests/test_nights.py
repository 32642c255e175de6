"""Night claims: one crawl of a site per night across workers sharing one store."""

from __future__ import annotations

import multiprocessing
from datetime import date, datetime, timedelta, timezone

import pytest

from sitecheck.nightclaims import TAKEN_OVER
from sitecheck.store import Store

NIGHT = date(2026, 12, 7)
T0 = datetime(2026, 12, 7, 18, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("pg_url")
    return str(tmp_path / "s.sqlite3")


@pytest.fixture
def store(location, clock):
    with Store(location, clock=clock) as s:
        yield s


def test_enqueue_records_a_queued_night_once(store):
    assert store.enqueue_night("a", NIGHT) is True
    assert store.enqueue_night("a", NIGHT) is False
    assert store.enqueue_night("a", NIGHT + timedelta(days=1)) is True
    [state] = store.nights(NIGHT)
    assert (state.site, state.night, state.state, state.run_id, state.attempts) == ("a", NIGHT, "queued", None, 0)


def test_re_enqueue_of_a_running_or_done_night_changes_nothing(store):
    run = store.claim_night("a", NIGHT, "w1", 60)
    assert store.enqueue_night("a", NIGHT) is False
    assert store.nights(NIGHT)[0].state == "running"
    store.finish_run(run, "complete")
    store.finish_night("a", NIGHT, run, "complete")
    assert store.enqueue_night("a", NIGHT) is False
    assert store.nights(NIGHT)[0].state == "done"


def test_claim_of_a_queued_night_starts_a_run(store, clock):
    store.enqueue_night("a", NIGHT)
    run = store.claim_night("a", NIGHT, "w1", 60)
    assert run is not None
    r = store.run(run)
    assert (r.site, r.status, r.night, r.started_at) == ("a", "running", NIGHT, T0)
    [state] = store.nights(NIGHT)
    assert (state.state, state.run_id, state.worker, state.heartbeat_at, state.attempts, state.run_status) == \
        ("running", run, "w1", T0, 1, "running")


def test_claim_of_a_night_never_enqueued_enqueues_it(store):
    run = store.claim_night("b", NIGHT, "w1", 60)
    assert [(s.site, s.state, s.run_id) for s in store.nights(NIGHT)] == [("b", "running", run)]


def test_a_fresh_claim_is_not_taken_and_a_done_night_never(store, clock):
    run = store.claim_night("a", NIGHT, "w1", 60)
    clock.advance(59)
    assert store.claim_night("a", NIGHT, "w2", 60) is None  # duplicate delivery: no crawl
    store.finish_run(run, "complete")
    assert store.finish_night("a", NIGHT, run, "complete") is True
    clock.advance(3600)
    assert store.claim_night("a", NIGHT, "w2", 60) is None
    [state] = store.nights(NIGHT)
    assert (state.state, state.run_id, state.worker, state.attempts, state.run_status) == \
        ("done", run, "w1", 1, "complete")


def test_a_stale_claim_is_taken_over_and_the_old_run_marked_incomplete(store, clock):
    first = store.claim_night("a", NIGHT, "w1", 60)
    clock.advance(61)
    second = store.claim_night("a", NIGHT, "w2", 60)
    assert second is not None and second != first
    assert store.run(first).status == "incomplete"
    assert store.run(first).error == TAKEN_OVER
    [state] = store.nights(NIGHT)
    assert (state.run_id, state.worker, state.attempts, state.heartbeat_at) == (second, "w2", 2, clock.now)


def test_heartbeat_keeps_the_claim_alive_and_tells_a_replaced_run_to_stop(store, clock):
    first = store.claim_night("a", NIGHT, "w1", 60)
    for _ in range(5):
        clock.advance(40)
        assert store.heartbeat_night("a", NIGHT, first) is True
        assert store.claim_night("a", NIGHT, "w2", 60) is None
    assert store.nights(NIGHT)[0].heartbeat_at == clock.now
    clock.advance(61)
    second = store.claim_night("a", NIGHT, "w2", 60)
    assert store.heartbeat_night("a", NIGHT, first) is False
    assert store.heartbeat_night("a", NIGHT, second) is True


def test_finish_night_only_by_the_claim_holder(store, clock):
    first = store.claim_night("a", NIGHT, "w1", 60)
    clock.advance(61)
    second = store.claim_night("a", NIGHT, "w2", 60)
    assert store.finish_night("a", NIGHT, first, "complete") is False
    assert store.nights(NIGHT)[0].state == "running"
    assert store.finish_night("a", NIGHT, second, "incomplete") is True  # its crawl died unclosed
    assert store.run(second).status == "incomplete"
    [state] = store.nights(NIGHT)
    assert (state.state, state.run_id, state.run_status) == ("done", second, "incomplete")
    with pytest.raises(ValueError):
        store.finish_night("a", NIGHT, second, "running")


def test_finish_night_keeps_the_status_the_run_recorded(store):
    run = store.claim_night("a", NIGHT, "w1", 60)
    store.finish_run(run, "failed", error="site unreachable")
    store.finish_night("a", NIGHT, run, "complete")
    assert store.run(run).status == "failed"


def test_a_replaced_run_that_finishes_late_stays_incomplete(store, clock):
    """The old worker was only slow: its late finish_run must not make a second complete run."""
    first = store.claim_night("a", NIGHT, "w1", 60)
    clock.advance(61)
    second = store.claim_night("a", NIGHT, "w2", 60)
    store.finish_run(second, "complete")
    store.finish_run(first, "complete")
    assert store.run(first).status == "incomplete"
    assert store.run(second).status == "complete"


def test_the_store_refuses_two_complete_runs_of_one_night(store, clock):
    first = store.claim_night("a", NIGHT, "w1", 60)
    store.finish_run(first, "complete")
    other = store._insert_run("a", "", clock(), NIGHT)
    with pytest.raises(Exception, match="UNIQUE|unique"):
        store.db.execute("UPDATE runs SET status = 'complete' WHERE id = ?", (other,))
    # Runs without a night (plain `sitecheck run`) may complete as often as they are started.
    for _ in range(2):
        store.finish_run(store.start_run("a", "d"), "complete")


def test_sweep_requeues_stale_nights_only(store, clock):
    a = store.claim_night("a", NIGHT, "w1", 60)
    store.claim_night("c", NIGHT - timedelta(days=1), "w3", 60)
    clock.advance(50)
    b = store.claim_night("b", NIGHT, "w2", 60)
    done = store.claim_night("d", NIGHT, "w3", 60)
    store.finish_night("d", NIGHT, done, "complete")
    clock.advance(20)
    assert store.sweep_stale_nights(60) == [("c", NIGHT - timedelta(days=1)), ("a", NIGHT)]
    assert store.run(a).status == "incomplete"
    assert store.run(b).status == "running"
    states = {s.site: (s.state, s.run_id) for s in store.nights(NIGHT)}
    assert states == {"a": ("queued", a), "b": ("running", b), "d": ("done", done)}
    assert store.sweep_stale_nights(60) == []
    again = store.claim_night("a", NIGHT, "w4", 60)  # the re-sent task claims the queued night
    assert again not in (None, a)
    assert store.nights(NIGHT)[0].attempts == 2


def test_recovery_judges_only_runs_of_this_machine(store):
    here = store.start_run("a", "d")
    elsewhere = store.start_run("b", "d")
    store.db.execute("UPDATE runs SET pid = 999999999 WHERE id IN (?, ?)", (here, elsewhere))
    store.db.execute("UPDATE runs SET hostname = 'worker-7.example' WHERE id = ?", (elsewhere,))
    assert store.recover_interrupted() == [here]
    assert store.run(elsewhere).status == "running"


def _racer(path: str, nights: int, barrier, worker: str, out) -> None:
    with Store(path) as store:
        won = []
        for i in range(nights):
            barrier.wait(timeout=60)
            if store.claim_night("a", NIGHT + timedelta(days=i), worker, 3600) is not None:
                won.append(i)
        out.put((worker, won))


def test_two_processes_racing_for_the_same_nights_win_each_exactly_once(location):
    path = location
    Store(path).close()
    nights = 60
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_racer, args=(path, nights, barrier, w, out)) for w in ("w1", "w2")]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert sorted(results["w1"] + results["w2"]) == list(range(nights))
    with Store(path) as store:
        for i in range(nights):
            [state] = store.nights(NIGHT + timedelta(days=i))
            assert state.attempts == 1
            assert state.worker == ("w1" if i in results["w1"] else "w2")
        assert store.db.execute("SELECT count(*) FROM runs").fetchone()[0] == nights


def test_a_taken_over_runs_scratch_and_queue_are_removed_on_its_machine(store, clock):
    """A worker whose crawl died finds, when it next starts one, the files of the run another
    worker took over meanwhile, and deletes them; a running run's files stay."""
    from sitecheck.store import queue_dir

    first = store.claim_night("a", NIGHT, "w1", 60)
    queue_dir(store.path, first).mkdir()
    store.hand_over_run()
    clock.advance(61)
    with Store(store.location, clock=clock) as other:  # another worker takes the night over
        second = other.claim_night("a", NIGHT, "w2", 60)
        other.hand_over_run()
    leftovers = sorted(p.name.rsplit(".", 1)[1] for p in store.path.parent.glob(f"{store.path.name}.run{first}.*"))
    assert leftovers == ["queue", "scratch"]
    third = store.start_run("b", "d")
    assert not list(store.path.parent.glob(f"{store.path.name}.run{first}.*"))
    assert [p.suffix for p in store.path.parent.glob(f"{store.path.name}.run*")] == [".scratch", ".scratch"]
    assert {second, third} == {int(p.name.split(".run")[1].split(".")[0])
                               for p in store.path.parent.glob(f"{store.path.name}.run*")}
