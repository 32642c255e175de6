"""Required columns and entries: what each host's homepage must offer, and that it works.

The list is per site (inspectors ask for new topical columns from time to time),
so it lives in the site file's `entries`.  An entry is present when a homepage
link's text or URL matches one of its patterns, or what a visitor reads as the
link's name (title, image alt or file name, the section heading around a "more"
image link or an href-less heading anchor: sitecheck.textparse.entrylabels);
站内搜索 is also met by a search form.  Its link is broken when the crawl's
target for it failed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sitecheck.model import Element, Fact, Finding, Page, Severity
from sitecheck.textparse import marks
from sitecheck.textparse.entrylabels import link_labels

from .base import Check, Output, RunView

# Patterns for names every site uses, so a site file can list just the name.
KNOWN_PATTERNS: dict[str, list[str]] = {
    "信息公开": [r"信息公开", r"xxgk"],
    "政务服务": [r"政务服务", r"办事服务", r"网上办事", r"zwfw", r"bsfw"],
    "办事服务": [r"办事服务", r"政务服务", r"网上办事", r"bsfw", r"zwfw"],
    "互动交流": [r"互动交流", r"政民互动", r"hdjl"],
    "政策解读": [r"政策解读", r"zcjd"],
    "决策公开": [r"决策公开", r"jcgk"],
    "站内搜索": [r"搜索", r"检索", r"search"],
    "网站地图": [r"网站地图", r"sitemap", r"wzdt"],
    "我为政府网站找错": [r"找错", r"纠错", r"jiucuo"],
}


# The 找错 entry is usually written by <script id="_jiucuo_">, not an <a> in the markup.
SCRIPTED = {"我为政府网站找错", "网站找错", "找错"}


def _patterns(entry: dict) -> list[re.Pattern]:
    given = entry["patterns"] or KNOWN_PATTERNS.get(entry["name"]) or [re.escape(entry["name"])]
    return [re.compile(p, re.I) for p in given]


def _form_labels(page: Page) -> list[str]:
    """Form actions and input labels: a search box is an entry without a link."""
    labels: list[str] = []
    try:
        for form in page.tree.iter("form"):
            labels.append(form.get("action") or "")
            for el in form.iter("input", "button"):
                labels.extend(el.get(a) or "" for a in ("name", "placeholder", "value", "title", "id"))
    except Exception:
        pass
    return [label for label in labels if label]


class EntriesCheck(Check):
    name = "entries"
    description = "Columns and entries each homepage must offer (信息公开, 政务服务, 互动交流, search, site map ...)."
    codes = {
        "entry.missing": "a required column or entry is not offered on the host's homepage",
        "entry.broken": "a required entry is linked from the homepage but its target failed",
    }

    def __init__(self, site, options):
        super().__init__(site, options)
        self._required = {h.key: [(e["name"], _patterns(e)) for e in h.gov.get("entries", [])]
                          for h in site.hosts}
        self._found: dict[str, dict[str, str | None]] = {}  # host -> entry name -> matched URL ("" = form)
        self._homepage: dict[str, str] = {}

    def on_page(self, page: Page) -> Iterable[Output]:
        required = self._required.get(page.host_key)
        if not page.is_homepage or not required or page.host_key in self._found:
            return ()
        anchors = [(link.url, link.text) for link in page.links if link.element == Element.A]
        anchors += link_labels(page.tree, page.url)
        forms = _form_labels(page)
        scripted_jiucuo = bool(marks.jiucuo(page.html))
        found: dict[str, str | None] = {}
        for name, patterns in required:
            found[name] = None
            for url, text in anchors:
                if any(p.search(text) or (url and p.search(url)) for p in patterns):
                    found[name] = url
                    break
            else:
                if any(p.search(label) for p in patterns for label in forms):
                    found[name] = ""
                elif name in SCRIPTED and scripted_jiucuo:
                    found[name] = ""
        self._found[page.host_key] = found
        self._homepage[page.host_key] = page.url
        return ()

    def on_finish(self, run: RunView) -> Iterable[Output]:
        for host in self.site.hosts:
            found = self._found.get(host.key)
            if found is None:
                continue  # homepage not crawled: the links check reports that
            missing = [n for n, url in found.items() if url is None]
            yield Fact("entries.homepage", {"present": sorted(n for n in found if n not in missing),
                                            "missing": missing}, host.key, check=self.name)
            for name in missing:
                yield Finding("entry.missing", Severity.ERROR, self._homepage[host.key],
                              f"首页缺少「{name}」栏目或入口", self.name, host.key,
                              details={"name": name, "host": host.key})
        wanted = {url: (hk, name) for hk, found in self._found.items() for name, url in found.items() if url}
        if not wanted:
            return
        for target in run.targets(failed_only=True):
            if target.url in wanted and target.reason.is_failure:
                hk, name = wanted[target.url]
                yield Finding("entry.broken", Severity.ERROR, target.url,
                              f"首页「{name}」入口链接不可用 ({target.reason.value})", self.name, hk,
                              page_url=self._homepage.get(hk),
                              details={"name": name, "host": hk, "reason": target.reason.value,
                                       "status": target.status})
