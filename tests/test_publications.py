"""The report's publication counts come from each article's stored publication date, not its URL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sitecheck.config import load_site
from sitecheck.model import Fact, Reason, Target, TargetKind
from sitecheck.report.data import SiteIndex, _publications
from sitecheck.report.period import parse_quarter
from sitecheck.store import Store

SITE = """site: pub
name: 发布统计
hosts:
  - key: portal
    name: 门户
    url: http://a.gov.cn/
    columns:
      - {name: 通知公告, url: "http://a.gov.cn/tzgg/", category: 通知公告}
      - {name: 工作动态, url: "http://a.gov.cn/gzdt/", category: 动态要闻}
"""
A = "http://a.gov.cn/"


def published(url: str, day: str | None, source: str = "visible", url_month: str | None = None) -> Fact:
    return Fact("article.published", {"date": day, "source": source, "visible": None, "visible_label": "",
                                      "meta": None, "url_date": None, "url_month": url_month}, "portal", key=url)


def test_counts_use_stored_dates_then_url_dates(tmp_path):
    (tmp_path / "pub.yaml").write_text(SITE, encoding="utf-8")
    site = load_site(tmp_path / "pub.yaml")
    urls = {
        "hash": A + "tzgg/8f3a9c2e7b1d4f60.shtml",  # no date in the URL; the page shows 2026-11-03
        "late": A + "tzgg/202609/t20260930_1.html",  # URL says Q3; the page shows 2026-10-01
        "early": A + "gzdt/202610/t20261001_2.html",  # URL says Q4; the page shows 2026-09-30
        "month": A + "gzdt/202611/174240943.shtml",  # no date shown; its folder is a month of Q4
        "old": A + "gzdt/202510/t20251010_3.html",  # crawled before dates were stored: the URL's date
        "undated": A + "gzdt/about.html",  # not an article
    }
    started = datetime(2026, 12, 1, 2, tzinfo=timezone.utc)
    with Store(tmp_path / "s.sqlite3") as store:
        run = store.start_run("pub", "digest", started_at=started)
        store.add_targets(run, [(Target(url=u, kind=TargetKind.PAGE, reason=Reason.OK, status=200, host_key="portal"),
                                 {"title": "", "is_homepage": False}) for u in urls.values()]
                          + [(Target(url=A + "gzdt/202611/t20261102_4.html", kind=TargetKind.PAGE,
                                     reason=Reason.OK, status=200, host_key="portal"),
                              {"title": "", "is_homepage": False})])
        store.add_facts(run, [published(urls["hash"], "2026-11-03"), published(urls["late"], "2026-10-01"),
                              published(urls["early"], "2026-09-30"),
                              published(urls["month"], None, "", url_month="2026-11")])
        store.finish_run(run, "complete", ended_at=started + timedelta(minutes=30))
        pub = _publications(store, "pub", parse_quarter("2026Q4"), SiteIndex(site, None), None, "zh")
    # hash, late and month from the stored dates, t20261102_4 from its URL; early and old are not in Q4.
    assert (pub["total"], pub["unassigned"], pub["by_source"]) == (4, 0, {"stored": 3, "url_date": 1})
    assert {r["column"]: r["count"] for r in pub["by_column"]} == {"通知公告": 2, "工作动态": 2}
