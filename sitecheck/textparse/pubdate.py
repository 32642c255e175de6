"""An article's publication date, from what the page shows, its meta tags and its URL.

The inspector reads the visible date (发布时间：…, or a bare `YYYY-MM-DD HH:MM` in
the info line under the title).  The `PubDate` meta tag often tracks the page's
last regeneration instead, and the URL's date (`t20261120_`, `/art/2026/11/20/`)
is the day the CMS filed it: both are kept, the visible date wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from .dates import bare_datetime, date_from_url, labelled_publication, month_from_url, parse_datetime

_HEAD_CHARS = 3000  # the info line sits under the title, near the top of the visible text
_META_NAMES = ("pubdate", "publishdate", "firstpublishedtime", "article:published_time")


@dataclass(frozen=True, slots=True)
class PubDates:
    visible: datetime | None  # the date the page shows
    visible_label: str  # the label before it as written (发布时间, 成文日期 ...), "" for a bare date
    meta: datetime | None  # the PubDate meta tag
    url: date | None  # the date the URL carries
    url_month: tuple[int, int] | None  # the month folder of the URL (/202511/), when it has no day

    @property
    def published(self) -> date | None:
        """The publication date as the inspector reads it: visible, else meta, else the URL's."""
        for when in (self.visible, self.meta):
            if when is not None:
                return when.date()
        return self.url

    @property
    def source(self) -> str:
        if self.visible is not None:
            return "visible"
        if self.meta is not None:
            return "meta"
        return "url" if self.url is not None else ""

    @property
    def disagree(self) -> bool:
        """The visible date and the meta date name different days."""
        return self.visible is not None and self.meta is not None and self.visible.date() != self.meta.date()

    def as_fact(self) -> dict:
        def iso(value):
            return value.isoformat() if value is not None else None

        return {"date": iso(self.published), "source": self.source, "visible": iso(self.visible),
                "visible_label": self.visible_label, "meta": iso(self.meta), "url_date": iso(self.url),
                "url_month": "%04d-%02d" % self.url_month if self.url_month else None}


def _meta_date(meta: dict[str, str]) -> datetime | None:
    for name, content in meta.items():
        if name.lower() in _META_NAMES and content:
            found = parse_datetime(content)
            if found is not None:
                return found
    return None


def article_dates(visible_text: str, meta: dict[str, str], url: str) -> PubDates:
    """Every publication date an article page carries. Never raises."""
    head = (visible_text or "")[:_HEAD_CHARS]
    labelled = labelled_publication(head)
    if labelled is not None:
        label, visible = labelled
    else:
        label, visible = "", bare_datetime(head)
    url_date = date_from_url(url)
    return PubDates(visible, label, _meta_date(meta or {}), url_date,
                    None if url_date else month_from_url(url))
