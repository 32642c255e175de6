"""Turn an HTTP status or a download failure into one Reason: "broken" alone is never enough."""

from __future__ import annotations

import re
import socket

from sitecheck.model import Reason

MAX_REDIRECTS = 10  # hops followed before a chain is reported as too_many_redirects
# Statuses after which a HEAD is not believed: many government servers refuse or break HEAD,
# so the target is asked again with a GET that stops at the headers.
HEAD_FALLBACK_STATUSES = frozenset({400, 403, 405, 406, 409, 500, 501, 502})
# Sent with every request, by Scrapy (DEFAULT_REQUEST_HEADERS) and by the record process.
REQUEST_HEADERS = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "zh-CN,zh;q=0.9"}

_BOT_WALL_HEADERS = (b"cf-mitigated", b"x-waf", b"x-ws-request-id")
_BOT_WALL_TEXT = re.compile(r"访问被拦截|安全拦截|WAF|防火墙|访问受限|captcha|验证码", re.I)

DEFAULT_SOFT404_PATTERNS = (
    r"页面不存在", r"页面未找到", r"找不到(您|你)?(要)?访问的页面", r"您访问的页面不存在", r"该页面已删除",
    r"信息不存在", r"\b404\b.{0,20}(not\s*found|错误|页面)", r"page\s+not\s+found",
)


def reason_for_status(status: int, headers: dict[bytes, list[bytes]] | None = None, body_head: str = "") -> Reason:
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
    return bool(_BOT_WALL_TEXT.search(body_head[:4000]))


# Scrapy >= 2.14 raises its own exception per download failure; older names are matched by text below.
_BY_CLASS = {
    "DownloadConnectionRefusedError": Reason.REFUSED,
    "CannotResolveHostError": Reason.DNS,
    "ResolutionError": Reason.DNS,  # sitecheck.netguard could not resolve an untrusted link's host
    "DownloadTimeoutError": Reason.TIMEOUT,
    "DownloadCancelledError": Reason.TOO_LARGE,  # raised when a body passes DOWNLOAD_MAXSIZE
    "ResponseDataLossError": Reason.RESET,  # the server closed before sending the announced body
}


def reason_for_failure(failure_or_exc) -> tuple[Reason, str]:
    """(reason, error class name) for a Twisted failure or exception raised while downloading."""
    exc = getattr(failure_or_exc, "value", failure_or_exc)
    name = type(exc).__name__
    if name in _BY_CLASS:
        return _BY_CLASS[name], f"{name}: {exc}" if str(exc) else name
    text = f"{name}: {exc}"
    # ResponseNeverReceived / ResponseFailed wrap a list of the real failures.
    inner = getattr(exc, "reasons", None)
    if inner:
        names = " ".join(f"{type(getattr(r, 'value', r)).__name__}: {getattr(r, 'value', r)}" for r in inner)
        text = f"{name}: {names}"
    low = text.lower()
    if "refused" in low:
        return Reason.REFUSED, text
    if "dnslookup" in low or "no address associated" in low or "name or service not known" in low:
        return Reason.DNS, text
    if "ssl" in low or "tls" in low or "certificate" in low:
        return Reason.TLS, text
    if "timeout" in low or "timed out" in low or "took longer than" in low:
        return Reason.TIMEOUT, text
    if "maxsize" in low or "max size" in low or "larger than" in low or "exceeded" in low:
        return Reason.TOO_LARGE, text
    if "ignorerequest" in low and "robots" in low:
        return Reason.ROBOTS, text
    if any(w in low for w in ("connectionlost", "connectiondone", "reset", "responsefailed", "dataloss",
                              "responseneverreceived", "connection was closed", "potentialdataloss")):
        return Reason.RESET, text
    return Reason.ERROR, text


def soft404_matcher(patterns: tuple[str, ...] | list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I)


def is_soft404(matcher: re.Pattern[str], title: str, visible_text: str) -> bool:
    """A 200 page that says it does not exist: the title says so, or a short body does.

    Long pages are not judged by their body: a news article may well quote "页面不存在".
    """
    if matcher.search(title or ""):
        return True
    return len(visible_text) < 1500 and bool(matcher.search(visible_text))


def reason_for_client_error(exc: BaseException) -> tuple[Reason, str]:
    """(reason, error text) for an exception of the HTTP clients: libcurl's (crawler/curl.py, the
    link checker) or aiohttp's (crawler/download.py, the pages)."""
    import asyncio
    import ssl

    name = type(exc).__name__
    text = f"{name}: {exc}" if str(exc) else name
    if name in _BY_CLASS:  # sitecheck.netguard.ResolutionError
        return _BY_CLASS[name], text
    if name == "CurlError":  # crawler/curl.py; not imported here: only the record process loads libcurl
        reason = exc.reason
        return reason, (f"timed out: {text}" if reason == Reason.TIMEOUT else text)
    # Only now: the record process never loads aiohttp otherwise (0.14-0.17 s of CPU, once per run,
    # at the first dead link).
    import aiohttp
    os_error = getattr(exc, "os_error", None)
    if isinstance(exc, aiohttp.ClientConnectorDNSError) or isinstance(os_error, socket.gaierror):
        return Reason.DNS, text
    if isinstance(exc, (aiohttp.ClientSSLError, ssl.SSLError)) or isinstance(os_error, ssl.SSLError):
        return Reason.TLS, text
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return Reason.TIMEOUT, f"timed out: {text}"
    if isinstance(exc, ConnectionRefusedError) or isinstance(os_error, ConnectionRefusedError):
        return Reason.REFUSED, text
    if isinstance(exc, aiohttp.ClientConnectorError) and "refused" in text.lower():
        return Reason.REFUSED, text
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, ConnectionResetError,
                        aiohttp.ClientConnectionResetError)) or isinstance(os_error, ConnectionResetError):
        return Reason.RESET, text
    if isinstance(exc, aiohttp.ClientOSError) and getattr(exc, "errno", None) in (104, 32):  # reset, broken pipe
        return Reason.RESET, text
    return Reason.ERROR, text
