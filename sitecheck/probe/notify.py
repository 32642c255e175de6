"""Webhook notifications: a page that keeps failing, a page that is back, a veto risk.

Three body formats: "generic" JSON (event, site, title, text, details, time) for
scripts and chat bridges, and the DingTalk (钉钉) and WeCom (企业微信) group-robot
text message `{"msgtype": "text", "text": {"content": ...}}`.  A notification
that cannot be delivered is logged and dropped: monitoring must not stop
because a chat service is down.

When to notify is decided from the store, not from memory, so a restart of
`sitecheck serve` neither repeats an alert nor forgets one: a page is alerted
on when its failure streak reaches exactly N probes, and recovers when its
first good probe follows a streak of at least N.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .probe import ProbeResult, recent_probes

log = logging.getLogger("sitecheck.notify")

PROBE_DOWN, PROBE_RECOVERED, VETO_RISK, AVAILABILITY_VETO = "probe_down", "probe_recovered", "veto", \
    "availability_veto"

Post = Callable[..., Any]  # requests.post-compatible: post(url, data=..., headers=..., timeout=...)


@dataclass
class Event:
    kind: str
    site: str
    title: str
    text: str
    details: dict[str, Any] = field(default_factory=dict)
    time: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


def payload(fmt: str, event: Event) -> dict[str, Any]:
    """The JSON body for a notification format."""
    if fmt in ("dingtalk", "wecom"):
        return {"msgtype": "text", "text": {"content": f"{event.title}\n{event.text}"}}
    return {"event": event.kind, "site": event.site, "title": event.title, "text": event.text,
            "details": event.details, "time": event.time.astimezone(timezone.utc).isoformat(timespec="seconds")}


def send(settings: dict[str, Any], event: Event, post: Post | None = None) -> bool:
    """POST `event` to the configured webhook; True when delivered.  Never raises."""
    url = settings.get("webhook_url")
    if not url:
        return False
    body = json.dumps(payload(settings.get("format", "generic"), event), ensure_ascii=False, default=str)
    try:
        if post is None:
            import requests

            post = requests.post
        response = post(url, data=body.encode("utf-8"), timeout=settings.get("timeout_seconds", 10.0),
                        headers={"Content-Type": "application/json; charset=utf-8"})
        status = getattr(response, "status_code", 200)
        if status >= 300:
            log.warning("notification %s for site %s: webhook answered HTTP %s", event.kind, event.site, status)
            return False
        # DingTalk and WeCom answer 200 with {"errcode": N} when they refuse a message.
        errcode = _errcode(response)
        if errcode:
            log.warning("notification %s for site %s: webhook refused it (errcode %s)", event.kind, event.site,
                        errcode)
            return False
        return True
    except Exception as exc:  # noqa: BLE001 - a notification must never stop monitoring
        log.warning("notification %s for site %s could not be sent: %s", event.kind, event.site,
                    f"{type(exc).__name__}: {exc}")
        return False


def _errcode(response: Any) -> int:
    try:
        data = response.json()
    except Exception:  # noqa: BLE001 - not JSON: nothing to say
        return 0
    return int(data.get("errcode") or 0) if isinstance(data, dict) else 0


class Notifier:
    """Decides what to notify for one site and sends it with `send`."""

    def __init__(self, site, post: Post | None = None):
        self.site = site
        self.settings = dict(site.ops.get("notify") or {})
        probe = site.ops.get("probe") or {}
        self.after = int(self.settings.get("after_failures") or probe.get("consecutive_failures_alert", 3))
        self.post = post
        self.sent: list[Event] = []  # what was delivered or attempted (tests, logs)
        self._last_availability: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.settings.get("webhook_url"))

    def _emit(self, event: Event) -> None:
        log.warning("%s: %s", event.title, event.text.replace("\n", " / "))
        self.sent.append(event)
        if self.enabled:
            send(self.settings, event, self.post)

    # --- after a probe round -------------------------------------------------------------

    def after_probes(self, store, results: list[ProbeResult]) -> None:
        for result in results:
            history = recent_probes(store, self.site.key, result.url, self.after + 1)
            streak = 0
            for row in history:
                if row["ok"]:
                    break
                streak += 1
            name = result.name or result.url
            if not result.ok and streak == self.after:
                self._emit(Event(PROBE_DOWN, self.site.key, f"【站点监测】{self.site.name} {name} 连续 {streak} 次无法打开",
                                 f"{result.url}\n原因: {result.reason.value} {result.error}".rstrip(),
                                 {"url": result.url, "name": result.name, "host": result.host_key,
                                  "kind": result.kind, "consecutive_failures": streak,
                                  "reason": result.reason.value, "status": result.status, "error": result.error}))
            elif result.ok and self.settings.get("on_recovery", True) and len(history) > self.after and \
                    all(not row["ok"] for row in history[1:self.after + 1]):
                self._emit(Event(PROBE_RECOVERED, self.site.key, f"【站点监测】{self.site.name} {name} 已恢复访问",
                                 f"{result.url}\n打开用时 {result.total_s or 0:.1f} 秒",
                                 {"url": result.url, "name": result.name, "host": result.host_key,
                                  "kind": result.kind, "total_s": result.total_s}))

    def after_availability(self, figures: dict[str, Any]) -> None:
        """Notify when the rolling probe figures reach the veto share (once per change)."""
        status, previous = figures["status"], self._last_availability
        self._last_availability = status
        if status != "veto" or previous == "veto" or not self.settings.get("on_veto", True):
            return
        self._emit(Event(AVAILABILITY_VETO, self.site.key,
                         f"【单项否决风险】{self.site.name} 站点无法访问",
                         f"近 {figures['window']['days']} 天首页监测失败 {figures['failed']}/{figures['probes']} 次"
                         f"（{figures['ratio']:.1%}），达到否决比例 {figures['failure_ratio_veto']:.0%}",
                         {k: figures[k] for k in ("probes", "failed", "ratio", "failure_ratio_veto", "coverage")}))

    # --- after a crawl ---------------------------------------------------------------------

    def after_run(self, store, run_id: int) -> None:
        """Notify when the run's verdict has veto items (or, without a verdict, critical findings)."""
        if not self.settings.get("on_veto", True):
            return
        vetoes: list[str] = []
        verdict = store.verdict(run_id)
        if verdict:
            vetoes = [f"{v.get('title') or v.get('id')}" for v in verdict.get("vetoes", [])
                      if v.get("status") == "veto"]
        else:
            from sitecheck.model import Severity

            codes = sorted({f.code for _id, f in store.findings(run_id, Severity.CRITICAL)})
            vetoes = codes
        if not vetoes:
            return
        self._emit(Event(VETO_RISK, self.site.key, f"【单项否决风险】{self.site.name} 第 {run_id} 次检查",
                         "发现: " + "、".join(vetoes), {"run_id": run_id, "vetoes": vetoes}))
