"""Service guides (办事指南): each guide page must show the key elements of the item.

Pages are guides when their URL matches one of the host's `guides` patterns.
An element is present when its label (or a usual synonym: 申请材料 for 办理材料,
咨询电话 for 联系电话 ...) appears in the page's visible text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sitecheck.config.schema import Setting
from sitecheck.model import Fact, Finding, Page, Severity

from .base import Check, Output, RunView

ELEMENTS = ["事项名称", "设定依据", "申请条件", "办理材料", "办理地点", "办理时间", "联系电话", "办理流程"]
SYNONYMS = {
    "事项名称": ["事项名称", "服务事项", "事项全称"],
    "设定依据": ["设定依据", "法定依据", "实施依据", "法律依据", "办理依据"],
    "申请条件": ["申请条件", "受理条件", "办理条件", "申报条件"],
    "办理材料": ["办理材料", "申请材料", "申报材料", "所需材料", "提交材料"],
    "办理地点": ["办理地点", "办公地点", "受理地点", "办理地址", "办事地点", "窗口地址"],
    "办理时间": ["办理时间", "办公时间", "受理时间", "工作时间"],
    "联系电话": ["联系电话", "咨询电话", "咨询方式", "联系方式"],
    "办理流程": ["办理流程", "办理程序", "办事流程", "办理步骤"],
}


class GuidesCheck(Check):
    name = "guides"
    description = "Service-guide pages (办事指南) show the key elements (事项名称, 设定依据, 申请条件 ...)."
    codes = {
        "guide.incomplete": "a service-guide page lacks key elements (missing list in details)",
        "guide.none_found": "a host has guide URL patterns but no crawled page matched them",
    }
    options = {
        "elements": Setting("list", "Elements every guide must show.", ELEMENTS, item=Setting("str", "label")),
        "synonyms": Setting("map", "Labels accepted for an element (element -> labels); merged with the "
                            "built-in synonyms.", {}, item=Setting("list", "labels", item=Setting("str", "label"))),
    }

    def __init__(self, site, options):
        super().__init__(site, options)
        self._patterns = {h.key: [re.compile(p) for p in h.gov.get("guides", [])] for h in site.hosts}
        self._labels = {e: list(dict.fromkeys([e, *SYNONYMS.get(e, []), *self.opts["synonyms"].get(e, [])]))
                        for e in self.opts["elements"]}
        self._pages: dict[str, int] = {}
        self._incomplete: dict[str, int] = {}

    def on_page(self, page: Page) -> Iterable[Output]:
        patterns = self._patterns.get(page.host_key)
        if not patterns or not any(p.search(page.url) for p in patterns):
            return
        self._pages[page.host_key] = self._pages.get(page.host_key, 0) + 1
        text = page.visible_text
        missing = [e for e, labels in self._labels.items() if not any(label in text for label in labels)]
        yield Fact("guide.elements", {"missing": missing, "present": [e for e in self._labels if e not in missing]},
                   page.host_key, key=page.url, check=self.name)
        if missing:
            self._incomplete[page.host_key] = self._incomplete.get(page.host_key, 0) + 1
            yield Finding("guide.incomplete", Severity.ERROR, page.url, f"办事指南缺少要素：{'、'.join(missing)}",
                          self.name, page.host_key, page_url=page.url,
                          details={"host": page.host_key, "missing": missing, "title": page.title})

    def on_finish(self, run: RunView) -> Iterable[Output]:
        for host in self.site.hosts:
            if not self._patterns.get(host.key):
                continue
            pages = self._pages.get(host.key, 0)
            yield Fact("guide.stats", {"pages": pages, "incomplete": self._incomplete.get(host.key, 0)},
                       host.key, check=self.name)
            if not pages:
                yield Finding("guide.none_found", Severity.WARNING, host.url,
                              "未抓取到与办事指南地址规则匹配的页面（请核对 guides 配置）", self.name, host.key,
                              details={"host": host.key, "patterns": host.gov.get("guides", [])})
