"""Dates as government CMSs write them (indicators.md §4).

`2026-11-20`, `[2026-11-20]`, `2026年11月20日`, `2026/11/20`, `2026.11.20`,
`发布时间：2026-11-20 16:10`, and dates carried by article URLs (`t20261120_`,
`/2026-11/20/content_`).  Pages give local (Beijing) dates; `china_today`
turns the injected UTC clock into the same calendar.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

CHINA = timezone(timedelta(hours=8))  # no daylight saving since 1991
_MIN_YEAR, _MAX_YEAR = 1990, 2100

_FULLWIDTH = str.maketrans("０１２３４５６７８９／－．：", "0123456789/-.:")

# A year, month and day with one consistent separator, or the 年月日 form.
_DATE = re.compile(
    r"(?<![\d.])(\d{4})(?:([-/.])(\d{1,2})\2(\d{1,2})|\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?)(?![\d])"
)
_CLOCK = re.compile(r"\s*(\d{1,2}):(\d{2})(?::(\d{2}))?")
# 发布时间 / 发文日期 ..., or a bare 时间 / 日期 that is not part of another label (留言时间, 回复时间).
_PUB_LABEL = re.compile(r"(?:(?:发布|发文|印发|成文)|(?<![\u4e00-\u9fff]))(?:时间|日期)\s*[:：]?\s*")

_URL_DATES = (
    re.compile(r"(?<![0-9A-Za-z])t((?:19|20)\d{2})(\d{2})(\d{2})_"),  # TRS: t20261120_123456.html
    re.compile(r"/((?:19|20)\d{2})-(\d{1,2})/(\d{1,2})/"),  # gov.cn: /2023-09/27/content_...
    re.compile(r"/((?:19|20)\d{2})(\d{2})/(\d{2})/"),  # /202311/20/...
    re.compile(r"/((?:19|20)\d{2})-(\d{2})-(\d{2})/"),
    re.compile(r"/((?:19|20)\d{2})(\d{2})(\d{2})/"),
)


def china_today(now: datetime) -> date:
    """The calendar day in Beijing at `now` (naive datetimes are taken as UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return now.astimezone(CHINA).date()


def _make(y: str, m: str, d: str) -> date | None:
    try:
        year, month, day = int(y), int(m), int(d)
        if not _MIN_YEAR <= year <= _MAX_YEAR:
            return None
        return date(year, month, day)
    except (ValueError, TypeError, OverflowError):
        return None


def _normalise(text: object) -> str:
    if not isinstance(text, str):
        return ""
    return text.translate(_FULLWIDTH)


def _date_of(m: re.Match) -> date | None:
    if m.group(2):
        return _make(m.group(1), m.group(3), m.group(4))
    return _make(m.group(1), m.group(5), m.group(6))


def _iter_dates(text: str):
    for m in _DATE.finditer(text):
        found = _date_of(m)
        if found is not None:
            yield m, found


def find_dates(text: str) -> list[date]:
    """Every valid date written in `text`, in order of appearance."""
    try:
        return [d for _, d in _iter_dates(_normalise(text))]
    except Exception:  # never let hostile text stop a check
        return []


def parse_date(text: str) -> date | None:
    """The first valid date in `text`, or None."""
    found = find_dates(text)
    return found[0] if found else None


def date_from_url(url: str) -> date | None:
    """The publication date an article URL carries (`t20261120_`, `/2026-11/20/`), or None."""
    try:
        url = _normalise(url)
        for pattern in _URL_DATES:
            m = pattern.search(url)
            if m:
                found = _make(*m.groups())
                if found is not None:
                    return found
    except Exception:
        pass
    return None


def _with_clock(text: str, m: re.Match, day: date) -> datetime:
    clock = _CLOCK.match(text, m.end())
    if clock:
        hh, mm, ss = int(clock.group(1)), int(clock.group(2)), int(clock.group(3) or 0)
        if hh < 24 and mm < 60 and ss < 60:
            return datetime.combine(day, time(hh, mm, ss))
    return datetime.combine(day, time())


def parse_datetime(text: str) -> datetime | None:
    """The first date in `text` with the clock time after it if any (`2026-11-20 16:10`)."""
    try:
        text = _normalise(text)
        for m, day in _iter_dates(text):
            return _with_clock(text, m, day)
    except Exception:
        pass
    return None


def publication_time(text: str) -> datetime | None:
    """The date right after a label such as 发布时间： / 发布日期： / 时间： , as article pages show it."""
    try:
        text = _normalise(text)
        for label in _PUB_LABEL.finditer(text):
            m = _DATE.match(text, label.end())
            if m is None:
                continue
            day = _date_of(m)
            if day is not None:
                return _with_clock(text, m, day)
    except Exception:
        pass
    return None
