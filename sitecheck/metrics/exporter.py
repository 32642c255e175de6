"""Three ways out for the store's metrics: an HTTP endpoint, a textfile, a Pushgateway.

- `start_http_exporter`: a long-running endpoint Prometheus scrapes; every scrape
  reads the store (`sitecheck exporter`, and `sitecheck serve` embeds it).
- `write_textfile`: one snapshot, written atomically (temporary file + rename in
  the same folder) for node_exporter's textfile collector — for a crawl run from
  cron on a machine that already runs node_exporter.
- `push`: one snapshot to a Pushgateway.  The Pushgateway never forgets a series,
  so a site removed from the store keeps its last values there until the group
  is deleted; prefer scraping or the textfile where possible.
"""

from __future__ import annotations

import threading
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, generate_latest, push_to_gateway, start_http_server, write_to_textfile

from . import DEFAULT_HOST, DEFAULT_PORT
from .collector import StoreCollector


def build_registry(db_path: str | Path, registry: CollectorRegistry | None = None, **collector_kw) -> CollectorRegistry:
    """A registry (a fresh one unless given) with a `StoreCollector` over `db_path` registered."""
    registry = CollectorRegistry() if registry is None else registry
    registry.register(StoreCollector(db_path, **collector_kw))
    return registry


def start_http_exporter(db_path: str | Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                        registry: CollectorRegistry | None = None) -> tuple[WSGIServer, threading.Thread]:
    """Serve /metrics from a daemon thread; returns (server, thread).

    The store is read on every scrape, so it may be missing at start (the exporter
    then reports sitecheck_exporter_store_up 0).  `port=0` picks a free port:
    read it back from `server.server_port`.  Stop with `server.shutdown()` then
    `server.server_close()`.  A given `registry` gets the store collector added.
    """
    registry = build_registry(db_path, registry)
    return start_http_server(port, addr=host, registry=registry)


def _snapshot(db_path: str | Path) -> tuple[CollectorRegistry, StoreCollector]:
    collector = StoreCollector(db_path)
    registry = CollectorRegistry()
    registry.register(collector)
    return registry, collector


def exposition(db_path: str | Path) -> tuple[bytes, str]:
    """The metrics in the Prometheus text format, read once, and the store error ('' if none)."""
    registry, collector = _snapshot(db_path)
    return generate_latest(registry), collector.last_error


def write_textfile(db_path: str | Path, path: str | Path) -> str:
    """Write the metrics for node_exporter's textfile collector, atomically (name it *.prom).

    Written even when the store cannot be read (sitecheck_exporter_store_up 0, so an
    alert can fire); returns the store error, '' when the store was read.
    """
    registry, collector = _snapshot(db_path)
    write_to_textfile(str(path), registry)
    return collector.last_error


def push(db_path: str | Path, gateway_url: str, job: str = "sitecheck", timeout: float = 30.0) -> str:
    """Replace the metrics of `job` on a Pushgateway with a fresh read of the store.

    Returns the store error ('' when the store was read); network errors raise OSError.
    """
    registry, collector = _snapshot(db_path)
    push_to_gateway(gateway_url, job=job, registry=registry, timeout=timeout)
    return collector.last_error
