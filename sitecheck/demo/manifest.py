"""The faults planted in the demo site, as data.

`content.py` builds pages from these entries (so the site and this list cannot
drift apart) and tests compare what sitecheck finds with them.  Nothing here
touches the network.

Places are written `{"host": <host key>, "path": "/..."}`, or, for article pages
whose URL carries their publication date, `{"host": ..., "article": <key of
ARTICLES>}`; `path_of(entry, today)` turns either into a path.

Host keys are those of config/sites/demo.yaml plus "external" (a host outside
the site, allowed by crawl.allow_networks), "dead" (bound, never listening:
connection refused) and "private" (nothing there, and not in allow_networks:
sitecheck must refuse to request it).
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlsplit

DEFAULT_PORT = 8801
DEFAULT_BASE_IP = "127.0.0.2"

# Each host's address is the base address plus this offset (127.0.0.2 + n).
HOST_OFFSETS = {"portal": 0, "zxqy": 1, "gbk": 2, "qgw": 3, "external": 4, "dead": 5, "private": 7}
SITE_HOSTS = ("portal", "zxqy", "gbk", "qgw")  # the configured hosts, portal first
SERVED_HOSTS = (*SITE_HOSTS, "external")
HOST_EXT = {"gbk": "shtml"}  # the GBK sub-site's CMS publishes .shtml pages

BIG_ATTACHMENT_BYTES = 200 * 1024 * 1024

# Article pages that carry a fault: key -> where it lives and how old it is.
ARTICLES: dict[str, dict] = {
    "portal-attachments": {"host": "portal", "column": "/zcwj/", "id": 523901, "age_days": 2},
    "portal-related-links": {"host": "portal", "column": "/xwdt/", "id": 523902, "age_days": 1},
    "portal-external-links": {"host": "portal", "column": "/xwdt/", "id": 523903, "age_days": 2},
    "portal-wrong-word": {"host": "portal", "column": "/xwdt/", "id": 523904, "age_days": 5},
    "portal-pagination-only": {"host": "portal", "column": "/xwdt/", "id": 523905, "age_days": 50},
    "zxqy-wrong-word": {"host": "zxqy", "column": "/tzgg/", "id": 533901, "age_days": 4},
    "gbk-forbidden-word": {"host": "gbk", "column": "/gzdt/", "id": 543901, "age_days": 8},
    "gbk-pagination-only": {"host": "gbk", "column": "/gzdt/", "id": 543902, "age_days": 63},
}

# Link layer: every target a crawl of the demo must report as failed, and nothing else.
BROKEN: list[dict] = [
    {"host": "portal", "path": "/xxgk/missing.html", "reason": "not_found", "on_homepage": True,
     "kind": "page", "linked_from": {"host": "portal", "path": "/"}},
    {"host": "portal", "path": "/images/missing.png", "reason": "not_found", "on_homepage": True,
     "kind": "image", "linked_from": {"host": "portal", "path": "/"}},
    {"host": "portal", "path": "/fault/error.html", "reason": "server_error", "on_homepage": False,
     "kind": "page", "linked_from": {"host": "portal", "article": "portal-related-links"}},
    {"host": "portal", "path": "/fault/unavailable.html", "reason": "server_error", "on_homepage": False,
     "kind": "page", "linked_from": {"host": "portal", "article": "portal-related-links"}},
    {"host": "portal", "path": "/fault/timeout.html", "reason": "timeout", "on_homepage": False,
     "kind": "page", "linked_from": {"host": "portal", "article": "portal-related-links"}},
    {"host": "portal", "path": "/fault/loop-a", "reason": "redirect_loop", "on_homepage": False,
     "kind": "page", "linked_from": {"host": "portal", "article": "portal-related-links"}},
    {"host": "portal", "path": "/fault/moved", "reason": "not_found", "on_homepage": False,
     "kind": "page", "linked_from": {"host": "portal", "article": "portal-related-links"}},
    {"host": "portal", "path": "/fault/soft404.html", "reason": "soft_404", "on_homepage": False,
     "kind": "page", "linked_from": {"host": "portal", "article": "portal-external-links"}},
    {"host": "portal", "path": "/uploads/missing.pdf", "reason": "not_found", "on_homepage": False,
     "kind": "attachment", "linked_from": {"host": "portal", "article": "portal-attachments"}},
    {"host": "dead", "path": "/index.html", "reason": "refused", "on_homepage": False,
     "kind": "external", "linked_from": {"host": "portal", "article": "portal-external-links"}},
    {"host": "external", "path": "/ext/missing.html", "reason": "not_found", "on_homepage": False,
     "kind": "external", "linked_from": {"host": "portal", "article": "portal-external-links"}},
    {"host": "external", "path": "/ext/error.html", "reason": "server_error", "on_homepage": False,
     "kind": "external", "linked_from": {"host": "portal", "article": "portal-external-links"}},
]

# Targets reached only by following a redirect of a BROKEN entry.  A crawler that records every
# redirect hop as a target of its own also reports these; one that reports the linked URL only does not.
REDIRECT_HOPS: list[dict] = [
    {"host": "portal", "path": "/fault/loop-b", "reason": "redirect_loop", "on_homepage": False, "kind": "page",
     "via": "/fault/loop-a"},
    {"host": "portal", "path": "/fault/gone.html", "reason": "not_found", "on_homepage": False, "kind": "page",
     "via": "/fault/moved"},
]

# Answer, but not as broken: rate limits and bot walls.
THROTTLED: list[dict] = [
    {"host": "portal", "path": "/fault/busy.html", "reason": "rate_limited", "status": 429,
     "linked_from": {"host": "portal", "article": "portal-external-links"}},
    {"host": "portal", "path": "/fault/waf.html", "reason": "blocked", "status": 403,
     "linked_from": {"host": "portal", "article": "portal-external-links"}},
]

# Linked, but sitecheck must not request them.
NOT_CHECKED: list[dict] = [
    {"host": "private", "path": "/internal/admin.html", "reason": "private_address",
     "linked_from": {"host": "portal", "path": "/hdjl/zrxx/detail_1005.html"}},
    {"host": "portal", "path": "/private/secret.html", "reason": "robots",
     "linked_from": {"host": "portal", "path": "/wzdt/index.html"}},
]

# Pages slower than the demo's 1 s threshold (they sleep `slow_seconds`).
SLOW: list[dict] = [
    {"host": "portal", "path": "/slow/report.html", "linked_from": {"host": "portal", "path": "/xxgk/index.html"}},
]

# Downloads fine; a checker must not fetch it whole (stats() shows the bytes sent).
LARGE: list[dict] = [
    {"host": "portal", "path": "/uploads/big.zip", "size": BIG_ATTACHMENT_BYTES,
     "linked_from": {"host": "portal", "article": "portal-attachments"}},
]

# Reachable only by following createPageHTML(...) pagination (no <a> points to them).
PAGINATION_ONLY: list[dict] = [
    {"host": "portal", "path": "/xwdt/index_1.html"},
    {"host": "portal", "path": "/xwdt/index_2.html"},
    {"host": "portal", "path": "/xwdt/index_3.html"},
    {"host": "portal", "article": "portal-pagination-only"},  # listed on index_3.html only
    {"host": "gbk", "path": "/gzdt/index_1.shtml"},
    {"host": "gbk", "path": "/gzdt/index_2.shtml"},
    {"host": "gbk", "article": "gbk-pagination-only"},  # listed on index_2.shtml only
]

# Crawler traps: endless but healthy (200) pages under these prefixes; a crawl must stay bounded.
TRAPS: list[dict] = [
    {"host": "portal", "path": "/calendar/", "kind": "calendar", "linked_from": {"host": "portal", "path": "/"}},
    {"host": "portal", "path": "/news/list.html", "kind": "session_id",
     "linked_from": {"host": "portal", "path": "/"}},
    {"host": "portal", "path": "/deep/", "kind": "deep_path",
     "linked_from": {"host": "portal", "path": "/wzdt/index.html"}},
]

# Government layer: what the government checks must report (codes are theirs).
# Marks are wrong on every page of a host; the homepage is named as one example.
GOV: list[dict] = [
    {"id": "G1-entry-decision", "host": "portal", "path": "/", "kind": "entry.missing",
     "expect": {"entry": "决策公开"}},
    {"id": "G2-no-channel", "host": "qgw", "path": "/", "kind": "interaction.no_channel", "expect": {}},
    {"id": "G2-entry-interaction", "host": "qgw", "path": "/", "kind": "entry.missing",
     "expect": {"entry": "互动交流"}},
    {"id": "G3-unanswered", "host": "portal", "path": "/hdjl/zrxx/index.html", "kind": "interaction.unanswered",
     "expect": {"board": "主任信箱", "message": "msg-1003", "asked_days_ago": 120}},
    {"id": "G3-late-reply", "host": "portal", "path": "/hdjl/zrxx/index.html", "kind": "interaction.late_reply",
     "expect": {"board": "主任信箱", "message": "msg-1007", "asked_days_ago": 200, "reply_days": 100}},
    {"id": "G3b-late-reply-on-message-page", "host": "zxqy", "path": "/hdjl/zxly/index.html",
     "kind": "interaction.late_reply",
     "expect": {"board": "咨询留言", "message": "msg-4004", "asked_days_ago": 180, "reply_days": 120}},
    {"id": "G4-stale-notices", "host": "portal", "path": "/tzgg/index.html", "kind": "column.stale",
     "expect": {"column": "通知公告", "category": "通知公告", "age_days": 200}},
    {"id": "G4-stale-news", "host": "zxqy", "path": "/gzdt/index.html", "kind": "column.stale",
     "expect": {"column": "工作动态", "category": "动态要闻", "age_days": 30}},
    {"id": "G4-blank", "host": "zxqy", "path": "/zcjd/index.html", "kind": "column.blank",
     "expect": {"column": "政策解读"}},
    {"id": "G5-homepage-stale", "host": "gbk", "path": "/", "kind": "homepage.stale",
     "expect": {"age_days": 20}},
    {"id": "G6-jiucuo-host", "host": "gbk", "path": "/", "kind": "mark.jiucuo_outdated_host",
     "expect": {"jiucuo_host": "121.43.68.40", "scope": "every page"}},
    {"id": "G6-no-beian", "host": "zxqy", "path": "/", "kind": "mark.missing",
     "expect": {"mark": "beian", "scope": "every page"}},
    {"id": "G6-code-mismatch", "host": "qgw", "path": "/", "kind": "mark.site_code_mismatch",
     "expect": {"footer": "6200000034", "meta": "6200000034", "jiucuo": "6200000099", "scope": "every page"}},
    {"id": "G7-wrong-portal", "host": "portal", "article": "portal-wrong-word", "kind": "words.wrong",
     "expect": {"wrong": "中华人民共合国", "right": "中华人民共和国"}},
    {"id": "G7-wrong-zxqy", "host": "zxqy", "article": "zxqy-wrong-word", "kind": "words.wrong",
     "expect": {"wrong": "甘肃省工业和信息化局", "right": "甘肃省工业和信息化厅"}},
    {"id": "G7-forbidden-gbk", "host": "gbk", "article": "gbk-forbidden-word", "kind": "words.forbidden",
     "expect": {"word": "网络赌博平台"}},
    {"id": "G7-hidden-link", "host": "qgw", "path": "/", "kind": "link.hidden",
     "expect": {"target": {"host": "external", "path": "/casino.html"}, "text": "娱乐城"}},
    {"id": "G8-guide-incomplete", "host": "portal", "path": "/bsfw/bszn/guide-001.html", "kind": "guide.incomplete",
     "expect": {"missing": ["办理地点", "联系电话"]}},
]

# Look suspicious but are fine: a checker that reports these is wrong.
QUIET: list[dict] = [
    {"host": "portal", "path": "/ztzl/tpgj/index.html", "kind": "column.stale",
     "why": "finished topic, no_update_expected: true"},
    {"host": "portal", "path": "/bsfw/bszn/guide-002.html", "kind": "guide.incomplete", "why": "complete guide"},
    {"host": "portal", "path": "/uploads/big.zip", "kind": "link.broken", "why": "200 MiB, downloads fine"},
    {"host": "external", "path": "/ext/ok.html", "kind": "link.broken", "why": "external page that works"},
]

# Message board of the portal (G3): id -> (asked days ago, days to reply or None = unanswered).
PORTAL_BOARD: dict[str, tuple[int, int | None]] = {
    "msg-1001": (3, 1), "msg-1002": (21, 4), "msg-1003": (120, None), "msg-1004": (45, 6),
    "msg-1005": (70, 3), "msg-1006": (150, 9), "msg-1007": (200, 100), "msg-1008": (240, 5),
    "msg-1009": (290, 2), "msg-1010": (335, 7),
}


# The board whose list pages show only 留言时间 and 状态 (G3b); the reply date is on each message's page.
# msg-4004 was answered 120 days after it was asked: a late reply found only on its own page.
STATUS_BOARD_DIR = "hdjl/zxly/"
STATUS_BOARD: dict[str, tuple[int, int | None]] = {
    "msg-4001": (6, 2), "msg-4002": (40, 5), "msg-4003": (75, None), "msg-4004": (180, 120),
    "msg-4005": (250, 8),
}


def article_path(column: str, article_id: int, published: date, ext: str = "html") -> str:
    """TRS WCM article URL: the column folder, the month, then t<date>_<id>."""
    return f"{column}{published:%Y%m}/t{published:%Y%m%d}_{article_id}.{ext}"


def path_of(place: dict, today: date) -> str:
    """The path of a `{"host", "path"}` or `{"host", "article"}` place."""
    if "path" in place:
        return place["path"]
    art = ARTICLES[place["article"]]
    return article_path(art["column"], art["id"], today - timedelta(days=art["age_days"]),
                        HOST_EXT.get(art["host"], "html"))


def host_url(urls: dict[str, str], host: str) -> str:
    """Base URL (ending in /) of a host key; "private" is derived from the portal's address."""
    if host in urls:
        return urls[host]
    parts = urlsplit(urls["portal"])
    last = int(parts.hostname.rsplit(".", 1)[1]) + HOST_OFFSETS[host]
    return f"http://{parts.hostname.rsplit('.', 1)[0]}.{last}:{parts.port}/"


def url_of(urls: dict[str, str], place: dict, today: date) -> str:
    return host_url(urls, place["host"]) + path_of(place, today).lstrip("/")


def expected_broken(urls: dict[str, str], redirect_hops: bool = False) -> set[tuple[str, str, bool]]:
    """(absolute URL, reason, on_homepage) of every target that must be reported failed.

    `redirect_hops=True` adds REDIRECT_HOPS, for a crawler that reports redirect targets too.
    """
    entries = BROKEN + (REDIRECT_HOPS if redirect_hops else [])
    return {(host_url(urls, b["host"]) + b["path"].lstrip("/"), b["reason"], b["on_homepage"]) for b in entries}


def resolve(entries: list[dict], urls: dict[str, str], today: date) -> list[dict]:
    """Copies of manifest entries with absolute `url` (and `linked_from_url`) filled in."""
    out = []
    for entry in entries:
        e = dict(entry, url=url_of(urls, entry, today))
        if "linked_from" in entry:
            e["linked_from_url"] = url_of(urls, entry["linked_from"], today)
        out.append(e)
    return out
