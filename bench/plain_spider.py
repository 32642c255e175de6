"""The floor of a naive Scrapy design: a CrawlSpider that only follows links and notes what failed.

    python bench/plain_spider.py --start http://127.0.0.1:8080/ --out plain.json --concurrency 64

Scrapy's default settings except concurrency, no robots.txt, INFO logging (the
default DEBUG level would log a line per request), and 4xx/5xx responses let
through so broken links can be counted.  One Rule with one LinkExtractor that
also takes images, scripts and stylesheets and every file extension (by default
it would skip .pdf/.docx/.png ...), restricted to the benchmark's loopback
host.  Every target is fetched with a whole GET (no HEAD), every HTML response
is parsed for links by the LinkExtractor: the design sitecheck is measured
against.

Writes {"checked": n, "pages": n_html, "broken": [{"url", "status"|"error"}]} to --out.
"""

from __future__ import annotations

import argparse
import json
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess
from scrapy.http import HtmlResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import CrawlSpider, Rule


class PlainSpider(CrawlSpider):
    name = "plain"
    handle_httpstatus_list = list(range(400, 600))  # see broken links instead of dropping them
    rules = (
        Rule(LinkExtractor(tags=("a", "area", "img", "script", "link", "iframe", "frame"),
                           attrs=("href", "src"), deny_extensions=[]),
             callback="parse_item", errback="on_error", follow=True),
    )

    def __init__(self, start: str, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [start]
        self.allowed_domains = [urlsplit(start).hostname]
        self.checked = 0
        self.pages = 0
        self.broken: list[dict] = []

    def parse_start_url(self, response, **kwargs):
        return self.parse_item(response)

    def parse_item(self, response):
        self.checked += 1
        if isinstance(response, HtmlResponse):
            self.pages += 1
        if response.status >= 400:
            self.broken.append({"url": response.url, "status": response.status})
        return ()

    def on_error(self, failure):
        self.checked += 1
        self.broken.append({"url": failure.request.url, "error": type(failure.value).__name__})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--start", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--concurrency", type=int, default=16, help="CONCURRENT_REQUESTS (default 16, Scrapy's)")
    p.add_argument("--per-host", type=int, default=None,
                   help="CONCURRENT_REQUESTS_PER_DOMAIN (default: same as --concurrency)")
    args = p.parse_args(argv)
    process = CrawlerProcess({
        "CONCURRENT_REQUESTS": args.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.per_host or args.concurrency,
        "ROBOTSTXT_OBEY": False,
        "LOG_LEVEL": "INFO",
        "TELNETCONSOLE_ENABLED": False,
    })
    crawler = process.create_crawler(PlainSpider)
    process.crawl(crawler, start=args.start)
    process.start()
    spider = crawler.spider
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump({"checked": spider.checked, "pages": spider.pages, "broken": spider.broken}, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
