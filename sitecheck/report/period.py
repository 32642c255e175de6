"""Report periods: a quarter (`2026Q4`) or a date range, in Beijing calendar days.

Government reports count days as Beijing sees them, so a period's bounds are
midnights in Asia/Shanghai; the store keeps UTC, and `start_utc`/`end_utc`
convert.  `end` is inclusive (the last day of the period), `end_utc` is the
exclusive instant after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo

try:
    from zoneinfo import ZoneInfo

    SHANGHAI: tzinfo = ZoneInfo("Asia/Shanghai")
except Exception:  # no tz database: China has had no daylight saving since 1991
    SHANGHAI = timezone(timedelta(hours=8))

_QUARTER = re.compile(r"^\s*(\d{4})\s*-?\s*[Qq]\s*(\d+)\s*$")


class PeriodError(ValueError):
    """A period the user wrote that cannot be understood; the message says how to write it."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    quarter: tuple[int, int] | None = None  # (year, 1..4) when the period is exactly a quarter

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodError(f"the period ends ({self.end}) before it starts ({self.start})")

    @property
    def label(self) -> str:
        """`2026Q4`, or `20261001-20261130` for other ranges (used in file names)."""
        if self.quarter:
            return f"{self.quarter[0]}Q{self.quarter[1]}"
        return f"{self.start:%Y%m%d}-{self.end:%Y%m%d}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_utc(self) -> datetime:
        return local_midnight_utc(self.start)

    @property
    def end_utc(self) -> datetime:
        return local_midnight_utc(self.end + timedelta(days=1))

    def contains(self, moment: datetime) -> bool:
        return self.start_utc <= _aware(moment) < self.end_utc

    def contains_day(self, day: date) -> bool:
        return self.start <= day <= self.end

    def each_day(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def previous(self) -> "Period":
        """The quarter before a quarter; otherwise the range of equal length just before."""
        if self.quarter:
            year, q = self.quarter
            return quarter(year - 1, 4) if q == 1 else quarter(year, q - 1)
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def local_midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time(), SHANGHAI).astimezone(timezone.utc)


def local_day(moment: datetime) -> date:
    """The Beijing calendar day of an instant (naive instants are UTC, as the store writes them)."""
    return _aware(moment).astimezone(SHANGHAI).date()


def quarter(year: int, q: int) -> Period:
    if not 1 <= q <= 4:
        raise PeriodError(f"no quarter {q} in {year}: quarters run 1 to 4 ({year}Q1 ... {year}Q4)")
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return Period(start, end - timedelta(days=1), (year, q))


def quarter_of(day: date) -> Period:
    return quarter(day.year, (day.month - 1) // 3 + 1)


def parse_quarter(text: str) -> Period:
    m = _QUARTER.match(text or "")
    if not m:
        raise PeriodError(f"cannot read quarter {text!r}: write it as the year, Q and the quarter 1-4, "
                          "e.g. 2026Q4")
    return quarter(int(m.group(1)), int(m.group(2)))


def parse_day(text: str, what: str = "date") -> date:
    try:
        return date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise PeriodError(f"cannot read {what} {text!r}: write it as 2026-10-01") from None


def resolve(quarter_text: str | None, from_text: str | None, to_text: str | None, *, now: datetime) -> Period:
    """The period the command line asks for.

    `--quarter` alone: that quarter.  `--from`/`--to` narrow a given quarter, or
    make a range on their own (`--to` defaults to today).  Nothing: the quarter
    `now` falls in.
    """
    today = local_day(now)
    if quarter_text:
        base = parse_quarter(quarter_text)
    elif from_text:
        base = Period(parse_day(from_text, "--from"), max(today, parse_day(from_text, "--from")))
    elif to_text:
        raise PeriodError("--to needs --from or --quarter")
    else:
        return quarter_of(today)
    start = parse_day(from_text, "--from") if from_text else base.start
    end = parse_day(to_text, "--to") if to_text else base.end
    if end < start:
        raise PeriodError(f"--to {end} is before --from {start}")
    candidate = Period(start, end)
    whole = quarter_of(start)
    return whole if (whole.start, whole.end) == (start, end) else candidate
