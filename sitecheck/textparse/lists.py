"""List items on column pages and homepages: a linked title and, usually, a date.

TRS-style lists are `<li><a href="./202611/t20261120_1.html">…</a><span>2026-11-20</span></li>`;
others use table rows.  An item's date is the first date in its text, else the
date its link's URL carries.  Elements that contain another item (menus, layout
tables) are not items themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urljoin

from .dates import date_from_url, parse_date

DEFAULT_ITEM_SELECTOR = "li, tr"
_MAX_CANDIDATES = 3000  # bounds the work on hostile pages


@dataclass(frozen=True, slots=True)
class Item:
    title: str
    url: str
    date: date | None


def _select(root, selector: str) -> list:
    try:
        return root.cssselect(selector)
    except Exception:  # bad selector or odd tree: no items rather than a crash
        return []


def _first_link(el, base_url: str) -> tuple[str, str] | None:
    for a in el.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("javascript:", "#", "mailto:")):
            continue
        try:
            url = urljoin(base_url, href)
        except ValueError:
            continue
        title = (a.get("title") or a.text_content() or "").strip()
        return " ".join(title.split()), url
    return None


def list_items(root, base_url: str = "", item_selector: str = DEFAULT_ITEM_SELECTOR,
               scope_selector: str = "", url_dates: bool = True) -> list[Item]:
    """The linked items under `root` (or under the first `scope_selector` match).

    `url_dates=False` keeps only dates shown in the text: on a homepage, static
    navigation links often carry old dates in their URLs (www.gov.cn's do).
    """
    try:
        if scope_selector:
            scopes = _select(root, scope_selector)
            if not scopes:
                return []
            root = scopes[0]
        candidates = _select(root, item_selector)[:_MAX_CANDIDATES]
        chosen = set(candidates)
        containers = set()
        for el in candidates:
            for parent in el.iterancestors():
                if parent in containers:
                    break
                if parent in chosen:
                    containers.add(parent)
        items = []
        for el in candidates:
            if el in containers:
                continue
            link = _first_link(el, base_url)
            if link is None:
                continue
            title, url = link
            when = parse_date(el.text_content() or "") or (date_from_url(url) if url_dates else None)
            items.append(Item(title, url, when))
        return items
    except Exception:
        return []


def newest(items: list[Item], not_after: date | None = None) -> date | None:
    """The latest item date, ignoring dates after `not_after` (typos, faked dates)."""
    dates = [i.date for i in items if i.date is not None and (not_after is None or i.date <= not_after)]
    return max(dates, default=None)
