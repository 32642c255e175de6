"""Cookies for the crawl's pages, with no request to anyone but the monitored site.

Scrapy's CookiesMiddleware refuses cookies set for a public suffix (`.gov.cn`) by asking
tldextract, whose default is to download the public suffix list from two public hosts at the
first cookie of a run (and log tracebacks where it cannot).  A monitor on a government intranet
sends nothing to anyone but the sites it monitors, so this middleware does the same job with
tldextract's bundled snapshot of the list, through Scrapy's public cookie jar.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from scrapy.exceptions import NotConfigured
from scrapy.http.cookies import CookieJar


@functools.lru_cache(maxsize=1)
def _suffixes():
    from tldextract import TLDExtract

    # suffix_list_urls=(): never fetch; cache_dir=None: never write a cache; the snapshot shipped
    # with tldextract is the list.
    return TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def is_public_suffix(domain: str) -> bool:
    """`gov.cn`, `com.cn`: a domain under which anyone may register (no cookie may be set for it)."""
    return not _suffixes()(domain).domain


class CookiesMiddleware:
    def __init__(self):
        self.jar = CookieJar()

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("COOKIES_ENABLED"):
            raise NotConfigured
        return cls()

    def process_request(self, request, spider=None):
        request.headers.pop("Cookie", None)
        self.jar.add_cookie_header(request)
        return None

    def process_response(self, request, response, spider=None):
        host = (urlsplit(request.url).hostname or "").lower()
        for cookie in self.jar.make_cookies(response, request):
            domain = cookie.domain.removeprefix(".")
            if domain and domain != host and is_public_suffix(domain):
                continue  # a cookie for all of .gov.cn: refused, as browsers do
            self.jar.set_cookie_if_ok(cookie, request)
        return response
