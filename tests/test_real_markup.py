"""Markup shapes of real government templates, one table per pattern of issue 20: publication-date
labels and URL shapes, TRS `var countPage` pagination, link kinds of script downloads and OpenSearch,
entries named by the text around a link, and boards whose reply dates are on the message pages."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from sitecheck.checks.entries import EntriesCheck
from sitecheck.checks.interaction import InteractionCheck
from sitecheck.config import load_site
from sitecheck.crawler.pagination import MAX_PAGES, pagination_urls
from sitecheck.crawler.urls import kind_of
from sitecheck.demo import content, manifest
from sitecheck.model import Element, Severity, TargetKind
from sitecheck.textparse.boards import MessagePage, message_page
from sitecheck.textparse.dates import date_from_url, labelled_publication, month_from_url
from sitecheck.textparse.entrylabels import link_labels
from sitecheck.textparse.pubdate import article_dates

from .test_checks_gov import NOW, FakeRun, crawled, make, page, run_check, site, write_site  # noqa: F401

# --- publication dates -----------------------------------------------------------------------------

LABELS = [
    ("发布时间：2026-11-20 16:10 来源：本站", "发布时间", datetime(2026, 11, 20, 16, 10)),
    ("发布日期：2016-11-22", "发布日期", datetime(2016, 11, 22)),
    ("发布日期 ： 2016年11月22日", "发布日期", datetime(2016, 11, 22)),
    ("生成日期：2024-03-05", "生成日期", datetime(2024, 3, 5)),
    ("发文日期:2021/02/03", "发文日期", datetime(2021, 2, 3)),
    ("成文日期：２０２４－０１－０２", "成文日期", datetime(2024, 1, 2)),
    ("时　间：2019-09-18 06:23 来源：山西日报", "时间", datetime(2019, 9, 18, 6, 23)),
    ("时间： 2019-09-18 06:23", "时间", datetime(2019, 9, 18, 6, 23)),
    ("日期：2025-02-26 11:54 来源：", "日期", datetime(2025, 2, 26, 11, 54)),
    # A 信息公开 page shows both: the publication date is the one the inspector counts.
    ("成文日期：2024-01-01 发布日期：2024-01-05", "发布日期", datetime(2024, 1, 5)),
    ("留言时间：2024-01-01 回复时间：2024-01-05", None, None),  # a board's labels, not a publication
    ("截止日期：2024-01-01", None, None),
]


@pytest.mark.parametrize("text,label,when", LABELS)
def test_publication_labels(text, label, when):
    found = labelled_publication(text)
    assert (found == (label, when)) if label else found is None


def test_bare_date_time_in_the_info_line_and_meta_kept_apart():
    text = "首页 > 要闻 关于开展安全检查的通知 2026-11-02 09:30 来源：本站 字号：大 中 小 正文……"
    dates = article_dates(text, {"PubDate": "2026-11-05 10:00:00"}, "http://a.gov.cn/zwgk/8f3a9c.shtml")
    assert (dates.visible, dates.visible_label, dates.meta, dates.url) == (
        datetime(2026, 11, 2, 9, 30), "", datetime(2026, 11, 5, 10), None)
    assert (dates.published, dates.source, dates.disagree) == (date(2026, 11, 2), "visible", True)
    # A list date without a clock time is not an article's info line.
    assert article_dates("通知 2026-11-02 公告 2026-10-30", {}, "http://a.gov.cn/x.html").visible is None


URLS = [
    ("http://a.gov.cn/xxgk/tzgg/202611/t20261120_123456.html", date(2026, 11, 20), None),
    ("http://fgw.zj.gov.cn/art/2016/11/22/art_1621004_30332664.html", date(2016, 11, 22), None),
    ("http://www.hunan.gov.cn/art/2023/9/7/art_1_2.html", date(2023, 9, 7), None),
    ("https://jyt.gansu.gov.cn/jyt/c110634/202511/174240943.shtml", None, (2025, 11)),
    ("https://www.gov.cn/gongbao/content/2007/content_711039.htm", None, None),
    ("https://www.gov.cn/zhengce/2023-09/27/content_6906424.htm", date(2023, 9, 27), None),
    ("http://a.gov.cn/202213/1.shtml", None, None),  # no 13th month
]


@pytest.mark.parametrize("url,day,month", URLS)
def test_url_date_shapes(url, day, month):
    assert (date_from_url(url), month_from_url(url) if day is None else None) == (day, month)


# --- TRS pagination written by document.write --------------------------------------------------------

# The shape of TRS WCM's classic list template (its page count and links are written by script).
COUNT_PAGE_TEMPLATE = """<div class="page"><script language="JavaScript">
var currentPage = 0;//所在页从0开始
var prevPage = currentPage-1//上一页
var nextPage = currentPage+1//下一页
var countPage = 4//共多少页
document.write("共"+countPage+"页&nbsp;&nbsp;");
if(countPage>1&&currentPage!=0&&currentPage!=1)
	document.write("<a href=\\"index.html\\">首页</a>&nbsp;<a href=\\"index"+"_" + prevPage + "."+"html\\">上一页</a>");
else if(countPage>1&&currentPage!=0&&currentPage==1)
	document.write("<a href=\\"index.html\\">首页</a>&nbsp;<a href=\\"index.html\\">上一页</a>");
else
	document.write("首页&nbsp;上一页");
if(nextPage<countPage)
	document.write("&nbsp;<a href=\\"index"+"_" + nextPage + "."+"html\\">下一页</a>");
</script></div>"""


def test_count_page_document_write_pagination():
    assert pagination_urls(COUNT_PAGE_TEMPLATE, "http://a.gov.cn/xxgk/tzgg/") == [
        "http://a.gov.cn/xxgk/tzgg/index.html", "http://a.gov.cn/xxgk/tzgg/index_1.html",
        "http://a.gov.cn/xxgk/tzgg/index_2.html", "http://a.gov.cn/xxgk/tzgg/index_3.html"]
    shtml = COUNT_PAGE_TEMPLATE.replace(".html", ".shtml").replace('"html', '"shtml').replace("index", "list")
    assert pagination_urls(shtml, "http://a.gov.cn/c/")[-1] == "http://a.gov.cn/c/list_3.shtml"


def test_count_page_is_bounded_and_needs_its_script():
    huge = COUNT_PAGE_TEMPLATE.replace("var countPage = 4", "var countPage = 999999")
    assert len(pagination_urls(huge, "http://a.gov.cn/")) == MAX_PAGES
    # A countPage variable without document.write (an AJAX pager) says nothing about static pages.
    assert pagination_urls("<script>var countPage = 5; loadPage(countPage);</script>", "http://a.gov.cn/") == []


# --- link kinds -----------------------------------------------------------------------------------------

KINDS = [
    ("http://a.gov.cn/search/opensearch.xml", Element.LINK, TargetKind.RESOURCE),
    ("http://a.gov.cn/images/content-search.xml", Element.LINK, TargetKind.RESOURCE),
    ("http://a.gov.cn/favicon.ico", Element.LINK, TargetKind.IMAGE),
    ("http://a.gov.cn/js/page.js", Element.SCRIPT, TargetKind.RESOURCE),
    ("http://a.gov.cn/attach/downfile.jsp?filename=report.xls", Element.A, TargetKind.ATTACHMENT),
    ("http://a.gov.cn/download.do?fileName=2026%E5%B9%B4%E6%8A%A5%E5%91%8A", Element.A, TargetKind.ATTACHMENT),
    ("http://a.gov.cn/module/download/DownLoad.aspx?id=42", Element.A, TargetKind.ATTACHMENT),
    ("http://a.gov.cn/servlet/show.jsp?path=/upload/a.pdf", Element.A, TargetKind.ATTACHMENT),
    ("http://a.gov.cn/files/2026/a.xml", Element.A, TargetKind.ATTACHMENT),  # a data file a visitor downloads
    ("http://a.gov.cn/news/show.jsp?id=42", Element.A, TargetKind.PAGE),
    ("http://a.gov.cn/download.html?from=singlemessage", Element.A, TargetKind.PAGE),
    ("http://a.gov.cn/list.jsp?name=tzgg", Element.A, TargetKind.PAGE),
]


@pytest.mark.parametrize("url,element,kind", KINDS)
def test_link_kinds(url, element, kind):
    assert kind_of(url, element, True) is kind


# --- entries named by the text a visitor sees around the link ------------------------------------------

HOMEPAGE = """
<div class="box"><div class="hd"><h3>市长信箱</h3><a href="/hdjl/szxx/"><img src="/images/more.gif"></a></div>
  <ul><li><a href="/hdjl/szxx/1.html">关于小区停车难问题的建议</a></li></ul></div>
<div class="box"><div class="title"><a class="tit">办事指南</a><a href="/bsfw/bszn/" class="more">更多&gt;&gt;</a></div></div>
<div class="box"><a href="/zwgk/"><img src="/images/xxgk_entry.png"></a></div>
<div class="box"><a href="/hd/zxft/"><img src="/images/banner.png" alt="在线访谈"></a></div>
<div class="box"><a href="/wsdc/" title="网上调查"><img src="/images/wsdc.png"></a></div>
"""


def test_entry_labels_from_headings_titles_and_images():
    p = crawled("http://portal.test/", f"<html><body>{HOMEPAGE}</body></html>")
    labels = dict(link_labels(p.tree, p.url))
    assert labels["http://portal.test/hdjl/szxx/"] == "more 市长信箱"
    assert labels["http://portal.test/bsfw/bszn/"] == "更多>> 办事指南更多>>"
    assert labels["http://portal.test/zwgk/"] == "xxgk_entry"
    assert labels["http://portal.test/hd/zxft/"] == "在线访谈 banner"
    assert labels["http://portal.test/wsdc/"] == "网上调查 wsdc"


def test_entries_found_by_heading_of_an_image_more_link(tmp_path):
    yaml = """site: t
name: t
hosts:
  - key: portal
    name: 门户
    url: http://portal.test/
    entries:
      - {name: 市长信箱}
      - {name: 办事指南}
      - {name: 在线访谈}
      - {name: 网上调查}
      - {name: 政策解读}
"""
    site = load_site(write_site(tmp_path, yaml))
    p = page("http://portal.test/", HOMEPAGE, is_homepage=True)
    findings, facts = run_check(make(EntriesCheck, site), [p], FakeRun(site))
    assert next(f for f in facts if f.name == "entries.homepage").value == {
        "present": ["办事指南", "在线访谈", "市长信箱", "网上调查"], "missing": ["政策解读"]}
    assert [(f.code, f.details["name"]) for f in findings] == [("entry.missing", "政策解读")]


# --- message boards that show only 留言时间 and 状态 ----------------------------------------------------

def ago(days: int) -> date:
    return (NOW + timedelta(hours=8)).date() - timedelta(days=days)


def status_list(url: str, rows) -> object:
    items = "".join(f'<li class="message" id="msg-{n}"><a class="title" href="./detail_{n}.html">留言{n}</a>'
                    f'<span class="asked">{asked}</span><span class="status">{status}</span></li>'
                    for n, asked, status in rows)
    return page(url, f'<div class="thead"><span>标题</span><span>留言时间</span><span>状态</span></div>'
                     f"<ul>{items}</ul>")


def message(url: str, asked: date, replied: date | None):
    reply = f"<p>回复单位：办公室</p><p>回复时间：{replied:%Y-%m-%d}</p><p>回复内容：已答复。</p>" if replied else \
        "<p>办理状态：办理中</p>"
    return page(url, f"<h2>留言</h2><p>留言人：张**</p><p>留言时间：{asked:%Y-%m-%d}</p><p>内容</p>{reply}")


def test_message_page_dates():
    assert message_page("留言时间：2026-01-02 留言内容：… 回复单位：x 回复时间：2026-05-02 回复内容") == \
        MessagePage(date(2026, 1, 2), date(2026, 5, 2))
    assert message_page("答复日期 2026年5月2日") == MessagePage(None, date(2026, 5, 2))
    assert message_page("回复时间： 回复内容：尚未回复 2026-05-02") is None
    assert message_page("留言时间：2026-01-02") is None


def test_late_reply_read_from_message_pages_in_any_order(site):  # noqa: F811
    board = "http://portal.test/hdjl/zrxx/"
    listing = status_list(board + "index.html", [
        ("1", ago(180), "已回复"),  # answered 120 days later: late, seen only on its page
        ("2", ago(40), "已回复"),  # answered in 5 days
        ("3", ago(60), "办理中"),
        ("4", ago(150), "已回复"),  # its page was not crawled: reply date unknown
    ])
    pages = [message(board + "detail_1.html", ago(180), ago(60)), listing,  # a message page before the list
             message(board + "detail_2.html", ago(40), ago(35)), message(board + "detail_3.html", ago(60), None)]
    findings, facts = run_check(make(InteractionCheck, site), pages, FakeRun(site))
    assert [(f.code, f.severity, f.details["id"], f.details["reply_days"], f.details["replied_from"])
            for f in findings] == [("interaction.late_reply", Severity.CRITICAL, "msg-1", 120, "message_page")]
    assert findings[0].url == board + "detail_1.html"
    stats = next(f for f in facts if f.name == "board.stats").value
    assert (stats["count"], stats["answered"], stats["late"], stats["median_reply_days"],
            stats["reply_date_unknown"], stats["unread_pages"]) == (4, 3, 1, 62.5, 1, [board + "detail_4.html"])
    msg2 = next(f for f in facts if f.name == "board.message" and f.key == "msg-2").value
    assert (msg2["replied"], msg2["reply_days"], msg2["replied_from"]) == (ago(35).isoformat(), 5, "message_page")


def test_demo_board_without_reply_column_gives_its_late_reply():
    repo = Path(__file__).resolve().parents[1]
    demo_site = load_site(repo / "config" / "sites" / "demo.yaml")
    urls = {h.key: h.url for h in demo_site.hosts}
    for extra in ("external", "dead"):
        urls[extra] = manifest.host_url(urls, extra)
    today = (NOW + timedelta(hours=8)).date()
    demo = content.DemoSite(urls, today)
    folder = "/" + manifest.STATUS_BOARD_DIR
    pages = [crawled(urls["zxqy"] + path.lstrip("/"), res.body.decode("utf-8"), "zxqy")
             for (host, path), res in sorted(demo.resources.items()) if host == "zxqy" and path.startswith(folder)]
    lists = [p for p in pages if "/index" in p.url]
    assert len(lists) == 2 and not any("回复时间" in p.visible_text for p in lists)
    check = make(InteractionCheck, demo_site)
    findings, facts = run_check(check, pages, FakeRun(demo_site))
    late = [(f.details["board"], f.details["id"], f.details["reply_days"], f.details["replied_from"])
            for f in findings if f.code == "interaction.late_reply"]
    assert late == [("咨询留言", "msg-4004", 120, "message_page")]
    stats = next(f.value for f in facts if f.name == "board.stats" and f.key == "咨询留言")
    assert (stats["count"], stats["answered"], stats["late"], stats["reply_date_unknown"]) == (5, 4, 1, 0)
