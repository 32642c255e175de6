"""Pages whose bytes do not match their declared charset (garbled text for some readers)."""

from __future__ import annotations

from collections.abc import Iterable

import re

from sitecheck.model import Finding, Page, Severity

from .base import Check, Output


_SERVED = re.compile(r"served as ([\w.-]+)")  # crawler/decode.py's wording


class EncodingCheck(Check):
    name = "encoding"
    description = "Pages served with a wrong charset, or with bytes invalid in their charset."
    codes = {
        "page.encoding_mismatch": "the HTTP header names one charset, the page is in another",
        "page.invalid_bytes": "the page has byte sequences invalid in its charset (shown as garbage)",
    }

    def on_page(self, page: Page) -> Iterable[Output]:
        kind, _, detail = page.decode_problem.partition(": ")
        if kind == "mismatch":
            served = _SERVED.match(detail)
            yield Finding("page.encoding_mismatch", Severity.WARNING, page.url, f"页面编码声明不一致：{detail}",
                          self.name, page.host_key, page_url=page.url,
                          details={"detail": detail, "encoding": page.encoding,
                                   "declared": served.group(1) if served else None})
        elif kind == "invalid":
            yield Finding("page.invalid_bytes", Severity.WARNING, page.url, f"页面含有无效字节：{detail}",
                          self.name, page.host_key, details={"detail": detail, "encoding": page.encoding})
