"""Parsers of untrusted text: dates, marks, list items, boards, URLs — on real pages and on anything."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import lxml.html
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitecheck.textparse import boards, dates, lists, marks, urls

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


def sample(name: str) -> str:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"real sample pages not found at {SAMPLES} (CI places shared/ beside the checkout)")
    raw = path.read_bytes()
    return raw.decode("gb18030") if "gb2312" in name else raw.decode("utf-8")


# --- dates ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["2026-11-20", "[2026-11-20]", "2026年11月20日", "2026/11/20", "2026.11.20",
                                  "发布日期：2026年 11 月 20 日", "２０２６－１１－２０", "x2026-11-20y"])
def test_dates_in_every_cms_format(text):
    assert dates.parse_date(text) == date(2026, 11, 20)


@pytest.mark.parametrize("text", ["2026-13-01", "2026-02-30", "1.2026.11.20", "2026-11/20", "0931-8888-1234",
                                  "12026-11-20", "2026-11-201", "", "年月日"])
def test_not_dates(text):
    assert dates.parse_date(text) is None


def test_publication_time_with_clock():
    assert dates.publication_time("来源：山西日报 发布时间：2026-11-20 16:10 浏览") == datetime(2026, 11, 20, 16, 10)
    assert dates.publication_time("时间： 2019-09-18 06:23 来源： 山西日报") == datetime(2019, 9, 18, 6, 23)
    assert dates.publication_time("今天是2026-11-20") is None  # no label: not a publication line
    assert dates.parse_datetime("2026-11-20 25:61") == datetime(2026, 11, 20)


@pytest.mark.parametrize("url,expected", [
    ("http://x.gov.cn/zwgk/202611/t20261120_123456.html", date(2026, 11, 20)),
    ("./202611/t20261120_123456.shtml", date(2026, 11, 20)),
    ("https://www.gov.cn/yaowen/liebiao/2023-09/27/content_6906641.htm", date(2023, 9, 27)),
    ("http://x/a/202311/20/x.html", date(2023, 11, 20)),
    ("http://x/202309/ac0860133317424c.shtml", None),  # a month is not a date
    ("http://x/t20261340_1.html", None),
])
def test_date_from_url(url, expected):
    assert dates.date_from_url(url) == expected


def test_china_today_crosses_midnight_in_beijing():
    from datetime import timezone
    assert dates.china_today(datetime(2026, 11, 20, 17, 0, tzinfo=timezone.utc)) == date(2026, 11, 21)
    assert dates.china_today(datetime(2026, 11, 20, 15, 59)) == date(2026, 11, 20)


# --- marks on real pages ------------------------------------------------------------------


def test_marks_govcn_homepage():
    html = sample("homepage_govcn_20230927.html")
    text = marks.footer_text(html)
    assert marks.site_code(text) == "bm01000001"
    assert marks.site_code_valid("bm01000001")
    assert marks.icp(text) == "京ICP备05070218号"
    assert marks.beian(text) == "11010202000001"
    assert marks.beian_label(text) == "京公网安备11010202000001号"
    assert marks.beian_link_codes(html) == ["11010202000001"]
    assert marks.conac(html).id == "081D1D6883441A53E053012819AC0DAA"
    assert marks.jiucuo(html) == []  # its 找错 link is the site's own page


def test_marks_yichun_homepage_beian_split_across_crlf():
    html = sample("homepage_yichun_20231011.html")
    assert "\r\n" in html
    text = marks.footer_text(html)
    assert marks.site_code(text) == "3609000002"
    assert marks.icp(text) == "赣ICP备06000141号"
    assert marks.beian(text) == "36090202000004"
    assert marks.beian_link_codes(html) == ["36090202000004"]
    assert marks.conac(html).id == "0ADCC2E0BA270DA2E053012819ACECB2"
    assert marks.jiucuo(html) == [marks.Jiucuo("zfwzgl.www.gov.cn", "3609000002", "script")]


def test_marks_shanxi_article():
    html = sample("article_shanxi_1.html")
    text = marks.footer_text(html)
    assert marks.site_code(text) == "1400000045"
    assert marks.icp(text) == "晋ICP备12000773号"
    assert marks.beian_label(text) == "晋公网安备14010502050691号"
    assert marks.conac(html).id == "09EC618E4FB304A9E053012819AC9B09"
    assert marks.jiucuo(html) == [marks.Jiucuo("pucha.kaipuyun.cn", "1400000045", "script")]


def test_marks_gb2312_notice_has_no_site_code():
    html = sample("notice_tjyqhdm_2019_index_gb2312.html")  # skips when the samples are absent
    with pytest.raises(UnicodeDecodeError):
        (SAMPLES / "notice_tjyqhdm_2019_index_gb2312.html").read_bytes().decode("utf-8")
    text = marks.footer_text(html)
    assert marks.site_code(text) is None
    assert marks.icp(text) == "京ICP备05034670号"
    assert marks.conac(html) is None and marks.jiucuo(html) == []
    assert dates.find_dates(lxml.html.document_fromstring(html).text_content()) == [date(2019, 10, 31)]


def test_marks_written_by_document_write():
    html = """<script>document.write(unescape("%u7F51%u7AD9%u6807%u8BC6%u7801%uFF1A6200000034"));
    document.write('<a href="http://121.43.68.40/exposure/jiucuo.html?site_code=6200000099&url=x">找错</a>');
    </script><script src="https://dcs.conac.cn/js/27/000/0000/60429971/CA270000000604299710003.js"></script>"""
    text = marks.footer_text(html)
    assert marks.site_code(text) == "6200000034"
    assert marks.jiucuo(html) == [marks.Jiucuo("121.43.68.40", "6200000099", "link")]
    assert marks.conac(html) == marks.Conac(script=True, id=None)


@pytest.mark.parametrize("code,prefix,ok", [("6200000034", "62", True), ("6100000034", "62", False),
                                             ("bm01000001", "62", True), ("620000003", "", False),
                                             ("bm0100000", "", False), ("", "", False)])
def test_site_code_form(code, prefix, ok):
    assert marks.site_code_valid(code, prefix) is ok


# --- list items and boards ------------------------------------------------------------------


def test_list_items_on_yichun_homepage():
    html = sample("homepage_yichun_20231011.html")
    items = lists.list_items(lxml.html.document_fromstring(html), "https://www.yichun.gov.cn/")
    news = [i for i in items if i.date and i.date.year == 2023]  # the footer's app downloads carry 2022 URLs
    assert len(news) == 15
    assert min(i.date for i in news) == date(2023, 9, 22)
    assert lists.newest(items) == date(2023, 10, 11)
    assert lists.newest(items, not_after=date(2023, 10, 10)) == date(2023, 10, 10)


def test_list_items_govcn_homepage_has_no_dates():
    html = sample("homepage_govcn_20230927.html")
    tree = lxml.html.document_fromstring(html)
    items = lists.list_items(tree, "https://www.gov.cn/", url_dates=False)
    assert items and lists.newest(items) is None
    # only static navigation links carry a day in their URL; the news lists carry a month only
    assert lists.newest(lists.list_items(tree, "https://www.gov.cn/")) == date(2023, 3, 29)


def test_list_items_trs_and_nested_menus():
    html = """<ul class="nav"><li><a href="/a/">栏目</a><ul><li><a href="/a/b/">子栏目</a></li></ul></li></ul>
    <ul class="list"><li><a href="./202611/t20261120_1.html" title="通知一">通知一</a><span>2026-11-20</span></li>
    <li><a href="./202610/t20261003_2.html">通知二</a></li></ul>"""
    items = lists.list_items(lxml.html.document_fromstring(html), "http://h/xxgk/tzgg/")
    assert [(i.title, i.date) for i in items] == [("子栏目", None), ("通知一", date(2026, 11, 20)),
                                                  ("通知二", date(2026, 10, 3))]
    scoped = lists.list_items(lxml.html.document_fromstring(html), "http://h/xxgk/tzgg/", scope_selector="ul.list")
    assert len(scoped) == 2 and scoped[0].url == "http://h/xxgk/tzgg/202611/t20261120_1.html"


def test_board_messages_with_default_and_custom_selectors():
    html = """<ul><li class="message" id="msg-1003"><a class="title" href="/hd/1003.html">何时开通</a>
    <span class="asked">2026-07-01</span><span class="replied"></span><span class="status">办理中</span></li>
    <li class="message" id="msg-1007"><a class="title" href="/hd/1007.html">政策咨询</a>
    <span class="asked">2026-03-01</span><span class="replied">2026-06-09</span><span class="status">已回复</span></li>
    <li class="message" id="msg-1008"><a class="title">无回复日期</a><span class="asked">2026-03-01</span>
    <span class="status">已办结</span></li></ul>"""
    msgs = boards.extract_messages(html, base_url="http://h/")
    assert [m.id for m in msgs] == ["msg-1003", "msg-1007", "msg-1008"]
    assert (msgs[0].answered, msgs[0].asked, msgs[0].url) == (False, date(2026, 7, 1), "http://h/hd/1003.html")
    assert (msgs[1].answered, msgs[1].reply_days) == (True, 100)
    assert (msgs[2].answered, msgs[2].reply_days, msgs[2].url) == (True, None, "")
    table = """<table><tr class="row"><td class="t"><a href="m1">标题</a></td><td>2026年1月2日</td>
    <td>2026年1月5日</td><td>已回复</td></tr></table>"""
    sel = boards.Selectors("tr.row", "td.t", "td:nth-child(2)", "td:nth-child(3)", "td:nth-child(4)")
    (m,) = boards.extract_messages(table, sel, "http://h/x/")
    assert (m.id, m.reply_days, m.status) == ("http://h/x/m1", 3, "已回复")


@pytest.mark.parametrize("status,answered", [("已回复", True), ("未回复", False), ("办理中", False),
                                             ("未办结", False), ("已办结", True), ("", False)])
def test_board_status_words(status, answered):
    assert boards.Message("1", "t", "", date(2026, 1, 1), None, status).answered is answered


def test_urls_list_pages():
    assert urls.normalise("HTTP://H.gov.cn:80/a/index.html") == urls.normalise("https://h.gov.cn/a/")
    assert urls.is_list_page("http://h/hd/zrxx/", "http://h/hd/zrxx/index_3.html")
    assert urls.is_list_page("http://h/hd/zrxx/index.shtml", "http://h/hd/zrxx/index_1.shtml")
    assert urls.is_list_page("http://h/hd/list.jsp?b=2", "http://h/hd/list.jsp?b=2&page=4")
    assert not urls.is_list_page("http://h/hd/list.jsp?b=2", "http://h/hd/list.jsp?b=3&page=4")
    assert not urls.is_list_page("http://h/hd/zrxx/", "http://h/hd/zrxx/1003.html")
    assert not urls.is_list_page("http://h/hd/zrxx/", "http://other/hd/zrxx/index_3.html")


# --- never raise ----------------------------------------------------------------------------

_ANY_TEXT = st.one_of(
    st.text(max_size=400),
    st.binary(max_size=400).map(lambda b: b.decode("gb18030", "replace")),
    st.lists(st.sampled_from(["2026", "-", "/", ".", "年", "月", "日", "11", "20", "31", "13", "<", ">", "\r\n",
                              "标识码", "ICP备", "公网安备", "号", "%u7F51", "unescape(\"", "\")", "document.write('",
                              "<script id=_jiucuo_ sitecode=", "/exposure/jiucuo.html?site_code=", "//", "&amp;",
                              "<li class=message>", "<a href='", "'>", "</li>", "t20261120_", "发布时间：", "\\u",
                              "bszs.conac.cn/sitename?method=show&id=", "\x00", "\ud800"]),
             max_size=60).map("".join),
)
_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(_ANY_TEXT)
def test_dates_never_raise(text):
    dates.find_dates(text)
    dates.parse_date(text)
    dates.parse_datetime(text)
    dates.publication_time(text)
    dates.date_from_url(text)


@_SETTINGS
@given(_ANY_TEXT)
def test_marks_never_raise(text):
    footer = marks.footer_text(text)
    assert isinstance(footer, str)
    for fn in (marks.site_code, marks.icp, marks.beian, marks.beian_label):
        assert fn(footer) is None or isinstance(fn(footer), str)
    marks.beian_link_codes(text)
    marks.conac(text)
    marks.jiucuo(text)
    marks.site_code_valid(text, "62")


@_SETTINGS
@given(_ANY_TEXT, st.sampled_from(["li.message", "[[", "", "li, tr", "a:nth-child(", "*"]))
def test_boards_and_lists_never_raise(text, selector):
    boards.extract_messages(text, boards.Selectors(item=selector or "li"), "http://h/")
    boards.extract_messages(text)
    tree = lxml.html.document_fromstring("<html>" + text.replace("\x00", "") + "</html>")
    lists.list_items(tree, "http://h/", selector or "li", selector)


@_SETTINGS
@given(_ANY_TEXT, _ANY_TEXT)
def test_urls_never_raise(a, b):
    urls.normalise(a)
    urls.is_list_page(a, b)
    urls.is_list_page("http://h/x/", "http://h/x/" + b)


def test_non_string_input_is_no_date():
    assert dates.parse_date(None) is None  # type: ignore[arg-type]
    assert marks.footer_text(None) == ""  # type: ignore[arg-type]
    assert boards.extract_messages(None) == []
