"""Operations settings of a site file: schedule, availability probes, notifications.

Merged into the site-file table by sitefile.py (available as `site.ops["schedule"]`,
`site.ops["probe"]`, `site.ops["notify"]`).  Owned by the probe/serve feature:
`sitecheck serve` reads them, `sitecheck probe` and `sitecheck availability` too.
"""

from __future__ import annotations

from .schema import REQUIRED, Setting, table

# A rough IANA zone name (Asia/Shanghai, UTC, Etc/GMT-8); `sitecheck serve` resolves it with zoneinfo.
_ZONE_PATTERN = r"UTC|[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*"

SCHEDULE = table("When `sitecheck serve` crawls and probes this site (cron: minute hour day month weekday).", {
    "crawl": Setting("cron", "When the full crawl starts. A crawl still running when the next one is due is "
                     "not started twice: the due crawl is skipped and logged.", "30 1 * * *"),
    "probe": Setting("cron", "When the homepages and key pages are probed. The unreachable rule needs at "
                     "least 20 spaced probes a day; the default (every 5 minutes) makes 288.", "*/5 * * * *"),
    "timezone": Setting("str", "Time zone the cron expressions are read in (IANA name).", "Asia/Shanghai",
                        pattern=_ZONE_PATTERN),
})

PROBE_PAGE = table("A key page probed like a homepage, e.g. an online service system or a message board.", {
    "name": Setting("str", "Display name, e.g. 网上办事大厅 or 领导信箱.", REQUIRED, example="网上办事大厅"),
    "url": Setting("url", "Address of the page.", REQUIRED),
})

PROBE = table("Availability probes (站点无法访问): every host homepage plus `urls`, on the `schedule.probe` cron.", {
    "urls": Setting("list", "Extra key pages to probe besides every host's homepage.", [], item=PROBE_PAGE),
    "threshold_seconds": Setting("float", "A probe fails when the page has not fully opened (redirects "
                                 "followed, body read) within this time; the rules use 15 s.", 15.0,
                                 min=0.1, max=120),
    "timeout_seconds": Setting("float", "How long a probe waits at most (at least threshold_seconds), so a "
                               "slow page is measured rather than cut off at the threshold.", 20.0,
                               min=0.1, max=300),
    "window_days": Setting("int", "Rolling window of the unreachable rule.", 7, min=1, max=366),
    "min_daily_probes": Setting("int", "Probes per day the rule expects; days with fewer are reported as "
                                "insufficient coverage.", 20, min=1),
    "failure_ratio_veto": Setting("float", "Veto (站点无法访问) when failed probes of the homepage reach this share "
                                  "of all its probes in the window.", 0.05, min=0, max=1),
    "consecutive_failures_alert": Setting("int", "Alert when one probed page fails this many times in a row.",
                                          3, min=1, max=1000),
})

NOTIFY = table("Webhook notifications from `sitecheck serve`. Failures to notify are logged, never fatal.", {
    "webhook_url": Setting("url", "Where to POST; leave unset to send nothing. DingTalk: "
                           "https://oapi.dingtalk.com/robot/send?access_token=...; WeCom: "
                           "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...", None),
    "format": Setting("str", "Body format: generic JSON (event, site, title, text, details), or the DingTalk / "
                      "WeCom robot text message.", "generic", choices=("generic", "dingtalk", "wecom")),
    "after_failures": Setting("int", "Notify when a probed page has failed this many times in a row (unset: "
                              "probe.consecutive_failures_alert).", None, min=1, max=1000),
    "on_recovery": Setting("bool", "Also notify when a page that was alerted on opens again.", True),
    "on_veto": Setting("bool", "Notify when a crawl's verdict has a veto item (单项否决), or the probe "
                       "failure ratio reaches the veto share.", True),
    "timeout_seconds": Setting("float", "Timeout of the webhook POST.", 10.0, min=0.5, max=120),
})

OPS_FIELDS: dict[str, Setting] = {
    "schedule": SCHEDULE,
    "probe": PROBE,
    "notify": NOTIFY,
}
