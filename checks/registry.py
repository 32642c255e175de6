"""Which checks exist: built-ins in a literal table, third-party ones by entry point.

Built-ins are registered exactly like plugins (a dotted path per name) and
imported lazily, so a broken optional check cannot stop the others loading.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from .base import Check, Disabled

if TYPE_CHECKING:
    from sitecheck.config.sitefile import SiteConfig

log = logging.getLogger("sitecheck.checks")

ENTRY_POINT_GROUP = "sitecheck.checks"

BUILTIN_CHECKS: dict[str, str] = {
    "links": "sitecheck.checks.links:LinksCheck",
    "slow_pages": "sitecheck.checks.slow_pages:SlowPagesCheck",
    "encoding": "sitecheck.checks.encoding:EncodingCheck",
    "entries": "sitecheck.checks.entries:EntriesCheck",
    "marks": "sitecheck.checks.marks:MarksCheck",
    "interaction": "sitecheck.checks.interaction:InteractionCheck",
    "columns": "sitecheck.checks.columns:ColumnsCheck",
    "guides": "sitecheck.checks.guides:GuidesCheck",
    "words": "sitecheck.checks.words:WordsCheck",
    "waf": "sitecheck.checks.waf:WafCheck",
}


class UnknownCheck(KeyError):
    pass


def available() -> dict[str, str]:
    """name -> 'module:Class' for every check that can be enabled."""
    table = dict(BUILTIN_CHECKS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        table.setdefault(ep.name, ep.value)
    return table


def load(name: str) -> type[Check]:
    # Built-ins win over plugins of the same name (see available()), and need no scan of every
    # installed package's entry points, which is slow enough to matter once per check.
    path = BUILTIN_CHECKS.get(name) or available().get(name)
    if path is None:
        raise UnknownCheck(name)
    module, _, attr = path.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Check)):
        raise TypeError(f"{path} is not a Check subclass")
    return cls


def build(site: "SiteConfig") -> tuple[list[Check], dict[str, str]]:
    """Instantiate the site's enabled checks and log which run: "Enabled checks: a, b" and, for each
    check that switched itself off, "Disabled x: reason".  Returns (checks, {name: reason})."""
    checks: list[Check] = []
    disabled: dict[str, str] = {}
    for name, options in site.checks.items():
        try:
            checks.append(load(name)(site, options))
        except Disabled as exc:
            disabled[name] = str(exc)
            log.info("Disabled %s: %s", name, exc)
    log.info("Enabled checks: %s", ", ".join(c.name for c in checks) or "none")
    return checks, disabled
