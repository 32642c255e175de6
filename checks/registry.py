"""Which checks exist: built-ins in a literal table, third-party ones by entry point.

Built-ins are registered exactly like plugins (a dotted path per name) and
imported lazily, so a broken optional check cannot stop the others loading.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from .base import Check

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
    # installed package's entry points (~8 ms each time; a site file enables nine checks).
    path = BUILTIN_CHECKS.get(name) or available().get(name)
    if path is None:
        raise UnknownCheck(name)
    module, _, attr = path.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Check)):
        raise TypeError(f"{path} is not a Check subclass")
    return cls
