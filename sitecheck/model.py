"""The shared vocabulary: plain data types every part of sitecheck imports.

Data flows one way: config -> crawl -> Page / Target -> checks -> Finding / Fact
-> store -> (metrics, reports, scores).  Nothing here imports Scrapy, SQLite or
the network, so checks and their tests can build these objects by hand.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any


class Severity(enum.IntEnum):
    """How bad a finding is; `--fail-on` compares against these."""

    INFO = 10
    WARNING = 20
    ERROR = 30
    CRITICAL = 40  # evidence for a veto item (单项否决)

    @classmethod
    def parse(cls, name: str) -> "Severity":
        try:
            return cls[name.upper()]
        except KeyError:
            valid = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {name!r} (valid: {valid})") from None

    @property
    def label(self) -> str:
        return self.name.lower()


class Element(str, enum.Enum):
    """The HTML element a link was found in."""

    A = "a"
    IMG = "img"
    IFRAME = "iframe"
    SCRIPT = "script"
    LINK = "link"  # <link href> (stylesheets, icons)
    PAGINATION = "pagination"  # synthesised from createPageHTML(...) calls
    REDIRECT = "redirect"


# Element(value) and element.value are Python-level Enum calls, costly ~50 times a page on the
# crawl's hot path (links crossing between the crawl processes, link rows for the store).
ELEMENT_BY_VALUE = {e.value: e for e in Element}
ELEMENT_VALUE = {e: e.value for e in Element}


class TargetKind(str, enum.Enum):
    """What a fetched URL is, which decides how it is fetched and how a failure is weighed."""

    PAGE = "page"  # HTML page on a configured host: fetched whole and crawled
    IMAGE = "image"
    ATTACHMENT = "attachment"  # doc, docx, pdf, xls, xlsx, wps, et, zip, rar ...
    EXTERNAL = "external"  # a page on a host that is not configured: checked, not crawled
    RESOURCE = "resource"  # script, stylesheet, iframe, other


class Reason(str, enum.Enum):
    """Why a target is not OK. Every failure has exactly one; "broken" alone is never enough."""

    OK = "ok"
    HTTP_STATUS = "http_status"  # 4xx/5xx other than the special cases below
    NOT_FOUND = "not_found"  # 404 / 410
    SERVER_ERROR = "server_error"  # 5xx
    RATE_LIMITED = "rate_limited"  # 429
    BLOCKED = "blocked"  # 403 from a bot wall / WAF
    TIMEOUT = "timeout"
    REFUSED = "refused"  # TCP connection refused
    RESET = "reset"  # connection reset before a response was complete (no declared length to go by)
    TRUNCATED = "truncated"  # the server closed after part of the body its Content-Length announced
    DNS = "dns"
    TLS = "tls"
    REDIRECT_LOOP = "redirect_loop"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    SOFT_404 = "soft_404"  # 200 page that says 页面不存在
    TOO_LARGE = "too_large"  # body or decompressed body over the limit
    PRIVATE_ADDRESS = "private_address"  # refused by the network guard: not checked
    ROBOTS = "robots"  # disallowed by robots.txt: not checked
    TRAP = "trap"  # dropped by a crawler-trap defence: not checked
    ERROR = "error"  # anything else, with the error class in details

    @property
    def is_failure(self) -> bool:
        return self not in _NOT_FAILURES


# Outcomes that mean "we did not check it", not "it is broken".
_NOT_FAILURES = frozenset({Reason.OK, Reason.PRIVATE_ADDRESS, Reason.ROBOTS, Reason.TRAP})


@dataclass(slots=True)
class Link:
    """One link occurrence on a page."""

    url: str  # absolute, fragment removed
    text: str = ""  # anchor text, or alt/title for images
    element: Element = Element.A
    hidden: bool = False  # inside an element hidden by display:none / visibility:hidden / the hidden attribute (暗链)


@dataclass(slots=True)
class Referrer:
    """A page that links to a target, as stored."""

    page_url: str
    text: str
    element: str
    on_homepage: bool


@dataclass
class Target:
    """The outcome of fetching one distinct URL (page or not)."""

    url: str
    kind: TargetKind
    reason: Reason
    status: int | None = None
    final_url: str | None = None
    redirects: list[str] = field(default_factory=list)
    latency_s: float | None = None
    size: int | None = None
    content_type: str = ""
    method: str = "GET"
    error: str = ""  # error class / message for non-HTTP failures
    host_key: str | None = None  # configured host this URL belongs to; None = external
    referrers: list[Referrer] = field(default_factory=list)  # filled when read back from the store

    @property
    def internal(self) -> bool:
        return self.host_key is not None

    @property
    def on_homepage(self) -> bool:
        return any(r.on_homepage for r in self.referrers)


@dataclass
class Page:
    """A crawled HTML page on a configured host, decoded, with its links.

    `html` is the decoded markup (GBK pages already decoded via GB18030).  The
    lazily computed views (`reading`, `tree`, `meta`, `visible_text`) are cached so
    several checks share one parse.
    """

    url: str
    html: str
    host_key: str
    site: str = ""
    final_url: str = ""
    status: int = 200
    depth: int = 0
    is_homepage: bool = False
    title: str = ""
    encoding: str = "utf-8"
    content_type: str = "text/html"
    latency_s: float = 0.0
    size: int = 0
    links: list[Link] = field(default_factory=list)
    fetched_at: datetime | None = None
    decode_problem: str = ""  # set by the crawler: "mismatch: ..." or "invalid: ..." (see crawler/decode.py)
    # The bytes as received, kept by the crawler so the record process can decode them itself:
    # sending bytes costs a copy, sending the decoded text costs a re-encode (crawler/targets.py).
    body: bytes | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.final_url:
            self.final_url = self.url

    @cached_property
    def reading(self):
        """Title, headings, visible text and links as a browser reads them (sitecheck.htmltext.read_markup)."""
        from sitecheck.htmltext import read_markup

        return read_markup(self.html)

    @cached_property
    def tree(self):
        """lxml HTML tree, for the checks that look at a page's structure (sitecheck.htmltext.parse_document)."""
        from sitecheck.htmltext import parse_document

        return parse_document(self.html)

    @cached_property
    def meta(self) -> dict[str, str]:
        """<meta name=... content=...> tags, names as written (SiteIDCode, PubDate ...): from `reading`."""
        return self.reading.meta

    @cached_property
    def visible_text(self) -> str:
        """Text a reader sees: scripts, styles and comments removed, whitespace folded."""
        return self.reading.text


@dataclass(slots=True)
class Finding:
    """One problem, with a stable code users can silence and reports can group.

    `url` is the thing at fault; the pages that link to it are joined from the
    stored links when exported.  `details` holds JSON-serialisable evidence
    (status, reason, latency_s, age_days, expected ...).
    """

    code: str  # e.g. "link.broken", "column.stale", "interaction.unanswered"
    severity: Severity
    url: str
    message: str
    check: str = ""
    host_key: str | None = None
    page_url: str | None = None  # where it was seen, when that is one page (words, marks)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Fact:
    """A measured figure a check records with the run for later runs, metrics and reports.

    Examples: name="column.newest" host_key="portal" key="通知公告" value={"date": ..., "age_days": 3};
    name="board.stats" value={"count": 12, "answered": 10, "median_reply_days": 4.5}.
    """

    name: str
    value: Any
    host_key: str | None = None
    key: str = ""  # sub-key within the name (column name, board name ...)
    check: str = ""
