"""Response speed: pages on configured hosts that took longer than a threshold."""

from __future__ import annotations

from collections.abc import Iterable

from sitecheck.config.schema import Setting
from sitecheck.model import Finding, Page, Severity

from .base import Check, Output


class SlowPagesCheck(Check):
    name = "slow_pages"
    description = "Pages whose download took longer than the threshold."
    codes = {"page.slow": "a page took longer than threshold_seconds to download"}
    options = {
        "threshold_seconds": Setting("float", "A page slower than this is reported.", 3.0, min=0.01),
        "homepage_threshold_seconds": Setting("float", "Threshold for homepages (the rules' probe uses 15 s "
                                              "to count a failure; users notice far sooner).", 3.0, min=0.01),
    }

    def on_page(self, page: Page) -> Iterable[Output]:
        limit = self.opts["homepage_threshold_seconds" if page.is_homepage else "threshold_seconds"]
        if page.latency_s > limit:
            yield Finding("page.slow", Severity.WARNING, page.url,
                          f"页面响应慢 {page.latency_s:.1f} 秒 (阈值 {limit:g} 秒)", self.name, page.host_key,
                          details={"latency_s": round(page.latency_s, 3), "threshold_s": limit})
