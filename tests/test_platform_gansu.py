"""The Gansu platform profile on the two real platform pages, and the columns check reading a list service.

Facts asserted on the real pages come from ../shared/samples/gansu-platform/README.md.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from sitecheck.checks.columns import ColumnsCheck
from sitecheck.config import load_site
from sitecheck.config.schema import defaults_of
from sitecheck.crawler.pageparse import PageRules, read_page
from sitecheck.crawler.waf import Wall, wall_error
from sitecheck.model import Element, Fact, Finding, Page, Reason, Target, TargetKind
from sitecheck.platforms import PROFILES, UnknownPlatform, gansu, load
from sitecheck.textparse import marks
from sitecheck.textparse.lists import list_items

JYT_URL = "https://jyt.gansu.gov.cn/jyt/c110634/zwgklist.shtml"
FZGG_URL = "https://fzgg.gansu.gov.cn/fzgg/tzgg/202502/174084153.shtml"  # month folder inferred (README)
JYT_CHANNEL = "e5eb2abb5014415399847ba2bb99b31f"


def real(samples: Path, name: str, url: str) -> Page:
    return Page(url=url, html=(samples / "gansu-platform" / name).read_text(encoding="utf-8"), host_key="portal")


@pytest.fixture
def jyt(samples):
    return real(samples, "jyt_list_c110634_zwgklist_20251124.html", JYT_URL)


@pytest.fixture
def fzgg(samples):
    return real(samples, "fzgg_article_tzgg_174084153_20250327.html", FZGG_URL)


# --- the real list page (jyt) ------------------------------------------------------------------


def test_jyt_column_page_names_its_channel_and_the_service_url(jyt):
    assert gansu.column_channel(jyt) == JYT_CHANNEL
    assert gansu.extra_urls(jyt) == [
        f"https://jyt.gansu.gov.cn/common/search/{JYT_CHANNEL}?sort=&_isAgg=false&_isJson=false&_pageSize=20"
        "&_template=index&_channelName=&page=1"]
    assert gansu.service_channel(gansu.extra_urls(jyt)[0]) == JYT_CHANNEL
    assert gansu.column_info(jyt) == {"name": "文件通知", "url": JYT_URL, "channel_id": JYT_CHANNEL, "code": "c110634"}


def test_jyt_commented_items_are_never_read(jyt, tmp_path):
    stale = gansu.stale_items(jyt.html, JYT_URL)
    assert len(stale) == 20  # the 20 items of the server-side copy inside the comment
    assert stale[0].url == "https://jyt.gansu.gov.cn/jyt/c110634/202511/174240943.shtml"
    assert stale[0].date == date(2025, 11, 17) and min(i.date for i in stale) == date(2025, 6, 9)
    # What the crawler and the columns check read: the DOM, where comments are not elements.
    read = {i.url for i in list_items(jyt.tree, JYT_URL)}
    assert not read & {i.url for i in stale}
    rules = PageRules.for_site(load_site(_write(tmp_path)))
    links = read_page(jyt, JYT_URL, rules)
    assert not {u for u, _t, _e in links} & {i.url for i in stale}


def test_read_page_adds_the_list_service_as_a_pagination_link(jyt, tmp_path):
    site = load_site(_write(tmp_path, platform=True))
    distinct = read_page(jyt, JYT_URL, PageRules.for_site(site))
    service = [(u, e) for u, _t, e in distinct if gansu.service_channel(u)]
    assert service == [(gansu.extra_urls(jyt)[0], Element.PAGINATION)]
    plain = read_page(Page(url=JYT_URL, html=jyt.html, host_key="portal"), JYT_URL,
                      PageRules.for_site(load_site(_write(tmp_path, platform=False))))
    assert not [u for u, _t, _e in plain if gansu.service_channel(u)]


def test_jyt_footer_marks_from_live_markup(jyt):
    assert gansu.footer_marks(jyt.html) == {"site_code": "6200000068", "jiucuo_site_code": "6200000068",
                                            "icp": "陇ICP备17003689号-1", "beian": "甘公网安备62010202000617号",
                                            "conac": "60619479"}
    assert jyt.meta["SiteIDCode"] == "6200000068"


# --- the real article (fzgg) ---------------------------------------------------------------------


def test_fzgg_article_date_is_the_visible_line_not_pubdate(fzgg):
    assert fzgg.meta["PubDate"].startswith("2025-03-27")  # the regeneration time
    assert gansu.article_time(fzgg) == datetime(2025, 2, 26, 11, 54)
    assert gansu.article_date(fzgg) == date(2025, 2, 26)


def test_fzgg_article_is_not_a_column_and_asks_for_no_list(fzgg):
    assert fzgg.meta["channelId"] == "203df409225e451a8ebf743d3f176ed3"
    assert gansu.is_article(fzgg)
    assert gansu.column_channel(fzgg) is None and gansu.extra_urls(fzgg) == []


def test_fzgg_attachment_is_relative_to_the_article(fzgg):
    assert gansu.attachment_urls(fzgg) == [
        "https://fzgg.gansu.gov.cn/fzgg/tzgg/202502/174084153/files/5e0f97363d1d413c968a35078e0a7fcf.pdf"]


def test_fzgg_site_code_from_the_footer_not_the_commented_jiucuo_link(fzgg):
    # The trap: the commented-out copy of an Anhui site's 找错 link right before the real script.
    assert "site_code=3407000003" in fzgg.html
    assert {j.site_code for j in marks.jiucuo(fzgg.html)} == {"6200000079"}  # comments are not read
    got = gansu.footer_marks(fzgg.html)
    assert got == {"site_code": "6200000079", "jiucuo_site_code": "6200000079", "icp": "陇ICP备05003927号-4",
                   "beian": "甘公网安备62010202004388号", "conac": "40820377"}


# --- the list service ----------------------------------------------------------------------------

SERVICE = f"http://portal.test/common/search/{'a' * 32}?sort=&_isAgg=false&_isJson=false&_pageSize=20&page=1"


def service_page(body: str, url: str = SERVICE) -> Page:
    return Page(url=url, html=body, host_key="portal")


def test_service_html_fragment():
    body = ('<ul id="body"><li><div class="title"><a href="/gxt/c107573/202511/174237249.shtml" title="标题一">标题一'
            '</a></div><div class="date">2025-11-20</div></li><li><div class="title"><a href="https://mp.weixin.qq.com/s/x">'
            '微信文章</a></div><div class="date">2025-11-18</div></li></ul>')
    items = gansu.service_items(service_page(body))
    assert [(i.title, i.url, i.date) for i in items] == [
        ("标题一", "http://portal.test/gxt/c107573/202511/174237249.shtml", date(2025, 11, 20)),
        ("微信文章", "https://mp.weixin.qq.com/s/x", date(2025, 11, 18))]


def test_service_json():
    body = json.dumps({"data": {"page": 1, "rows": 20, "total": 41, "results": [
        {"title": "2026年1月全省电力生产运行情况", "url": "/gxt/jjyx/202602/174299000.shtml",
         "publishedTimeStr": "2026-02-20 09:30:00", "channelId": "c026a237135d4a5383c335f993f79925"}]}},
        ensure_ascii=False)
    items, total, rows = gansu.json_items(body, "https://gxt.gansu.gov.cn/common/search/x")
    assert (total, rows) == (41, 20)
    assert items[0].url == "https://gxt.gansu.gov.cn/gxt/jjyx/202602/174299000.shtml" and items[0].date == date(2026, 2, 20)
    assert gansu.service_items(service_page(body))[0].date == date(2026, 2, 20)


@pytest.mark.parametrize("body", ['{"code": 500, "msg": "系统繁忙", "data": null}', "{not json",
                                  "<html><body><h1>系统维护中</h1></body></html>", ""])
def test_unreadable_service_answer_is_none_not_empty(body):
    assert gansu.service_items(service_page(body)) is None


def test_empty_service_list_is_an_empty_list():
    assert gansu.service_items(service_page('<ul id="body"></ul>')) == []


def test_service_channel_only_for_the_service_path():
    assert gansu.service_channel(SERVICE) == "a" * 32
    assert gansu.service_channel("http://portal.test/common/search/abc?page=1") is None
    assert gansu.service_channel("http://portal.test/gxt/common/search/" + "a" * 32) is None


def test_registry():
    assert PROFILES["gansu-jiyuehua"] == "sitecheck.platforms.gansu"
    assert load("gansu-jiyuehua") is gansu
    with pytest.raises(UnknownPlatform):
        load("trs-wcm")


# --- the columns check with a platform -------------------------------------------------------------

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
TODAY = date(2026, 11, 20)


def _write(tmp_path: Path, platform: bool = True) -> Path:
    text = ("site: gs\nname: 演示\n" + ("platform: gansu-jiyuehua\n" if platform else "") +
            "hosts:\n  - key: portal\n    name: 门户\n    url: http://portal.test/\n    columns:\n"
            "      - {name: 政策法规, url: 'http://portal.test/gxt/c1/zwgklist.shtml', category: 政策文件}\n"
            "      - {name: 经济运行, url: 'http://portal.test/gxt/jjyx/infolist.shtml', category: 经济运行}\n"
            "      - {name: 政策解读, url: 'http://portal.test/gxt/c3/list.shtml', category: 政策文件}\n"
            "      - {name: 工作动态, url: 'http://portal.test/gxt/c4/xwdt.shtml', category: 动态要闻}\n")
    path = tmp_path / ("gs.yaml" if platform else "plain.yaml")
    path.write_text(text, encoding="utf-8")
    return path


def ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


def column_page(code: str, template: str, channel: str, stale_days: list[int]) -> Page:
    stale = "".join(f'<li><a href="/gxt/{code}/202001/{i}.shtml">旧{i}</a><b>{ago(d)}</b></li>'
                    for i, d in enumerate(stale_days))
    html = (f'<html><head><meta name="channelId" content="{channel}"><meta name="ColumnName" content="x"></head>'
            f'<body><ul class="list"><!--{stale}--></ul><div id="page_div"></div></body></html>')
    return Page(url=f"http://portal.test/gxt/{code}/{template}", html=html, host_key="portal")


def fragment(channel: str, days: list[int]) -> Page:
    lis = "".join(f'<li><div class="title"><a href="/gxt/a/2026/{i}.shtml">信息{i}</a></div>'
                  f'<div class="date">{ago(d)}</div></li>' for i, d in enumerate(days))
    return service_page(f'<ul id="body">{lis}</ul>', gansu.list_url("http://portal.test/", channel))


class Run:
    def __init__(self, site, targets=()):
        self.site, self.now, self._targets = site, NOW, list(targets)

    def targets(self, failed_only=True):
        return iter([t for t in self._targets if not failed_only or t.reason.is_failure])

    def previous_fact(self, *a, **k):
        return None


def judge(site, pages, targets=()):
    check = ColumnsCheck(site, defaults_of(ColumnsCheck.options))
    out = []
    for p in pages:
        out.extend(check.on_page(p))
    out.extend(check.on_finish(Run(site, targets)))
    findings = {(f.code, f.details.get("name")) for f in out if isinstance(f, Finding)}
    facts = {(f.name, f.key): f.value for f in out if isinstance(f, Fact)}
    return findings, facts


C1, C2, C3, C4 = ("1" * 32, "2" * 32, "3" * 32, "4" * 32)


def test_columns_read_the_list_service_not_the_commented_copy(tmp_path):
    site = load_site(_write(tmp_path))
    pages = [column_page("c1", "zwgklist.shtml", C1, [400, 500]), fragment(C1, [10, 40]),
             column_page("jjyx", "infolist.shtml", C2, []), fragment(C2, [20, 51, 81]),
             column_page("c3", "list.shtml", C3, [1, 2]),  # its service answer failed: see targets
             column_page("c4", "xwdt.shtml", C4, [1]), fragment(C4, [30, 33])]
    failed = Target(gansu.list_url("http://portal.test/", C3), TargetKind.ATTACHMENT, Reason.SERVER_ERROR,
                    status=500, host_key="portal")
    findings, facts = judge(site, pages, [failed])
    assert findings == {("column.unknown", "政策解读"), ("column.stale", "工作动态")}
    assert facts[("column.newest", "政策法规")] == {
        "date": ago(10), "age_days": 10, "category": "政策文件", "window_days": 183, "items": 2,
        "items_in_window": 2, "source": "list_service", "no_update_expected": False}
    assert facts[("column.newest", "经济运行")]["window_days"] == 45  # monthly bulletin: not the 14-day window
    assert facts[("column.newest", "经济运行")]["items_in_window"] == 1
    assert facts[("column.unknown", "政策解读")]["reason"] == "server_error"
    assert facts[("column.unknown", "政策解读")]["channel_id"] == C3


def test_unreadable_or_missing_service_answer_is_unknown_never_blank(tmp_path):
    site = load_site(_write(tmp_path))
    pages = [column_page("c1", "zwgklist.shtml", C1, []), service_page("<h1>系统维护</h1>",
                                                                       gansu.list_url("http://portal.test/", C1)),
             column_page("jjyx", "infolist.shtml", C2, []),  # service never answered (not fetched)
             column_page("c3", "list.shtml", C3, []), fragment(C3, [])]  # readable, empty: blank
    findings, facts = judge(site, pages)
    assert ("column.unknown", "政策法规") in findings and ("column.unknown", "经济运行") in findings
    assert ("column.blank", "政策解读") in findings
    assert not {f for f in findings if f[0] == "column.blank" and f[1] != "政策解读"}
    assert facts[("column.unknown", "政策法规")]["reason"] == "list_service_unreadable"


def test_walled_host_columns_are_unknown_not_unreachable(tmp_path):
    site = load_site(_write(tmp_path))
    wall = Wall("瑞数 Ruishu", "HTTP 412; $_ts challenge script")
    home = Target("http://portal.test/", TargetKind.PAGE, Reason.BLOCKED, status=412, host_key="portal",
                  error=wall_error(wall))
    findings, facts = judge(site, [], [home])
    assert {code for code, _ in findings} == {"column.unknown"} and len(findings) == 4
    assert {v["reason"] for (name, _), v in facts.items() if name == "column.unknown"} == {"blocked_by_waf"}


def test_without_platform_the_channel_is_ignored(tmp_path):
    site = load_site(_write(tmp_path, platform=False))
    findings, facts = judge(site, [column_page("c1", "zwgklist.shtml", C1, [400]), fragment(C1, [1])])
    assert ("column.blank", "政策法规") in findings  # no profile: the page shows nothing (comments not read)
    assert facts[("column.newest", "政策法规")]["source"] == "page"


def test_column_configured_by_its_list_service_url(tmp_path):
    """As config/sites/gxt.yaml does: the channel ids are known, the column pages' URLs are not."""
    service = gansu.list_url("http://portal.test/", C1)
    path = tmp_path / "svc.yaml"
    path.write_text("site: gs\nname: 演示\nplatform: gansu-jiyuehua\nhosts:\n  - key: portal\n    name: 门户\n"
                    "    url: http://portal.test/\n    columns:\n"
                    f"      - {{name: 政策法规, url: '{service}', category: 政策文件}}\n"
                    f"      - {{name: 经济运行, url: '{gansu.list_url('http://portal.test/', C2)}', category: 经济运行}}\n",
                    encoding="utf-8")
    site = load_site(path)
    # The crawl reached 政策法规's list page (whatever its URL), which asked the service; 经济运行's never.
    findings, facts = judge(site, [column_page("zcfg", "list.shtml", C1, []), fragment(C1, [5])])
    assert findings == {("column.unknown", "经济运行")}
    assert facts[("column.newest", "政策法规")]["date"] == ago(5)
    assert facts[("column.unknown", "经济运行")]["reason"] == "list_service_not_fetched"


def test_gxt_site_file_holds_only_evidenced_columns():
    site = load_site(Path(__file__).resolve().parents[1] / "config" / "sites" / "gxt.yaml")
    assert site.platform == "gansu-jiyuehua" and site.portal.gov["site_code"] == "6200000082"
    assert site.portal.url == "https://gxt.gansu.gov.cn/"
    columns = {c["name"]: (gansu.service_channel(c["url"]), c["category"]) for c in site.portal.gov["columns"]}
    assert columns == {"政策法规": ("24932f4d5c3a4dada3e739d18f6bd7ad", "政策文件"),  # source J, domain note §4/§6
                       "政策解读": ("f862334c1ced4206968adfd3c122957f", "政策文件"),
                       "经济运行": ("c026a237135d4a5383c335f993f79925", "经济运行")}
    assert site.portal.gov["boards"] == []  # no evidence for any board URL
    assert "waf" in site.checks
    from sitecheck.scoring import rules_for_site

    assert rules_for_site(site).window_days("经济运行") == 45  # a monthly bulletin, not the 14-day window
