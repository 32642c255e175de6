"""Anti-bot walls: one finding per walled host, and whether the owner's allowlist let the monitor in.

The crawler records every answer that is a WAF challenge or block page as a target with reason
`blocked` and error "waf: <product>: <evidence>" (crawler/waf.py), and stops asking a host after a
few of them.  Those answers say nothing about the site's links, columns or availability, so the
links and columns checks leave them to this one, which groups them into one `crawl.blocked_by_waf`
per host.  When the site file gives a host credentials (an allowlist header or cookie, see
docs/waf.md), the homepage answering without a challenge is reported as `crawl.allowlisted`, so
the run summary shows that the allowlist worked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sitecheck.crawler.waf import Wall, wall_from_error
from sitecheck.model import Fact, Finding, Page, Reason, Severity, Target

from .base import Check, Output, RunView

_EXAMPLES = 5


def walled(target: Target) -> Wall | None:
    """The wall a target met, if the crawler recorded one."""
    if target.reason != Reason.BLOCKED:
        return None
    return wall_from_error(target.error)


@dataclass
class _Host:
    wall: Wall
    count: int = 0
    statuses: set[int] = field(default_factory=set)
    examples: list[str] = field(default_factory=list)


class WafCheck(Check):
    name = "waf"
    description = "Answers that were a WAF challenge or block page: one finding per host, naming the product."
    codes = {
        "crawl.blocked_by_waf": "the site's anti-bot layer (WAF) challenged the monitor: the host was not checked",
        "crawl.allowlisted": "the host has monitor credentials (allowlist) and its first answer was not challenged",
    }

    def __init__(self, site, options):
        super().__init__(site, options)
        self._hosts = {h.key: h for h in site.hosts}
        self._credentialed = {key for entry in site.auth or [] for key in entry.get("hosts", [])}
        self._answered: dict[str, str] = {}  # host -> homepage URL that answered without a wall

    def on_page(self, page: Page) -> Iterable[Output]:
        if page.is_homepage and page.host_key not in self._answered:
            self._answered[page.host_key] = page.url
        return ()

    def on_finish(self, run: RunView) -> Iterable[Output]:
        hosts: dict[str, _Host] = {}
        for target in run.targets(failed_only=True):
            wall = walled(target)
            if wall is None or target.host_key is None:
                continue  # a wall in front of another site's link is that link's business (link.blocked)
            seen = hosts.setdefault(target.host_key, _Host(wall))
            seen.count += 1
            if target.status is not None:
                seen.statuses.add(target.status)
            if len(seen.examples) < _EXAMPLES:
                seen.examples.append(target.url)
        for host_key, seen in hosts.items():
            yield from self._blocked(host_key, seen)
        for host_key in sorted(self._hosts):
            challenged = hosts.get(host_key)
            answered = host_key in self._answered
            yield Fact("crawl.first_answer", {"challenged": bool(challenged) and not answered,
                                              "product": challenged.wall.product if challenged else None,
                                              "credentials": host_key in self._credentialed},
                       host_key, check=self.name)
            if answered and host_key in self._credentialed:
                yield Finding("crawl.allowlisted", Severity.INFO, self._answered[host_key],
                              f"「{self._hosts[host_key].name}」首个请求未被拦截：监测白名单（认证头/Cookie）生效",
                              self.name, host_key, details={"host": host_key})

    def _blocked(self, host_key: str, seen: _Host) -> Iterable[Finding]:
        host = self._hosts.get(host_key)
        name = host.name if host else host_key
        product = seen.wall.product
        who = "未识别的防护产品" if product == "unknown" else product
        hint = ("已配置监测凭据但仍被拦截：请确认白名单（来源 IP、密钥请求头或 Cookie）在防护设备上已生效"
                if host_key in self._credentialed else
                "请网站主管单位在防护设备上将监测程序加入白名单（见 docs/waf.md）")
        yield Finding("crawl.blocked_by_waf", Severity.ERROR, host.url if host else seen.examples[0],
                      f"「{name}」被网站防护（{who}）拦截，{seen.count} 个请求收到挑战页，未能检查该站点；{hint}",
                      self.name, host_key,
                      details={"product": product, "evidence": seen.wall.evidence, "requests": seen.count,
                               "statuses": sorted(seen.statuses), "examples": seen.examples,
                               "credentials": host_key in self._credentialed})
