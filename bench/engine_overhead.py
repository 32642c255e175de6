"""What Scrapy itself costs per request, with sitecheck's settings, and what the engine route saves.

Runs a Scrapy crawl whose download handler answers every request at once with a
20 KB page from memory, and whose callback does nothing but schedule the next
request: no network, no parsing, only the engine, scheduler, downloader slots,
middlewares and the route from a response to its callback. Each mode runs in a
process of its own (Scrapy's reactor does not restart), alternating, and prints
the process's CPU per request:

- `stock`: Scrapy's Crawler, every response through Scrapy's Scraper;
- `site`:  `sitecheck.crawler.engine.SiteCrawler`, the spider's own callbacks
  called straight from the engine.

The settings are `crawler.runner.scrapy_settings` for a minimal site file
(middlewares, spider middlewares, extensions, queue choices), except the download
handler and our two middlewares (which need a SiteSpider) and the disk queue.

    python bench/engine_overhead.py --requests 20000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BODY = b"<html><body>" + b"x" * 20000 + b"</body></html>"
IN_FLIGHT = 64


def crawl(mode: str, requests: int, site_file: str) -> dict:
    """One crawl in this process; CPU seconds per request."""
    import scrapy
    from scrapy.crawler import Crawler, CrawlerProcess
    from scrapy.http import HtmlResponse
    from twisted.internet import defer

    from sitecheck.config import load_site
    from sitecheck.crawler import runner
    from sitecheck.crawler.engine import SiteCrawler

    class AnswerAtOnce:
        lazy = False

        @classmethod
        def from_crawler(cls, crawler):
            return cls()

        def download_request(self, request, spider=None):
            return defer.succeed(HtmlResponse(request.url, body=BODY, request=request))

        async def close(self):
            pass

    class Chain(scrapy.Spider):
        name = "engine-overhead"

        async def start(self):
            for i in range(IN_FLIGHT):
                yield self.request(i)

        def request(self, i: int):
            return scrapy.Request(f"http://127.0.0.1:9/p{i}", callback=self.on_response, errback=self.on_error,
                                  dont_filter=True, meta={"i": i})

        def on_response(self, response):
            i = response.meta["i"] + IN_FLIGHT
            if i < requests:
                self.crawler.engine.crawl(self.request(i))

        def on_error(self, failure):
            raise AssertionError(f"no request should fail here: {failure!r}")

    settings = runner.scrapy_settings(load_site(site_file))
    settings["DOWNLOADER_MIDDLEWARES"] = {k: v for k, v in settings["DOWNLOADER_MIDDLEWARES"].items()
                                          if not k.startswith("sitecheck.")}
    settings["DOWNLOAD_HANDLERS"] = {"http": AnswerAtOnce}
    settings["EXTENSIONS"] = {k: v for k, v in settings["EXTENSIONS"].items() if not k.startswith("sitecheck.")}
    for key in ("SCHEDULER_DISK_QUEUE", "SITECHECK_PROGRESS"):
        settings.pop(key, None)
    process = CrawlerProcess(settings)
    crawler = (SiteCrawler if mode == "site" else Crawler)(Chain, settings, init_reactor=True)
    process.crawl(crawler)
    cpu, wall = time.process_time(), time.monotonic()
    process.start()
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    done = crawler.stats.get_value("response_received_count", 0)
    if done != requests:
        raise SystemExit(f"{mode}: {done} responses for {requests} requests")
    return {"mode": mode, "requests": requests, "cpu_us_per_request": round(cpu / requests * 1e6, 1),
            "wall_s": round(wall, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mode", choices=["stock", "site"], help=argparse.SUPPRESS)  # one crawl (child process)
    ap.add_argument("--site-file", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.mode:
        print(json.dumps(crawl(args.mode, args.requests, args.site_file)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "overhead.yaml"
        site.write_text('site: overhead\nname: 开销\nhosts:\n  - {key: h, name: 测试, url: "http://127.0.0.1:9/"}\n'
                        'crawl: {robots: ignore, delay_seconds: 0, concurrency: 32, concurrency_per_host: 32}\n',
                        encoding="utf-8")
        results: dict[str, list[float]] = {"stock": [], "site": []}
        for _ in range(args.rounds):
            for mode in ("stock", "site"):
                out = subprocess.run([sys.executable, __file__, "--mode", mode, "--requests", str(args.requests),
                                      "--site-file", str(site)], capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                results[mode].append(r["cpu_us_per_request"])
                print(f"{mode:5}  {r['cpu_us_per_request']:6.1f} µs CPU per request  ({r['wall_s']} s wall)", flush=True)
    for mode, figures in results.items():
        print(f"{mode:5}  min {min(figures):.1f}  max {max(figures):.1f} µs per request over {len(figures)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
