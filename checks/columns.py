"""Freshness: configured columns against their category's window, and each host's homepage.

A column's newest item is read from its first list page (dates in the item
text or in the article URL).  A homepage's newest dated item must be within the
homepage window; a homepage that shows no dates is compared with the item set
the previous run recorded, and counts as stale once unchanged for the window.
Homepage dates are read from the text only: static navigation links carry old
dates in their URLs (www.gov.cn's do) and would make a busy homepage look stale.
Per-page state is a few dates and URLs, whatever the crawl's size.

On a site whose platform profile draws lists by script (`platform:` in the site file,
sitecheck/platforms), a column's items are the ones its list service returned: the column page
names its channel, the crawler fetches the service's first page as one more page of the list, and
the answer is matched back to the column by channel.  A column whose items cannot be read (the
service failed or answered something that is not a list, or a WAF challenged the request) is
`column.unknown`, never `column.blank`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sitecheck import platforms
from sitecheck.config.schema import Setting
from sitecheck.model import Element, Fact, Finding, Page, Severity, Target
from sitecheck.scoring import rules_for_site
from sitecheck.textparse.dates import china_today
from sitecheck.textparse.lists import list_items
from sitecheck.textparse.urls import normalise

from .base import Check, Output, RunView
from .waf import walled

_MAX_DATES = 500
_MAX_CHANNELS = 2000  # list-service answers kept per run (one per channel), bounded on hostile sites


@dataclass
class _Seen:
    dates: Counter = field(default_factory=Counter)  # date -> items listed with it
    items: int = 0
    source: str = "page"  # "page", or "list_service" when a platform's list service gave the items


def _collect(items, source: str = "page") -> _Seen:
    seen = _Seen(items=len(items), source=source)
    for item in items:
        if item.date is not None and (item.date in seen.dates or len(seen.dates) < _MAX_DATES):
            seen.dates[item.date] += 1
    return seen


class ColumnsCheck(Check):
    name = "columns"
    description = "Column freshness by category window, blank columns, and homepage freshness."
    codes = {
        "column.stale": "a column's newest item is older than its category's window (or it shows no dates)",
        "column.blank": "a column lists no dated item at all (空白栏目)",
        "column.unreachable": "a configured column page was not crawled or failed",
        "column.unknown": "a column's items could not be read (list service failed, or a WAF challenged the "
                          "request): its freshness is unknown, not blank",
        "homepage.stale": "a homepage's newest item is older than the window, or its items have not changed for it",
    }
    options = {
        "homepage_window_days": Setting("int", "Days a homepage may go without a new item; default: the rule "
                                        "set's homepage_stale window (14).", None, min=1),
        "homepage_min_title_chars": Setting("int", "Homepage links with at least this much text are the items "
                                            "compared between runs when the homepage shows no dates.", 6, min=1),
        "max_homepage_items": Setting("int", "Most homepage items recorded for the comparison.", 300, min=1),
    }

    def __init__(self, site, options):
        super().__init__(site, options)
        self.rules = rules_for_site(site)
        self.homepage_window = (self.opts["homepage_window_days"]
                                or self.rules.veto_param("homepage_stale", "window_days", 14))
        self._columns = {(h.key, normalise(c["url"])): c for h in site.hosts for c in h.gov.get("columns", [])}
        self._seen: dict[tuple[str, str], _Seen] = {}  # (host, column name) -> what its page listed
        self._home: dict[str, tuple[str, _Seen, list[str]]] = {}  # host -> (url, dates, item URLs)
        self.platform = platforms.for_site(site)
        self._channel: dict[tuple[str, str], str] = {}  # (host, column name) -> channel its page names
        self._service: dict[tuple[str, str], _Seen | None] = {}  # (host, channel) -> items (None: unreadable)
        if self.platform is not None:  # a column configured by its list-service URL is that channel's list
            for (host_key, _url), col in self._columns.items():
                channel = self.platform.service_channel(col["url"])
                if channel:
                    self._channel[(host_key, col["name"])] = channel

    def on_page(self, page: Page) -> Iterable[Output]:
        if self.platform is not None and self._read_service(page):
            return ()
        for url in {normalise(page.url), normalise(page.final_url)}:
            col = self._columns.get((page.host_key, url))
            if col is not None and (page.host_key, col["name"]) not in self._seen:
                items = list_items(page.tree, page.url, col["item_selector"], col["list_selector"])
                self._seen[(page.host_key, col["name"])] = _collect(items)
                channel = self.platform.column_channel(page) if self.platform is not None else None
                if channel:
                    self._channel[(page.host_key, col["name"])] = channel
        if page.is_homepage and page.host_key not in self._home:
            minimum = self.opts["homepage_min_title_chars"]
            titles = sorted({link.url for link in page.links
                             if link.element == Element.A and len((link.text or "").strip()) >= minimum})
            self._home[page.host_key] = (page.url, _collect(list_items(page.tree, page.url, url_dates=False)),
                                         titles[: self.opts["max_homepage_items"]])
        return ()

    def _read_service(self, page: Page) -> bool:
        """Keep the items of a list-service answer; True when the page was one."""
        channel = self.platform.service_channel(page.url)
        if channel is None:
            return False
        key = (page.host_key, channel)
        if key not in self._service and len(self._service) < _MAX_CHANNELS:
            items = self.platform.service_items(page)
            self._service[key] = None if items is None else _collect(items, "list_service")
        return True

    def on_finish(self, run: RunView) -> Iterable[Output]:
        today = china_today(run.now)
        failed: dict[str, Target] = {}
        service_failed: dict[tuple[str, str], Target] = {}
        walls: dict[str, Target] = {}  # host -> a walled answer from it (the crawl stops asking a walled host)
        for t in run.targets(failed_only=True):
            if not t.reason.is_failure:
                continue
            failed[normalise(t.url)] = t
            if t.host_key is not None and walled(t):
                walls.setdefault(t.host_key, t)
            channel = self.platform.service_channel(t.url) if self.platform is not None else None
            if channel:
                service_failed.setdefault((t.host_key, channel), t)
        for (host_key, url), col in self._columns.items():
            key = (host_key, col["name"])
            seen, failure = self._seen.get(key), failed.get(url)
            channel = self._channel.get(key)
            if channel is not None:  # the platform's list service holds this column's items
                service = (host_key, channel)
                seen, failure = self._service.get(service), service_failed.get(service)
                if seen is None:
                    yield from self._unknown(host_key, col, channel, failure or walls.get(host_key),
                                             fetched=service in self._service)
                    continue
            elif seen is None and (failure is None or walled(failure)) and host_key in walls:
                yield from self._unknown(host_key, col, None, failure or walls[host_key])
                continue
            yield from self._judge_column(host_key, col, seen, failure, today)
        for host_key, (url, seen, titles) in self._home.items():
            yield from self._judge_homepage(run, host_key, url, seen, titles, today)

    def _unknown(self, host_key: str, col: dict, channel: str | None, failure: Target | None,
                 fetched: bool = False) -> Iterable[Output]:
        """The column's items could not be read: say so, never call it blank or stale."""
        wall = walled(failure) if failure is not None else None
        if wall is not None:
            why, reason = f"被网站防护（{wall.product}）拦截", "blocked_by_waf"
        elif failure is not None:
            why, reason = f"列表服务请求失败（{failure.reason.value}）", failure.reason.value
        elif channel is not None and fetched:
            why, reason = "列表服务未返回可读的列表", "list_service_unreadable"
        elif channel is not None:
            why, reason = "未抓取到该频道的列表：抓取中没有页面引用此频道", "list_service_not_fetched"
        else:
            why, reason = "栏目页面未能读取", "not_read"
        details = {"host": host_key, "name": col["name"], "reason": reason, "channel_id": channel,
                   "status": failure.status if failure is not None else None}
        yield Fact("column.unknown", details, host_key, key=col["name"], check=self.name)
        yield Finding("column.unknown", Severity.WARNING, col["url"],
                      f"栏目「{col['name']}」的信息无法读取（{why}），更新情况未知", self.name, host_key,
                      details=details)

    def _judge_column(self, host_key: str, col: dict, seen: _Seen | None, failure, today: date) -> Iterable[Output]:
        category = self.rules.category(col["category"]) or col["category"]
        window = self.rules.window_days(col["category"])
        details = {"host": host_key, "name": col["name"], "category": category, "window_days": window}
        if seen is None:
            reason = failure.reason.value if failure is not None else "not_crawled"
            yield Finding("column.unreachable", Severity.ERROR, col["url"],
                          f"栏目「{col['name']}」页面无法访问或未抓取（{reason}）", self.name, host_key,
                          details={**details, "reason": reason})
            return
        newest = max((d for d in seen.dates if d <= today), default=None)
        age = (today - newest).days if newest else None
        in_window = (sum(n for d, n in seen.dates.items() if d <= today and (today - d).days <= window)
                     if window is not None else None)
        yield Fact("column.newest", {"date": newest.isoformat() if newest else None, "age_days": age,
                                     "category": category, "window_days": window, "items": seen.items,
                                     "items_in_window": in_window, "source": seen.source,
                                     "no_update_expected": col["no_update_expected"]},
                   host_key, key=col["name"], check=self.name)
        if col["no_update_expected"]:
            return
        details.update(newest=newest.isoformat() if newest else None, age_days=age, items=seen.items)
        if newest is None and col["list_selector"] and seen.items:
            yield Finding("column.stale", Severity.ERROR, col["url"],
                          f"栏目「{col['name']}」的信息均无发布日期，视为未更新", self.name, host_key, details=details)
        elif newest is None:
            yield Finding("column.blank", Severity.ERROR, col["url"],
                          f"栏目「{col['name']}」为空白栏目（未发现任何带日期的信息）", self.name, host_key,
                          details=details)
        elif window is not None and age > window:
            yield Finding("column.stale", Severity.ERROR, col["url"],
                          f"栏目「{col['name']}」已 {age} 天未更新（{category}类要求 {window} 天内更新）",
                          self.name, host_key, details=details)

    def _judge_homepage(self, run: RunView, host_key: str, url: str, seen: _Seen, titles: list[str],
                        today: date) -> Iterable[Output]:
        window = self.homepage_window
        yield Fact("homepage.items", titles, host_key, check=self.name)
        dates = [d for d in seen.dates if d <= today]
        if dates:
            newest = max(dates)
            age = (today - newest).days
            recent = sum(1 for d in dates if (today - d).days <= window)
            yield Fact("homepage.newest", {"date": newest.isoformat(), "age_days": age,
                                           "recent_dates": recent}, host_key, check=self.name)
            if age > window:
                yield Finding("homepage.stale", Severity.CRITICAL, url,
                              f"首页最新信息发布于 {age} 天前（{newest.isoformat()}），超过 {window} 天未更新",
                              self.name, host_key,
                              details={"host": host_key, "method": "dates", "newest": newest.isoformat(),
                                       "age_days": age, "window_days": window})
            return
        if not titles:
            return  # nothing to compare (a script-rendered homepage): no evidence either way
        # No dates on the homepage: it is stale when its items have not changed for the window.
        previous = run.previous_fact("homepage.items", host_key)
        since = today
        if previous is not None and sorted(previous) == titles:
            before = run.previous_fact("homepage.unchanged_since", host_key) or {}
            try:
                since = date.fromisoformat(before.get("since", ""))
            except (TypeError, ValueError, AttributeError):
                since = today
        unchanged = (today - since).days
        yield Fact("homepage.unchanged_since", {"since": since.isoformat(), "days": unchanged, "items": len(titles)},
                   host_key, check=self.name)
        if unchanged >= window:
            yield Finding("homepage.stale", Severity.CRITICAL, url,
                          f"首页无日期信息，且内容自 {since.isoformat()} 起 {unchanged} 天未变化", self.name, host_key,
                          details={"host": host_key, "method": "unchanged", "since": since.isoformat(),
                                   "age_days": unchanged, "window_days": window})
