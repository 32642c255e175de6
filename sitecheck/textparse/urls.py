"""Comparing page URLs from the site file with crawled ones.

A column configured as `http://h/xxgk/tzgg/` is crawled as `.../tzgg/index.html`
and its later list pages as `index_1.html`, `index_2.html` (TRS createPageHTML)
or `?page=2`; these helpers say when a crawled URL is that page or one of them.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

_INDEX = re.compile(r"(?:index|default)\.(?:s?html?|jsp|php|aspx?)$", re.I)
_PAGE_PARAMS = frozenset({"page", "p", "pageno", "pagenum", "pageindex", "currentpage", "curpage", "pn"})


def normalise(url: str) -> str:
    """scheme://host/path?query, host lower-cased, default ports and index files dropped."""
    try:
        parts = urlsplit((url or "").strip())
        host = (parts.hostname or "").lower()
        port = parts.port
        if port and not ((parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)):
            host = f"{host}:{port}"
        path = _INDEX.sub("", parts.path or "/") or "/"
        query = f"?{parts.query}" if parts.query else ""
        return f"{host}{path}{query}"  # scheme ignored: http and https serve the same page
    except ValueError:
        return url or ""


def _stem_ext(path: str) -> tuple[str, str, str]:
    head, _, name = path.rpartition("/")
    if not name:
        return head, "index", ""
    stem, dot, ext = name.rpartition(".")
    return (head, stem, ext) if dot else (head, name, "")


def is_list_page(list_url: str, url: str) -> bool:
    """`url` is `list_url` itself or one of its pagination pages (index_N.ext, ?page=N)."""
    try:
        if normalise(list_url) == normalise(url):
            return True
        a, b = urlsplit(list_url), urlsplit(url)
        if (a.hostname or "").lower() != (b.hostname or "").lower():
            return False
        if a.path == b.path or normalise(f"//x{a.path}") == normalise(f"//x{b.path}"):
            qa = [(k, v) for k, v in parse_qsl(a.query) if k.lower() not in _PAGE_PARAMS]
            qb = [(k, v) for k, v in parse_qsl(b.query) if k.lower() not in _PAGE_PARAMS]
            return qa == qb and any(k.lower() in _PAGE_PARAMS for k, _ in parse_qsl(b.query))
        head_a, stem_a, ext_a = _stem_ext(a.path)
        head_b, stem_b, ext_b = _stem_ext(b.path)
        return (head_a == head_b and re.fullmatch(re.escape(stem_a) + r"_\d{1,5}", stem_b) is not None
                and (not ext_a or ext_a == ext_b))
    except (ValueError, TypeError):
        return False
