"""JavaScript-only pagination of government CMSs, turned back into URLs.

TRS WCM writes `createPageHTML(total, current, "index", "html")`, meaning pages
index.html, index_1.html ... index_{total-1}.html exist although no <a> points
to them.  Variants seen in the wild (indicators.md §4):
  createPageHTML('page_div', 5, 1, 'fg', 'shtml', 89)   container id first
  pageControl(4, 2, "index", "shtml", 10, 'pages-nav')  Hubei
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


def pagination_urls(html: str, base_url: str) -> list[str]:
    """Absolute URLs of the other pages of a paginated list. Never raises."""
    try:
        # Every match starts with one of the two names, so the regex (which, with its leading \b
        # and alternation, tries every position: ~130 us on a 16 KB page) starts at the first of
        # them, and a page with neither, as most are, costs two find()s (~5 us).
        starts = [i for i in (html.find("createPageHTML"), html.find("pageControl")) if i >= 0]
        if not starts:
            return []
        urls: list[str] = []
        seen: set[str] = set()
        for m in _CALL.finditer(html, min(starts)):  # \b still sees the character before
            plan = _plan(_args(m.group(2)))
            if not plan:
                continue
            total, name, ext = plan
            for i in range(total):
                page = f"{name}.{ext}" if i == 0 else f"{name}_{i}.{ext}"
                url = urljoin(base_url, page)
                if url not in seen:
                    seen.add(url)
                    urls.append(url)
        return urls
    except Exception:  # noqa: BLE001 - a parser of hostile text must not raise
        return []
