"""The scheduler behind `sitecheck serve`: nightly crawls and availability probes per site.

Each site file brings its own cron expressions (`schedule.crawl`, `schedule.probe`)
read in its own time zone.  A crawl is a child process (`sitecheck run --config
FILE --db DB`: Scrapy's reactor cannot restart inside one process); a probe
round runs in a thread.  One site never has two crawls or two probe rounds at
once - a job still running when the next is due makes that next one skipped
and logged.  A failing crawl or probe is logged and recorded (a crawl that died
before it could record anything gets a `failed` run row) and the loop goes on.

Time is injected: `clock()` gives the current UTC time and `sleeper.sleep(s)`
waits, so tests drive days of schedule in milliseconds.  `stop()` is safe to
call from a signal handler, and so is `request_reload()` (SIGHUP): the loop then
reads the site files again through `reload_sites` and plans every site's jobs
anew; a running crawl goes on, and a file that does not load leaves the current
configuration in place.  On stop the loop stops scheduling, sends SIGTERM to
running crawls (Scrapy closes the run as `incomplete`), waits up to
`stop_timeout` seconds, SIGKILLs what is left (the store marks such runs
`incomplete` by their dead pid), waits for probe rounds and closes the store.

With `dispatch` (`serve --dispatch`), a due crawl is not run here: `dispatch(site, now)`
queues it for distributed workers (sitecheck.distributed) and says what it did.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from sitecheck.cmdline import python_module
from sitecheck.config import ConfigError, SiteConfig
from sitecheck.store import Store, store_location
from sitecheck.storedb import Location

from .notify import Notifier
from .probe import availability_for, probe_site, utc_clock

log = logging.getLogger("sitecheck.scheduler")

CRAWL, PROBE = "crawl", "probe"
EXIT_INTERRUPTED = 130


# --- time ----------------------------------------------------------------------------------


class Sleeper(Protocol):
    def sleep(self, seconds: float) -> None: ...

    def wake(self) -> None: ...


class RealSleeper:
    """Sleeps on an event so that `wake()` (from a signal handler or another thread) ends the wait."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def sleep(self, seconds: float) -> None:
        if self._event.wait(max(0.0, seconds)):
            self._event.clear()  # woken: the loop looks at its flags next, so a later wake is not lost

    def wake(self) -> None:
        self._event.set()


class Schedule(Protocol):
    def next_after(self, moment: datetime) -> datetime: ...


@dataclass(frozen=True)
class CronSchedule:
    """A cron expression read in a time zone; times in and out are UTC-aware datetimes."""

    expression: str
    zone: str = "Asia/Shanghai"

    def next_after(self, moment: datetime) -> datetime:
        local = moment.astimezone(ZoneInfo(self.zone))
        return croniter(self.expression, local).get_next(datetime).astimezone(timezone.utc)

    def __str__(self) -> str:
        return f"cron '{self.expression}' ({self.zone})"


@dataclass(frozen=True)
class IntervalSchedule:
    """Every `seconds` (the `--probe-interval` testing override)."""

    seconds: float

    def next_after(self, moment: datetime) -> datetime:
        return moment + timedelta(seconds=self.seconds)

    def __str__(self) -> str:
        return f"every {self.seconds:g} s"


@dataclass
class Job:
    site: SiteConfig
    kind: str  # crawl | probe
    schedule: Schedule
    next_due: datetime


# --- crawl child processes -------------------------------------------------------------------


def crawl_command(site: SiteConfig, db_path: str | Path | Location) -> list[str]:
    """`sitecheck run` for one site, in a child that dies with its parent (see `child_main`)."""
    return [*python_module("sitecheck.probe.scheduler"), str(os.getpid()), "run", *site.locator(),
            "--db", store_location(db_path).argument, "--progress", "off"]


def spawn_crawl(command: list[str]) -> subprocess.Popen:
    """Start a crawl child in its own session, so a Ctrl-C at a terminal reaches `serve` only and `serve`
    decides how the crawl stops.  Its standard error goes to a temporary file that `serve` reads at exit."""
    errors = tempfile.TemporaryFile(prefix="sitecheck-crawl-")
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=errors, start_new_session=True)
    proc.stderr_file = errors  # type: ignore[attr-defined]
    return proc


def child_main(argv: list[str]) -> int:
    """`python -m sitecheck.probe.scheduler PARENT_PID run ...`: `sitecheck run`, ended with its parent.

    If `serve` dies without stopping its children (SIGKILL, OOM), the kernel sends
    the crawl SIGTERM, and Scrapy closes the run as incomplete.
    """
    parent = int(argv[0])
    _set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the signal was armed
        return EXIT_INTERRUPTED
    from sitecheck.cli import main  # this child process is the `sitecheck` program itself

    return main(argv[1:])


def _set_parent_death_signal(sig: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class CrawlProcess:
    site: SiteConfig
    proc: Any  # subprocess.Popen or a test double with pid, poll, send_signal, kill, wait
    started_at: datetime
    last_run_id: int  # highest run id in the store at launch: the crawl's own run comes after
    terminated: bool = False


# --- the scheduler ------------------------------------------------------------------------------


@dataclass
class SchedulerEvent:
    time: datetime
    site: str
    job: str
    what: str  # started, skipped, finished, failed, ...
    detail: str = ""


class Scheduler:
    """Runs every site's crawl and probe jobs until `stop()`; see the module docstring."""

    def __init__(self, sites: list[SiteConfig], db_path: str | Path, *, clock: Callable[[], datetime] = utc_clock,
                 sleeper: Sleeper | None = None, spawn: Callable[[list[str]], Any] = spawn_crawl,
                 command: Callable[[SiteConfig, Path], list[str]] = crawl_command,
                 probe: Callable[..., list] = probe_site, notifier: Callable[[SiteConfig], Notifier] = Notifier,
                 probe_interval: float | None = None, crawl_on_start: bool = False, crawls: bool = True,
                 stop_timeout: float = 30.0, poll_interval: float = 1.0, threaded_probes: bool = True,
                 monotonic: Callable[[], float] = time.monotonic,
                 reload_sites: Callable[[], list[SiteConfig]] | None = None,
                 dispatch: Callable[[SiteConfig, datetime], str] | None = None):
        _check_sites(sites)
        self.sites = sites
        self.reload_sites = reload_sites
        self.dispatch = dispatch  # set: a due crawl is queued for distributed workers, not run here
        self.make_notifier = notifier
        self.db_path = store_location(db_path)
        self.clock = clock
        self.sleeper = sleeper or RealSleeper()
        self.spawn = spawn
        self.command = command
        self.probe = probe
        self.notifiers = {s.key: notifier(s) for s in sites}
        self.probe_interval = probe_interval
        self.crawl_on_start = crawl_on_start
        self.crawls_enabled = crawls
        self.stop_timeout = stop_timeout
        self.poll_interval = poll_interval
        self.threaded_probes = threaded_probes
        self.monotonic = monotonic
        self.jobs: list[Job] = []
        self.crawls: dict[str, CrawlProcess] = {}
        self.probe_threads: dict[str, threading.Thread] = {}
        self.events: deque[SchedulerEvent] = deque(maxlen=2000)
        self.counts: Counter = Counter()  # (site, job, what) -> n
        self.store: Store | None = None
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._probe_stop = threading.Event()

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Open the store, close runs whose crawl died, and work out the first due times."""
        self.store = Store(self.db_path)
        for run_id in self.store.recover_interrupted():
            log.warning("run %d was interrupted (its crawl process is gone): marked incomplete", run_id)
        self._plan(self.clock(), first=True)

    def _plan(self, now: datetime, first: bool) -> None:
        """Every site's crawl and probe jobs with their next due time (`first`: the start of `serve`)."""
        self.jobs = []
        for site in self.sites:
            sched = site.ops["schedule"]
            if self.crawls_enabled:
                crawl = CronSchedule(sched["crawl"], sched["timezone"])
                start_now = first and self.crawl_on_start
                self.jobs.append(Job(site, CRAWL, crawl, now if start_now else crawl.next_after(now)))
            probe: Schedule = (IntervalSchedule(self.probe_interval) if self.probe_interval
                               else CronSchedule(sched["probe"], sched["timezone"]))
            self.jobs.append(Job(site, PROBE, probe, now if self.probe_interval else probe.next_after(now)))
        for job in self.jobs:
            log.info("site %s: %s %s, next at %s", job.site.key, job.kind, job.schedule,
                     job.next_due.isoformat(timespec="seconds"))

    def request_reload(self) -> None:
        """Ask the loop to read the site files again (SIGHUP); safe from a signal handler."""
        self._reload.set()
        self.sleeper.wake()

    def reload(self, now: datetime) -> bool:
        """Read the site files again and plan anew; on any error keep the current configuration."""
        if self.reload_sites is None:
            log.warning("reload requested, but this scheduler has no site files to read again")
            return False
        try:
            sites = self.reload_sites()
            _check_sites(sites)
        except Exception as exc:  # noqa: BLE001 - a bad edit must not stop the service
            log.error("reload failed, the configuration stays as it was: %s", exc)
            self._event(now, "*", "config", "failed", str(exc))
            return False
        old = {s.key: s for s in self.sites}
        self.notifiers = {s.key: self.notifiers[s.key] if s.key in old and old[s.key].digest == s.digest
                          else self.make_notifier(s) for s in sites}
        self.sites = sites
        self._plan(now, first=False)
        # Warning level, like the stop message, so an operator sees it at the default verbosity.
        log.warning("configuration reloaded: %d site(s) (%s)", len(sites), ", ".join(s.key for s in sites))
        self._event(now, "*", "config", "reloaded", ", ".join(s.key for s in sites))
        return True

    def run(self) -> None:
        """The main loop: start, tick until stopped, shut down (even after an unexpected error)."""
        self.start()
        try:
            while not self._stop.is_set():
                now = self.clock()
                if self._reload.is_set():
                    self._reload.clear()
                    self.reload(now)
                self.tick(now)
                if self._stop.is_set():
                    break
                self.sleeper.sleep(self.delay(self.clock()))
        finally:
            self.shutdown()

    def stop(self) -> None:
        """Ask the loop to end; safe from a signal handler."""
        self._stop.set()
        self.sleeper.wake()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def tick(self, now: datetime) -> None:
        """Reap finished crawls, then start every job that is due."""
        self.reap()
        for job in sorted(self.jobs, key=lambda j: j.next_due):
            if self._stop.is_set():
                return
            if now < job.next_due:
                continue
            missed = 0
            following = job.schedule.next_after(job.next_due)
            while following <= now and missed < 1000:
                missed += 1
                following = job.schedule.next_after(following)
            if missed:
                log.warning("site %s: %d %s occurrence(s) missed (the machine slept or the loop was busy)",
                            job.site.key, missed, job.kind)
            job.next_due = following
            try:
                (self._fire_crawl if job.kind == CRAWL else self._fire_probe)(job.site, now)
            except Exception as exc:  # noqa: BLE001 - one job's failure must not stop the others
                log.exception("site %s: %s could not be started", job.site.key, job.kind)
                self._event(now, job.site.key, job.kind, "failed", f"{type(exc).__name__}: {exc}")

    def delay(self, now: datetime) -> float:
        """Seconds to sleep: until the next due job, polling running crawls every `poll_interval`."""
        if not self.jobs:
            return self.poll_interval
        wait = (min(j.next_due for j in self.jobs) - now).total_seconds()
        if self.crawls:
            wait = min(wait, self.poll_interval)
        return max(0.0, min(wait, 60.0))

    def shutdown(self) -> None:
        """Stop crawls (SIGTERM, then SIGKILL after `stop_timeout`), wait for probes, close the store."""
        self._stop.set()
        self._probe_stop.set()
        deadline = self.monotonic() + self.stop_timeout
        for cp in self.crawls.values():
            log.warning("site %s: stopping the running crawl (pid %s)", cp.site.key, cp.proc.pid)
            cp.terminated = True
            _signal(cp.proc, signal.SIGTERM)
        for cp in list(self.crawls.values()):
            try:
                cp.proc.wait(timeout=max(0.0, deadline - self.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("site %s: the crawl did not stop within %g s: killing it", cp.site.key, self.stop_timeout)
                cp.proc.kill()
                cp.proc.wait()
        self.reap()
        for key, thread in list(self.probe_threads.items()):
            thread.join(max(0.1, deadline - self.monotonic()))
            if thread.is_alive():
                log.warning("site %s: a probe round is still running at exit; its results are lost", key)
        if self.store is not None:
            self.store.close()
            self.store = None

    # --- crawls ------------------------------------------------------------------------------

    def _fire_crawl(self, site: SiteConfig, now: datetime) -> None:
        if self.dispatch is not None:
            self._event(now, site.key, CRAWL, "dispatched", self.dispatch(site, now))
            return
        running = self.crawls.get(site.key)
        if running is not None:
            self._event(now, site.key, CRAWL, "skipped",
                        f"the crawl started at {running.started_at.isoformat(timespec='seconds')} is still running")
            return
        other = self._foreign_crawl(site.key)
        if other:
            self._event(now, site.key, CRAWL, "skipped", f"another process (pid {other}) is crawling this site")
            return
        assert self.store is not None
        last = self.store.db.execute("SELECT coalesce(max(id), 0) FROM runs").fetchone()[0]
        proc = self.spawn(self.command(site, self.db_path))
        self.crawls[site.key] = CrawlProcess(site, proc, now, last)
        self._event(now, site.key, CRAWL, "started", f"pid {proc.pid}")

    def _foreign_crawl(self, site_key: str) -> int | None:
        """Pid of a live `sitecheck run` of this site started outside this scheduler (same host)."""
        assert self.store is not None
        self.store.recover_interrupted()
        row = self.store.db.execute("SELECT pid FROM runs WHERE site = ? AND status = 'running' "
                                    "ORDER BY id DESC LIMIT 1", (site_key,)).fetchone()
        return row[0] if row else None

    def reap(self) -> None:
        """Collect crawls that ended: check their run rows, record failures, notify vetoes."""
        for key, cp in list(self.crawls.items()):
            code = cp.proc.poll()
            if code is None:
                continue
            del self.crawls[key]
            try:
                self._finished(cp, code)
            except Exception:  # noqa: BLE001 - bookkeeping must not stop the loop
                log.exception("site %s: could not record the end of the crawl", key)

    def _finished(self, cp: CrawlProcess, code: int) -> None:
        now = self.clock()
        site = cp.site
        errors = stderr_tail(cp.proc)
        assert self.store is not None
        row = self.store.db.execute(
            "SELECT id, status FROM runs WHERE site = ? AND id > ? AND pid = ? ORDER BY id DESC LIMIT 1",
            (site.key, cp.last_run_id, cp.proc.pid)).fetchone()
        if row is None:
            if cp.terminated:
                self._event(now, site.key, CRAWL, "stopped", f"exit {code} before the run was recorded")
                return
            detail = f"the crawl process exited with code {code} before recording a run" + \
                     (f": {errors}" if errors else "")
            run_id = self.store.start_run(site.key, site.digest, cp.started_at)
            self.store.finish_run(run_id, "failed", ended_at=now, error=detail)
            self._event(now, site.key, CRAWL, "failed", f"run {run_id}: {detail}")
            return
        run_id, status = row
        if status == "running":  # the child died without closing its run
            self.store.recover_interrupted()
            status = self.store.run(run_id).status
        what = "finished" if code in (0, 1) and status == "complete" else "stopped" if cp.terminated else \
            "incomplete" if status == "incomplete" else "failed"
        self._event(now, site.key, CRAWL, what, f"run {run_id} {status}, exit code {code}"
                    + (f": {errors}" if errors and what == "failed" else ""))
        notifier = self.notifiers.get(site.key)  # None: the site left the configuration meanwhile
        if status == "complete" and notifier is not None:  # an interrupted crawl's verdict rests on part
            notifier.after_run(self.store, run_id)  # of the site: no alarm

    # --- probes ------------------------------------------------------------------------------

    def _fire_probe(self, site: SiteConfig, now: datetime) -> None:
        running = self.probe_threads.get(site.key)
        if running is not None and running.is_alive():
            self._event(now, site.key, PROBE, "skipped", "the previous probe round is still running")
            return
        if not self.threaded_probes:
            self._probe_round(site)
            return
        thread = threading.Thread(target=self._probe_round, args=(site,), name=f"probe-{site.key}", daemon=True)
        self.probe_threads[site.key] = thread
        thread.start()

    def _probe_round(self, site: SiteConfig) -> None:
        try:
            with Store(self.db_path) as store:
                results = self.probe(site, store, self.clock, stop=self._probe_stop)
                failed = [r for r in results if not r.ok]
                self._event(self.clock(), site.key, PROBE, "finished",
                            f"{len(results) - len(failed)}/{len(results)} ok"
                            + "".join(f"; {r.url}: {r.reason.value}" for r in failed[:5]))
                notifier = self.notifiers.get(site.key) or self.make_notifier(site)
                notifier.after_probes(store, results)
                notifier.after_availability(availability_for(store, site, self.clock()))
        except Exception as exc:  # noqa: BLE001 - a failed round is logged and the next one runs
            log.exception("site %s: probe round failed", site.key)
            self._event(self.clock(), site.key, PROBE, "failed", f"{type(exc).__name__}: {exc}")

    # --- bookkeeping -------------------------------------------------------------------------

    def _event(self, now: datetime, site: str, job: str, what: str, detail: str = "") -> None:
        self.events.append(SchedulerEvent(now, site, job, what, detail))
        self.counts[(site, job, what)] += 1
        level = logging.WARNING if what in ("skipped", "failed", "incomplete") else logging.INFO
        log.log(level, "site %s: %s %s%s", site, job, what, f" ({detail})" if detail else "")


def _check_sites(sites: list[SiteConfig]) -> None:
    keys = [s.key for s in sites]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"site {duplicates[0]!r} is given twice")
    for site in sites:
        _check_zone(site)


def _check_zone(site: SiteConfig) -> None:
    zone = site.ops["schedule"]["timezone"]
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(site.path or site.key, None, "schedule.timezone", f"unknown time zone {zone!r}",
                          "use an IANA name such as Asia/Shanghai or UTC") from None


def _signal(proc: Any, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except ProcessLookupError:
        pass


def stderr_tail(proc: Any, limit: int = 2000) -> str:
    handle = getattr(proc, "stderr_file", None)
    if handle is None:
        return ""
    try:
        handle.seek(0)
        text = handle.read().decode("utf-8", "replace")
        handle.close()
    except (OSError, ValueError):
        return ""
    if text.strip():
        log.debug("crawl output:\n%s", text)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-5:])[-limit:]


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
