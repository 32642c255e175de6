"""Turn an HTTP status into one Reason (\"broken\" alone is never enough), and tell a soft-404 page.

Failures without a response get theirs from the transport (crawler/curl.py, crawler/transport.py)."""

from __future__ import annotations

import re

from sitecheck.model import Reason

# Sent with every request (crawler/transport.py).
REQUEST_HEADERS = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "zh-CN,zh;q=0.9"}

_BOT_WALL_HEADERS = (b"cf-mitigated", b"x-waf", b"x-ws-request-id")
_BOT_WALL_TEXT = re.compile(r"访问被拦截|安全拦截|WAF|防火墙|访问受限|captcha|验证码", re.I)

DEFAULT_SOFT404_PATTERNS = (
    r"页面不存在", r"页面未找到", r"找不到(您|你)?(要)?访问的页面", r"您访问的页面不存在", r"该页面已删除",
    r"信息不存在", r"\b404\b.{0,20}(not\s*found|错误|页面)", r"page\s+not\s+found",
)


def reason_for_status(status: int, headers: dict[bytes, list[bytes]] | None = None,
                      body_head: str | bytes = "") -> Reason:
    if status < 400:
        return Reason.OK
    if status in (404, 410):
        return Reason.NOT_FOUND
    if status == 429:
        return Reason.RATE_LIMITED
    if status == 403 and _looks_like_bot_wall(headers or {}, body_head):
        return Reason.BLOCKED
    if status >= 500:
        return Reason.SERVER_ERROR
    return Reason.HTTP_STATUS


def _looks_like_bot_wall(headers, body_head: str) -> bool:
    """headers: Scrapy Headers or a plain {name: [values]} mapping."""
    names = {k.lower() for k in headers}
    if any(h in names for h in _BOT_WALL_HEADERS):
        return True
    getlist = getattr(headers, "getlist", None)
    values = getlist(b"Server") if getlist else headers.get(b"Server", []) + headers.get(b"server", [])
    server = b" ".join(values).lower()
    if b"waf" in server or b"cloudflare" in server:
        return True
    if isinstance(body_head, bytes):
        body_head = body_head[:4000].decode("utf-8", "replace")
    return bool(_BOT_WALL_TEXT.search(body_head[:4000]))


def soft404_matcher(patterns: tuple[str, ...] | list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I)


def is_soft404(matcher: re.Pattern[str], title: str, visible_text: str) -> bool:
    """A 200 page that says it does not exist: the title says so, or a short body does.

    Long pages are not judged by their body: a news article may well quote "页面不存在".
    """
    if matcher.search(title or ""):
        return True
    return len(visible_text) < 1500 and bool(matcher.search(visible_text))
