"""The Gansu provincial government-site platform (gxt, jyt, fzgg, gdj ... .gansu.gov.cn).

What the profile knows, each rule with its evidence in ../shared/domain/gansu-platform.md:

* A column's `.shtml` page names its channel in `<meta name="channelId" content="<32 hex>">`; the
  list a visitor sees is drawn by script from the list service
  `/common/search/<channelId>?sort=&_isAgg=false&_isJson=false&_pageSize=20&_template=index&_channelName=&page=N`
  (§4, source J): an HTML fragment `ul#body > li` with the title in `div.title > a` and the date in
  `div.date`; with `_isJson=true` the same list is JSON (`data.results[]` with `title`, `url`,
  `publishedTimeStr`; `data.total`, `data.rows`; source G).
* The raw page may keep a stale server-side copy of the items inside an HTML comment (jyt, P1):
  it is not the list and is never read (lxml drops comments; `stale_items` shows what is there).
* An article shows `日期：YYYY-MM-DD HH:MM 来源：…`; its `PubDate` meta is the page-generation
  time, not the publication date (fzgg, P2).
* Attachment hrefs are relative to the article (`<id>/files/<hex>.pdf`).
* The footer writes 找错 as `<script id="_jiucuo_" sitecode=…>` and the conac badge through
  `document.write(unescape(…))`; stale copied footers sit in comments (fzgg holds an Anhui
  site's jiucuo link there), so footer marks are read with comments removed.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from urllib.parse import urljoin, urlsplit

from sitecheck.model import Page
from sitecheck.textparse import marks
from sitecheck.textparse.dates import parse_date, parse_datetime, publication_time
from sitecheck.textparse.lists import Item

NAME = "gansu-jiyuehua"
PAGE_SIZE = 20  # what the platform's own pages ask for (hidden #pageSize)
SERVICE_PREFIX = "/common/search/"

_CHANNEL_ID = re.compile(r"[0-9a-f]{32}")
_SERVICE_PATH = re.compile(r"^/common/search/([0-9a-f]{32})/?$")
_ARTICLE_PATH = re.compile(r"/\d{6}/\d+\.s?html?$")  # /<site>/<code>/<YYYYMM>/<id>.shtml
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_ATTACHMENT = re.compile(r"\.(?:pdf|docx?|xlsx?|wps|et|zip|rar|ofd)$", re.I)
_CONAC_PATH = re.compile(r"dcs\.conac\.cn/js/\d+/\d+/\d+/(\d+)/", re.I)
_MAX_ITEMS = 500


def list_url(base_url: str, channel_id: str, page: int = 1, *, as_json: bool = False) -> str:
    """The list-service URL of one page of a channel's items, on the host of `base_url`."""
    query = (f"sort=&_isAgg=false&_isJson={'true' if as_json else 'false'}&_pageSize={PAGE_SIZE}"
             f"&_template=index&_channelName=&page={page}")
    return urljoin(base_url, f"{SERVICE_PREFIX}{channel_id}?{query}")


def service_channel(url: str) -> str | None:
    """The channel a list-service URL answers for, or None when `url` is not the list service."""
    try:
        m = _SERVICE_PATH.match(urlsplit(url).path)
    except ValueError:
        return None
    return m.group(1) if m else None


def is_article(page: Page) -> bool:
    return "ArticleTitle" in page.meta or bool(_ARTICLE_PATH.search(urlsplit(page.final_url or page.url).path))


def column_channel(page: Page) -> str | None:
    """The channel a column (list) page shows, from its channelId meta; None for other pages."""
    if page.is_homepage or service_channel(page.url) or is_article(page):
        return None
    value = page.meta.get("channelId", "").strip().lower()
    return value if _CHANNEL_ID.fullmatch(value) else None


def extra_urls(page: Page) -> list[str]:
    """List-service URLs the crawl must fetch for this page: page 1 of a column's channel.

    The newest items are on page 1 (the service lists newest first), which is all the freshness
    and blank-column checks need; later pages would cost one request each for nothing.
    """
    channel = column_channel(page)
    return [list_url(page.final_url or page.url, channel)] if channel else []


def service_items(page: Page) -> list[Item] | None:
    """The items of a list-service answer (HTML fragment or JSON); None when it is not a readable list.

    An empty list is a readable answer with no items (a blank column); None means the service
    answered something else (an error page, a challenge, broken JSON): the column is unknown.
    """
    text = page.html.lstrip()
    if text.startswith("{"):
        parsed = json_items(text, page.final_url or page.url)
        return None if parsed is None else parsed[0]
    try:
        lists = page.tree.cssselect("ul#body")
    except Exception:  # noqa: BLE001 - a hostile fragment is an unreadable answer
        return None
    if not lists:
        return None
    items: list[Item] = []
    base = page.final_url or page.url
    for li in lists[0].cssselect("li")[:_MAX_ITEMS]:
        anchors = li.cssselect("div.title a") or li.cssselect("a")
        if not anchors:
            continue
        a = anchors[0]
        href = (a.get("href") or "").strip()
        title = " ".join((a.get("title") or a.text_content() or "").split())
        dates = li.cssselect("div.date")
        when = parse_date(dates[0].text_content()) if dates else parse_date(li.text_content())
        items.append(Item(title, urljoin(base, href) if href else "", when))
    return items


def json_items(text: str, base_url: str) -> tuple[list[Item], int | None, int | None] | None:
    """(items, data.total, data.rows) of a `_isJson=true` answer, or None when it is not that JSON."""
    try:
        data = json.loads(text)["data"]
        results = data["results"]
        if not isinstance(results, list):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    items = []
    for row in results[:_MAX_ITEMS]:
        if not isinstance(row, dict):
            continue
        when = parse_datetime(str(row.get("publishedTimeStr") or ""))
        items.append(Item(" ".join(str(row.get("title") or "").split()),
                          urljoin(base_url, str(row.get("url") or "")), when.date() if when else None))
    total, rows = data.get("total"), data.get("rows")
    return items, total if isinstance(total, int) else None, rows if isinstance(rows, int) else None


def stale_items(html: str, base_url: str) -> list[Item]:
    """Items kept inside HTML comments of a raw column page: what a comment-blind reader would
    wrongly take for the list.  Never used for freshness; reported by `sitecheck discover`."""
    import lxml.html

    from sitecheck.textparse.lists import list_items

    found: list[Item] = []
    for comment in _COMMENT.findall(html):
        if "<li" not in comment:
            continue
        try:
            tree = lxml.html.fragment_fromstring(comment[4:-3], create_parent="div")
        except Exception:  # noqa: BLE001
            continue
        found.extend(list_items(tree, base_url, "li"))
    return found


def article_time(page: Page) -> datetime | None:
    """An article's publication time from its visible `日期：` line (never the PubDate meta)."""
    return publication_time(page.visible_text)


def article_date(page: Page) -> date | None:
    when = article_time(page)
    return when.date() if when else None


def attachment_urls(page: Page) -> list[str]:
    """Attachment links of an article, resolved against the article's own URL (they are relative)."""
    base = page.final_url or page.url
    out: list[str] = []
    for a in page.tree.iter("a"):
        href = (a.get("href") or "").strip()
        if href and _ATTACHMENT.search(urlsplit(href).path):
            url = urljoin(base, href)
            if url not in out:
                out.append(url)
    return out


def without_comments(html: str) -> str:
    return _COMMENT.sub(" ", html)


def footer_marks(html: str) -> dict[str, str | None]:
    """Footer identity marks from the live markup (comments removed, script-written text included)."""
    live = without_comments(html)
    text = marks.footer_text(live)
    jiucuo = [j for j in marks.jiucuo(live) if j.site_code]
    badge = marks.conac(live)
    conac_path = _CONAC_PATH.search(live)
    return {
        "site_code": marks.site_code(text),
        "jiucuo_site_code": jiucuo[0].site_code if jiucuo else None,
        "icp": marks.icp(text),
        "beian": marks.beian_label(text),
        "conac": (badge.id or (conac_path.group(1) if conac_path else "script")) if badge else None,
    }


def column_info(page: Page) -> dict[str, str] | None:
    """Name, code and channel of a column page, from its metas; None for other pages."""
    channel = column_channel(page)
    if channel is None:
        return None
    name = page.meta.get("ColumnName", "") or page.title.split(" - ")[0].strip()
    return {"name": name, "url": page.final_url or page.url, "channel_id": channel,
            "code": page.meta.get("code", "")}
