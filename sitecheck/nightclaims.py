"""Night claims: exactly one crawl of a site per night when many workers share one store.

A night's work is one crawl per site.  The store keeps one row per (site, night): enqueued as
`queued` (enqueuing again changes nothing), claimed by the worker that starts the crawl, kept
alive by the crawl's heartbeat, `done` when the crawl ends.  A claim succeeds only on a queued
night or on a running one whose heartbeat is stale (its worker died); the loser of a race, or
a duplicate delivery of the same task, gets None and does not crawl.  Each claim starts a new
run; the attempt it replaces is marked `incomplete`, and a unique index on the runs table
(site, night, status 'complete') refuses a second complete run of one night whatever happens.

Heartbeats are UTC timestamps from the workers' clocks: the machines must keep their clocks in
step (NTP) and `stale_after_s` must be much longer than the heartbeat interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from .storedb import writes

if TYPE_CHECKING:
    from .store import Store

NIGHT_STATES = ("queued", "running", "done")
RUN_END_STATUSES = ("complete", "incomplete", "failed")
TAKEN_OVER = "another worker took over this night's crawl (no heartbeat)"


@dataclass(frozen=True)
class NightState:
    site: str
    night: date
    state: str  # queued, running, done
    run_id: int | None  # the latest attempt's run
    worker: str
    heartbeat_at: datetime | None
    attempts: int
    run_status: str | None  # that run's status (running, complete, incomplete, failed)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def _stamp(moment: datetime) -> str:
    """Heartbeats keep microseconds, in one fixed-width format, so text order is time order."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


class NightClaims:
    """The claim methods of `Store` (kept apart from the crawl's write path)."""

    def _night_tx(self: Store):
        return _Transaction(self)

    @writes
    def enqueue_night(self: Store, site: str, night: date) -> bool:
        """Record (site, night) as queued; False when it was already known (nothing changes)."""
        with self._night_tx():
            return self._enqueue(site, night)

    def _enqueue(self: Store, site: str, night: date) -> bool:
        cur = self.db.execute(
            "INSERT INTO nights (site, night, state, enqueued_at) VALUES (?, ?, 'queued', ?) "
            "ON CONFLICT (site, night) DO NOTHING", (site, night.isoformat(), _stamp(self.clock())))
        return cur.rowcount == 1

    @writes
    def claim_night(self: Store, site: str, night: date, worker: str, stale_after_s: float,
                    config_digest: str = "") -> int | None:
        """Start the night's crawl of `site` for `worker`: the new run's id, or None when another
        worker holds a live claim or the night is done.  `config_digest`: the site file's, as
        `start_run` records it (which site file the night was crawled with)."""
        self.recover_interrupted()
        with self._night_tx():
            self._enqueue(site, night)
            state, old_run, heartbeat = self.db.execute(
                "SELECT state, run_id, heartbeat_at FROM nights WHERE site = ? AND night = ?"
                + self._for_update, (site, night.isoformat())).fetchone()
            now = self.clock()
            fresh = heartbeat is not None and heartbeat >= _stamp(now - timedelta(seconds=stale_after_s))
            if state == "done" or (state == "running" and fresh):
                return None
            if old_run is not None:
                self._give_up_run(old_run)
            run_id = self._insert_run(site, config_digest, now, night)
            self.db.execute(
                "UPDATE nights SET state = 'running', run_id = ?, worker = ?, heartbeat_at = ?, "
                "attempts = attempts + 1, finished_at = NULL WHERE site = ? AND night = ?",
                (run_id, worker, _stamp(now), site, night.isoformat()))
        self._open_scratch(run_id)
        return run_id

    @writes
    def heartbeat_night(self: Store, site: str, night: date, run_id: int) -> bool:
        """Refresh the claim of run `run_id`; False when the night belongs to another run now
        (the crawl should stop: its work will not count)."""
        with self._night_tx():
            cur = self.db.execute(
                "UPDATE nights SET heartbeat_at = ? WHERE site = ? AND night = ? AND run_id = ? "
                "AND state = 'running'", (_stamp(self.clock()), site, night.isoformat(), run_id))
            return cur.rowcount == 1

    @writes
    def finish_night(self: Store, site: str, night: date, run_id: int, status: str) -> bool:
        """Mark the night done after run `run_id` ended with `status`; False (nothing changes)
        when the claim belongs to another run.  A run row still `running` (its crawl process
        ended without closing it) takes `status`."""
        if status not in RUN_END_STATUSES:
            raise ValueError(f"status must be one of {', '.join(RUN_END_STATUSES)}, not {status!r}")
        with self._night_tx():
            cur = self.db.execute(
                "UPDATE nights SET state = 'done', finished_at = ? WHERE site = ? AND night = ? "
                "AND run_id = ? AND state = 'running'", (_stamp(self.clock()), site, night.isoformat(), run_id))
            if cur.rowcount != 1:
                return False
            self.db.execute("UPDATE runs SET status = ?, ended_at = coalesce(ended_at, ?) "
                            "WHERE id = ? AND status = 'running'",
                            (status, _iso(self.clock()), run_id))
            return True

    @writes
    def sweep_stale_nights(self: Store, stale_after_s: float) -> list[tuple[str, date]]:
        """Put running nights whose heartbeat is older than `stale_after_s` back in the queue
        (their run marked incomplete); returns them, for their tasks to be sent again."""
        cutoff = _stamp(self.clock() - timedelta(seconds=stale_after_s))
        with self._night_tx():
            # A running claim always has a heartbeat (the claim sets it).
            rows = sorted(self.db.execute(
                "SELECT site, night, run_id FROM nights WHERE state = 'running' AND heartbeat_at < ?"
                + self._for_update, (cutoff,)).fetchall(), key=lambda r: (r[1], r[0]))
            for site, night, run_id in rows:
                if run_id is not None:
                    self._give_up_run(run_id)
                self.db.execute("UPDATE nights SET state = 'queued' WHERE site = ? AND night = ?", (site, night))
        return [(site, date.fromisoformat(night)) for site, night, _ in rows]

    def nights(self: Store, night: date) -> list[NightState]:
        """Every site's claim for `night`, by site."""
        rows = self.db.execute(
            "SELECT n.site, n.night, n.state, n.run_id, n.worker, n.heartbeat_at, n.attempts, r.status "
            "FROM nights n LEFT JOIN runs r ON r.id = n.run_id WHERE n.night = ? ORDER BY n.site",
            (night.isoformat(),)).fetchall()
        return [NightState(site, date.fromisoformat(n), state, run_id, worker,
                           datetime.fromisoformat(beat) if beat else None, attempts, status)
                for site, n, state, run_id, worker, beat, attempts, status in rows]

    def _give_up_run(self: Store, run_id: int) -> None:
        self.db.execute("UPDATE runs SET status = 'incomplete', error = ?, ended_at = coalesce(ended_at, ?) "
                        "WHERE id = ? AND status = 'running'",
                        (TAKEN_OVER, _iso(self.clock()), run_id))


class _Transaction:
    """One write transaction on the store, taken before the first read (SQLite's BEGIN
    IMMEDIATE), so that a claim's read and its update see no other claimer in between."""

    def __init__(self, store: Store):
        self.db = store.db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type, *_):
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
