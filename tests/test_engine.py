"""The engine's short route from a download to the spider callback (crawler/engine.py).

A real crawl of a loopback server, in a process of its own (Scrapy's reactor does not restart),
with a spider whose callbacks fail on purpose for some URLs: what Scrapy's Scraper would have done
with those failures must still happen, the crawl must go on, and the Scraper must not have been
used for the spider's own requests (that is the point of the route; if a Scrapy upgrade stops
calling our override, this test says so).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from http.server import BaseHTTPRequestHandler

from tests.helpers import listen, one_host_site, serve_handler

_CRAWL = textwrap.dedent("""
    import json, sys
    import scrapy
    from scrapy import signals
    from scrapy.core.scraper import Scraper
    from sitecheck.config import load_site
    from sitecheck.store import Store
    from sitecheck.crawler import runner
    from sitecheck.crawler.spider import SiteSpider

    out = {"spider_errors": [], "scraped": 0, "extra": [], "errback_urls": []}
    original_enqueue = Scraper.enqueue_scrape

    def counting_enqueue(self, result, request):
        out["scraped"] += 1
        return original_enqueue(self, result, request)

    Scraper.enqueue_scrape = counting_enqueue

    class PlantedFaults(SiteSpider):
        @classmethod
        def from_crawler(cls, crawler, *args, **kwargs):
            spider = super().from_crawler(crawler, *args, **kwargs)
            crawler.signals.connect(spider._spider_error, signal=signals.spider_error)
            crawler.signals.connect(lambda spider: out.update(
                spider_exceptions=crawler.stats.get_value("spider_exceptions/count")),
                signal=signals.spider_closed, weak=False)
            return spider

        def _spider_error(self, failure, response, spider):
            url = response.url if hasattr(response, "url") else response.request.url
            out["spider_errors"].append([type(failure.value).__name__, str(failure.value), url])

        def on_response(self, response):
            if response.url.endswith("/boom.html"):
                raise RuntimeError("planted in a callback")
            result = super().on_response(response)
            if response.url.endswith("/a.html"):  # output for Scrapy's own route
                return [scrapy.Request(response.urljoin("/extra.html"), callback=self.on_extra, dont_filter=True)]
            return result

        def on_extra(self, response):
            out["extra"].append(response.url)

        def on_error(self, failure):
            url = failure.request.url
            out["errback_urls"].append(url)
            if "/refused" in url:
                raise ValueError("planted in an errback")
            return super().on_error(failure)

    runner.SiteSpider = PlantedFaults
    site = load_site(sys.argv[1])
    store = Store(sys.argv[2])
    summary = runner.run_crawl(site, store)
    out["status"] = summary.status
    out["pages"] = sorted(url for url, in store.db.execute("SELECT url FROM pages"))
    print(json.dumps(out))
""")


class _Portal(BaseHTTPRequestHandler):
    refused_port = 0

    def do_GET(self):  # noqa: N802
        pages = {
            "/": f'<html><head><title>首页</title></head><body><a href="/a.html">a</a> <a href="/b.html">b</a>'
                 f' <a href="/boom.html">boom</a> <a href="/after-boom.html">after</a>'
                 f' <a href="http://127.0.0.1:{self.refused_port}/refused.html">refused</a></body></html>',
            "/boom.html": '<html><body><a href="/after-boom.html">after</a></body></html>',
        }
        body = pages.get(self.path, f"<html><head><title>{self.path}</title></head><body>正文</body></html>")
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


def test_callbacks_run_without_the_scraper_and_their_failures_are_still_scrapys(tmp_path):
    closed = listen()  # a port that refuses: bound, then closed before the crawl
    refused_port = closed.getsockname()[1]
    closed.close()
    _Portal.refused_port = refused_port
    server, base = serve_handler(_Portal)
    try:
        site = one_host_site(tmp_path / "s.yaml", "engine", f"{base}/", processes=1)
        script = tmp_path / "crawl.py"
        script.write_text(_CRAWL, encoding="utf-8")
        proc = subprocess.run([sys.executable, str(script), str(site), str(tmp_path / "s.sqlite3")],
                              capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])

    # Both planted failures reached Scrapy's spider_error signal, as the Scraper would send them ...
    errors = sorted(out["spider_errors"])
    assert errors == [["RuntimeError", "planted in a callback", f"{base}/boom.html"],
                      ["ValueError", "planted in an errback", f"http://127.0.0.1:{refused_port}/refused.html"]]
    assert out["spider_exceptions"] == 2  # and counted in Scrapy's stats
    # ... and the crawl went on: every other page was fetched and recorded, the run completed.
    assert out["status"] == "complete"
    for path in ("/", "/a.html", "/b.html", "/after-boom.html"):
        assert f"{base}{path}" in out["pages"], out["pages"]
    assert f"{base}/boom.html" not in out["pages"]  # its callback failed before recording it
    # Output a callback returns still goes through Scrapy's route: the request was scheduled.
    assert out["extra"] == [f"{base}/extra.html"]
    # The spider's own requests never went through the Scraper; only the one request made with a
    # callback of its own (on_extra) did.
    assert out["scraped"] == 1


def test_the_route_is_taken_only_where_scrapys_engine_fits_it():
    from scrapy.core.engine import ExecutionEngine

    from sitecheck.crawler.engine import route_fits

    assert route_fits()  # the Scrapy this project runs on: the test above shows the route is taken
    assert route_fits(ExecutionEngine._handle_downloader_output)

    def before_2_13(self, result, request, spider):  # the older hook also took the spider
        return None

    def renamed(self, outcome, request):
        return None

    assert not route_fits(before_2_13)
    assert not route_fits(renamed)
