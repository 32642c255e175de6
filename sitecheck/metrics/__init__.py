"""Prometheus metrics: a view over the store, read on every scrape.

`StoreCollector` turns the latest finished runs, findings, facts, verdicts and
probes of every site into metric families; `exporter` serves them over HTTP,
writes them for node_exporter's textfile collector, or pushes them to a
Pushgateway.  docs/metrics.md lists every metric.
"""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"  # `sitecheck exporter` listens on loopback unless told otherwise
DEFAULT_PORT = 9787

_LAZY = {"METRICS": "collector", "MetricSpec": "collector", "StoreCollector": "collector",
         "exported_names": "collector", "build_registry": "exporter", "push": "exporter",
         "start_http_exporter": "exporter", "write_textfile": "exporter"}
__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", *_LAZY]


def __getattr__(name: str):
    # Loaded on first use: every `sitecheck` command imports this package to build its parser
    # (`sitecheck exporter`, `sitecheck metrics`), and prometheus_client with the collector is
    # ~0.03 s of import that `sitecheck run` does not need.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)
