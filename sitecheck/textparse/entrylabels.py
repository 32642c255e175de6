"""What a visitor reads as a link's name, beyond its anchor text.

Homepage sections are often a heading with a "more" link that is only an
image (`<h3>市长信箱</h3><a href="/szxx/"><img src="more.gif"></a>`), or a
heading anchor without href next to the real link.  The visitor sees 市长信箱;
the anchor text is empty.  So each link's label is its text, title, image
alt/title and image file name, and, when those say nothing, the text of the
small block around it (the section heading).
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

_MORE = re.compile(r"^[\s>»›》+＋.…]*(?:更多|查看更多|more|详细)?[\s>»›》+＋.…]*$", re.I)
_SKIP = ("javascript:", "#", "mailto:", "tel:")
_MAX_BLOCK_TEXT = 30  # a section heading, not a whole column of items
_MAX_LEVELS = 3
_MAX_ANCHORS = 5000


def _url(a, base_url: str) -> str:
    href = (a.get("href") or "").strip()
    if not href or href.lower().startswith(_SKIP):
        return ""
    try:
        return urljoin(base_url, href)
    except ValueError:
        return ""


def _own_label(a) -> str:
    parts = [" ".join((a.text_content() or "").split()), a.get("title") or ""]
    for img in a.iter("img"):
        src = (img.get("src") or "").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        parts += [img.get("alt") or "", img.get("title") or "", src]
    return " ".join(p.strip() for p in parts if p and p.strip())


def _block(a):
    """The nearest ancestor with a short visible text of its own (the section heading's block): at most
    a heading and its link, not a list of items."""
    el = a
    for _ in range(_MAX_LEVELS):
        el = el.getparent()
        if el is None or sum(1 for _ in zip(range(3), el.iter("a"))) > 2:
            return None
        text = " ".join((el.text_content() or "").split())
        if len(text) > _MAX_BLOCK_TEXT:
            return None
        if text and not _MORE.match(text):
            return el
    return None


def link_labels(tree, base_url: str) -> list[tuple[str, str]]:
    """(URL, label) of every link a visitor can name; URL "" for a named heading with no link. Never raises."""
    out: list[tuple[str, str]] = []
    try:
        for n, a in enumerate(tree.iter("a")):
            if n >= _MAX_ANCHORS:
                break
            url, label = _url(a, base_url), _own_label(a)
            text = " ".join((a.text_content() or "").split())
            if url and text and not _MORE.match(text):
                out.append((url, label))
                continue
            block = _block(a)
            if block is not None:
                heading = " ".join((block.text_content() or "").split())
                label = f"{label} {heading}".strip()
                if not url:
                    url = next((u for u in (_url(x, base_url) for x in block.iter("a")) if u), "")
            if label:
                out.append((url, label))
    except Exception:  # noqa: BLE001 - hostile markup must not stop a check
        pass
    return out
