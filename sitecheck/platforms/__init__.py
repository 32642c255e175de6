"""Platform profiles: how a family of government sites built on one CMS delivers its pages.

A site file selects a profile with `platform: <name>`; the profile is a module of pure functions
(no network, no Scrapy) that the crawler's page reading and the checks call:

    extra_urls(page) -> list[str]          list-service URLs a column page needs fetched
    column_channel(page) -> str | None     the channel a column page lists
    service_channel(url) -> str | None     the channel a list-service URL answers for
    service_items(page) -> list[Item] | None   items of a list-service answer (None: not readable)
    article_date(page) -> date | None      an article's publication date as shown to readers
    footer_marks(html) -> dict             网站标识码, ICP, 公网安备, conac, 找错 from live markup

Profiles are registered by name in `PROFILES` (a dotted module path each, imported lazily), so
another province's platform is one more module and one more line here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

PROFILES: dict[str, str] = {
    "gansu-jiyuehua": "sitecheck.platforms.gansu",
}


class UnknownPlatform(KeyError):
    pass


def load(name: str) -> ModuleType:
    """The profile module registered under `name`."""
    path = PROFILES.get(name)
    if path is None:
        raise UnknownPlatform(name)
    return importlib.import_module(path)


def for_site(site) -> ModuleType | None:
    """The profile a site file selects, or None when it names none."""
    name = getattr(site, "platform", None)
    return load(name) if name else None
