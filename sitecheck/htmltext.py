"""An HTML document read as a browser reads it: what a reader of the page sees, and the links it follows.

Two parsers, each for what it does best.  Every page is read once by lexbor (selectolax), a parser
of the WHATWG HTML standard as browsers implement it: its title, headings, visible text and links
(`read_markup`).  That is all the crawl and most checks need, at about half the CPU of lxml
doing the same (docs/performance.md).  The few checks that look at a page's structure (column
lists, message boards, forms, the platform's list service) ask for an lxml tree (`parse_document`)
for XPath and CSS selectors; it is built only for those pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import html as lxml_html
from selectolax.lexbor import LexborHTMLParser

# libxml2 drops everything after the first `</html>`; a browser ignores that end tag and keeps
# reading into the body.  CMS templates that glue a header include (with its own `</html>`) onto
# the page leave one early, so every `</html>` is removed before parsing: the parser closes the
# document at the end of the text anyway.
_HTML_END = re.compile(r"</html\s*>", re.I)
_PARSER: lxml_html.HTMLParser | None = None


def parse_document(text: str):
    """The lxml tree of a page's markup, the whole document however its templates closed it.

    Never raises: markup lxml rejects outright gives an empty document.
    """
    global _PARSER
    if _PARSER is None:
        _PARSER = lxml_html.HTMLParser(encoding="utf-8", huge_tree=False)
    if not text.strip():
        text = "<html></html>"
    elif "</" in text:
        text = _HTML_END.sub("", text)
    try:
        return lxml_html.document_fromstring(text.encode("utf-8", "replace"), parser=_PARSER)
    except Exception:  # noqa: BLE001 - lxml rejects some hostile documents outright
        return lxml_html.document_fromstring(b"<html></html>")


# Elements whose text a reader never sees.  `title` includes SVG's (a tooltip); the page title is
# read on its own.
_INVISIBLE_TAGS = ["script", "style", "noscript", "template", "head", "title"]
# The elements links are read from, with the attribute of each; one selector pass in document order.
LINK_SELECTOR = "a[href],area[href],img[src],iframe[src],frame[src],script[src],link[href]"
SRC_TAGS = frozenset({"img", "iframe", "frame", "script"})
# Anchors inside an element hidden by inline style or by the `hidden` attribute: the usual shape
# of 暗链 (hidden spam links), which the words check reports from this flag.  CSS allows whitespace
# around the colon and any case; character references are decoded in attribute values.  Spam
# injections also move their block far off screen.
HIDING_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|(?:left|top)\s*:\s*-\d{3,}", re.I)
_ASCII_SPACE = re.compile(r"[ \t\n\r\f\v]+")
MAX_LINKS = 20_000  # per page: a page with 100,000 links is a trap, not a site map


def style_hides(style: str | None) -> bool:
    """Whether an inline style attribute hides its element."""
    return bool(style) and HIDING_STYLE.search(style) is not None


@dataclass(slots=True)
class RawLink:
    """A link as written in the page: its element, the attribute value, the text a reader sees for it."""

    tag: str  # a, area, img, iframe, frame, script, link
    value: str  # href or src, as written (whitespace stripped), character references decoded
    text: str  # anchors: title or text; images: alt or title; whitespace folded
    hidden: bool = False  # inside (or being) an element that hides it
    rel: str = ""  # <link rel>, lower case


@dataclass(slots=True)
class Reading:
    """What a reader of a page sees and can follow, read once per page (`read_markup`)."""

    title: str = ""  # the first <title>, ASCII whitespace folded, U+3000 kept, at most 300 characters
    headings: str = ""  # the text of the <h1> and <h2> elements, at most 500 characters
    text: str = ""  # the visible text, whitespace folded
    base_href: str | None = None  # the first <base href>
    links: list[RawLink] = field(default_factory=list)
    # <meta name content> wherever the parser puts it (never from comments or scripts): names as
    # written, the first of a name wins, content stripped
    meta: dict[str, str] = field(default_factory=dict)


def read_markup(html: str) -> Reading:
    """Read a page's markup as a browser does.  Never raises: unreadable markup reads as empty."""
    try:
        return _read(LexborHTMLParser(html))
    except Exception:  # noqa: BLE001 - hostile markup must not stop the crawl
        return Reading()


def _read(doc: LexborHTMLParser) -> Reading:
    # Elements by tag name: lexbor's own index, without a selector to compile (3x cheaper than css()).
    titles = doc.tags("title")
    title = _ASCII_SPACE.sub(" ", titles[0].text(deep=True)).strip(" ")[:300] if titles else ""
    headings = " ".join(h.text(deep=True, separator=" ") for h in doc.tags("h1") + doc.tags("h2"))[:500]
    base_href = next((href.strip() for base in doc.tags("base") if (href := base.attrs.get("href")) is not None),
                     None)
    links = _links(doc)
    meta: dict[str, str] = {}
    for tag in doc.tags("meta"):
        attrs = tag.attributes
        name, content = attrs.get("name"), attrs.get("content")
        if name and content is not None and name not in meta:
            meta[name] = content.strip()
    doc.strip_tags(_INVISIBLE_TAGS)  # last: the links, the title and the meta tags are read from the whole document
    root = doc.root
    text = " ".join(root.text(deep=True, separator=" ").split()) if root is not None else ""
    return Reading(title, headings, text, base_href, links, meta)


def _links(doc: LexborHTMLParser) -> list[RawLink]:
    hidden = _hidden_anchors(doc)
    links: list[RawLink] = []
    for el in doc.css(LINK_SELECTOR):
        tag = el.tag
        attrs = el.attributes  # one dict: cheaper than two or three lookups through el.attrs
        value = (attrs.get("src" if tag in SRC_TAGS else "href") or "").strip()
        if not value:
            continue
        if tag == "a" or tag == "area":
            text = attrs.get("title") or el.text(deep=True)
        elif tag == "img":
            text = attrs.get("alt") or attrs.get("title") or ""
        else:
            text = ""
        if text:
            text = " ".join(text.split())[:200]
        links.append(RawLink(tag, value, text, hidden is not None and el in hidden,
                             (attrs.get("rel") or "").lower() if tag == "link" else ""))
        if len(links) >= MAX_LINKS:
            break
    return links


def _hidden_anchors(doc: LexborHTMLParser) -> set | None:
    """The <a href> elements inside (or being) an element its style or its `hidden` attribute hides."""
    roots = [el for el in doc.css("[hidden],[style]")  # one pass over the tree for both
             if "hidden" in (attrs := el.attributes) or style_hides(attrs.get("style"))]
    if not roots:
        return None
    return {a for el in roots for a in el.css("a[href]")}  # lexbor's css() matches the element itself too
