"""Links of a page as absolute URLs, from what the page's one reading found (sitecheck.htmltext)."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from sitecheck.htmltext import Reading
from sitecheck.model import Element, Link

_ELEMENT = {"a": Element.A, "area": Element.A, "img": Element.IMG, "iframe": Element.IFRAME,
            "frame": Element.IFRAME, "script": Element.SCRIPT, "link": Element.LINK}
_SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "#", "about:", "file:", "ftp:")
_SKIP_RELS = frozenset({"dns-prefetch", "preconnect", "canonical", "alternate"})


def extract_links(reading: Reading, base_url: str) -> list[Link]:
    """Every link of the page as an absolute URL with its text and element. Never raises."""
    try:
        if reading.base_href is not None:  # the first <base href> in document order
            base_url = urljoin(base_url, reading.base_href)
        parts = urlsplit(base_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        links: list[Link] = []
        for raw in reading.links:
            value = raw.value
            if value.lower().startswith(_SKIP_SCHEMES) or (raw.tag == "link" and raw.rel in _SKIP_RELS):
                continue
            if value.startswith(("http://", "https://")):
                url = value
            elif value[0] == "/" and value[1:2] != "/":
                url = origin + value  # site-absolute: the common case, and 10x cheaper than urljoin
            else:
                try:
                    url = urljoin(base_url, value)
                except ValueError:
                    continue
            links.append(Link(url, raw.text, _ELEMENT[raw.tag], raw.hidden))
        return links
    except Exception:  # noqa: BLE001 - hostile markup must not stop the crawl
        return []
