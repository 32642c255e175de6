"""What the distributed drills share: worker processes, waiting for a night, comparing exports.

`Workers` starts `sitecheck worker` processes (each in a session of its own, standing in for a
machine), kills one with SIGKILL, and stops them all.  `wait_night` polls the store until every
site of a night is done.  `export_view` is a run's `sitecheck export` document without what
differs between two crawls of the same site (ids, times, latencies).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

from sitecheck.distributed.cli import format_nights
from sitecheck.export import run_document
from sitecheck.store import Store, store_location
from tests.conftest import free_port

HEARTBEAT_S = 0.5
STALE_AFTER_S = 8.0  # long enough that a heartbeat held up by a busy machine is not taken for a death


class Workers:
    def __init__(self, broker: str, db: str, config_dir: Path, logs: Path):
        self.broker, self.db, self.config_dir, self.logs = broker, db, config_dir, Path(logs)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen] = {}
        self.metrics_ports: dict[str, int] = {}

    def start(self, name: str, *extra: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")
        self.metrics_ports[name] = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "sitecheck.cli", "worker", "--broker", self.broker, "--db", self.db,
             "--config-dir", str(self.config_dir), "--heartbeat", str(HEARTBEAT_S),
             "--stale-after", str(STALE_AFTER_S), "--name", f"{name}@drill",
             "--metrics-listen", f"127.0.0.1:{self.metrics_ports[name]}", *extra],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def name_of(self, worker: str) -> str:
        """The name given to `start` of the worker a night claim names ("w1@drill:pid")."""
        return worker.split("@", 1)[0]

    def kill(self, name: str) -> None:
        """SIGKILL to the worker's whole process group: the machine it stands for is gone."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def scrape(self, name: str) -> dict[tuple[str, tuple], float]:
        """The worker's metrics: {(sample name, sorted labels): value}."""
        from prometheus_client.parser import text_string_to_metric_families

        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_ports[name]}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    def total(self, sample: str) -> float:
        """A counter summed over the running workers (0 where a worker has not counted it yet)."""
        return sum(value for name in self.procs for (n, _labels), value in self.scrape(name).items() if n == sample)

    def log_tail(self, chars: int = 4000) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-chars:]}"
                         for p in sorted(self.logs.glob("*.log")))

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGQUIT)  # Celery's cold shutdown: the night is over
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()


def wait_night(db: str, night: date, sites: int, timeout: float, workers: Workers | None = None,
               until=None) -> list:
    """Poll the store until `sites` nights of `night` are done (or `until(states)` holds)."""
    deadline = time.monotonic() + timeout
    states: list = []
    while time.monotonic() < deadline:
        if store_location(db).exists():  # the first worker or dispatcher to start creates it
            with Store(db, readonly=True) as store:
                states = store.nights(night)
        if until(states) if until else (len(states) == sites and all(n.state == "done" for n in states)):
            return states
        time.sleep(0.5)
    raise AssertionError(f"night {night} not finished in {timeout} s:\n{format_nights(states, night)}\n"
                         + (workers.log_tail() if workers else ""))


VOLATILE = {"latency_s", "elapsed_s", "ttfb_s", "total_s", "fetched_at"}


def _steady(value):
    if isinstance(value, dict):
        return {k: _steady(v) for k, v in sorted(value.items()) if k not in VOLATILE}
    if isinstance(value, list):
        return [_steady(v) for v in value]
    return value


def export_view(store: Store, run) -> dict:
    """What `sitecheck export` says about a run that two crawls of the same site must agree on."""
    doc = run_document(store, run)
    findings = sorted((_steady({k: v for k, v in f.items() if k != "id"}) for f in doc["findings"]),
                      key=lambda f: (f["code"], f["url"]))
    pages = sorted((_steady(p) for p in doc["pages"]), key=lambda p: p["url"])
    return {"status": doc["run"]["status"], "pages": pages, "findings": findings, "verdict": _steady(doc["verdict"])}
