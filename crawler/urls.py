"""URL hygiene: normalisation, what kind of target a URL is, and crawler-trap defences."""

from __future__ import annotations

import functools
import re
from collections import Counter
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sitecheck.model import Element, TargetKind
from sitecheck.textparse.linkkind import kind_hint

ATTACHMENT_EXTENSIONS = frozenset(
    "doc docx pdf xls xlsx wps et dps ppt pptx zip rar 7z gz tar txt csv ofd ceb caj xml".split())
IMAGE_EXTENSIONS = frozenset("png jpg jpeg gif bmp webp svg ico tif tiff".split())
MEDIA_EXTENSIONS = frozenset("mp4 mp3 avi wmv flv mov m4a wav swf".split())
_DIGITS = re.compile(r"\d+")


@functools.lru_cache(maxsize=65536)  # navigation links repeat on every page of a site
def normalize(url: str, session_params: frozenset[str]) -> str | None:
    """Canonical form used for de-duplication, or None for URLs we never fetch.

    The URL a browser would request for the link: non-ASCII paths and queries percent-encoded as
    UTF-8 and host names in IDNA (w3lib's safe_url_string, as Scrapy sends requests), escapes in
    upper case, dot segments resolved, scheme and host lower-cased, default ports and the fragment
    dropped, session parameters removed.  So one resource gets one request however it is linked:
    raw or percent-encoded, with or without :80, through `a/../`.
    """
    text = url.strip()
    if not _ASCII_SAFE.fullmatch(text):
        from w3lib.url import safe_url_string

        try:
            text = safe_url_string(text)
        except (ValueError, UnicodeError):
            return None
    try:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            return None
        netloc = parts.hostname.lower()
        if ":" in netloc:  # IPv6 literal
            netloc = f"[{netloc}]"
        port = parts.port
    except ValueError:
        return None
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        netloc = f"{netloc}:{port}"
    path = re.sub(r";jsessionid=[^/?]*", "", parts.path, flags=re.I) or "/"
    if "." in path:
        path = remove_dot_segments(path)
    query = parts.query
    if query and session_params:
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if k.lower() not in session_params]
        if len(kept) != len(pairs):
            query = urlencode(kept)
    if "%" in path or "%" in query:
        path, query = _upper_escapes(path), _upper_escapes(query)
    return urlunsplit((scheme, netloc, path, query, ""))


# Characters a URL may carry as they are (RFC 3986 plus '%'); anything else is encoded first.
_ASCII_SAFE = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_ESCAPE = re.compile(r"%[0-9a-f]{2}|%[0-9A-F][a-f]|%[a-f][0-9A-F]")


def _upper_escapes(text: str) -> str:
    return _ESCAPE.sub(lambda m: m.group(0).upper(), text)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: `/a/b/../c/./d` is `/a/c/d`, as a browser requests it."""
    segments = path.split("/")
    if not any(s in (".", "..") for s in segments):
        return path
    out: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if len(out) > 0:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")  # a path ending in a dot segment names a directory
    return "/" + "/".join(out)


def extension(url: str) -> str:
    path = urlsplit(url).path
    last = path.rsplit("/", 1)[-1]
    return last.rsplit(".", 1)[-1].lower() if "." in last else ""


def kind_of(url: str, element: Element, in_scope: bool) -> TargetKind:
    """Decide how a target is fetched before fetching it: by element, then by extension."""
    if (hint := kind_hint(url, element)) is not None:  # <link href=….xml>, downfile.jsp?filename=….xls
        return hint
    ext = extension(url)
    if element == Element.IMG or ext in IMAGE_EXTENSIONS:
        return TargetKind.IMAGE
    if ext in ATTACHMENT_EXTENSIONS or ext in MEDIA_EXTENSIONS:
        return TargetKind.ATTACHMENT
    if element in (Element.SCRIPT, Element.LINK):
        return TargetKind.RESOURCE
    return TargetKind.PAGE if in_scope else TargetKind.EXTERNAL


class TrapGuard:
    """Decides whether a newly found in-scope page may be crawled, so every crawl ends.

    Three defences, each for a trap real CMSs produce: a cap on pages per URL
    shape (digits folded: calendars, endless archives), a cap on URL length
    (growing session or state parameters), and a cap on a path segment repeating
    (relative links that nest: /a/a/a/...).
    """

    def __init__(self, max_per_pattern: int, max_url_length: int, max_repeated_segments: int):
        self.max_per_pattern = max_per_pattern
        self.max_url_length = max_url_length
        self.max_repeated = max_repeated_segments
        self._patterns: Counter[str] = Counter()
        # (rule, shape) -> [refused count, first example URL]; reported once per shape, not per URL.
        self.refused: dict[tuple[str, str], list] = {}

    def refusal(self, url: str) -> str | None:
        parts = urlsplit(url)
        # Query keys count, values do not: ?y=2026&m=11 and ?y=2027&m=1 share a shape.
        keys = "&".join(sorted(k for k, _ in parse_qsl(parts.query, keep_blank_values=True)))
        shape = parts.netloc + _DIGITS.sub("0", parts.path[:200]) + "?" + _DIGITS.sub("0", keys[:200])
        rule = None
        if len(url) > self.max_url_length:
            rule = f"URL longer than {self.max_url_length} characters"
        else:
            segments = [s for s in parts.path.split("/") if s]
            if segments and Counter(segments).most_common(1)[0][1] > self.max_repeated:
                rule = "path segment repeats"
                shape = parts.netloc + "/" + segments[0] + "/..."
            else:
                self._patterns[shape] += 1
                if self._patterns[shape] > self.max_per_pattern:
                    rule = f"more than {self.max_per_pattern} pages of the same URL shape"
        if rule is not None:
            entry = self.refused.get((rule, shape))
            if entry is not None:
                entry[0] += 1
            elif len(self.refused) < 1000:
                self.refused[(rule, shape)] = [1, url]
        return rule
