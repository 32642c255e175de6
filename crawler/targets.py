"""A second crawl process for non-page targets, so a crawl uses two cores.

Two thirds of the URLs a government portal links to are images, attachments
and external pages, each checked with one HEAD (or a GET cut at the headers).
The main process keeps everything that needs state: crawling pages, extracting
links, the checks and the store.  It hands non-page targets to this worker as
JSON lines on the worker's stdin; the worker checks them with the same spider
logic (`SiteSpider`: redirects, the address guard, HEAD fallback) and writes one
JSON line per result to stdout, which the main process records.

Politeness holds: the per-host concurrency is split between the two processes,
and the worker is used only for crawls with no politeness delay (with a delay,
the crawl is bound by the delay, not the CPU).

    python -m sitecheck.crawler.targets --config SITE.yaml --concurrency-per-host N
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from twisted.internet import protocol

from sitecheck.model import Reason, Target, TargetKind

log = logging.getLogger("sitecheck.targets")


def target_to_json(target: Target, depth: int | None) -> bytes:
    return json.dumps({
        "url": target.url, "kind": target.kind.value, "reason": target.reason.value, "status": target.status,
        "final_url": target.final_url, "redirects": target.redirects, "latency_s": target.latency_s,
        "size": target.size, "content_type": target.content_type, "method": target.method,
        "error": target.error, "host_key": target.host_key, "depth": depth,
    }, ensure_ascii=False).encode() + b"\n"


def target_from_json(line: bytes) -> tuple[Target, dict]:
    d = json.loads(line)
    target = Target(d["url"], TargetKind(d["kind"]), Reason(d["reason"]), status=d["status"],
                    final_url=d["final_url"], redirects=d["redirects"], latency_s=d["latency_s"], size=d["size"],
                    content_type=d["content_type"], method=d["method"], error=d["error"], host_key=d["host_key"])
    return target, {"depth": d["depth"]}


# --- the main process's side ---------------------------------------------------------------


class TargetWorker(protocol.ProcessProtocol):
    """Runs the worker process and exchanges targets and results with it."""

    def __init__(self, on_result, on_exit):
        self.on_result = on_result  # (Target, extra) -> None
        self.on_exit = on_exit  # (pending: dict[url, (kind, host_key, depth)]) -> None
        self.pending: dict[str, tuple[TargetKind, str | None, int]] = {}
        self.alive = False
        self._buffer = b""

    @classmethod
    def spawn(cls, reactor, site_path: str, concurrency_per_host: int, on_result, on_exit) -> "TargetWorker":
        worker = cls(on_result, on_exit)
        args = [sys.executable, "-m", "sitecheck.crawler.targets", "--config", str(site_path),
                "--concurrency-per-host", str(concurrency_per_host)]
        reactor.spawnProcess(worker, sys.executable, args, env=os.environ.copy())
        worker.alive = True
        return worker

    def submit(self, url: str, kind: TargetKind, host_key: str | None, depth: int) -> None:
        self.pending[url] = (kind, host_key, depth)
        self.transport.write(json.dumps({"url": url, "kind": kind.value, "host_key": host_key,
                                         "depth": depth}).encode() + b"\n")

    def finish(self) -> None:
        """No more targets: the worker exits once its queue is empty."""
        if self.alive:
            self.transport.closeStdin()

    def outReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if line:
                target, extra = target_from_json(line)
                self.pending.pop(target.url, None)
                self.on_result(target, extra)

    def errReceived(self, data: bytes) -> None:  # noqa: N802
        for line in data.decode("utf-8", "replace").splitlines():
            if line.strip():
                log.warning("target worker: %s", line)

    def processEnded(self, reason) -> None:  # noqa: N802
        self.alive = False
        pending, self.pending = self.pending, {}
        self.on_exit(pending)


# --- the worker process -----------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sitecheck.crawler.targets", description=__doc__)
    ap.add_argument("--config", required=True)
    ap.add_argument("--concurrency-per-host", type=int, required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.root.handlers:
        handler.addFilter(lambda r: not r.name.startswith("scrapy") or r.levelno >= logging.CRITICAL)

    from scrapy.crawler import Crawler, CrawlerProcess

    from sitecheck.config import load_site
    from sitecheck.credentials import RedactingFilter, load_credentials

    from .runner import REACTOR, scrapy_settings, shared_delay
    from .spider import TargetSpider

    site = load_site(args.config)
    credentials = load_credentials(site)
    for handler in logging.root.handlers:
        handler.addFilter(RedactingFilter(credentials.secrets))
    settings = scrapy_settings(site, "WARNING")
    settings["CONCURRENT_REQUESTS_PER_DOMAIN"] = args.concurrency_per_host
    settings["DOWNLOAD_DELAY"] = shared_delay(site)
    settings["ITEM_PIPELINES"] = {"sitecheck.crawler.targets.StdoutPipeline": 100}
    settings["SITECHECK_PROGRESS"] = "off"
    process = CrawlerProcess({"TWISTED_REACTOR": REACTOR, "LOG_INSTALL_ROOT_HANDLER": False,
                              "REMOTE_CONTROL_ENABLED": False})
    crawler = Crawler(TargetSpider, settings, init_reactor=True)
    process.crawl(crawler, site=site, credentials=credentials)
    process.start()
    return 0


class StdoutPipeline:
    """Writes each result as one JSON line on stdout (the main process reads them)."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item, spider=None):
        self.crawler.spider.stdio.write(target_to_json(item.target, item.extra.get("depth")))
        return item


if __name__ == "__main__":
    sys.exit(main())
