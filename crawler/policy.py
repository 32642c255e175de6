"""The fetch rules, once: what to do next with a response or an error.

Every path that fetches from a monitored site — the page crawl (crawler/spider.py), the link
checks (crawler/linkcheck.py) and the availability probes (sitecheck/probe/) — asks `next_step`
after each answer.  The decision is a plain function over plain values, so the whole rule book
is one table of tests (tests/test_policy.py) with no network:

* a redirect is followed hop by hop (the caller's transport vets each hop's address); a loop,
  an over-long chain or an unusable Location ends the fetch with its own reason;
* a HEAD a server refuses (HEAD_FALLBACK_STATUSES, a reset, a truncated or unreadable answer)
  is asked once more as a GET cut at the headers;
* connection-level failures (refused, reset, truncated) and 502/503/504 are retried
  `retries` times; a timeout never is, so a dead link costs one timeout and never turns into
  a slow success;
* 429 and 503 with a Retry-After within `max_retry_after_s` are retried after that pause (the
  transport also holds the whole host for it: tests/test_politeness.py);
* an anti-bot wall's challenge (crawler/waf.py) ends the fetch as blocked, not broken;
* everything else ends with one Reason.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

from sitecheck.model import Reason, TargetKind

from .classify import reason_for_status
from .waf import recognise, wall_error

MAX_REDIRECTS = 10  # hops followed before a chain is reported as too_many_redirects
# Statuses after which a HEAD is not believed: many government servers refuse or break HEAD,
# so the target is asked again with a GET that stops at the headers.
HEAD_FALLBACK_STATUSES = frozenset({400, 403, 405, 406, 409, 500, 501, 502})
RETRY_STATUSES = frozenset({502, 503, 504})
# Failures of the connection, not of the resource: worth one more try.
RETRY_FAILURES = frozenset({Reason.REFUSED, Reason.RESET, Reason.TRUNCATED})
# Failures after which a HEAD is asked again as a GET (servers that drop or mangle HEAD).
HEAD_FALLBACK_FAILURES = frozenset({Reason.RESET, Reason.TRUNCATED, Reason.ERROR})
_HTML_TYPES = ("text/html", "application/xhtml", "text/plain")

Headers = Mapping[bytes, Sequence[bytes]]  # names lower-cased


@dataclass(frozen=True, slots=True)
class Rules:
    retries: int = 1
    max_redirects: int = MAX_REDIRECTS
    max_retry_after_s: float = 60.0  # a longer Retry-After is not retried after: the fetch ends rate_limited


@dataclass(frozen=True, slots=True)
class Sent:
    """What was asked."""

    url: str  # normalised
    method: str  # "HEAD" or "GET"
    attempt: int = 1  # 1 for the first try of this URL and method
    chain: tuple[str, ...] = ()  # URLs redirected from, in order (the first is where the fetch started)


@dataclass(frozen=True, slots=True)
class Got:
    """What came back: a status and headers, or a failure with no response."""

    status: int | None = None
    headers: Headers | None = None
    failure: Reason | None = None  # no response: timeout, refused, reset, truncated, dns, tls, ...
    detail: str = ""
    body_head: bytes = b""  # the first bytes of the body, when there is one (bot-wall pages)


@dataclass(frozen=True, slots=True)
class Follow:
    url: str  # the next hop, normalised


@dataclass(frozen=True, slots=True)
class Retry:
    after_s: float = 0.0


@dataclass(frozen=True, slots=True)
class AsGet:
    """Ask again with a GET that stops at the headers."""


@dataclass(frozen=True, slots=True)
class Done:
    reason: Reason
    detail: str = ""
    next_url: str | None = None  # where a loop or an over-long chain was going


Step = Follow | Retry | AsGet | Done


def next_step(sent: Sent, got: Got, rules: Rules, normalise: Callable[[str], str | None]) -> Step:
    """The one decision every fetch path makes after each answer."""
    if got.failure is not None:
        if sent.method == "HEAD" and got.failure in HEAD_FALLBACK_FAILURES:
            return AsGet()
        if got.failure in RETRY_FAILURES and sent.attempt <= rules.retries:
            return Retry()
        return Done(got.failure, got.detail)
    status, headers = got.status or 0, got.headers or {}
    location = _first(headers, b"location")
    if 300 <= status < 400 and location:
        return _redirect(sent, location, status, rules, normalise)
    if status >= 400 or status == 202:  # anti-bot walls answer 412, 403, 521, 202 ...: blocked, not broken
        wall = recognise(status, headers, got.body_head)
        if wall is not None:
            return Done(Reason.BLOCKED, wall_error(wall))
    if sent.method == "HEAD" and status in HEAD_FALLBACK_STATUSES:
        return AsGet()
    if status in (429, 503):
        pause = retry_after_s(headers)
        if pause is not None:
            if pause <= rules.max_retry_after_s and sent.attempt <= rules.retries:
                return Retry(pause)
            return Done(reason_for_status(status, headers, got.body_head),
                        f"Retry-After {pause:g} s")
    if status in RETRY_STATUSES and sent.attempt <= rules.retries:
        return Retry()
    return Done(reason_for_status(status, headers, got.body_head))


def resend(sent: Sent, step: Follow | Retry | AsGet, method: str | None = None) -> Sent:
    """What to ask next after a step that is not Done: the next hop (same method unless `method`
    says otherwise), the same request once more, or the same URL as a GET cut at the headers."""
    if isinstance(step, Follow):
        return Sent(step.url, method or sent.method, 1, (*sent.chain, sent.url))
    if isinstance(step, Retry):
        return Sent(sent.url, sent.method, sent.attempt + 1, sent.chain)
    return Sent(sent.url, "GET", 1, sent.chain)


def _redirect(sent: Sent, location: bytes, status: int, rules: Rules, normalise) -> Step:
    try:  # browsers read a raw non-ASCII Location as UTF-8
        text = location.decode("utf-8")
    except UnicodeDecodeError:
        text = location.decode("latin-1")
    try:
        next_url = normalise(urljoin(sent.url, text))
    except ValueError:
        next_url = None
    if next_url is None:
        return Done(Reason.ERROR, f"unusable Location header: {text[:200]!r}")
    hops = (*sent.chain, sent.url)
    if next_url in hops:
        return Done(Reason.REDIRECT_LOOP, f"HTTP {status} back to {next_url}", next_url)
    if len(hops) > rules.max_redirects:
        return Done(Reason.TOO_MANY_REDIRECTS, f"more than {rules.max_redirects} redirects", next_url)
    return Follow(next_url)


def retry_after_s(headers: Headers, now: float | None = None) -> float | None:
    """The pause a Retry-After header asks for, in seconds (delta or HTTP date); None if absent or unreadable."""
    value = _first(headers, b"retry-after")
    if value is None:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def wants_body(kind: TargetKind, headers_only: bool, headers: Headers) -> bool:
    """Whether to read a response's body: only a page fetched for parsing that is HTML (or says
    nothing of its type) and is not a redirect.  A GET standing in for a HEAD, a file linked like a
    page and a redirect stop at the headers, so a 200 MiB attachment costs a few kilobytes."""
    if headers_only or kind != TargetKind.PAGE:
        return False
    if _first(headers, b"location") is not None:
        return True  # a redirect's body is small; the status decides (the spider follows it)
    ctype = (_first(headers, b"content-type") or b"").decode("latin-1").split(";")[0].strip().lower()
    return not ctype or ctype.startswith(_HTML_TYPES)


def _first(headers: Headers, name: bytes) -> bytes | None:
    values = headers.get(name)
    return values[0] if values else None
