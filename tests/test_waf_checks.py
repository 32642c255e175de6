"""Walled answers: one crawl.blocked_by_waf per host, no broken-link or homepage-down findings, the
allowlist reported, and check-config --probe's one request per host."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from sitecheck.allowlist import first_answers, format_answers
from sitecheck.checks.links import LinksCheck
from sitecheck.checks.waf import WafCheck
from sitecheck.config import load_site
from sitecheck.config.schema import defaults_of
from sitecheck.crawler.waf import Wall, wall_error
from sitecheck.model import Fact, Finding, Page, Reason, Referrer, Target, TargetKind

RS = Wall("瑞数 Ruishu", "HTTP 412; $_ts challenge script")
SITE = """\
site: gs
name: 演示
hosts:
  - {key: portal, name: 门户, url: "http://portal.test/"}
  - {key: sub, name: 子站, url: "http://sub.test/"}
auth:
  - {hosts: [sub], headers_file: allow.headers}
"""


@pytest.fixture
def site(tmp_path):
    (tmp_path / "allow.headers").write_text("X-Sitecheck-Allow: s3cret-value\n", encoding="utf-8")
    path = tmp_path / "gs.yaml"
    path.write_text(SITE, encoding="utf-8")
    return load_site(path)


class Run:
    def __init__(self, site, targets):
        self.site, self.now, self._targets = site, datetime(2026, 11, 20, tzinfo=timezone.utc), targets

    def targets(self, failed_only=True):
        return iter([t for t in self._targets if not failed_only or t.reason.is_failure])

    def previous_fact(self, *a, **k):
        return None


def walled(url, host="portal", status=412, linked_from="http://portal.test/"):
    refs = [Referrer(linked_from, "x", "a", linked_from == "http://portal.test/")] if linked_from else []
    return Target(url, TargetKind.PAGE, Reason.BLOCKED, status=status, host_key=host, error=wall_error(RS),
                  referrers=refs)


def run(check_cls, site, targets, pages=()):
    check = check_cls(site, defaults_of(check_cls.options))
    out = []
    for p in pages:
        out.extend(check.on_page(p))
    out.extend(check.on_finish(Run(site, targets)))
    return [o for o in out if isinstance(o, Finding)], [o for o in out if isinstance(o, Fact)]


def test_one_finding_per_walled_host_naming_the_product(site):
    targets = [walled("http://portal.test/", linked_from=None), walled("http://portal.test/a.html"),
               walled("http://portal.test/b.html"),
               Target("http://ext.test/x", TargetKind.EXTERNAL, Reason.BLOCKED, status=403, error=wall_error(RS))]
    findings, facts = run(WafCheck, site, targets)
    assert [(f.code, f.host_key) for f in findings] == [("crawl.blocked_by_waf", "portal")]
    f = findings[0]
    assert "瑞数 Ruishu" in f.message and f.url == "http://portal.test/"
    assert f.details["product"] == "瑞数 Ruishu" and f.details["evidence"] == RS.evidence
    assert f.details["requests"] == 3 and f.details["statuses"] == [412]
    first = {fact.host_key: fact.value for fact in facts if fact.name == "crawl.first_answer"}
    assert first["portal"] == {"challenged": True, "product": "瑞数 Ruishu", "credentials": False}


def test_allowlisted_host_reported_when_its_homepage_answered(site):
    home = Page(url="http://sub.test/", html="<html><body>ok</body></html>", host_key="sub", is_homepage=True)
    findings, facts = run(WafCheck, site, [], pages=[home])
    assert [(f.code, f.host_key) for f in findings] == [("crawl.allowlisted", "sub")]
    first = {fact.host_key: fact.value for fact in facts if fact.name == "crawl.first_answer"}
    assert first["sub"] == {"challenged": False, "product": None, "credentials": True}


def test_credentialed_host_still_walled_says_the_allowlist_failed(site):
    findings, _ = run(WafCheck, site, [walled("http://sub.test/", host="sub", linked_from=None)])
    assert findings[0].details["credentials"] is True and "白名单" in findings[0].message


def test_links_check_raises_nothing_from_walled_answers(site):
    targets = [walled("http://portal.test/", linked_from=None), walled("http://portal.test/a.html"),
               Target("http://portal.test/gone.html", TargetKind.PAGE, Reason.NOT_FOUND, status=404,
                      host_key="portal", referrers=[Referrer("http://portal.test/", "x", "a", True)])]
    findings, _ = run(LinksCheck, site, targets)
    assert [(f.code, f.url) for f in findings] == [("link.broken_homepage", "http://portal.test/gone.html")]


def test_links_check_without_the_waf_check_weighs_walls_as_blocked_not_down(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("site: s\nname: S\nhosts:\n  - {key: portal, name: P, url: 'http://portal.test/'}\n"
                    "checks: {links: {}}\n", encoding="utf-8")
    findings, _ = run(LinksCheck, load_site(path), [walled("http://portal.test/", linked_from=None),
                                                    walled("http://portal.test/a.html")])
    assert {f.code for f in findings} == {"link.blocked"}


def test_a_plain_403_is_still_judged(site):
    t = Target("http://portal.test/", TargetKind.PAGE, Reason.HTTP_STATUS, status=403, host_key="portal")
    findings, _ = run(LinksCheck, site, [t])
    assert [f.code for f in findings] == ["site.homepage_down"]


# --- check-config --probe: one request per host, credentials to their host only -----------------


def test_first_answers_send_credentials_to_their_host_only(site):
    asked: list[tuple[str, dict]] = []
    challenge = (412, {b"set-cookie": [b"NfBCSins2OywS=60Dz; Path=/"]}, b"<script>$_ts=window['$_ts'];</script>")

    def fetch(url, headers):
        asked.append((url, dict(headers)))
        if url == "http://portal.test/":
            return challenge
        return 302, {b"location": [b"http://elsewhere.test/landing"]}, b""  # off-site: not followed

    answers = first_answers(site, fetch)
    assert [u for u, _ in asked] == ["http://portal.test/", "http://sub.test/"]  # one request each
    assert "X-Sitecheck-Allow" not in asked[0][1] and asked[1][1]["X-Sitecheck-Allow"] == "s3cret-value"
    assert answers[0].verdict.startswith("challenged by 瑞数 Ruishu")
    assert answers[1].verdict == "not challenged (HTTP 302)" and answers[1].credentials
    text = format_answers(answers)
    assert "s3cret-value" not in text and "sub: http://sub.test/ with credentials: not challenged" in text


def test_first_answers_follow_redirects_within_the_site(site):
    asked = []

    def fetch(url, headers):
        asked.append(url)
        if url == "http://portal.test/":
            return 301, {b"location": [b"http://sub.test/index.shtml"]}, b""
        return 200, {}, b"<html>ok</html>"

    answers = first_answers(site, fetch)
    assert asked == ["http://portal.test/", "http://sub.test/index.shtml", "http://sub.test/"]
    assert answers[0].url == "http://sub.test/index.shtml" and answers[0].wall is None


def test_first_answers_report_network_errors(site):
    def fetch(url, headers):
        raise ConnectionRefusedError(111, "Connection refused")

    assert first_answers(site, fetch)[0].verdict.startswith("no answer (ConnectionRefusedError")
