"""Identity marks (政府网站发展指引): 网站标识码, ICP and 公安 filings, 党政机关 badge, 找错 entry, meta tags.

Footers and badges are often written by `document.write`, so marks are read
from the raw HTML (sitecheck.textparse.marks), not the DOM.  Homepages are
checked in full; other pages are sampled for the footer marks and all pages
are checked for the meta tags of their type, reported once per host and page
type (a CMS template omits a tag on thousands of pages at once).

Every article page's publication date is recorded as an `article.published` fact
keyed by its URL (visible date, PubDate meta and URL date; the visible one wins):
the report counts a period's publications from these stored dates.
"""

from __future__ import annotations

import bisect
import re
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sitecheck.config.schema import Setting, table
from sitecheck.model import Element, Fact, Finding, Page, Severity
from sitecheck.textparse import marks
from sitecheck.textparse.dates import find_dates, publication_time
from sitecheck.textparse.pubdate import article_dates

from .base import Check, Output, RunView

_SITE_META = ["SiteName", "SiteDomain", "SiteIDCode"]
_MIN_LIST_ITEMS = 3  # dates shown on an index-like page that make it a column (list) page
_OWN_JIUCUO = re.compile(r"纠错|找错")
_MARK_ZH = {"site_code": "网站标识码", "icp": "ICP备案号", "beian": "公安机关备案号", "conac": "党政机关标识",
            "jiucuo": "“我为政府网站找错”入口"}


# Two crawl processes record pages in no fixed order, so nothing here depends on that order: the
# examples are the first URLs in sorted order, the sampled pages those with the smallest stable hash.
# The same site gives the same findings, on the same example pages, run after run.


def _keep_first(urls: list[str], url: str, n: int) -> None:
    """Keep `urls` the n smallest URLs seen, sorted."""
    if len(urls) < n or url < urls[-1]:
        bisect.insort(urls, url)
        del urls[n:]


def _sample_key(url: str) -> tuple[int, str]:
    return zlib.crc32(url.encode("utf-8", "surrogatepass")), url


@dataclass
class _MetaTally:
    pages: int = 0
    pages_missing: int = 0
    tags: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)


@dataclass
class _SampleTally:
    """The `sample_pages` pages of a host with the smallest _sample_key: (key, url, absent marks)."""
    sampled: list[tuple[int, str, tuple[str, ...]]] = field(default_factory=list)

    def missing(self) -> Counter:
        return Counter(mark for _k, _u, absent in self.sampled for mark in absent)

    def examples(self, mark: str, n: int) -> list[str]:
        return sorted(url for _k, url, absent in self.sampled if mark in absent)[:n]


class MarksCheck(Check):
    name = "marks"
    description = "Identity marks: 网站标识码, ICP and 公安 filings, 党政机关 badge, 找错 entry, meta tags."
    codes = {
        "mark.missing": "a mark is absent (details.mark: site_code, icp, beian, conac or jiucuo)",
        "mark.invalid": "a mark is present but malformed (site code form or prefix, beian link)",
        "mark.site_code_mismatch": "footer code, SiteIDCode meta, 找错 site_code and configured site_code differ",
        "mark.jiucuo_outdated_host": "the 找错 entry points to an outdated host (121.43.68.40)",
        "mark.meta_missing": "pages of one type lack required meta tags (per host and page type, with counts)",
    }
    options = {
        "code_prefix": Setting("str", "Local site codes must start with this (a province's division code, "
                               "e.g. 62 for Gansu); empty: not checked.", "", pattern=r"\d{0,6}"),
        "require": Setting("list", "Footer marks every homepage must carry.",
                           ["site_code", "icp", "beian", "conac", "jiucuo"],
                           item=Setting("str", "mark", choices=("site_code", "icp", "beian", "conac", "jiucuo"))),
        "outdated_jiucuo_hosts": Setting("list", "Hosts of an outdated 找错 service.", ["121.43.68.40"],
                                         item=Setting("str", "host")),
        "sample_pages": Setting("int", "Other pages per host checked for the footer 找错 entry and site code "
                                "(the same pages every run: chosen by a hash of the URL, not by crawl order).",
                                50, min=0),
        "meta_required": table("Meta tags required per page type.", {
            "site": Setting("list", "Homepage.", _SITE_META, item=Setting("str", "meta name")),
            "column": Setting("list", "Column (list) pages.",
                              [*_SITE_META, "ColumnName", "ColumnDescription", "ColumnKeywords", "ColumnType"],
                              item=Setting("str", "meta name")),
            "article": Setting("list", "Article pages.", [*_SITE_META, "ArticleTitle", "PubDate", "ContentSource"],
                               item=Setting("str", "meta name")),
        }),
        "article_url_patterns": Setting("list", "URL patterns of article pages (besides pages with a "
                                        "发布时间 line or article meta tags).",
                                        [r"/t\d{8}_\d+", r"content_\d+", r"/art/\d{4}/", r"/\d{4}-\d{2}/\d{2}/",
                                         r"/\d{6}/[0-9a-f]{16,}\.s?html?$"], item=Setting("regex", "pattern")),
        "column_url_patterns": Setting("list", "URL patterns of column (list) pages.",
                                       [r"/$", r"/(?:index|list|default)(?:_\d+)?\.s?html?$"],
                                       item=Setting("regex", "pattern")),
        "max_examples": Setting("int", "Example URLs kept per aggregated finding.", 3, min=1, max=50),
    }

    def __init__(self, site, options):
        super().__init__(site, options)
        self._hosts = {h.key: h for h in site.hosts}
        self._article = [re.compile(p) for p in self.opts["article_url_patterns"]]
        self._column = [re.compile(p) for p in self.opts["column_url_patterns"]]
        self._homepages_done: set[str] = set()
        self._meta: dict[tuple[str, str], _MetaTally] = {}
        self._samples: dict[str, _SampleTally] = {}

    # --- per page --------------------------------------------------------------------

    def on_page(self, page: Page) -> Iterable[Output]:
        host = self._hosts.get(page.host_key)
        if host is None:
            return
        if self._tally_meta(page) == "article":
            dates = article_dates(page.visible_text, page.meta, page.url)
            if dates.published is not None or dates.url_month is not None:
                yield Fact("article.published", dates.as_fact(), page.host_key, key=page.url, check=self.name)
        if page.is_homepage:
            if page.host_key not in self._homepages_done:
                self._homepages_done.add(page.host_key)
                yield from self._homepage(page, host.gov.get("site_code", ""))
        else:
            self._sample(page)

    def _page_type(self, page: Page, meta_lower: set[str]) -> str | None:
        if page.is_homepage:
            return "site"
        if {"articletitle", "pubdate"} & meta_lower or any(p.search(page.url) for p in self._article):
            return "article"
        if publication_time(page.visible_text[:3000]):
            return "article"
        if "columnname" in meta_lower:
            return "column"
        # An index-like URL alone is not enough: search pages and site maps live at /x/index.html too.
        if any(p.search(page.url) for p in self._column) and len(find_dates(page.visible_text)) >= _MIN_LIST_ITEMS:
            return "column"
        return None

    def _tally_meta(self, page: Page) -> str | None:
        # A tag with empty content (SiteIDCode="") tells a reader nothing: it counts as missing.
        meta_lower = {k.lower() for k, v in page.meta.items() if v}
        kind = self._page_type(page, meta_lower)
        if kind is None:
            return None
        tally = self._meta.setdefault((page.host_key, kind), _MetaTally())
        tally.pages += 1
        missing = [t for t in self.opts["meta_required"][kind] if t.lower() not in meta_lower]
        if missing:
            tally.pages_missing += 1
            tally.tags.update(missing)
            _keep_first(tally.examples, page.url, self.opts["max_examples"])
        return kind

    def _sample(self, page: Page) -> None:
        n = self.opts["sample_pages"]
        if n <= 0:
            return
        sampled = self._samples.setdefault(page.host_key, _SampleTally()).sampled
        key = _sample_key(page.url)
        if len(sampled) >= n and key >= sampled[-1][:2]:
            return  # not among the n smallest keys: not read
        text = marks.footer_text(page.html)
        absent = []
        if "site_code" in self.opts["require"] and marks.site_code(text) is None:
            absent.append("site_code")
        if "jiucuo" in self.opts["require"] and not marks.jiucuo(page.html) and not _own_jiucuo(page):
            absent.append("jiucuo")
        bisect.insort(sampled, (*key, tuple(absent)))
        del sampled[n:]

    def _homepage(self, page: Page, configured: str) -> Iterable[Output]:
        text = marks.footer_text(page.html)
        code, icp = marks.site_code(text), marks.icp(text)
        beian, beian_links = marks.beian(text), marks.beian_link_codes(page.html)
        conac, jiucuo = marks.conac(page.html), marks.jiucuo(page.html)
        own_jiucuo = "" if jiucuo else _own_jiucuo(page)
        meta_code = next((v for k, v in page.meta.items() if k.lower() == "siteidcode"), "")
        yield Fact("marks.homepage", {
            "site_code": code, "meta_site_code": meta_code or None, "icp": icp,
            "beian": marks.beian_label(text), "beian_link": beian_links[0] if beian_links else None,
            "conac_id": conac.id if conac else None,
            "jiucuo": [{"host": j.host, "site_code": j.site_code, "via": j.via} for j in jiucuo]
            + ([{"host": "", "site_code": None, "via": "site_own", "url": own_jiucuo}] if own_jiucuo else []),
        }, page.host_key, check=self.name)

        present = {"site_code": code, "icp": icp, "beian": beian, "conac": conac, "jiucuo": jiucuo or own_jiucuo}
        for mark in self.opts["require"]:
            if not present[mark]:
                yield self._finding("mark.missing", Severity.ERROR, page, f"首页未发现{_MARK_ZH[mark]}",
                                    {"mark": mark})
        if code and not marks.site_code_valid(code, self.opts["code_prefix"]):
            yield self._finding("mark.invalid", Severity.ERROR, page, f"网站标识码格式不正确：{code}",
                                {"mark": "site_code", "value": code, "prefix": self.opts["code_prefix"],
                                 "expected": "10 digits or bm + 8 digits"})
        if beian and not beian_links:
            yield self._finding("mark.invalid", Severity.WARNING, page, "公安机关备案号未链接到全国互联网安全管理服务平台",
                                {"mark": "beian", "value": beian, "problem": "no_link"})
        elif beian and beian not in beian_links:
            yield self._finding("mark.invalid", Severity.ERROR, page,
                                f"公安机关备案号 {beian} 与备案链接 recordcode {beian_links[0]} 不一致",
                                {"mark": "beian", "value": beian, "link": beian_links, "problem": "link_mismatch"})
        outdated = set(self.opts["outdated_jiucuo_hosts"])
        for j in jiucuo:
            if j.host in outdated:
                yield self._finding("mark.jiucuo_outdated_host", Severity.ERROR, page,
                                    f"“我为政府网站找错”入口使用已停用的地址 {j.host}",
                                    {"jiucuo_host": j.host, "via": j.via, "site_code": j.site_code})
        codes = {"footer": code, "meta": meta_code, "configured": configured,
                 **{"jiucuo" + (f"_{i + 1}" if i else ""): j.site_code for i, j in enumerate(jiucuo)}}
        distinct = {v for v in codes.values() if v}
        if len(distinct) > 1:
            shown = "，".join(f"{k}={v}" for k, v in codes.items() if v)
            yield self._finding("mark.site_code_mismatch", Severity.ERROR, page, f"网站标识码不一致：{shown}",
                                {"codes": {k: v for k, v in codes.items() if v}})

    def _finding(self, code: str, severity: Severity, page: Page, message: str, details: dict) -> Finding:
        return Finding(code, severity, page.url, message, self.name, page.host_key, page_url=page.url,
                       details={"host": page.host_key, **details})

    # --- after the crawl --------------------------------------------------------------

    def on_finish(self, run: RunView) -> Iterable[Output]:
        for (host_key, kind), t in sorted(self._meta.items()):
            yield Fact("marks.meta", {"page_type": kind, "pages": t.pages, "pages_missing": t.pages_missing,
                                      "tags": dict(t.tags)}, host_key, key=kind, check=self.name)
            if t.pages_missing:
                tags = "、".join(f"{tag}（{n}页）" for tag, n in t.tags.most_common())
                yield Finding("mark.meta_missing", Severity.WARNING, t.examples[0],
                              f"{_KIND_ZH[kind]}缺少元数据：{tags}（共检查 {t.pages} 页）", self.name, host_key,
                              details={"host": host_key, "page_type": kind, "pages_checked": t.pages,
                                       "pages_missing": t.pages_missing, "tags": dict(t.tags),
                                       "examples": t.examples})
        for host_key, t in sorted(self._samples.items()):
            pages = len(t.sampled)
            for mark, n in sorted(t.missing().items()):
                examples = t.examples(mark, self.opts["max_examples"])
                yield Finding("mark.missing", Severity.WARNING, examples[0],
                              f"{n}/{pages} 个抽查页面未发现{_MARK_ZH[mark]}", self.name, host_key,
                              details={"host": host_key, "mark": mark, "scope": "pages", "pages_checked": pages,
                                       "pages_missing": n, "examples": examples})


_KIND_ZH = {"site": "首页", "column": "栏目页", "article": "文章页"}


def _own_jiucuo(page: Page) -> str:
    """A site's own 纠错 page linked from the footer (www.gov.cn has one instead of the national entry)."""
    for link in page.links:
        if link.element == Element.A and _OWN_JIUCUO.search(link.text or ""):
            return link.url
    return ""
