"""A worker's Prometheus metrics (`sitecheck worker --metrics-listen HOST:PORT`).

Two kinds, as docs/metrics.md asks of every sitecheck metric:

* What the worker's processes counted: crawls run by how they ended, deliveries that found their
  night claimed or done (claim conflicts), crawls running now.  Tasks run in Celery's pool
  processes, so these are prometheus_client multiprocess metrics (PROMETHEUS_MULTIPROC_DIR,
  set by `sitecheck worker` before the pool starts), summed by the worker's endpoint.
* A view read on every scrape: the tonight's sites by state in the store (queued, running,
  done), the crawls of the night taken over from a worker that stopped beating (worker deaths),
  and the messages waiting in the broker's queue.
"""

from __future__ import annotations

import logging
import os
from collections import Counter as Tally
from collections.abc import Callable
from datetime import date

from prometheus_client import Counter, Gauge
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger("sitecheck.distributed")

CRAWLS = Counter("sitecheck_worker_crawls", "Crawls this worker ran, by how their night ended "
                 "(complete, incomplete, failed, lost: taken over by another worker).", ["status"])
CLAIM_CONFLICTS = Counter("sitecheck_worker_claim_conflicts", "Crawl tasks delivered here whose night another "
                          "worker held or had finished: not crawled (duplicate deliveries, repeated dispatches).")
RUNNING = Gauge("sitecheck_worker_crawls_running", "Crawls running on this worker now.",
                multiprocess_mode="livesum")


def count(outcome) -> None:
    """Count one delivery's outcome (sitecheck.distributed.crawl.Outcome)."""
    if outcome.status == "skipped":
        CLAIM_CONFLICTS.inc()
    else:
        CRAWLS.labels(outcome.status).inc()


class NightCollector:
    """The night's state from the store and the broker's queue depth, read on every scrape."""

    def __init__(self, open_store: Callable, queue_depth: Callable[[], int], night: Callable[[], date]):
        self.open_store, self.queue_depth, self.night = open_store, queue_depth, night

    def collect(self):
        night = self.night()
        sites = GaugeMetricFamily("sitecheck_night_sites", "Sites of tonight's dispatched crawls by state.",
                                  labels=["state"])
        taken = GaugeMetricFamily("sitecheck_night_crawls_taken_over", "Crawls of tonight started again because "
                                  "their worker stopped beating its heartbeat (a worker died or lost the store).")
        try:
            with self.open_store() as store:
                states = store.nights(night)
        except Exception as exc:  # noqa: BLE001 - a scrape must answer even while the store restarts
            log.warning("metrics: cannot read the store: %s", exc)
        else:
            tally = Tally(n.state for n in states)
            for state in ("queued", "running", "done"):
                sites.add_metric([state], tally[state])
            taken.add_metric([], sum(max(0, n.attempts - 1) for n in states))
            yield sites
            yield taken
        depth = GaugeMetricFamily("sitecheck_dispatch_queue_messages", "Crawl tasks waiting in the broker's queue.")
        up = GaugeMetricFamily("sitecheck_dispatch_broker_up", "1 when the broker answered this scrape.")
        try:
            depth.add_metric([], self.queue_depth())
            up.add_metric([], 1)
            yield depth
        except Exception as exc:  # noqa: BLE001
            log.warning("metrics: cannot read the queue depth: %s", exc)
            up.add_metric([], 0)
        yield up


def broker_queue_depth(app) -> Callable[[], int]:
    from .app import QUEUE

    def depth() -> int:
        with app.connection_for_read() as conn:
            return conn.default_channel.queue_declare(QUEUE, passive=True).message_count
    return depth


def serve(host: str, port: int, collector: NightCollector):
    """The worker's endpoint: the pool processes' counters (multiprocess) and the night view."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    registry.register(collector)
    return start_http_server(port, addr=host, registry=registry)
