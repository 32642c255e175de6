"""Dates as government CMSs write them (indicators.md §4).

`2026-11-20`, `[2026-11-20]`, `2026年11月20日`, `2026/11/20`, `2026.11.20`,
`发布时间：2026-11-20 16:10`, and dates carried by article URLs (`t20261120_`,
`/2026-11/20/content_`).  Pages give local (Beijing) dates; `china_today`
turns the injected UTC clock into the same calendar.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import urlsplit

CHINA = timezone(timedelta(hours=8))  # no daylight saving since 1991
_MIN_YEAR, _MAX_YEAR = 1990, 2100

# Full-width digits and separators as their ASCII forms.  A few str.replace calls (each a C scan)
# cost a fraction of str.translate with a table, which looks every character up in a dict; this
# runs on every article page.
_FULLWIDTH_PAIRS = tuple(zip("０１２３４５６７８９／－．：", "0123456789/-.:"))

# A year, month and day with one consistent separator, or the 年月日 form.
_DATE = re.compile(
    r"(?<![\d.])(\d{4})(?:([-/.])(\d{1,2})\2(\d{1,2})|\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?)(?![\d])"
)
_CLOCK = re.compile(r"\s*(\d{1,2}):(\d{2})(?::(\d{2}))?")
# 发布时间 / 发文日期 / 成文日期 / 生成日期 ..., or a bare 时间 / 日期 that is not part of another label
# (留言时间, 回复时间); templates pad labels with (full-width) spaces: 时　间：, 发布日期 ：.  `\s` covers
# U+3000, and the full-width colon is already folded by _normalise.
_PUB_LABEL = re.compile(r"(?:(发布|发文|印发|成文|生成)\s*|(?<![\u4e00-\u9fff]))(?:时\s*间|日\s*期)\s*:?\s*")
# Which label wins when a page shows several (信息公开 pages show 成文日期 and 发布日期): publication first.
_LABEL_RANK = {"发布": 0, "生成": 1, None: 2, "发文": 3, "印发": 3, "成文": 3}

_URL_DATES = (
    re.compile(r"(?<![0-9A-Za-z])t((?:19|20)\d{2})(\d{2})(\d{2})_"),  # TRS: t20261120_123456.html
    re.compile(r"/((?:19|20)\d{2})-(\d{1,2})/(\d{1,2})/"),  # gov.cn: /2023-09/27/content_...
    re.compile(r"/((?:19|20)\d{2})(\d{2})/(\d{2})/"),  # /202311/20/...
    re.compile(r"/((?:19|20)\d{2})-(\d{2})-(\d{2})/"),
    re.compile(r"/((?:19|20)\d{2})(\d{2})(\d{2})/"),
    re.compile(r"/art/((?:19|20)\d{2})/(\d{1,2})/(\d{1,2})/"),  # Hanweb: /art/2016/11/22/art_1621004_1.html
)
_URL_MONTH = re.compile(r"/((?:19|20)\d{2})(0[1-9]|1[0-2])/[^/]+$")  # /202511/174240943.shtml: month only



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
    for wide, narrow in _FULLWIDTH_PAIRS:
        if wide in text:
            text = text.replace(wide, narrow)
    return text


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


def month_from_url(url: str) -> tuple[int, int] | None:
    """(year, month) of an article URL whose folder is a month (`/202511/174240943.shtml`), or None."""
    try:
        m = _URL_MONTH.search(urlsplit(_normalise(url)).path)
        if m and _MIN_YEAR <= int(m.group(1)) <= _MAX_YEAR:
            return int(m.group(1)), int(m.group(2))
    except (ValueError, TypeError):
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


def labelled_publication(text: str) -> tuple[str, datetime] | None:
    """(label as written, date and time) of the publication date an article page shows after a label
    such as 发布时间： / 发布日期： / 成文日期： / 时间： ; 发布 labels win over 成文 and 发文 ones."""
    try:
        text = _normalise(text)
        best: tuple[int, str, datetime] | None = None
        for label in _PUB_LABEL.finditer(text):
            m = _DATE.match(text, label.end())
            if m is None:
                continue
            day = _date_of(m)
            if day is None:
                continue
            rank = _LABEL_RANK[label.group(1)]
            if best is None or rank < best[0]:
                best = (rank, "".join(label.group(0).split()).rstrip(":"), _with_clock(text, m, day))
                if rank == 0:
                    break
        return (best[1], best[2]) if best else None
    except Exception:
        return None


def publication_time(text: str) -> datetime | None:
    """The date right after a label such as 发布时间： / 发布日期： / 时间： , as article pages show it."""
    found = labelled_publication(text)
    return found[1] if found else None


def bare_datetime(text: str) -> datetime | None:
    """The first `YYYY-MM-DD HH:MM` (a date with a clock time) in `text`: the info line of article
    templates that print the time without a label.  List dates carry no clock time."""
    try:
        text = _normalise(text)
        for m, day in _iter_dates(text):
            clock = _CLOCK.match(text, m.end())
            if clock and m.group(2):
                return _with_clock(text, m, day)
    except Exception:
        pass
    return None
