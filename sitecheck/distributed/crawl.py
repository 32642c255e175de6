"""One site's crawl for one night, as a worker does it: claim, crawl in a child, heartbeat, finish.

No Celery here: `crawl_night` is what the `crawl_site` task runs, and tests call it directly.

1. Claim the night in the store (`Store.claim_night`).  None means another worker holds a live
   claim or the night is done: a duplicate delivery, which ends here without crawling.
2. Start `sitecheck run --claimed-run ID` as a child process that dies with its parent (a
   killed worker takes its crawl with it; the claim then goes stale and the sweeper re-queues it).
3. While the child runs, refresh the claim every `heartbeat_s`.  When the store says the claim
   now belongs to another run (this worker was presumed dead), stop the child: its work no
   longer counts.  A heartbeat the store cannot take (the database restarting) is retried on
   the next beat.
4. Close the night with the run's status (`Store.finish_night`); a child that died without
   closing its run leaves it `incomplete` (killed) or `failed` (it could not start).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sitecheck.cmdline import EXIT_USAGE
from sitecheck.config import ConfigError, SiteConfig, user_config_dir
from sitecheck.config.inventory import find_site
from sitecheck.probe.scheduler import crawl_command as scheduled_crawl_command, spawn_crawl, stderr_tail

log = logging.getLogger("sitecheck.distributed")

STOP_GRACE_S = 10.0  # a stopped crawl closes its run within this, or is killed


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery of a night's task."""

    site: str
    night: date
    run_id: int | None  # None: not claimed (another worker's, or done)
    status: str  # complete, incomplete, failed; "skipped" when not claimed; "lost" when taken over
    exit_code: int | None = None
    detail: str = ""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def crawl_command(site: SiteConfig, db: str, run_id: int) -> list[str]:
    """The child: the scheduler's crawl child (`sitecheck run` under a wrapper that has the kernel
    stop it when this process dies), recording into the claimed run."""
    return [*scheduled_crawl_command(site, db), "--claimed-run", str(run_id)]


def crawl_night(store: Any, site_key: str, night: date, *, db: str, config_dir: str | Path | None = None,
                worker: str | None = None, heartbeat_s: float = 30.0, stale_after_s: float = 300.0,
                start: Callable[[list[str]], Any] = spawn_crawl,
                on_claim: Callable[[int], None] | None = None) -> Outcome:
    """Claim `site_key`'s crawl for `night` in `store` and run it (see the module docstring).

    `db` is what the child opens (the same store); `start` launches the child command.
    """
    worker = worker or worker_name()
    try:
        site = find_site(site_key, user_config_dir(config_dir))
    except ConfigError as exc:
        return _unloadable(store, site_key, night, worker, stale_after_s, str(exc))
    run_id = store.claim_night(site_key, night, worker, stale_after_s, config_digest=site.digest)
    if run_id is None:
        log.info("site %s, night %s: claimed by another worker or done; not crawling", site_key, night)
        return Outcome(site_key, night, None, "skipped")
    store.hand_over_run()  # the child records this run, with a scratch file of its own
    if on_claim is not None:
        on_claim(run_id)
    log.info("site %s, night %s: claimed as run %d by %s", site_key, night, run_id, worker)
    try:
        proc = start(crawl_command(site, db, run_id))
    except OSError as exc:
        return _close(store, site_key, night, run_id, "failed", None, f"the crawl could not start: {exc}")
    code, lost = _watch(proc, store, site_key, night, run_id, heartbeat_s)
    errors = stderr_tail(proc)
    if lost:
        log.warning("site %s, night %s: run %d was taken over by another worker; crawl stopped",
                    site_key, night, run_id)
        return Outcome(site_key, night, run_id, "lost", code, "the claim went to another worker")
    run = store.run(run_id)
    status = run.status if run is not None else "failed"
    if status == "running":  # the child ended without closing its run
        status = "failed" if code == EXIT_USAGE else "incomplete"
        return _close(store, site_key, night, run_id, status, code,
                      f"the crawl process exited with code {code}" + (f": {errors}" if errors else ""))
    return _close(store, site_key, night, run_id, status, code, errors if code not in (0, 1) else "")


def _watch(proc: Any, store: Any, site: str, night: date, run_id: int, heartbeat_s: float) -> tuple[int, bool]:
    """Wait for the child, beating the claim's heartbeat; (exit code, claim lost)."""
    while True:
        try:
            return proc.wait(timeout=heartbeat_s), False
        except subprocess.TimeoutExpired:
            pass
        try:
            held = store.heartbeat_night(site, night, run_id)
        except Exception as exc:  # noqa: BLE001 - the store may be restarting: beat again next time
            log.warning("site %s, night %s: heartbeat failed (%s); retrying", site, night, exc)
            continue
        if not held:
            return _stop(proc), True


def _stop(proc: Any) -> int:
    """Stop a crawl whose work no longer counts, at once: a first SIGTERM would let Scrapy send the
    requests already handed to its downloader, which the politeness gate spaces out, while the
    worker now holding the night crawls the same site; the second makes Scrapy stop without
    them.  The run is closed with what it has; SIGKILL after STOP_GRACE_S."""
    try:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=STOP_GRACE_S)
    except ProcessLookupError:
        return proc.wait()
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def _close(store: Any, site: str, night: date, run_id: int, status: str, code: int | None,
           detail: str) -> Outcome:
    if status != "complete" and detail:
        run = store.run(run_id)
        if run is not None and run.status == "running":
            store.finish_run(run_id, status, error=detail[-2000:])
    if not store.finish_night(site, night, run_id, status):
        log.warning("site %s, night %s: run %d ended %s, but another worker holds the night now",
                    site, night, run_id, status)
        return Outcome(site, night, run_id, "lost", code, detail)
    log.info("site %s, night %s: run %d %s", site, night, run_id, status)
    return Outcome(site, night, run_id, status, code, detail)


def _unloadable(store: Any, site: str, night: date, worker: str, stale_after_s: float, error: str) -> Outcome:
    """The site file does not load on this worker: the night ends as a failed run saying why,
    visible in `sitecheck runs --night`, rather than a task that vanishes."""
    log.error("site %s, night %s: %s", site, night, error)
    run_id = store.claim_night(site, night, worker, stale_after_s)
    if run_id is None:
        return Outcome(site, night, None, "skipped", None, error)
    store.hand_over_run()
    return _close(store, site, night, run_id, "failed", None, error)

