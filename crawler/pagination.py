"""JavaScript-only pagination of government CMSs, turned back into URLs.

TRS WCM writes `createPageHTML(total, current, "index", "html")`, meaning pages
index.html, index_1.html ... index_{total-1}.html exist although no <a> points
to them.  Variants seen in the wild (indicators.md §4):
  createPageHTML('page_div', 5, 1, 'fg', 'shtml', 89)   container id first
  pageControl(4, 2, "index", "shtml", 10, 'pages-nav')  Hubei
Other TRS templates write the links themselves:
  var currentPage = 0; var countPage = 7; ... document.write("<a href=\"index.html\">首页</a>") ...
  document.write("<option value=\"index_" + i + ".html\">...")
whose page count is `countPage` and whose name and extension are those of the
first page's link in the written markup.
Arguments are read from at most 300 characters per call and the page count is
capped, so a hostile page cannot make us generate unbounded URLs.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

MAX_PAGES = 500

_ARG = r"""\s*(?:(['"])([^'"]{0,64})\1|(\d{1,6}))\s*"""
_CALL = re.compile(r"\b(createPageHTML|pageControl)\s*\(([^()]{0,300})\)")
_ARGS = re.compile(_ARG)
_COUNT_PAGE = re.compile(r"\bvar\s+countPage\s*=\s*(\d{1,6})")
_WRITTEN_FIRST_PAGE = re.compile(r"""href\s*=\s*\\?["']?(?:\./)?([\w-]{1,64})\.(s?html?|jsp|php|aspx?)\\?["'\s>]""")
_SCRIPT_WINDOW = 4000  # characters after `var countPage` where its document.write calls are read


def _args(text: str) -> list[str | int]:
    out: list[str | int] = []
    for m in _ARGS.finditer(text):
        out.append(m.group(2) if m.group(1) else int(m.group(3)))
    return out


def _plan(args: list[str | int]) -> tuple[int, str, str] | None:
    """(total, name, ext) from a call's arguments, whichever variant wrote them."""
    if args and isinstance(args[0], str) and len(args) >= 5:  # container id first
        args = args[1:]
    if len(args) < 4:
        return None
    total, _current, name, ext = args[:4]
    if not (isinstance(total, int) and isinstance(name, str) and isinstance(ext, str)):
        return None
    if not re.fullmatch(r"[\w.-]{1,64}", name) or not re.fullmatch(r"[A-Za-z]{1,6}", ext):
        return None
    return min(total, MAX_PAGES), name, ext


def _written_plans(html: str) -> list[tuple[int, str, str]]:
    """(total, name, ext) of each `var countPage = N` script that writes its links by document.write."""
    plans = []
    for m in _COUNT_PAGE.finditer(html):
        window = html[m.end(): m.end() + _SCRIPT_WINDOW]
        if "document.write" not in window:
            continue
        first = _WRITTEN_FIRST_PAGE.search(window)
        if first:
            plans.append((min(int(m.group(1)), MAX_PAGES), first.group(1), first.group(2)))
    return plans


def pagination_urls(html: str, base_url: str) -> list[str]:
    """Absolute URLs of the other pages of a paginated list. Never raises."""
    try:
        # Every match starts with one of the names, so the regex (which, with its leading \b
        # and alternation, tries every position: ~130 us on a 16 KB page) starts at the first of
        # them, and a page with none, as most are, costs three find()s.
        starts = [i for i in (html.find("createPageHTML"), html.find("pageControl")) if i >= 0]
        plans = _written_plans(html) if "countPage" in html else []
        if not starts and not plans:
            return []
        if starts:
            for m in _CALL.finditer(html, min(starts)):  # \b still sees the character before
                plan = _plan(_args(m.group(2)))
                if plan:
                    plans.append(plan)
        urls: list[str] = []
        seen: set[str] = set()
        for total, name, ext in plans:
            for i in range(total):
                page = f"{name}.{ext}" if i == 0 else f"{name}_{i}.{ext}"
                url = urljoin(base_url, page)
                if url not in seen:
                    seen.add(url)
                    urls.append(url)
        return urls
    except Exception:  # noqa: BLE001 - a parser of hostile text must not raise
        return []
