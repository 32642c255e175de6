"""A second crawl process for non-page targets, so a crawl uses two cores.

Two thirds of the URLs a government portal links to are images, attachments
and external pages, each checked with one HEAD (or a GET cut at the headers).
The main process keeps everything that needs state: crawling pages with
Scrapy, extracting links, the checks and the store.  It hands non-page targets
to this worker as JSON lines on the worker's stdin; the worker checks them
with `crawler.linkcheck.LinkChecker` (aiohttp: ~8x less CPU per request than
Scrapy's downloader, same rules: redirects, the address guard, HEAD fallback,
retries) and writes one JSON line per result to stdout, which the main process
records.  A result it cannot classify is handed back (`{"handback": ...}`) and
checked by the main process with Scrapy.

Politeness holds: the per-host concurrency is split between the two processes,
and each waits twice the delay between requests to a host.

    python -m sitecheck.crawler.targets --config SITE.yaml --concurrency-per-host N
"""

from __future__ import annotations

import argparse
import asyncio
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

    def __init__(self, on_result, on_exit, on_handback):
        self.on_result = on_result  # (Target, extra) -> None
        self.on_handback = on_handback  # (url, kind, host_key, depth) -> None: check it in the main process
        self.on_exit = on_exit  # (pending: dict[url, (kind, host_key, depth)]) -> None
        self.pending: dict[str, tuple[TargetKind, str | None, int]] = {}
        self.alive = False
        self._buffer = b""

    @classmethod
    def spawn(cls, reactor, site_path: str, concurrency_per_host: int, on_result, on_exit,
              on_handback) -> "TargetWorker":
        worker = cls(on_result, on_exit, on_handback)
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
            if not line:
                continue
            if line.startswith(b'{"handback"'):
                url = json.loads(line)["handback"]
                job = self.pending.pop(url, None)
                if job is not None:
                    self.on_handback(url, *job)
                continue
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

    from sitecheck.config import load_site
    from sitecheck.credentials import RedactingFilter, load_credentials

    from .runner import shared_delay

    site = load_site(args.config)
    credentials = load_credentials(site)
    for handler in logging.root.handlers:
        handler.addFilter(RedactingFilter(credentials.secrets))
    asyncio.run(serve(site, credentials, args.concurrency_per_host, shared_delay(site)))
    return 0


async def serve(site, credentials, per_host: int, delay_s: float) -> None:
    """Check every target read from stdin until it closes; one result line each on stdout."""
    from .linkcheck import LinkChecker

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout.buffer
    flush_due = False

    def flush() -> None:
        nonlocal flush_due
        flush_due = False
        out.flush()

    def emit(line: bytes) -> None:
        nonlocal flush_due
        out.write(line)
        if not flush_due:  # one flush per event-loop turn, however many results it finished
            flush_due = True
            loop.call_soon(flush)

    queue: asyncio.Queue = asyncio.Queue()
    async with LinkChecker(site, credentials, concurrency_per_host=per_host, delay_s=delay_s) as checker:
        async def work() -> None:
            while (job := await queue.get()) is not None:
                url, kind, host_key, depth = job
                try:
                    target = await checker.check(url, kind, host_key)
                except Exception as exc:  # noqa: BLE001 - a bug here must not lose the target
                    log.warning("checking %s failed: %r; handing it back", url, exc)
                    target = None
                if target is None or target.reason == Reason.ERROR:
                    emit(json.dumps({"handback": url}).encode() + b"\n")
                else:
                    emit(target_to_json(target, depth))

        workers = [asyncio.create_task(work()) for _ in range(max(per_host, site.crawl["concurrency"]))]
        while line := await reader.readline():
            d = json.loads(line)
            queue.put_nowait((d["url"], TargetKind(d["kind"]), d["host_key"], d["depth"]))
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
    out.flush()


if __name__ == "__main__":
    sys.exit(main())
