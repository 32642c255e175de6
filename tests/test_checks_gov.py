"""Government-rule checks on hand-built and real pages: entries, marks, interaction, columns, guides, words."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitecheck.checks import registry
from sitecheck.checks.base import Disabled
from sitecheck.checks.columns import ColumnsCheck
from sitecheck.checks.entries import EntriesCheck
from sitecheck.checks.guides import GuidesCheck
from sitecheck.checks.interaction import InteractionCheck
from sitecheck.checks.marks import MarksCheck
from sitecheck.checks.words import WordsCheck
from sitecheck.config import ConfigError, load_site
from sitecheck.config.schema import defaults_of
from sitecheck.crawler.extract import extract_links
from sitecheck.model import Fact, Finding, Link, Page, Reason, Severity, Target, TargetKind

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)  # 12:00 in Beijing
TODAY = date(2026, 11, 20)

GOV_CHECKS = ("entries", "marks", "interaction", "columns", "guides", "words")

SITE_YAML = """\
site: demo
name: 演示厅
hosts:
  - key: portal
    name: 门户网站
    url: http://portal.test/
    site_code: "6200000034"
    columns:
      - {name: 通知公告, url: "http://portal.test/xxgk/tzgg/", category: 通知公告}
      - {name: 工作动态, url: "http://portal.test/xwzx/gzdt/", category: 工作动态}
      - {name: 政策解读, url: "http://portal.test/zcjd/", category: 政策文件}
      - {name: 历史专题, url: "http://portal.test/ztzl/old/", category: 动态要闻, no_update_expected: true}
      - {name: 人事信息, url: "http://portal.test/rsxx/", category: 人事信息}
    boards:
      - {name: 主任信箱, url: "http://portal.test/hdjl/zrxx/"}
    entries:
      - {name: 信息公开}
      - {name: 政务服务}
      - {name: 互动交流}
      - {name: 政策解读}
      - {name: 决策公开}
      - {name: 主任信箱}
      - {name: 我为政府网站找错}
      - {name: 站内搜索}
      - {name: 网站地图}
    guides: ["/bsfw/bszn/"]
  - key: qgw
    name: 轻工网
    url: http://qgw.test/
    guides: ["/zn/"]
"""


def write_site(tmp_path: Path, text: str = SITE_YAML) -> Path:
    path = tmp_path / "demo.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def site(tmp_path):
    return load_site(write_site(tmp_path))


def make(cls, site, **options):
    opts = defaults_of(cls.options)
    opts.update(options)
    return cls(site, opts)


def page(url: str, body: str, host_key: str = "portal", is_homepage: bool = False, head: str = "") -> Page:
    """A page as the crawler hands it over, from the <head> and <body> contents."""
    return crawled(url, f"<html><head>{head}</head><body>{body}</body></html>", host_key, is_homepage)


def crawled(url: str, html: str, host_key: str = "portal", is_homepage: bool = False) -> Page:
    """A page as the crawler hands it over: decoded HTML plus its links, read by the crawler's code.

    The links are read from a copy: a page from the main process reaches the checks without its reading.
    """
    links = extract_links(Page(url=url, html=html, host_key=host_key).reading, url)
    return Page(url=url, html=html, host_key=host_key, is_homepage=is_homepage, links=links)


def sample_page(name: str, url: str, host_key: str = "portal", is_homepage: bool = True) -> Page:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"real sample pages not found at {SAMPLES} (CI places shared/ beside the checkout)")
    raw = path.read_bytes()
    return crawled(url, raw.decode("gb18030") if "gb2312" in name else raw.decode("utf-8"), host_key, is_homepage)


class FakeRun:
    def __init__(self, site, targets=(), previous=None, now=NOW):
        self.site = site
        self.now = now
        self._targets = list(targets)
        self._previous = previous or {}

    def targets(self, failed_only: bool = True):
        return iter([t for t in self._targets if not failed_only or t.reason.is_failure])

    def previous_fact(self, name, host_key=None, key=""):
        return self._previous.get((name, host_key, key))

    def pages_seen(self):
        return 0


def run_check(check, pages, run):
    out = []
    for p in pages:
        out.extend(check.on_page(p))
    out.extend(check.on_finish(run))
    return [o for o in out if isinstance(o, Finding)], [o for o in out if isinstance(o, Fact)]


def codes(findings):
    return sorted(f.code for f in findings)


def ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


# --- registration and site-file options ------------------------------------------------------


def test_checks_register_and_validate_their_options(tmp_path):
    text = SITE_YAML + """checks:
  entries: {}
  marks: {code_prefix: "62", meta_required: {article: [ArticleTitle]}}
  interaction: {reply_days: 60}
  columns: {homepage_window_days: 7}
  guides: {elements: [事项名称, 办理地点], synonyms: {办理地点: [服务窗口]}}
  words: {wrong: [{wrong: 工信局, correct: 工业和信息化厅}], forbidden: [赌场]}
"""
    site = load_site(write_site(tmp_path, text))
    assert site.checks["marks"]["meta_required"]["article"] == ["ArticleTitle"]
    assert site.checks["marks"]["meta_required"]["site"] == ["SiteName", "SiteDomain", "SiteIDCode"]
    for name in GOV_CHECKS:
        cls = registry.load(name)
        assert cls.name == name and cls.codes
        cls(site, site.checks[name])


def test_unknown_column_category_names_the_line(tmp_path):
    text = SITE_YAML.replace("category: 人事信息", "category: 人事新闻")
    with pytest.raises(ConfigError) as err:
        load_site(write_site(tmp_path, text))
    assert err.value.line == 13 and err.value.key == "hosts[0].columns[4].category"
    assert "unknown category '人事新闻'" in str(err.value) and "通知公告" in str(err.value)


def test_invalid_board_selector_is_a_config_error(tmp_path):
    text = SITE_YAML.replace('{name: 主任信箱, url: "http://portal.test/hdjl/zrxx/"}',
                             '{name: 主任信箱, url: "http://portal.test/hdjl/zrxx/", item_selector: "li[["}')
    with pytest.raises(ConfigError) as err:
        load_site(write_site(tmp_path, text))
    assert err.value.key == "hosts[0].boards[0].item_selector" and err.value.line == 15


def test_province_rule_set_beside_the_site_file(tmp_path):
    (tmp_path / "sites").mkdir()
    (tmp_path / "indicators").mkdir()
    (tmp_path / "indicators" / "province.yaml").write_text(
        "name: province\ncategories:\n  新闻: {window_days: 7}\nveto: {}\n", encoding="utf-8")
    text = SITE_YAML.replace("name: 演示厅\n", "name: 演示厅\nrules: province\n")
    with pytest.raises(ConfigError, match="unknown category '通知公告'.*rule set 'province': 新闻"):
        load_site(write_site(tmp_path / "sites", text))
    lines = [line for line in text.splitlines() if "category:" not in line or "通知公告" not in line]
    text = "\n".join(lines).replace("category: 工作动态", "category: 新闻").replace("category: 政策文件", "category: 新闻")
    text = text.replace("category: 动态要闻", "category: 新闻").replace("category: 人事信息", "category: 新闻")
    site = load_site(write_site(tmp_path / "sites", text + "\n"))
    check = make(ColumnsCheck, site)
    assert check.rules.name == "province" and check.rules.window_days("新闻") == 7


def test_duplicate_board_names_rejected(tmp_path):
    text = SITE_YAML.replace('      - {name: 主任信箱, url: "http://portal.test/hdjl/zrxx/"}\n',
                             '      - {name: 主任信箱, url: "http://portal.test/hdjl/zrxx/"}\n'
                             '      - {name: 主任信箱, url: "http://portal.test/hdjl/x/"}\n')
    with pytest.raises(ConfigError, match="duplicate board '主任信箱'"):
        load_site(write_site(tmp_path, text))


# --- entries ----------------------------------------------------------------------------------

PORTAL_HOME = """
<div class="nav"><a href="/xxgk/">信息公开</a><a href="/bsfw/">政务服务</a><a href="/hdjl/">互动交流</a>
<a href="/zcjd/">政策解读</a><a href="/hdjl/zrxx/">主任信箱</a><a href="/wzdt/">网站地图</a></div>
<form action="/search/"><input name="q" placeholder="请输入关键词"></form>
<script id="_jiucuo_" sitecode="6200000034" src="https://zfwzgl.www.gov.cn/exposure/jiucuo.js"></script>
"""


def test_entries_missing_and_broken(site):
    check = make(EntriesCheck, site)
    home = page("http://portal.test/", PORTAL_HOME, is_homepage=True)
    broken = Target("http://portal.test/xxgk/", TargetKind.PAGE, Reason.NOT_FOUND, status=404, host_key="portal")
    findings, facts = run_check(check, [home, page("http://qgw.test/", "<a href='/x'>首页</a>", "qgw", True)],
                                FakeRun(site, [broken]))
    assert codes(findings) == ["entry.broken", "entry.missing"]
    missing = next(f for f in findings if f.code == "entry.missing")
    assert missing.details == {"name": "决策公开", "host": "portal"} and missing.severity == Severity.ERROR
    assert missing.url == "http://portal.test/" and "决策公开" in missing.message
    broken_f = next(f for f in findings if f.code == "entry.broken")
    assert broken_f.url == "http://portal.test/xxgk/" and broken_f.details["name"] == "信息公开"
    (fact,) = facts
    assert fact.name == "entries.homepage" and "站内搜索" in fact.value["present"]  # met by the search form


def test_entries_patterns_match_url(site):
    site.hosts[1].gov["entries"] = [{"name": "群众办事百项堵点疏解行动", "patterns": [r"bdsj"]}]
    check = make(EntriesCheck, site)
    home = page("http://qgw.test/", "<a href='/zt/bdsj/'><img alt=''></a>", "qgw", True)
    findings, _ = run_check(check, [home], FakeRun(site))
    assert findings == []


def test_entries_need_the_homepage(site):
    findings, facts = run_check(make(EntriesCheck, site), [page("http://portal.test/a.html", PORTAL_HOME)],
                                FakeRun(site))
    assert findings == [] and facts == []


# --- marks ------------------------------------------------------------------------------------

FOOTER = """<div class="footer">网站标识码：6200000034 <a href="https://beian.miit.gov.cn/">陇ICP备05000001号</a>
<a href="http://www.beian.gov.cn/portal/registerSystemInfo?recordcode=62010202000001">甘公网安备 62010202000001号</a>
<span id="_ideConac"><a href="https://bszs.conac.cn/sitename?method=show&amp;id=ABCDEF0123456789">党政机关</a></span>
{jiucuo}</div>"""
JIUCUO_OK = '<a href="https://zfwzgl.www.gov.cn/exposure/jiucuo.html?site_code=6200000034&url=x">我为政府网站找错</a>'
SITE_META = ('<meta name="SiteName" content="演示厅"><meta name="SiteDomain" content="portal.test">'
             '<meta name="SiteIDCode" content="6200000034">')


def test_marks_complete_homepage_has_no_findings(site):
    home = page("http://portal.test/", FOOTER.format(jiucuo=JIUCUO_OK), is_homepage=True, head=SITE_META)
    findings, facts = run_check(make(MarksCheck, site, code_prefix="62"), [home], FakeRun(site))
    assert findings == []
    fact = next(f for f in facts if f.name == "marks.homepage")
    assert fact.value["site_code"] == "6200000034" and fact.value["beian"] == "甘公网安备62010202000001号"
    assert fact.value["jiucuo"] == [{"host": "zfwzgl.www.gov.cn", "site_code": "6200000034", "via": "link"}]


def test_marks_planted_faults(site):
    qgw = page("http://qgw.test/", FOOTER.format(jiucuo=JIUCUO_OK.replace("6200000034&", "6200000099&")),
               "qgw", True)
    gbk = page("http://portal.test/", FOOTER.format(
        jiucuo='<a href="http://121.43.68.40/exposure/jiucuo.html?site_code=6200000034">找错</a>'), is_homepage=True)
    findings, _ = run_check(make(MarksCheck, site), [qgw, gbk], FakeRun(site))
    assert codes(findings) == ["mark.jiucuo_outdated_host", "mark.meta_missing", "mark.meta_missing",
                               "mark.site_code_mismatch"]
    mismatch = next(f for f in findings if f.code == "mark.site_code_mismatch")
    assert mismatch.host_key == "qgw" and mismatch.details["codes"] == {"footer": "6200000034",
                                                                         "jiucuo": "6200000099"}
    outdated = next(f for f in findings if f.code == "mark.jiucuo_outdated_host")
    assert outdated.details["jiucuo_host"] == "121.43.68.40" and outdated.severity == Severity.ERROR


def test_marks_missing_beian_and_invalid_code(site):
    body = FOOTER.format(jiucuo=JIUCUO_OK).replace("6200000034", "6100000034")
    body = body.split('<a href="http://www.beian.gov.cn')[0] + body.split("号</a>", 2)[2]
    home = page("http://portal.test/", body, is_homepage=True, head=SITE_META.replace("62000", "61000"))
    findings, _ = run_check(make(MarksCheck, site, code_prefix="62"), [home], FakeRun(site))
    got = {(f.code, f.details.get("mark")) for f in findings}
    assert got == {("mark.missing", "beian"), ("mark.invalid", "site_code"), ("mark.site_code_mismatch", None)}


def test_marks_govcn_sample(site):
    home = sample_page("homepage_govcn_20230927.html", "https://www.gov.cn/")
    findings, facts = run_check(make(MarksCheck, site), [home], FakeRun(site))
    fact = next(f for f in facts if f.name == "marks.homepage").value
    assert fact["site_code"] == "bm01000001" and fact["icp"] == "京ICP备05070218号"
    assert fact["beian"] == "京公网安备11010202000001号" and fact["beian_link"] == "11010202000001"
    assert fact["jiucuo"] == [{"host": "", "site_code": None, "via": "site_own",
                               "url": "https://www.gov.cn/fuwu/jiucuopage.html"}]
    # the portal is configured with another code, and gov.cn has no Site* meta tags
    assert codes(findings) == ["mark.meta_missing", "mark.site_code_mismatch"]
    meta = next(f for f in findings if f.code == "mark.meta_missing")
    assert meta.details["tags"] == {"SiteName": 1, "SiteDomain": 1, "SiteIDCode": 1}


def test_marks_yichun_sample_is_clean(site):
    site.hosts[0].gov["site_code"] = "3609000002"
    home = sample_page("homepage_yichun_20231011.html", "https://www.yichun.gov.cn/")
    findings, facts = run_check(make(MarksCheck, site), [home], FakeRun(site))
    assert findings == []
    fact = next(f for f in facts if f.name == "marks.homepage").value
    assert fact["jiucuo"] == [{"host": "zfwzgl.www.gov.cn", "site_code": "3609000002", "via": "script"}]
    assert fact["beian"] == "赣公网安备36090202000004号" and fact["meta_site_code"] == "3609000002"


def test_marks_shanxi_article_meta_present(site):
    article = sample_page("article_shanxi_1.html", "http://www.shanxi.gov.cn/yw/sxyw/201909/t20190918_693227.shtml",
                          is_homepage=False)
    findings, facts = run_check(make(MarksCheck, site), [article], FakeRun(site))
    assert findings == []
    meta = next(f for f in facts if f.name == "marks.meta")
    assert meta.key == "article" and meta.value["pages"] == 1 and meta.value["pages_missing"] == 0


def test_marks_gb2312_notice_without_site_code(site):
    home = sample_page("notice_tjyqhdm_2019_index_gb2312.html", "http://www.stats.gov.cn/")
    findings, _ = run_check(make(MarksCheck, site), [home], FakeRun(site))
    missing = sorted(f.details["mark"] for f in findings if f.code == "mark.missing")
    assert missing == ["beian", "conac", "jiucuo", "site_code"]


def test_marks_meta_missing_aggregated_per_host_and_type(site):
    head = SITE_META + '<meta name="ArticleTitle" content="t"><meta name="PubDate" content="2026-11-20 10:00">'
    pages = [page(f"http://portal.test/xwzx/202611/t20261120_{i}.html", "正文", head=head) for i in range(5)]
    pages.append(page("http://portal.test/xwzx/gzdt/", "列表", head=SITE_META + '<meta name="ColumnName" content="x">'
                      '<meta name="ColumnDescription" content="x"><meta name="ColumnKeywords" content="x">'
                      '<meta name="ColumnType" content="x">'))
    findings, facts = run_check(make(MarksCheck, site, sample_pages=0), pages, FakeRun(site))
    (f,) = findings
    assert f.code == "mark.meta_missing" and f.severity == Severity.WARNING
    assert f.details["page_type"] == "article" and f.details["pages_checked"] == 5
    assert f.details["tags"] == {"ContentSource": 5} and len(f.details["examples"]) == 3
    assert {fact.key: fact.value["pages_missing"] for fact in facts if fact.name == "marks.meta"} == \
        {"article": 5, "column": 0}


def test_marks_sampled_pages_without_jiucuo(site):
    pages = [page(f"http://portal.test/a/{i}.html", "网站标识码：6200000034") for i in range(4)]
    findings, _ = run_check(make(MarksCheck, site, sample_pages=3, max_examples=2), pages, FakeRun(site))
    (f,) = findings
    assert f.details["pages_checked"] == 3 and f.details["pages_missing"] == 3
    examples = f.details["examples"]
    assert len(examples) == 2 and examples == sorted(examples) and f.url == examples[0]
    assert set(examples) <= {p.url for p in pages}


def test_marks_sample_and_examples_do_not_depend_on_crawl_order(site):
    """Two crawl processes record pages in no fixed order: the same pages must give the same findings."""
    import random

    pages = [page(f"http://portal.test/a/{i}.html", "网站标识码：6200000034" if i % 3 else "无标识")
             for i in range(40)]
    pages += [page(f"http://portal.test/xwzx/202611/t20261120_{i}.html", "正文",
                   head='<meta name="ArticleTitle" content="t">') for i in range(10)]

    def outcome(order):
        findings, _ = run_check(make(MarksCheck, site, sample_pages=12), order, FakeRun(site))
        return sorted((f.code, f.url, f.message, repr(sorted(f.details.items()))) for f in findings)

    first = outcome(pages)
    assert {code for code, *_ in first} == {"mark.missing", "mark.meta_missing"}
    rng = random.Random(7)
    for _ in range(5):
        shuffled = pages[:]
        rng.shuffle(shuffled)
        assert outcome(shuffled) == first


# --- interaction --------------------------------------------------------------------------------


def board_page(url: str, rows: list[tuple[str, str, str, str]]) -> Page:
    items = "".join(f'<li class="message" id="msg-{i}"><a class="title" href="/hdjl/zrxx/{i}.html">留言{i}</a>'
                    f'<span class="asked">{a}</span><span class="replied">{r}</span>'
                    f'<span class="status">{s}</span></li>'
                    for i, a, r, s in rows)
    return page(url, f"<ul>{items}</ul>")


def test_interaction_channels(site):
    check = make(InteractionCheck, site)
    portal = page("http://portal.test/", "<a href='/hdjl/zrxx/'>主任信箱</a>", is_homepage=True)
    qgw = page("http://qgw.test/", "<a href='/xf/'>信访</a><a href='/jj/'>纪检举报信箱</a><p>咨询电话</p>", "qgw", True)
    findings, facts = run_check(check, [portal, qgw], FakeRun(site))
    no_channel = [f for f in findings if f.code == "interaction.no_channel"]
    assert [f.host_key for f in no_channel] == ["qgw"] and no_channel[0].severity == Severity.CRITICAL
    channel = {f.host_key: f.value for f in facts if f.name == "interaction.channel"}
    assert channel == {"portal": {"found": True, "via": "主任信箱"}, "qgw": {"found": False, "via": None}}


def test_interaction_board_unanswered_and_late(site):
    first = board_page("http://portal.test/hdjl/zrxx/index.html", [
        ("1003", ago(120), "", "办理中"),
        ("1007", ago(130), ago(30), "已回复"),  # answered after 100 days
        ("1010", ago(10), "", "未回复"),
        ("1011", ago(40), ago(35), "已回复"),
        ("1012", ago(91), "", "未回复"),  # one day over
        ("1013", ago(90), "", "未回复"),  # exactly the limit: not yet late
        ("1014", ago(400), "", "未回复"),  # asked more than a year ago
    ])
    second = board_page("http://portal.test/hdjl/zrxx/index_1.html", [
        ("1003", ago(120), "", "办理中"),  # seen again on the next page: counted once
        ("0999", ago(200), ago(95), "已回复"),  # 105 days, replied within the year
        ("0998", ago(500), ago(380), "已回复"),  # late, but replied more than a year ago
    ])
    other = board_page("http://portal.test/hdjl/other/index_1.html", [("5", ago(300), "", "未回复")])
    findings, facts = run_check(make(InteractionCheck, site), [first, second, other], FakeRun(site))
    unanswered = sorted(f.details["id"] for f in findings if f.code == "interaction.unanswered")
    late = sorted(f.details["id"] for f in findings if f.code == "interaction.late_reply")
    assert unanswered == ["msg-1003", "msg-1012"] and late == ["msg-0999", "msg-1007"]
    f1003 = next(f for f in findings if f.details.get("id") == "msg-1003")
    assert f1003.url == "http://portal.test/hdjl/zrxx/1003.html" and f1003.details["age_days"] == 120
    assert f1003.severity == Severity.CRITICAL and "120" in f1003.message
    stats = next(f for f in facts if f.name == "board.stats")
    assert stats.key == "主任信箱" and stats.value == {"count": 9, "answered": 4, "unanswered": 5, "late": 2,
                                                     "median_reply_days": 102.5, "pages": 2,
                                                     "reply_date_unknown": 0, "unread_pages": []}
    msg = next(f for f in facts if f.name == "board.message" and f.key == "msg-1007")
    assert msg.value["reply_days"] == 100 and msg.value["replied"] == ago(30)


def test_interaction_threshold_from_options_and_missing_board(site):
    check = make(InteractionCheck, site, reply_days=30)
    findings, _ = run_check(check, [], FakeRun(site))
    assert codes(findings) == ["interaction.board_missing"]
    b = board_page("http://portal.test/hdjl/zrxx/", [("1", ago(31), "", "办理中")])
    findings, _ = run_check(make(InteractionCheck, site, reply_days=30), [b], FakeRun(site))
    assert codes(findings) == ["interaction.unanswered"]


def test_interaction_board_with_wrong_selectors_is_reported(site):
    findings, _ = run_check(make(InteractionCheck, site),
                            [page("http://portal.test/hdjl/zrxx/", "<table><tr><td>x</td></tr></table>")],
                            FakeRun(site))
    assert codes(findings) == ["interaction.board_empty"]


# --- columns ------------------------------------------------------------------------------------


def list_page(url: str, dates: list[str], host_key: str = "portal") -> Page:
    items = "".join(f'<li><a href="./a{i}.html">信息{i}</a><span>[{d}]</span></li>' for i, d in enumerate(dates))
    return page(url, f'<ul class="nav"><li><a href="/">首页</a></li></ul><ul class="list">{items}</ul>', host_key)


def test_columns_stale_blank_unreachable(site):
    pages = [
        list_page("http://portal.test/xxgk/tzgg/index.html", [ago(200), ago(250)]),  # 通知公告: window 183
        list_page("http://portal.test/xwzx/gzdt/", [ago(30)]),  # 工作动态 -> 动态要闻: 14
        list_page("http://portal.test/zcjd/", []),  # blank
        list_page("http://portal.test/ztzl/old/", [ago(900)]),  # no update expected
    ]
    failed = Target("http://portal.test/rsxx/", TargetKind.PAGE, Reason.SERVER_ERROR, status=500, host_key="portal")
    findings, facts = run_check(make(ColumnsCheck, site), pages, FakeRun(site, [failed]))
    got = {(f.code, f.details["name"]) for f in findings}
    assert got == {("column.stale", "通知公告"), ("column.stale", "工作动态"), ("column.blank", "政策解读"),
                   ("column.unreachable", "人事信息")}
    stale = next(f for f in findings if f.details["name"] == "工作动态")
    assert stale.details["category"] == "动态要闻" and stale.details["age_days"] == 30
    assert stale.details["window_days"] == 14
    assert next(f for f in findings if f.code == "column.unreachable").details["reason"] == "server_error"
    newest = {f.key: f.value for f in facts if f.name == "column.newest"}
    assert newest["通知公告"] == {"date": ago(200), "age_days": 200, "category": "通知公告", "window_days": 183,
                              "items": 3, "items_in_window": 0, "source": "page",
                              "no_update_expected": False}  # the menu's 首页 item counts too
    assert newest["历史专题"]["no_update_expected"] is True and newest["政策解读"]["items"] == 1


@pytest.mark.parametrize("age,stale", [(13, False), (14, False), (15, True)])
def test_column_window_boundary(site, age, stale):
    findings, _ = run_check(make(ColumnsCheck, site), [list_page("http://portal.test/xwzx/gzdt/", [ago(age)])],
                            FakeRun(site))
    assert ("工作动态" in [f.details["name"] for f in findings if f.code == "column.stale"]) is stale


def test_column_dates_from_urls_and_future_dates_ignored(site):
    body = ('<ul><li><a href="./202611/t20261101_1.html">无日期条目</a></li>'
            f'<li><a href="./a.html">写错的日期</a><span>{(TODAY + timedelta(days=40)).isoformat()}</span></li></ul>')
    findings, facts = run_check(make(ColumnsCheck, site), [page("http://portal.test/xwzx/gzdt/", body)],
                                FakeRun(site))
    newest = next(f for f in facts if f.key == "工作动态").value
    assert newest["date"] == "2026-11-01" and newest["age_days"] == 19
    assert "工作动态" in [f.details["name"] for f in findings if f.code == "column.stale"]


def test_column_with_list_selector_and_undated_items_is_stale(site):
    site.hosts[0].gov["columns"][1]["list_selector"] = "ul.list"
    body = '<ul class="list"><li><a href="./a.html">无日期</a></li></ul>'
    findings, _ = run_check(make(ColumnsCheck, site), [page("http://portal.test/xwzx/gzdt/", body)], FakeRun(site))
    (f,) = [f for f in findings if f.details["name"] == "工作动态"]
    assert f.code == "column.stale" and f.details["age_days"] is None


@pytest.mark.parametrize("age,stale", [(14, False), (15, True), (20, True)])
def test_homepage_newest_dated_item(site, age, stale):
    site.hosts[0].gov["columns"] = []
    home = list_page("http://qgw.test/", [ago(age), ago(age + 3)], "qgw")
    home.is_homepage = True
    findings, facts = run_check(make(ColumnsCheck, site), [home], FakeRun(site))
    hp = [f for f in findings if f.code == "homepage.stale"]
    assert bool(hp) is stale
    newest = next(f for f in facts if f.name == "homepage.newest")
    assert newest.host_key == "qgw" and newest.value["age_days"] == age


def test_homepage_without_dates_compared_with_previous_run(site):
    site.hosts[0].gov["columns"] = []
    home = page("http://qgw.test/", "<a href='/a/1.html'>一条很长的新闻标题</a><a href='/b/'>短</a>", "qgw", True)
    items = ["http://qgw.test/a/1.html"]
    first, facts = run_check(make(ColumnsCheck, site), [home], FakeRun(site))
    assert first == [] and next(f for f in facts if f.name == "homepage.unchanged_since").value["since"] == ago(0)
    assert next(f for f in facts if f.name == "homepage.items").value == items
    for since, stale in ((13, False), (14, True)):
        previous = {("homepage.items", "qgw", ""): items,
                    ("homepage.unchanged_since", "qgw", ""): {"since": ago(since)}}
        findings, facts = run_check(make(ColumnsCheck, site), [home], FakeRun(site, previous=previous))
        assert bool(findings) is stale
        assert next(f for f in facts if f.name == "homepage.unchanged_since").value["since"] == ago(since)
    changed = {("homepage.items", "qgw", ""): ["http://qgw.test/old.html"],
               ("homepage.unchanged_since", "qgw", ""): {"since": ago(30)}}
    findings, facts = run_check(make(ColumnsCheck, site), [home], FakeRun(site, previous=changed))
    assert findings == [] and next(f for f in facts if f.name == "homepage.unchanged_since").value["since"] == ago(0)


def test_homepage_samples(site):
    site.hosts[0].gov["columns"] = []
    yichun = sample_page("homepage_yichun_20231011.html", "https://www.yichun.gov.cn/")
    run = FakeRun(site, now=datetime(2023, 10, 12, 1, 0, tzinfo=timezone.utc))
    findings, facts = run_check(make(ColumnsCheck, site), [yichun], run)
    assert findings == []
    assert next(f for f in facts if f.name == "homepage.newest").value["date"] == "2023-10-11"
    later = FakeRun(site, now=datetime(2023, 10, 27, 1, 0, tzinfo=timezone.utc))
    findings, _ = run_check(make(ColumnsCheck, site), [yichun], later)
    assert codes(findings) == ["homepage.stale"] and findings[0].details["age_days"] == 16
    govcn = sample_page("homepage_govcn_20230927.html", "https://www.gov.cn/")
    findings, facts = run_check(make(ColumnsCheck, site), [govcn], run)
    names = {f.name for f in facts}
    assert findings == [] and "homepage.newest" not in names and "homepage.unchanged_since" in names


# --- guides -------------------------------------------------------------------------------------

GUIDE = ("<table><tr><td>事项名称</td><td>食品生产许可</td></tr><tr><td>法定依据</td><td>食品安全法</td></tr>"
         "<tr><td>受理条件</td><td>…</td></tr><tr><td>申请材料</td><td>…</td></tr><tr><td>办理地点</td><td>…</td></tr>"
         "<tr><td>办公时间</td><td>…</td></tr><tr><td>咨询电话</td><td>…</td></tr><tr><td>办理流程</td><td>…</td></tr>"
         "</table>")


def test_guides_complete_incomplete_and_none_found(site):
    full = page("http://portal.test/bsfw/bszn/1.html", GUIDE)
    partial = page("http://portal.test/bsfw/bszn/2.html",
                   GUIDE.replace("办理地点", "").replace("咨询电话", "").replace("办公时间", "办理时限"))
    not_a_guide = page("http://portal.test/xwzx/1.html", "新闻")
    findings, facts = run_check(make(GuidesCheck, site), [full, partial, not_a_guide], FakeRun(site))
    incomplete = [f for f in findings if f.code == "guide.incomplete"]
    assert [f.url for f in incomplete] == [partial.url]
    assert incomplete[0].details["missing"] == ["办理地点", "办理时间", "联系电话"]
    assert [f.host_key for f in findings if f.code == "guide.none_found"] == ["qgw"]
    stats = {f.host_key: f.value for f in facts if f.name == "guide.stats"}
    assert stats == {"portal": {"pages": 2, "incomplete": 1}, "qgw": {"pages": 0, "incomplete": 0}}


def test_guides_configurable_elements(site):
    check = make(GuidesCheck, site, elements=["办理地点"], synonyms={"办理地点": ["服务窗口"]})
    findings, _ = run_check(check, [page("http://portal.test/bsfw/bszn/3.html", "服务窗口：一楼")], FakeRun(site))
    assert codes(findings) == ["guide.none_found"]


# --- words and hidden links -------------------------------------------------------------------------


def test_words_wrong_and_forbidden(site):
    text = ("<p>中华人民共合国成立。甘肃省工业和信息化局发布通知。兰州市工业和信息化局召开会议。</p>"
            "<p>推荐网络赌博平台，网络赌博平台。</p><p>截止目前</p>")
    check = make(WordsCheck, site, wrong=[{"wrong": "工业和信息化局", "correct": "工业和信息化厅",
                                           "serious": False, "allow": ["兰州市工业和信息化局"]}])
    findings, facts = run_check(check, [page("http://portal.test/a.html", text)], FakeRun(site))
    by = {(f.code, f.details.get("wrong") or f.details.get("term")): f for f in findings}
    assert set(by) == {("words.wrong", "中华人民共合国"), ("words.wrong", "甘肃省工业和信息化局"),
                       ("words.wrong", "工业和信息化局"), ("words.forbidden", "网络赌博平台"),
                       ("words.wrong", "截止目前")}
    assert by[("words.wrong", "中华人民共合国")].severity == Severity.CRITICAL
    assert by[("words.wrong", "中华人民共合国")].details["correct"] == "中华人民共和国"
    assert by[("words.wrong", "截止目前")].severity == Severity.WARNING
    assert by[("words.wrong", "工业和信息化局")].details["count"] == 1  # the 兰州市 one is allowed
    forbidden = by[("words.forbidden", "网络赌博平台")]
    assert forbidden.severity == Severity.CRITICAL and forbidden.details["count"] == 2
    assert "网络赌博平台" in forbidden.details["context"] and forbidden.page_url == "http://portal.test/a.html"
    assert facts[0].name == "words.scanned" and facts[0].value == {"pages": 1}


def test_words_correct_form_containing_the_wrong_one_is_not_flagged(site):
    check = make(WordsCheck, site, lists=[],
                 wrong=[{"wrong": "全国人大常委", "correct": "全国人大常委会", "serious": False, "allow": []}])
    ok = page("http://portal.test/a.html", "<p>全国人大常委会决定</p>")
    bad = page("http://portal.test/b.html", "<p>全国人大常委决定</p>")
    findings, _ = run_check(check, [ok, bad], FakeRun(site))
    assert [f.page_url for f in findings] == ["http://portal.test/b.html"]


def test_words_in_scripts_and_comments_are_not_text(site):
    body = "<script>var s='网络赌博平台';</script><!-- 中华人民共合国 --><p>正常内容</p>"
    findings, _ = run_check(make(WordsCheck, site), [page("http://portal.test/a.html", body)], FakeRun(site))
    assert findings == []


def test_words_many_terms_one_automaton(site):
    wrong = [{"wrong": f"错词{i:05d}", "correct": f"正词{i:05d}", "serious": False, "allow": []} for i in range(20000)]
    check = make(WordsCheck, site, wrong=wrong)
    findings, _ = run_check(check, [page("http://portal.test/a.html", "<p>这里有错词19999和错词00001</p>")],
                            FakeRun(site))
    assert sorted(f.details["wrong"] for f in findings) == ["错词00001", "错词19999"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["中华人民共合国", "人民共和国", "共合", "网络赌博平台", "网络", "赌博",
                                 "截止目前", "截止", "目前", "正常内容", "，", " ", "a"]), max_size=12))
def test_words_found_the_same_with_and_without_the_any_term_regex(site, parts):
    """The regex that lets clean pages skip the automaton never hides a hit."""
    text = "<p>" + "".join(parts) + "</p>"
    wrong = [{"wrong": "共合", "correct": "共和", "serious": False, "allow": ["人民共和国"]}]
    fast, slow = make(WordsCheck, site, wrong=wrong), make(WordsCheck, site, wrong=wrong)
    assert fast._any_term is not None
    slow._any_term = None
    findings = [run_check(check, [page("http://portal.test/a.html", text)], FakeRun(site))[0] for check in (fast, slow)]
    assert [(f.code, f.details) for f in findings[0]] == [(f.code, f.details) for f in findings[1]]


def test_words_shared_list_from_the_config_folder(tmp_path):
    (tmp_path / "sites").mkdir()
    (tmp_path / "words").mkdir()
    (tmp_path / "words" / "gansu.yaml").write_text("forbidden: [某某赌场]\n", encoding="utf-8")
    site = load_site(write_site(tmp_path / "sites"))
    check = make(WordsCheck, site, lists=["gansu", "common"], hidden_links=False)  # common: from the repo
    findings, _ = run_check(check, [page("http://portal.test/a.html", "<p>某某赌场，中华人民共合国</p>")],
                            FakeRun(site))
    assert codes(findings) == ["words.forbidden", "words.wrong"]
    assert make(ColumnsCheck, site).rules.name == "gov-2019"  # the folder has no rule sets: the repo's
    (tmp_path / "words" / "bad.yaml").write_text("forbiden: [x]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key"):
        make(WordsCheck, site, lists=["bad"])


def test_words_disabled_without_lists_or_hidden_links(site):
    with pytest.raises(Disabled):
        make(WordsCheck, site, lists=[], hidden_links=False)
    make(WordsCheck, site, lists=[])  # hidden links alone keep it on


def test_hidden_links(site):
    body = """
    <div style="display:none"><a href="http://127.0.0.6/casino">博彩</a><a href="/internal/">内部</a>
      <a href="https://www.gov.cn/">中国政府网</a></div>
    <div style="VISIBILITY : hidden"><span><a href="http://spam.example/x">x</a></span></div>
    <div hidden><a href="//spam2.example/">y</a></div>
    <a href="http://visible.example/">友情链接</a>
    <a style="display: none" href="http://qgw.test/x">子站</a>
    """
    check = make(WordsCheck, site, lists=[])
    findings, _ = run_check(check, [page("http://portal.test/", body, is_homepage=True)], FakeRun(site))
    assert sorted(f.url for f in findings) == ["http://127.0.0.6/casino", "http://spam.example/x",
                                               "http://spam2.example/"]
    # Critical only with evidence of spam (issue 20): hiding a link to another site is a warning.
    assert sorted((f.url, f.code, f.severity) for f in findings) == [
        ("http://127.0.0.6/casino", "link.hidden", Severity.CRITICAL),
        ("http://spam.example/x", "link.hidden_other", Severity.WARNING),
        ("http://spam2.example/", "link.hidden_other", Severity.WARNING)]


def test_hidden_link_flag_from_the_crawler(site):
    p = page("http://portal.test/", "<p>x</p>")
    p.links.append(Link(url="http://evil.example/", text="e", hidden=True))
    findings, _ = run_check(make(WordsCheck, site, lists=[]), [p], FakeRun(site))
    assert [(f.url, f.code) for f in findings] == [("http://evil.example/", "link.hidden_other")]


# --- the demo site's planted faults, rendered without a server ------------------------------------


def test_demo_site_faults_found_and_quiet_places_quiet():
    content = pytest.importorskip("sitecheck.demo.content")
    manifest = pytest.importorskip("sitecheck.demo.manifest")
    repo = Path(__file__).resolve().parents[1]
    site = load_site(repo / "config" / "sites" / "demo.yaml")
    urls = {h.key: h.url for h in site.hosts}
    for extra in ("external", "dead"):
        urls[extra] = manifest.host_url(urls, extra)
    demo = content.DemoSite(urls, TODAY)
    pages = []
    for (host, path), res in demo.resources.items():
        if host not in manifest.SITE_HOSTS or res.status != 200 or "html" not in res.content_type:
            continue
        if path.startswith("/index."):
            continue  # the same page as "/"
        html = res.body.decode("gb18030" if content.HOSTS[host].charset == "gbk" else "utf-8")
        pages.append(crawled(urls[host] + path.lstrip("/"), html, host, path == "/"))
    findings = []
    for cls in (EntriesCheck, MarksCheck, InteractionCheck, ColumnsCheck, GuidesCheck, WordsCheck):
        findings += run_check(cls(site, site.checks.get(cls.name) or defaults_of(cls.options)), pages,
                              FakeRun(site))[0]
    for fault in manifest.GOV:
        where = manifest.url_of(urls, fault, TODAY)
        hits = [f for f in findings if f.code == fault["kind"] and f.host_key == fault["host"]]
        assert hits, fault["id"]
        if fault["kind"] in ("words.wrong", "words.forbidden", "guide.incomplete", "column.stale", "column.blank"):
            assert where in [f.url for f in hits], fault["id"]
    for quiet in manifest.QUIET:
        where = manifest.url_of(urls, quiet, TODAY)
        assert not [f for f in findings if f.code == quiet["kind"] and f.url == where], quiet["why"]
    expected = {(g["kind"], g["host"]) for g in manifest.GOV}
    unexpected = {(f.code, f.host_key) for f in findings if f.severity >= Severity.ERROR} - expected
    assert unexpected == set()


# --- hostile pages never stop a check --------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory):
    return load_site(write_site(tmp_path_factory.mktemp("site")))


_HOSTILE = st.lists(st.sampled_from([
    "<li>", "</li>", "<a href='", "http://x.example/", "javascript:", "'>", "</a>", "<span>2026-11-20</span>",
    "<div style='display:none'>", "</div>", "<form action='/search/'>", "<input name=q>", "网站标识码：", "6200000034",
    "陇ICP备12345678号", "甘公网安备\r\n62010202000001号", "<script id=_jiucuo_ sitecode=62>", "</script>",
    "document.write(unescape('%u7F51", "中华人民共合国", "网络赌博平台", "<li class=message id=msg-1>",
    "<span class=asked>2026-01-01</span>", "<span class=replied>", "办理中", "<meta name=PubDate content='x'>",
    "\x00", "\ud800", "&#0;", "<![CDATA[", "<!--", "事项名称", "[[", "t20261120_1.html", "<table><tr>",
]), max_size=80).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_HOSTILE, url_tail=st.sampled_from(["", "hdjl/zrxx/index_2.html", "xxgk/tzgg/", "bsfw/bszn/1.html",
                                                "a/202611/t20261120_1.html", "x?page=%ZZ", "[::1"]),
       homepage=st.booleans())
def test_checks_never_raise_on_hostile_pages(shared_site, body, url_tail, homepage):
    checks = [make(cls, shared_site) for cls in (EntriesCheck, MarksCheck, InteractionCheck, ColumnsCheck,
                                                  GuidesCheck, WordsCheck)]
    p = page("http://portal.test/" + url_tail, body.replace("\x00", ""), "portal", homepage)
    p.html = body  # the raw text too, NULs and lone surrogates included
    for check in checks:
        list(check.on_page(p))
        list(check.on_finish(FakeRun(shared_site)))
