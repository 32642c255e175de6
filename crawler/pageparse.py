"""From a decoded page to its title, the soft-404 verdict and its distinct links.

A pure function of the page and a few site settings, so either crawl process
can run it: the main process for most pages, the record process for the pages
the main process hands it when it has spare time (crawler/targets.py), which is
how a crawl keeps both cores busy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from sitecheck import platforms
from sitecheck.model import ELEMENT_VALUE, Element, Link, Page

from .classify import is_soft404, soft404_matcher
from .extract import extract_links
from .pagination import pagination_urls
from .urls import normalize


@dataclass(slots=True)
class PageRules:
    """The site settings reading a page needs."""

    soft404: re.Pattern[str]
    follow_pagination: bool
    exclude: list[re.Pattern[str]]
    session_params: frozenset[str]
    extra_urls: Callable[[Page], list[str]] | None = None  # the site's platform profile (sitecheck.platforms)

    @classmethod
    def for_site(cls, site) -> "PageRules":
        crawl = site.crawl
        profile = platforms.for_site(site)
        return cls(soft404_matcher(crawl.soft404_patterns), crawl.follow_pagination,
                   [re.compile(p) for p in crawl.exclude],
                   frozenset(p.lower() for p in crawl.session_params), profile and profile.extra_urls)


def read_page(page: Page, base_url: str, rules: PageRules) -> list[tuple[str, str, Element]] | None:
    """Set `page.title` and `page.links`; the page's distinct links, or None for a soft-404 page.

    Distinct links are (normalised URL, anchor text, element), first occurrence
    wins, excluded URLs and URLs we never fetch left out.  ~50 links a page, a
    million in a large crawl: the loop is kept lean on purpose.
    """
    reading = page.reading
    page.title = reading.title
    if is_soft404(rules.soft404, reading.title + " " + reading.headings, page.visible_text):  # cached: sent along
        return None
    links = extract_links(reading, base_url)
    if rules.follow_pagination and "(" in page.html:
        links.extend(Link(u, "", Element.PAGINATION) for u in pagination_urls(page.html, base_url))
    if rules.extra_urls is not None:  # e.g. a column's list service, fetched as one more page of the list
        links.extend(Link(u, "", Element.PAGINATION) for u in rules.extra_urls(page))
    page.links = links
    distinct: list[tuple[str, str, Element]] = []
    seen_here: set[str] = set()
    exclude, session_params = rules.exclude, rules.session_params
    for link in links:
        url = normalize(link.url, session_params)
        if url is None or url in seen_here or (exclude and any(p.search(url) for p in exclude)):
            continue
        seen_here.add(url)
        distinct.append((url, link.text, link.element))
    return distinct


def occurrences(distinct: list[tuple[str, str, Element]], page_url: str,
                on_homepage: bool) -> tuple[str, int, str, str]:
    """The row the store keeps for a page's links: (from, on homepage, JSON [to, ...],
    JSON [[text, element], ...]).

    The target URLs are an array of their own so that the end-of-run fold (Store.fold_links)
    parses only them for every page; the texts are read only for the referrers it keeps.
    """
    urls = json.dumps([url for url, _text, _element in distinct], ensure_ascii=False)
    meta = json.dumps([(text, ELEMENT_VALUE[element]) for _url, text, element in distinct], ensure_ascii=False)
    if "\\u0000" in urls or "\\u0000" in meta:  # maybe a NUL, which SQLite's JSON functions cut text at
        clean = [(url.replace("\0", "\ufffd"), text.replace("\0", "\ufffd"), element)  # as lxml's parser does
                 for url, text, element in distinct]
        if clean != distinct:
            return occurrences(clean, page_url, on_homepage)
    return (page_url, int(on_homepage), urls, meta)
