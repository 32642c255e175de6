"""Link availability: every fetched target that failed, weighed by where it was linked.

The rules count broken links on a homepage separately from those on other
pages (commonly -1 vs -0.1 points), so the code says which: `link.broken_homepage`
or `link.broken`.  Rate limits and bot walls are not breakage; refused and
skipped targets are reported as not checked.
"""

from __future__ import annotations

from collections.abc import Iterable

from sitecheck.config.schema import Setting
from sitecheck.model import Finding, Reason, Severity, Target, TargetKind

from .base import Check, Output, RunView
from .waf import walled

_THROTTLED = {Reason.RATE_LIMITED: "link.rate_limited", Reason.BLOCKED: "link.blocked"}
_NOT_CHECKED = {Reason.PRIVATE_ADDRESS, Reason.ROBOTS, Reason.TRAP}

_KIND_ZH = {TargetKind.PAGE: "链接", TargetKind.IMAGE: "图片", TargetKind.ATTACHMENT: "附件",
            TargetKind.EXTERNAL: "外部链接", TargetKind.RESOURCE: "资源文件"}
REASON_ZH = {
    Reason.NOT_FOUND: "页面不存在", Reason.SERVER_ERROR: "服务器错误", Reason.HTTP_STATUS: "HTTP 错误",
    Reason.TIMEOUT: "响应超时", Reason.REFUSED: "连接被拒绝", Reason.RESET: "连接中断", Reason.TRUNCATED: "内容不完整（连接提前关闭）", Reason.DNS: "域名解析失败",
    Reason.TLS: "证书或 TLS 错误", Reason.REDIRECT_LOOP: "循环跳转", Reason.TOO_MANY_REDIRECTS: "跳转次数过多",
    Reason.SOFT_404: "软 404（页面显示不存在）", Reason.TOO_LARGE: "内容过大", Reason.ERROR: "其他错误",
    Reason.RATE_LIMITED: "服务器限流", Reason.BLOCKED: "防火墙拦截", Reason.PRIVATE_ADDRESS: "内网地址，未检查",
    Reason.ROBOTS: "robots.txt 禁止，未检查", Reason.TRAP: "疑似陷阱，未检查",
}


class LinksCheck(Check):
    name = "links"
    description = "Broken links, images, attachments and external links; homepage links counted apart."
    codes = {
        "site.homepage_down": "a configured homepage could not be fetched",
        "link.broken_homepage": "a link on a homepage is broken (reason in details)",
        "link.broken": "a link on another page is broken (reason in details)",
        "link.rate_limited": "the server answered 429: not counted as broken",
        "link.blocked": "a bot wall answered 403: not counted as broken",
        "link.not_checked": "not requested: private address, robots.txt or a trap defence",
    }
    options = {
        "external": Setting("bool", "Report broken links to hosts outside the site.", True),
        "external_severity": Setting("str", "Severity of broken external links.", "warning",
                                     choices=("info", "warning", "error")),
        "report_not_checked": Setting("bool", "Report links that were not requested (private address, "
                                      "robots, trap) as info findings.", True),
    }

    def on_finish(self, run: RunView) -> Iterable[Output]:
        homepages = {h.url for h in self.site.hosts}
        waf_reports = "waf" in self.site.checks
        for target in run.targets(failed_only=True):
            if target.host_key is not None and walled(target) and waf_reports:
                continue  # a challenge page says nothing about the link: crawl.blocked_by_waf reports the host
            is_homepage = target.url in homepages
            # Redirect hops are recorded so links to them are judged; unlinked, they are no one's fault.
            if target.referrers or is_homepage:
                yield from self._judge(target, is_homepage)

    def _judge(self, t: Target, is_homepage: bool) -> Iterable[Finding]:
        details = {"reason": t.reason.value, "status": t.status, "kind": t.kind.value,
                   "internal": t.internal, "error": t.error, "latency_s": t.latency_s,
                   "redirects": t.redirects, "on_homepage": t.on_homepage}
        if is_homepage and t.reason.is_failure and not walled(t):
            yield Finding("site.homepage_down", Severity.CRITICAL, t.url,
                          f"首页无法访问：{REASON_ZH[t.reason]}", self.name, t.host_key, details=details)
            return
        if t.reason in _THROTTLED:
            yield Finding(_THROTTLED[t.reason], Severity.WARNING, t.url,
                          f"{REASON_ZH[t.reason]}（HTTP {t.status}），不计为失效链接", self.name, t.host_key,
                          details=details)
            return
        if t.reason in _NOT_CHECKED:
            if self.opts["report_not_checked"]:
                yield Finding("link.not_checked", Severity.INFO, t.url, REASON_ZH[t.reason],
                              self.name, t.host_key, details=details)
            return
        if not t.reason.is_failure:
            return
        if not t.internal and not self.opts["external"]:
            return
        severity = Severity.ERROR if t.internal else Severity.parse(self.opts["external_severity"])
        code = "link.broken_homepage" if t.on_homepage else "link.broken"
        where = "首页" if t.on_homepage else "页面"
        yield Finding(code, severity, t.url, f"{where}{_KIND_ZH[t.kind]}不可用：{REASON_ZH[t.reason]}",
                      self.name, t.host_key, details=details)
