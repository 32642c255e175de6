"""The check interface every built-in and third-party check implements."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from sitecheck.config.schema import Setting
from sitecheck.model import Fact, Finding, Page, Target

if TYPE_CHECKING:
    from sitecheck.config.sitefile import SiteConfig

Output = Finding | Fact


class Disabled(Exception):
    """Raised from a check's constructor to switch itself off for this site, with a reason.

    Like Scrapy's NotConfigured: `registry.build` logs "Disabled <name>: <reason>" and the run goes on
    with the other checks.
    """


class RunView(Protocol):
    """What a check sees of the whole run once the crawl has finished."""

    site: "SiteConfig"
    now: datetime  # the injected clock's reading at the end of the crawl (UTC)

    def targets(self, failed_only: bool = True) -> Iterator[Target]:
        """Every fetched URL (pages included) with its referrers; by default only failures."""

    def previous_fact(self, name: str, host_key: str | None = None, key: str = "") -> Any | None:
        """The value of a fact recorded by the latest earlier completed run of this site."""

    def pages_seen(self) -> int:
        """How many pages the crawl fetched."""


class Check:
    """Base class. Subclasses set `name`, `description` and `options`, and override the hooks.

    `options` is a table of Settings; the site file's `checks.<name>` block is
    validated against it and passed in as a plain dict with defaults filled.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    codes: ClassVar[dict[str, str]] = {}  # finding code -> what it means (for docs)
    options: ClassVar[dict[str, Setting]] = {}

    def __init__(self, site: "SiteConfig", options: dict[str, Any]):
        self.site = site
        self.opts = options

    def on_page(self, page: Page) -> Iterable[Output]:
        """Called for every crawled HTML page on a configured host."""
        return ()

    def on_finish(self, run: RunView) -> Iterable[Output]:
        """Called once after the crawl, with a view of every fetched target."""
        return ()
