"""Checks: each module judges pages or the finished crawl and yields findings.

Checks never import Scrapy or the store: they see `Page` objects and a `RunView`.
"""

from .base import Check, Disabled, RunView

__all__ = ["Check", "Disabled", "RunView"]
