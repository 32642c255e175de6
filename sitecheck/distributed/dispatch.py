"""Enqueue a night's crawls and send their tasks; the sweeper that re-sends the nights of dead workers.

The store is the record of what a night must do: every (site, night) is enqueued there before
its task is sent, and a task is sent for every night still `queued`, so dispatching a night
again repairs a dispatch that stopped half-way (or a purged queue) and costs nothing else: a
copy of a task whose night is claimed or done exits without crawling.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from .app import CRAWL_TASK, QUEUE

log = logging.getLogger("sitecheck.distributed")

Send = Callable[[str, date], None]
NIGHT_ZONE = "Asia/Shanghai"


def night_of(moment: datetime | None = None, zone: str = NIGHT_ZONE) -> date:
    """The night a crawl started at `moment` belongs to: its calendar date where the sites are."""
    return (moment or datetime.now(timezone.utc)).astimezone(ZoneInfo(zone)).date()


def celery_sender(app) -> Send:
    def send(site: str, night: date) -> None:
        app.send_task(CRAWL_TASK, args=[site, night.isoformat()], queue=QUEUE)
    return send


@dataclass
class Dispatched:
    night: date
    enqueued: list[str] = field(default_factory=list)  # new this time
    sent: list[str] = field(default_factory=list)  # tasks sent (every night still queued)
    running: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)


def dispatch(store, send: Send, sites: list[str], night: date) -> Dispatched:
    """Enqueue `sites` for `night` and send a task for each night still queued."""
    out = Dispatched(night)
    for site in sites:
        if store.enqueue_night(site, night):
            out.enqueued.append(site)
    states = {n.site: n.state for n in store.nights(night)}
    for site in sites:
        state = states.get(site)
        if state == "queued":
            send(site, night)
            out.sent.append(site)
        elif state == "running":
            out.running.append(site)
        else:
            out.done.append(site)
    return out


def scheduled(open_store: Callable, send: Send) -> Callable:
    """What `serve --dispatch` does when a site's crawl is due: queue it for the night it starts
    (the date in the site's schedule time zone) and send its task; returns a line for the log."""
    def fire(site, now: datetime) -> str:
        night = night_of(now, site.ops["schedule"]["timezone"])
        with open_store() as store:
            out = dispatch(store, send, [site.key], night)
        what = "task sent" if out.sent else "already running" if out.running else "already done"
        return f"night {night}: {what}"
    return fire


class Sweeper:
    """Every `every_s` seconds, puts nights whose heartbeat went stale back in the queue and sends
    their tasks again.  Several sweepers may run (one per worker): the store hands each stale
    night to one of them."""

    def __init__(self, open_store: Callable, send: Send, stale_after_s: float, every_s: float | None = None):
        self.open_store = open_store
        self.send = send
        self.stale_after_s = stale_after_s
        self.every_s = every_s if every_s is not None else max(1.0, stale_after_s / 4)
        self.swept = 0  # nights re-sent since start: each is a worker that died mid-crawl
        self._unsent: list[tuple[str, date]] = []  # queued again in the store, but the broker was away
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep_once(self) -> list[tuple[str, date]]:
        """Re-queue and re-send the stale nights; the ones found this round."""
        with self.open_store() as store:
            stale = store.sweep_stale_nights(self.stale_after_s)
        for site, night in stale:
            log.warning("site %s, night %s: its worker stopped beating; the crawl is queued again", site, night)
        self.swept += len(stale)
        self._unsent += stale
        while self._unsent:  # the store no longer lists them as stale: send until the broker takes them
            self.send(*self._unsent[0])
            self._unsent.pop(0)
        return stale

    def run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.sweep_once()
            except Exception:  # noqa: BLE001 - the store or the broker may be restarting: next round
                log.exception("sweeping stale nights failed; trying again in %g s", self.every_s)

    def start(self) -> "Sweeper":
        self._thread = threading.Thread(target=self.run, name="sitecheck-sweeper", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
