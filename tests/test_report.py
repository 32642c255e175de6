"""The quarterly self-inspection report, end to end from a real store.

The store holds runs in 2026Q3 and 2026Q4 with known problems: some fixed
during Q4, some new, some carried over from Q3; an incomplete run late in Q4
that must not make open problems look fixed; homepage probes with failures on
known days; messages with known dates.  The Word file, the HTML and the JSON
are checked against the figures those facts imply, and against each other.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import docx
import pytest
from bs4 import BeautifulSoup

from sitecheck import cli as sitecheck_cli
from sitecheck.config import load_site
from sitecheck.model import Fact, Finding, Reason, Severity, Target, TargetKind
from sitecheck.report import cli as report_cli
from sitecheck.report.data import ReportError, SiteIndex, build_report
from sitecheck.report.period import Period, PeriodError, parse_quarter, resolve
from sitecheck.report.render_html import render_html, safe_href
from sitecheck.scoring import load_rules, score
from sitecheck.store import Store

from .helpers import add_link_occurrences

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2027, 1, 5, 3, 0, tzinfo=timezone.utc)
PORTAL = "http://gxt.example.gov.cn/"
QG = "http://qg.example.gov.cn/"
XSS = "<script>alert(1)</script>"

OLD_PDF = PORTAL + "files/old.pdf"  # broken on the homepage since Q3: still open
DEAD_EXTERNAL = "http://external.example.com/dead"  # new in Q4, fixed in December
TZGG_ARTICLE = PORTAL + "xxgk/tzgg/202610/t20261010_1000.html"  # links the dead external URL
ZCWJ = PORTAL + "xxgk/zcwj/"  # stale since Q3, fixed in November
HYDT = QG + "hydt/"  # stale from December: open
BOARD_MSG = PORTAL + "hdjl/tzxx/#m1"  # the unanswered message: a veto from November
SLOW = PORTAL + "slow.html"  # slow in November only

SITE_YAML = """\
site: gxt
name: 甘肃省工业和信息化厅
hosts:
  - key: portal
    name: 门户网站
    url: http://gxt.example.gov.cn/
    columns:
      - {name: 工作动态, url: "http://gxt.example.gov.cn/xwdt/gzdt/", category: 动态要闻}
      - {name: 通知公告, url: "http://gxt.example.gov.cn/xxgk/tzgg/index.html", category: 通知公告}
      - {name: 政策文件, url: "http://gxt.example.gov.cn/xxgk/zcwj/", category: 政策文件}
    boards:
      - {name: 厅长信箱, url: "http://gxt.example.gov.cn/hdjl/tzxx/"}
  - key: qgw
    name: 轻工网
    url: http://qg.example.gov.cn/
    columns:
      - {name: 行业动态, url: "http://qg.example.gov.cn/hydt/", category: 工作动态}
"""


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def page(url: str, latency: float = 0.3, *, homepage: bool = False, reason: Reason = Reason.OK,
         status: int = 200, title: str = "", kind: TargetKind = TargetKind.PAGE, host: str | None = "portal"):
    return (Target(url=url, kind=kind, reason=reason, status=status, latency_s=latency, host_key=host),
            {"title": title, "is_homepage": homepage})


def finding(code: str, url: str, severity: Severity = Severity.ERROR, host: str | None = "portal",
            message: str = "", **details) -> Finding:
    return Finding(code, severity, url, message or code, "test", host, None, details)


def column_fact(host: str, name: str, newest: str | None, age: int | None, category: str, window: int) -> Fact:
    return Fact("column.newest", {"date": newest, "age_days": age, "category": category, "window_days": window,
                                  "items": 20, "no_update_expected": False}, host, key=name)


def message(key: str, title: str, asked: str, replied: str | None, status: str) -> Fact:
    days = (datetime.fromisoformat(replied) - datetime.fromisoformat(asked)).days if replied else None
    return Fact("board.message", {"board": "厅长信箱", "title": title, "url": f"{PORTAL}hdjl/tzxx/#{key}",
                                  "status": status, "asked": asked, "replied": replied, "reply_days": days},
                "portal", key=key)


def base_facts(columns: list[Fact]) -> list[Fact]:
    return [Fact("board.stats", {"count": 4, "answered": 2, "unanswered": 2, "late": 0, "median_reply_days": 5},
                 "portal", key="厅长信箱"),
            Fact("interaction.channel", {"found": True, "via": "厅长信箱"}, "portal"),
            Fact("homepage.newest", {"date": "2026-12-18", "age_days": 2, "recent_dates": 5}, "portal"),
            *columns]


# Each run: (start, status, pages, link occurrences, findings, facts, probe summary for the verdict)
def runs_spec():
    q3_columns = [column_fact("portal", "政策文件", "2025-12-01", 258, "政策文件", 183)]
    r5_columns = [column_fact("portal", "工作动态", "2026-12-18", 2, "动态要闻", 14),
                  column_fact("portal", "通知公告", "2026-12-01", 19, "通知公告", 183),
                  column_fact("portal", "政策文件", "2026-11-10", 40, "政策文件", 183),
                  column_fact("qgw", "行业动态", "2026-11-01", 49, "动态要闻", 14)]
    m1 = message("m1", f"企业补贴咨询{XSS}", "2026-07-01", None, "未回复")
    m2 = message("m2", "政策咨询", "2026-10-05", "2026-10-08", "已回复")
    m3_open = message("m3", "项目申报", "2026-10-20", None, "办理中")
    m3_done = message("m3", "项目申报", "2026-10-20", "2026-11-30", "已回复")
    m4 = message("m4", "年底咨询", "2026-12-10", None, "未回复")
    m5 = message("m5", "九月留言", "2026-09-25", "2026-10-02", "已回复")
    broken_pdf = page(OLD_PDF, 0.1, reason=Reason.NOT_FOUND, status=404, kind=TargetKind.ATTACHMENT)
    broken_ext = page(DEAD_EXTERNAL, 0.2, reason=Reason.NOT_FOUND, status=404, kind=TargetKind.EXTERNAL, host=None)
    pdf_link = (OLD_PDF, PORTAL, "旧文件", "a", 1)
    ext_link = (DEAD_EXTERNAL, TZGG_ARTICLE, XSS, "a", 0)
    p1 = finding("link.broken_homepage", OLD_PDF)
    p2 = finding("link.broken", DEAD_EXTERNAL, Severity.WARNING, host=None)
    p3 = finding("column.stale", ZCWJ, category="政策文件", name="政策文件", host="portal")
    p5 = finding("interaction.unanswered", BOARD_MSG, Severity.CRITICAL,
                 message=f"「厅长信箱」留言「企业补贴咨询{XSS}」已 137 天未回复", title=f"企业补贴咨询{XSS}")
    return [
        # 2026Q3
        (utc("2026-08-15T02:00:00"), "complete",
         [page(PORTAL, 0.5, homepage=True), page(PORTAL + "old/q3.html", 0.1, reason=Reason.NOT_FOUND, status=404)],
         [(PORTAL + "old/q3.html", PORTAL + "xwdt/", "旧页面", "a", 0)],
         [p3, finding("link.broken", PORTAL + "old/q3.html"),
          finding("link.not_checked", "http://10.0.0.1/", Severity.INFO, host=None)],
         base_facts(q3_columns), None),
        (utc("2026-09-20T02:00:00"), "complete",
         [page(PORTAL, 0.5, homepage=True), broken_pdf,
          page(PORTAL + "old/q3.html", 0.1, reason=Reason.NOT_FOUND, status=404)],
         [pdf_link, (PORTAL + "old/q3.html", PORTAL + "xwdt/", "旧页面", "a", 0)],
         [p1, p3, finding("link.broken", PORTAL + "old/q3.html")], base_facts(q3_columns), None),
        # 2026Q4: 01:00 on 1 October in Beijing, still 30 September in UTC
        (utc("2026-09-30T17:00:00"), "complete",
         [page(PORTAL, 0.5, homepage=True), page(PORTAL + "xwdt/gzdt/202609/t20260920_1999.html"), broken_pdf,
          broken_ext, page(TZGG_ARTICLE, 0.4, title=XSS)],
         [pdf_link, ext_link], [p1, p2, p3], base_facts(q3_columns), None),
        (utc("2026-11-15T02:00:00"), "complete",
         [page(PORTAL, 0.6, homepage=True), page(PORTAL + "xwdt/gzdt/202610/t20261015_2001.html", 0.2),
          page(TZGG_ARTICLE, 0.4, title=XSS), page(SLOW, 4.0),
          page(PORTAL + "xxgk/tzgg/202611/t20261101_404.html", 0.1, reason=Reason.NOT_FOUND, status=404),
          page(PORTAL + "zwgk/202611/t20261111_555.html", 0.3),
          page(PORTAL + "xwdt/gzdt/202609/t20260920_1999.html", 0.3), broken_pdf, broken_ext],
         [pdf_link, ext_link],
         [p1, p2, p5, finding("page.slow", SLOW, Severity.WARNING, latency_s=4.0)],
         base_facts(r5_columns) + [m1, m2, m3_open, m5], None),
        (utc("2026-12-20T02:00:00"), "complete",
         [page(PORTAL, 0.5, homepage=True), page(PORTAL + "xwdt/gzdt/202611/t20261120_2002.html", 0.2),
          page("https://gxt.example.gov.cn/xwdt/gzdt/202611/t20261120_2002.html", 0.25),
          page(TZGG_ARTICLE, 0.4, title=XSS), page(QG, 0.8, homepage=True, host="qgw"),
          page(QG + "hydt/202612/t20261205_77.html", 0.3, host="qgw"), broken_pdf],
         [pdf_link],
         [p1, p5, finding("mark.jiucuo_outdated_host", QG, Severity.WARNING, host="qgw"),
          finding("column.stale", HYDT, host="qgw", category="动态要闻", name="行业动态")],
         base_facts(r5_columns) + [m1, m2, m3_done, m4, m5], {"probes": 140, "failed": 0}),
        # died mid-crawl: its missing findings must not count as fixes
        (utc("2026-12-28T02:00:00"), "incomplete", [page(PORTAL, 0.5, homepage=True)], [], [], [], None),
        # 2027Q1: still finds an article dated 31 December
        (utc("2027-01-02T02:00:00"), "complete",
         [page(PORTAL, 0.5, homepage=True), page(PORTAL + "xxgk/tzgg/202612/t20261231_1003.html", 0.3)],
         [], [], base_facts([]), None),
    ]


def probe_rows():
    """20 portal-homepage probes a Beijing day through Q4 (at 00:30 ... 19:30), 6 failures; a sub-site
    homepage probed one day (2 failures); a failing key page, which is not a homepage."""
    rows = []
    day = datetime(2026, 10, 1)
    while day < datetime(2027, 1, 3):
        for hour in range(20):
            moment = (day + timedelta(hours=hour, minutes=30) - timedelta(hours=8)).replace(tzinfo=timezone.utc)
            at = moment.isoformat(timespec="milliseconds")  # as sitecheck.probe writes it
            local = day.date().isoformat()
            failed = (local == "2026-11-03" and hour < 5) or (local == "2026-12-24" and hour == 0) \
                or local == "2027-01-01"  # outside Q4 although its first probe is 31 Dec in UTC
            rows.append(("gxt", "portal", PORTAL, at, 0 if failed else 1, "portal"))
            if local == "2026-10-10":
                rows.append(("gxt", "portal", PORTAL + "bsfw/", at, 0, "page"))
            if local == "2026-11-20":
                rows.append(("gxt", "qgw", QG, at, 0 if hour < 2 else 1, "subsite"))
        day += timedelta(days=1)
    return rows


def build_store(path: Path, with_verdicts: bool = True) -> None:
    rules = load_rules("gov-2019")
    with Store(path) as store:
        for started, status, pages, links, findings, facts, probes in runs_spec():
            run_id = store.start_run("gxt", "digest", started_at=started)
            store.add_targets(run_id, pages)
            if links:
                add_link_occurrences(store, links)
            store.add_findings(run_id, findings)
            store.add_facts(run_id, facts)
            if with_verdicts and status == "complete":
                verdict = score(findings, facts, rules, probes)
                store.save_verdict(run_id, verdict.result, verdict.score, verdict.to_dict())
            store.finish_run(run_id, status, ended_at=started + timedelta(minutes=40))
        store.db.executemany("INSERT INTO probes (site, host_key, url, started_at, ok, kind) VALUES (?,?,?,?,?,?)",
                             probe_rows())


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    (root / "sites").mkdir()
    (root / "sites" / "gxt.yaml").write_text(SITE_YAML, encoding="utf-8")
    build_store(root / "store.sqlite3")
    return root


@pytest.fixture(scope="module")
def site(env):
    return load_site(env / "sites" / "gxt.yaml")


@pytest.fixture(scope="module")
def q4(env, site):
    with Store(env / "store.sqlite3", readonly=True) as store:
        return build_report(store, "gxt", parse_quarter("2026Q4"), now=NOW, site=site)


def run_cli(env: Path, *extra: str, now: datetime = NOW) -> int:
    args = sitecheck_cli.build_parser().parse_args(
        ["report", "--site", "gxt", "--config-dir", str(env), "--db", str(env / "store.sqlite3"), *extra])
    return report_cli.run(args, now=now)


@pytest.fixture(scope="module")
def files(env):
    out = env / "out"
    assert run_cli(env, "--quarter", "2026Q4", "--out", str(out)) == 0
    return {fmt: out / f"gxt-2026Q4.{fmt}" for fmt in ("docx", "html", "json")}


# --- periods ---------------------------------------------------------------------------------


def test_quarter_bounds_are_beijing_days():
    q4 = parse_quarter("2026Q4")
    assert (q4.start.isoformat(), q4.end.isoformat(), q4.label) == ("2026-10-01", "2026-12-31", "2026Q4")
    assert q4.start_utc == utc("2026-09-30T16:00:00")
    assert q4.end_utc == utc("2026-12-31T16:00:00")
    assert q4.contains(utc("2026-09-30T17:00:00")) and not q4.contains(utc("2026-12-31T16:30:00"))
    assert q4.previous().label == "2026Q3"
    assert parse_quarter("2027q1").previous().label == "2026Q4"
    assert parse_quarter("2026-Q2").days == 91


def test_resolve_ranges():
    assert resolve(None, None, None, now=utc("2026-11-20T20:00:00")).label == "2026Q4"
    assert resolve(None, None, None, now=utc("2026-12-31T16:30:00")).label == "2027Q1"  # already 1 Jan in Beijing
    narrowed = resolve("2026Q4", None, "2026-11-30", now=NOW)
    assert (narrowed.label, narrowed.quarter) == ("20261001-20261130", None)
    assert narrowed.previous() == Period(narrowed.start - timedelta(days=61), narrowed.start - timedelta(days=1))
    assert resolve(None, "2026-07-01", "2026-09-30", now=NOW).label == "2026Q3"
    assert resolve(None, "2026-12-01", None, now=NOW).end.isoformat() == "2027-01-05"
    for bad in (("2026Q5", None, None), ("Q4", None, None), (None, None, "2026-12-01"),
                ("2026Q4", "2026-12-01", "2026-11-01"), (None, "2026-13-01", None)):
        with pytest.raises(PeriodError):
            resolve(*bad, now=NOW)


# --- the data structure --------------------------------------------------------------------


def test_result_and_inspection_rows(q4):
    assert set(q4) == {"format", "version", "lang", "generated_at", "title", "site", "period", "runs", "result",
                       "inspection", "rectification", "comparison", "statistics"}
    assert q4["period"]["text"] == "2026年10月1日至2026年12月31日"
    assert q4["runs"]["count"] == 3 and q4["runs"]["skipped_incomplete"] == 1
    assert q4["runs"]["list"][0]["date"] == "2026-10-01"  # started 30 Sep 17:00 UTC
    result = q4["result"]
    assert (result["value"], result["score"], result["points_total"]) == ("不合格", 97.5, 2.5)
    assert result["vetoed"] == ["互动回应差"]
    rows = q4["inspection"]
    assert [r["id"] for r in rows[:6]] == ["unreachable", "homepage_stale", "columns_stale", "interaction_poor",
                                           "service_useless", "serious_error"]
    assert all(r["kind"] == "veto" for r in rows[:6]) and all(r["kind"] == "deduction" for r in rows[6:])
    veto = {r["id"]: r for r in rows[:6]}
    assert veto["interaction_poor"]["status"] == "veto" and veto["interaction_poor"]["points_text"] == "否决"
    assert "留言超过3个月未回复：1项" in veto["interaction_poor"]["finding"]
    assert "本期 3 次检查中有 2 次触发否决" in veto["interaction_poor"]["finding"]
    assert veto["interaction_poor"]["examples"] == [BOARD_MSG]
    assert "互动交流渠道" in veto["interaction_poor"]["measure"]
    assert veto["columns_stale"]["status"] == "pass" and "未达否决阈值 5" in veto["columns_stale"]["finding"]
    assert veto["service_useless"]["status"] == "no_data"
    assert veto["unreachable"]["status"] == "pass"
    areas = [r["level1"] for r in rows[6:]]
    assert areas == sorted(areas, key=["发布解读", "办事服务", "互动交流", "功能设计"].index)
    points = {r["id"]: r["points"] for r in rows[6:]}
    assert points == {"columns_stale": 1.0, "columns_blank": 0.0, "wrong_words": 0.0, "guides": 0.0,
                      "homepage_links": 1.0, "page_links": 0.0, "entries": 0.0, "entries_broken": 0.0,
                      "marks": 0.5, "meta": 0.0}
    marks = next(r for r in rows if r["id"] == "marks")
    assert marks["criterion"] == "网站标识、备案、找错入口不规范：每处扣0.5分，最多扣2分"
    assert marks["finding"] == "发现 1 处问题。" and marks["examples"] == [QG]
    assert marks["estimate"] is True


def test_rectification_list(q4):
    rect = q4["rectification"]
    assert {k: rect["summary"][k] for k in ("total", "open", "fixed", "new", "carried_over")} == \
        {"total": 7, "open": 4, "fixed": 3, "new": 5, "carried_over": 2}
    items = {(it["code"], it["url"]): it for it in rect["items"]}
    assert ("link.not_checked", "http://10.0.0.1/") not in items  # info: not a problem to rectify
    assert ("link.broken", PORTAL + "old/q3.html") not in items  # Q3 only
    pdf = items[("link.broken_homepage", OLD_PDF)]
    assert (pdf["status"], pdf["first_seen"], pdf["last_seen"], pdf["new"], pdf["runs_seen"]) == \
        ("open", "2026-09-20", "2026-12-20", False, 3)
    assert pdf["found_on"] == [{"page": PORTAL, "text": "旧文件", "on_homepage": True}]
    assert (pdf["host"], pdf["column"]) == ("portal", None)
    ext = items[("link.broken", DEAD_EXTERNAL)]
    assert (ext["status"], ext["fixed_on"], ext["first_seen"], ext["new"]) == \
        ("fixed", "2026-12-20", "2026-10-01", True)
    assert ext["found_on"][0]["page"] == TZGG_ARTICLE and ext["found_on"][0]["text"] == XSS
    assert (ext["host"], ext["host_name"], ext["column"], ext["category"]) == ("portal", "门户网站", "通知公告", "通知公告")
    stale = items[("column.stale", ZCWJ)]
    assert (stale["status"], stale["fixed_on"], stale["first_seen"], stale["column"]) == \
        ("fixed", "2026-11-15", "2026-08-15", "政策文件")
    hydt = items[("column.stale", HYDT)]
    assert (hydt["status"], hydt["host"], hydt["column"], hydt["category"]) == ("open", "qgw", "行业动态", "动态要闻")
    assert items[("interaction.unanswered", BOARD_MSG)]["status"] == "open"
    assert items[("page.slow", SLOW)]["fixed_on"] == "2026-12-20"
    assert items[("mark.jiucuo_outdated_host", QG)]["first_seen"] == "2026-12-20"
    assert [it["status"] for it in rect["items"]] == ["open"] * 4 + ["fixed"] * 3
    assert [it["no"] for it in rect["items"]] == list(range(1, 8))


def test_comparison_with_previous_quarter(q4):
    c = q4["comparison"]
    assert c["available"] and c["previous_period"]["label"] == "2026Q3" and c["previous_runs"] == 2
    assert (c["result"]["current"], c["result"]["previous"], c["result"]["trend"]) == ("不合格", "合格", "worse")
    assert (c["score"]["current"], c["score"]["previous"], c["score"]["change"]) == (97.5, 97.9, -0.4)
    ind = {i["id"]: i for i in c["indicators"]}
    assert (ind["interaction_poor"]["current"], ind["interaction_poor"]["previous"], ind["interaction_poor"]["trend"]) \
        == ("veto", "pass", "worse")
    assert ind["unreachable"]["trend"] == "n/a"  # no probes were judged in Q3
    assert (ind["page_links"]["current"], ind["page_links"]["previous"], ind["page_links"]["trend"]) == \
        (0.0, 0.1, "better")
    assert ind["marks"]["trend"] == "worse" and ind["homepage_links"]["trend"] == "same"
    codes = {row["code"]: (row["current"], row["previous"], row["trend"]) for row in c["codes"]}
    assert codes == {"column.stale": (1, 1, "same"), "interaction.unanswered": (1, 0, "worse"),
                     "link.broken": (0, 1, "better"), "link.broken_homepage": (1, 1, "same"),
                     "mark.jiucuo_outdated_host": (1, 0, "worse")}


def test_statistics(q4):
    s = q4["statistics"]
    pub = s["publications"]
    assert (pub["total"], pub["unassigned"]) == (6, 1)
    assert pub["by_category"] == [{"category": "动态要闻", "count": 3}, {"category": "通知公告", "count": 2},
                                  {"category": "政策文件", "count": 0}]
    assert {(r["host"], r["column"]): r["count"] for r in pub["by_column"]} == \
        {("portal", "工作动态"): 2, ("portal", "通知公告"): 2, ("portal", "政策文件"): 0, ("qgw", "行业动态"): 1}
    m = s["messages"]
    assert (m["source"], m["received"], m["answered"], m["unanswered"], m["replied"], m["median_reply_days"],
            m["over_limit"]) == ("board.message", 3, 2, 1, 3, 7, 1)
    assert [b["count"] for b in m["histogram"]] == [1, 1, 0, 0, 1, 0]
    a = s["availability"]
    assert (a["probes"], a["failed"], a["availability"], a["days_below"]) == (1840, 6, 0.9967, 1)
    assert len(a["days"]) == 92 and a["days"][0] == {"date": "2026-10-01", "probes": 20, "failed": 0,
                                                      "availability": 1.0}
    assert next(d for d in a["days"] if d["date"] == "2026-11-03")["availability"] == 0.75
    assert a["worst_week"]["ratio"] == round(5 / 140, 4)
    assert [(h["host"], h["probes"], h["failed"]) for h in a["by_host"]] == [("portal", 1840, 6), ("qgw", 20, 2)]
    assert [(r["date"], r["homepage"], r["other"]) for r in s["broken_links"]] == \
        [("2026-10-01", 1, 1), ("2026-11-15", 1, 1), ("2026-12-20", 1, 0)]
    last = s["response_times"][-1]
    assert (last["pages"], last["p50"], last["p90"], last["p95"], last["max"], last["homepage"]) == \
        (6, 0.3, 0.8, 0.8, 0.8, 0.65)
    assert s["response_times"][1]["p90"] == 4.0
    fresh = {c["column"]: (c["state"], c["age_days"]) for c in s["column_freshness"]}
    assert fresh == {"行业动态": ("stale", 49), "工作动态": ("ok", 2), "通知公告": ("ok", 19), "政策文件": ("ok", 40)}
    assert s["column_freshness"][0]["column"] == "行业动态"


def test_previous_quarter_report_has_nothing_to_compare(env, site):
    with Store(env / "store.sqlite3", readonly=True) as store:
        q3 = build_report(store, "gxt", parse_quarter("2026Q3"), now=NOW, site=site)
    assert (q3["result"]["value"], q3["result"]["score"]) == ("合格", 97.9)
    assert q3["comparison"]["available"] is False and "2026年4月1日至2026年6月30日" in q3["comparison"]["text"]
    assert {it["url"]: it["status"] for it in q3["rectification"]["items"]} == \
        {OLD_PDF: "open", ZCWJ: "open", PORTAL + "old/q3.html": "open"}
    assert q3["statistics"]["availability"]["probes"] == 0


def test_verdict_scored_when_none_stored(tmp_path, site):
    build_store(tmp_path / "bare.sqlite3", with_verdicts=False)
    with Store(tmp_path / "bare.sqlite3", readonly=True) as store:
        report = build_report(store, "gxt", parse_quarter("2026Q4"), now=NOW, site=site)
    assert (report["result"]["value"], report["result"]["score"], report["result"]["computed"]) == \
        ("不合格", 97.5, True)
    assert report["inspection"][0]["status"] == "pass"  # unreachable, judged from the probes table


def test_report_without_a_site_file(env):
    """From the store alone: stored verdicts, problems and figures, without column names."""
    with Store(env / "store.sqlite3", readonly=True) as store:
        report = build_report(store, "gxt", parse_quarter("2026Q4"), now=NOW)
    assert (report["result"]["value"], report["result"]["score"]) == ("不合格", 97.5)
    assert report["inspection"][6]["criterion"] == "栏目更新不及时：每处扣1分，最多扣6分"  # the verdict's rule set
    assert report["rectification"]["summary"]["total"] == 7
    assert all(it["column"] is None for it in report["rectification"]["items"])
    assert (report["statistics"]["publications"]["total"], report["statistics"]["publications"]["unassigned"]) == (6, 6)
    assert report["statistics"]["availability"]["probes"] == 1840  # the probes' recorded kind tells them apart


def test_probes_without_a_recorded_kind_are_told_apart_by_url(site):
    index = SiteIndex(site, None)
    assert [index.probe_kind(u) for u in (PORTAL + "index.html", QG, PORTAL + "bsfw/")] == ["portal", "subsite", "page"]
    assert SiteIndex(None, None).probe_kind(QG) == "portal"  # no site file: nothing to tell them apart


def test_no_runs_in_period(env, site, capsys):
    with Store(env / "store.sqlite3", readonly=True) as store, pytest.raises(ReportError, match="runs span"):
        build_report(store, "gxt", parse_quarter("2025Q1"), now=NOW, site=site)
    assert run_cli(env, "--quarter", "2025Q1", "--out", str(env / "none")) == 2
    err = capsys.readouterr().err
    assert "no complete run in 2025Q1" in err and "2026-08-15 to 2027-01-02" in err
    assert not (env / "none").exists()
    assert run_cli(env, "--quarter", "2026Q4", "--format", "pdf") == 2
    assert run_cli(env, "--quarter", "2026Q9") == 2


# --- the files -----------------------------------------------------------------------------------


def docx_tables(path: Path) -> list[list[list[str]]]:
    return [[[cell.text for cell in row.cells] for row in t.rows] for t in docx.Document(str(path)).tables]


def find_table(tables, *header: str):
    return next(t for t in tables if all(h in t[0] for h in header))


def test_cli_writes_three_files(files, capsys):
    for path in files.values():
        assert path.is_file() and path.stat().st_size > 0


def test_docx_content(files, q4):
    document = docx.Document(str(files["docx"]))
    texts = [p.text for p in document.paragraphs]
    assert "网站季度自查报告" in texts
    tables = docx_tables(files["docx"])
    summary = {row[0]: row[1] for row in tables[0]}
    assert summary["检查期间"] == "2026年10月1日至2026年12月31日（2026Q4）"
    assert summary["检查结果"] == "不合格"
    assert summary["估算得分"].startswith("97.5 / 100")

    inspection = find_table(tables, "一级指标", "二级指标", "考察点", "检查情况/存在的问题", "扣分", "问题整改对策")
    body = inspection[1:-1]
    assert len(body) == len(q4["inspection"]) == 16
    assert [row[1] for row in body[:6]] == ["站点无法访问", "首页不更新", "栏目不更新", "互动回应差", "服务不实用",
                                           "严重错误"]
    by_item = {row[1]: row for row in body}
    assert by_item["互动回应差"][4] == "否决" and by_item["互动回应差"][0] == "单项否决指标"
    assert BOARD_MSG in by_item["互动回应差"][3]
    assert by_item["首页链接不可用"][0] == "功能设计" and by_item["首页链接不可用"][4] == "1（估算）"
    assert by_item["网站标识、备案、找错入口不规范"][4] == "0.5（估算）"
    assert by_item["栏目更新不及时"][4] == "1（估算）" and by_item["空白栏目"][4] == "0"
    assert inspection[-1][4] == "2.5" and "不合格" in inspection[-1][0]

    rect = find_table(tables, "序号", "问题类型", "问题地址", "所在页面", "首次发现", "整改状态")
    rows = {r[2]: r for r in rect[1:]}
    assert len(rows) == 7
    assert rows[OLD_PDF][5] == "2026-09-20" and rows[OLD_PDF][7] == "未整改"
    assert rows[DEAD_EXTERNAL][7] == "已整改（2026-12-20）" and rows[DEAD_EXTERNAL][5] == "2026-10-01"
    assert XSS in rows[DEAD_EXTERNAL][3] and rows[DEAD_EXTERNAL][4] == "门户网站 / 通知公告"
    assert rows[ZCWJ][7] == "已整改（2026-11-15）" and rows[ZCWJ][5] == "2026-08-15"
    assert rows[HYDT][4] == "轻工网 / 行业动态"
    by_code = find_table(tables, "问题类型", "已整改", "未整改")
    assert sum(int(r[1]) for r in by_code[1:]) == 3 and sum(int(r[2]) for r in by_code[1:]) == 4

    cmp = find_table(tables, "指标", "本期（2026Q4）", "上期（2026Q3）", "趋势")
    cmp_rows = {r[0]: r[1:] for r in cmp[1:]}
    assert cmp_rows["检查结果"] == ["不合格", "合格", "变差"]
    assert cmp_rows["估算得分"] == ["97.5", "97.9", "变差"]
    assert cmp_rows["互动回应差"] == ["否决", "通过", "变差"]
    assert cmp_rows["其他页面链接不可用"] == ["0", "0.1", "好转"]
    codes = find_table(tables, "问题类型", "本期", "上期", "变化")
    assert {r[0]: r[1:] for r in codes[1:]}["链接不可用"] == ["0", "1", "-1", "好转"]

    pub = find_table(tables, "栏目类别", "发布数量")
    assert {r[0]: r[1] for r in pub[1:]} == {"动态要闻": "3", "通知公告": "2", "政策文件": "0", "未归入配置栏目": "1",
                                             "合计": "6"}
    messages = next(t for t in tables if t[0][0] == "本期收到留言")
    assert {r[0]: r[1] for r in messages} == {"本期收到留言": "3", "其中已回复": "2", "其中未回复": "1",
                                              "本期回复留言": "3", "回复用时中位数（天）": "7",
                                              "超过 90 天未回复或回复": "1"}
    availability = next(t for t in tables if t[0][0] == "监测次数")
    assert {r[0]: r[1] for r in availability}["可用率"] == "99.67%"
    assert {r[0]: r[1] for r in availability}["失败次数"] == "6"
    bad_days = find_table(tables, "日期", "监测次数", "失败次数", "可用率")
    assert bad_days[1:] == [["2026-11-03", "20", "5", "75.00%"]]
    broken = find_table(tables, "日期", "首页不可用链接", "其他页面不可用链接")
    assert [r[:3] for r in broken[1:]] == [["2026-10-01", "1", "1"], ["2026-11-15", "1", "1"], ["2026-12-20", "1", "0"]]
    fresh = find_table(tables, "栏目", "最新信息日期", "状态")
    assert fresh[1][1:] == ["行业动态", "动态要闻", "2026-11-01", "49", "14", "超期未更新"]


def test_docx_east_asian_fonts(files):
    document = docx.Document(str(files["docx"]))
    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    normal = document.styles["Normal"].element.rPr.find(f"{ns}rFonts")
    assert normal.get(f"{ns}eastAsia") == "宋体"
    heading = document.styles["Heading 1"].element.rPr.find(f"{ns}rFonts")
    assert heading.get(f"{ns}eastAsia") == "黑体" and heading.get(f"{ns}eastAsiaTheme") is None
    runs = [r for p in document.paragraphs for r in p.runs if r.text]
    assert runs and all(r._element.rPr.find(f"{ns}rFonts").get(f"{ns}eastAsia") in ("宋体", "黑体") for r in runs)
    landscape = document.sections[-1]
    assert landscape.page_width > landscape.page_height  # the rectification annex


def test_html_agrees_and_escapes(files, q4):
    html = files["html"].read_text(encoding="utf-8")
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find_all("script") == []
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not soup.find_all(src=True) and "http" not in (soup.find("style").text or "")
    field = lambda name: soup.find(attrs={"data-field": name}).get_text(strip=True)  # noqa: E731
    assert field("result") == "不合格" and field("score").startswith("97.5")
    assert field("points-total") == "2.5"
    rows = soup.select("#inspection-table tbody tr[data-id]")
    assert [r["data-id"] for r in rows] == [f"{r['kind']}.{r['id']}" for r in q4["inspection"]]
    veto = soup.select_one('tr[data-id="veto.interaction_poor"]')
    assert veto.select_one('[data-field="points"]').get_text(strip=True) == "否决"
    rect = soup.select("#rectification-table tbody tr")
    assert len(rect) == q4["rectification"]["summary"]["total"]
    assert [r["data-status"] for r in rect] == [it["status"] for it in q4["rectification"]["items"]]
    ext = next(r for r in rect if DEAD_EXTERNAL in r.get_text())
    assert XSS in ext.select_one(".found-on").get_text()  # shown as text
    assert "2026-12-20" in ext.select_one('[data-field="status"]').get_text()
    assert field("publications-total") == "6"
    assert (field("received"), field("answered"), field("median"), field("over-limit")) == ("3", "2", "7", "1")
    assert (field("probes"), field("failed"), field("availability")) == ("1840", "6", "99.67%")
    codes = {r["data-code"]: [td.get_text(strip=True) for td in r.find_all("td")[1:4]]
             for r in soup.select("#comparison-codes tbody tr")}
    assert codes["link.broken"] == ["0", "1", "-1"] and codes["interaction.unanswered"] == ["1", "0", "+1"]
    svgs = soup.find_all("svg")
    assert len(svgs) == 5  # availability, broken links, response times, freshness, reply times
    assert len(soup.select("svg rect.bad")) == 1  # 3 November
    assert all(a["href"].startswith("http") for a in soup.find_all("a"))


def test_json_matches_data(files, q4):
    data = json.loads(files["json"].read_text(encoding="utf-8"))
    assert {k: v for k, v in data.items() if k != "generated_at"} == \
        {k: v for k, v in json.loads(json.dumps(q4)).items() if k != "generated_at"}


def test_crawled_javascript_url_never_becomes_a_link(q4):
    report = json.loads(json.dumps(q4))
    item = next(it for it in report["rectification"]["items"] if it["found_on"])
    item["url"] = "javascript:alert(1)"
    item["found_on"][0]["text"] = '"><img src=x onerror=alert(1)>'
    soup = BeautifulSoup(render_html(report), "html.parser")
    assert not soup.find_all("script") and not soup.find_all("img")
    assert all(not a["href"].startswith("javascript") for a in soup.find_all("a"))
    assert safe_href("javascript:alert(1)") is None and safe_href("https://a.gov.cn/x") == "https://a.gov.cn/x"


def test_english_labels(env):
    out = env / "en"
    assert run_cli(env, "--quarter", "2026Q4", "--lang", "en", "--format", "docx,json", "--out", str(out)) == 0
    assert not (out / "gxt-2026Q4.html").exists()
    tables = docx_tables(out / "gxt-2026Q4.docx")
    assert find_table(tables, "Indicator", "Item", "What is checked", "Findings / problems", "Deduction",
                      "Rectification")
    summary = {row[0]: row[1] for row in tables[0]}
    assert summary["Result"] == "Unqualified" and summary["Inspection period"].startswith("2026-10-01 to 2026-12-31")
    data = json.loads((out / "gxt-2026Q4.json").read_text(encoding="utf-8"))
    assert data["lang"] == "en" and data["result"]["value"] == "不合格" and data["result"]["label"] == "Unqualified"


def test_custom_range_file_name(env, capsys):
    out = env / "range"
    assert run_cli(env, "--quarter", "2026Q4", "--to", "2026-11-30", "--format", "json", "--out", str(out)) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == out / "gxt-20261001-20261130.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["runs"]["count"] == 2 and data["title"] == "网站自查报告"
    assert data["comparison"]["previous_period"] == {"label": "20260801-20260930", "start": "2026-08-01",
                                                     "end": "2026-09-30"}


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (apt-get install chromium)")
def test_screenshot_script(files, tmp_path):
    png = tmp_path / "report.png"
    proc = subprocess.run([str(REPO / "scripts" / "screenshot_report.sh"), str(files["html"]), str(png)],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 3000)
