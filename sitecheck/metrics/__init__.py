"""Prometheus metrics: a view over the store, read on every scrape.

`StoreCollector` turns the latest finished runs, findings, facts, verdicts and
probes of every site into metric families; `exporter` serves them over HTTP,
writes them for node_exporter's textfile collector, or pushes them to a
Pushgateway.  docs/metrics.md lists every metric.
"""

from __future__ import annotations

from .collector import METRICS, MetricSpec, StoreCollector, exported_names
from .exporter import build_registry, push, start_http_exporter, write_textfile

__all__ = ["METRICS", "MetricSpec", "StoreCollector", "exported_names", "build_registry", "push",
           "start_http_exporter", "write_textfile"]
