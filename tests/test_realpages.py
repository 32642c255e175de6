"""The checks on real saved government pages (tests/data/realpages, ../shared/samples): the facts an
inspector reads on each page, and the full set of findings every check gives on it.

No check may raise a finding on a real page unless the page really has that fault; every finding
expected below is a fault the saved page shows (a missing meta tag, a missing footer mark).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import lxml.html
import pytest

from sitecheck.checks.columns import ColumnsCheck
from sitecheck.checks.encoding import EncodingCheck
from sitecheck.checks.entries import EntriesCheck
from sitecheck.checks.guides import GuidesCheck
from sitecheck.checks.interaction import InteractionCheck
from sitecheck.checks.marks import MarksCheck
from sitecheck.checks.words import WordsCheck
from sitecheck.config import load_site
from sitecheck.crawler.decode import decode_page
from sitecheck.crawler.pagination import pagination_urls
from sitecheck.crawler.urls import kind_of
from sitecheck.model import Element, Fact, Severity, TargetKind
from sitecheck.textparse import marks
from sitecheck.textparse.entrylabels import link_labels
from sitecheck.textparse.pubdate import article_dates

from .test_checks_gov import FakeRun, crawled, make, run_check

REAL = Path(__file__).resolve().parent / "data" / "realpages"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"

ENTRIES = ["信息公开", "政务服务", "互动交流", "站内搜索", "网站地图", "我为政府网站找错"]


@dataclass(frozen=True)
class Real:
    path: Path
    url: str
    home: str
    homepage: bool = False
    saved: str = ""  # when the page was saved (its 页面生成时间 or Maketime where it has one): the checks' clock
    encoding: str = "utf-8"
    entries: tuple = ()  # (name, patterns) required on a homepage


PAGES = {
    # TRS templates of www.gov.cn, with a stray </html> after the glued header include.
    "govcn_gongbao": Real(REAL / "govcn_gongbao_2007_23.htm",
                          "https://www.gov.cn/gongbao/content/2007/content_711039.htm", "https://www.gov.cn/",
                          saved="2023-10-23"),
    # Hanweb 大汉版通.
    "zjfgw_hanweb": Real(REAL / "zjfgw_hanweb_art_30332664.html",
                         "http://fgw.zj.gov.cn/art/2016/11/22/art_1621004_30332664.html", "http://fgw.zj.gov.cn/",
                         saved="2019-03-22"),
    # TRS WCM.
    "cmse_trs": Real(REAL / "cmse_trs_xwfbh_20120624.html",
                     "http://www.cmse.gov.cn/ztbd/xwfbh/201206/t20120624_43188.html", "http://www.cmse.gov.cn/",
                     saved="2019-09-20"),
    # TRS list page whose pager is written by `var countPage` / document.write (no createPageHTML).
    # The URL is not stored: links are relative; the tests read it at an assumed address.
    "ordos_trs_countpage": Real(REAL / "ordos_egb_trs_xxgknb_countpage.html",
                                "http://egb.ordos.gov.cn/xxgk/xxgknb/index.html", "http://egb.ordos.gov.cn/",
                                saved="2020-10-30"),
    # Hand-made table page, GB2312.
    "stats_62": Real(REAL / "stats_tjyqhdm_2019_62_gb2312.html",
                     "http://www.stats.gov.cn/tjsj/tjbz/tjyqhdmhcxhfdm/2019/62.html", "http://www.stats.gov.cn/",
                     saved="2019-11-01", encoding="gb18030"),
    # ../shared/samples: the Gansu provincial site platform (sitegroup), TRS, the Jiangxi platform.
    "fzgg_sitegroup": Real(SAMPLES / "gansu-platform" / "fzgg_article_tzgg_174084153_20250327.html",
                           "https://fzgg.gansu.gov.cn/fzgg/tzgg/202503/174084153.shtml", "https://fzgg.gansu.gov.cn/",
                           saved="2025-03-27"),
    "jyt_sitegroup": Real(SAMPLES / "gansu-platform" / "jyt_list_c110634_zwgklist_20251124.html",
                          "https://jyt.gansu.gov.cn/jyt/c110634/zwgklist.shtml", "https://jyt.gansu.gov.cn/",
                          saved="2025-11-24"),
    "shanxi_trs": Real(SAMPLES / "article_shanxi_1.html",
                       "http://www.shanxi.gov.cn/yw/sxyw/201909/t20190918_693227.shtml", "http://www.shanxi.gov.cn/",
                       saved="2019-09-18"),
    "yichun_home": Real(SAMPLES / "homepage_yichun_20231011.html", "http://www.yichun.gov.cn/",
                        "http://www.yichun.gov.cn/", saved="2023-10-11", homepage=True,
                        entries=tuple((n, ()) for n in ENTRIES)),
    "govcn_home": Real(SAMPLES / "homepage_govcn_20230927.html", "https://www.gov.cn/", "https://www.gov.cn/",
                       saved="2023-09-27", homepage=True,
                       entries=(("信息公开", ()), ("政务服务", ()), ("互动交流", ("互动", "/hudong/")),
                                ("站内搜索", ()), ("网站地图", ()), ("我为政府网站找错", ()))),
}


def _site_yaml(real: Real) -> str:
    lines = ["site: real", "name: 真实页面", "hosts:", "  - key: h", "    name: h", f"    url: {real.home}"]
    if real.entries:
        lines.append("    entries:")
        for name, patterns in real.entries:
            pats = f", patterns: [{', '.join(patterns)}]" if patterns else ""
            lines.append(f"      - {{name: {name}{pats}}}")
    return "\n".join(lines) + "\n"


def _html(real: Real) -> str:
    if not real.path.exists():
        pytest.skip(f"real sample page not found at {real.path} (CI places shared/ beside the checkout)")
    return real.path.read_bytes().decode(real.encoding)


@pytest.fixture
def real_page(tmp_path):
    def load(key: str):
        real = PAGES[key]
        html = _html(real)
        (tmp_path / "real.yaml").write_text(_site_yaml(real), encoding="utf-8")
        site = load_site(tmp_path / "real.yaml")
        return site, crawled(real.url, html, "h", real.homepage)
    return load


def _run(site, key: str) -> FakeRun:
    return FakeRun(site, now=datetime.fromisoformat(PAGES[key].saved + "T04:00:00+00:00"))


def _all_outputs(site, page, run):
    out = []
    for cls in (EntriesCheck, MarksCheck, InteractionCheck, ColumnsCheck, GuidesCheck, WordsCheck, EncodingCheck):
        findings, facts = run_check(make(cls, site), [page], run)
        out += findings + facts
    return out


def _finding_set(outputs) -> set:
    def key(f):
        d = f.details
        what = d.get("mark") or d.get("name") or d.get("tags") or d.get("href") or ""
        return f.code, f.severity, str(what)
    return {key(f) for f in outputs if not isinstance(f, Fact)}


W, E = Severity.WARNING, Severity.ERROR
ARTICLE_TAGS = {"SiteName": 1, "SiteDomain": 1, "SiteIDCode": 1, "ArticleTitle": 1, "PubDate": 1,
                "ContentSource": 1}

# The full set of findings each real page gives: each one a fault the saved page really has.
EXPECTED_FINDINGS = {
    "govcn_gongbao": {("mark.meta_missing", W, str(ARTICLE_TAGS))},  # none of the 发展指引 meta tags
    "zjfgw_hanweb": {("mark.meta_missing", W, str({"SiteIDCode": 1}))},  # SiteIDCode="" (empty)
    "cmse_trs": {("mark.meta_missing", W, str(ARTICLE_TAGS)),
                 ("mark.missing", W, "jiucuo"), ("mark.missing", W, "site_code")},  # footer has neither
    "stats_62": {("mark.missing", W, "jiucuo"), ("mark.missing", W, "site_code")},
    # A column page without any of the 发展指引 meta tags.
    "ordos_trs_countpage": {("mark.meta_missing", W, str({"SiteName": 1, "SiteDomain": 1, "SiteIDCode": 1,
                                                          "ColumnName": 1, "ColumnDescription": 1,
                                                          "ColumnKeywords": 1, "ColumnType": 1}))},
    "fzgg_sitegroup": set(),
    "jyt_sitegroup": set(),
    "shanxi_trs": set(),
    "yichun_home": set(),
    # The DOM snapshot has no 网站地图 link, nor any of the site meta tags.
    "govcn_home": {("entry.missing", E, "网站地图"),
                   ("mark.meta_missing", W, str({"SiteName": 1, "SiteDomain": 1, "SiteIDCode": 1}))},
}


@pytest.mark.parametrize("key", sorted(PAGES))
def test_full_finding_set_per_real_page(real_page, key):
    site, page = real_page(key)
    outputs = _all_outputs(site, page, _run(site, key))
    assert _finding_set(outputs) == EXPECTED_FINDINGS[key]
    assert not [f for f in outputs if not isinstance(f, Fact) and f.severity >= Severity.CRITICAL]


# --- what the inspector reads on each page ------------------------------------------------------------

# key: (title, links, <a>/<area> links, site code, ICP, 公安备案, 找错 entries (host, site_code))
FACTS = {
    "govcn_gongbao": ("全国人民代表大会常务委员会关于批准财政部发行特别国债购买外汇及调整2007\u3000年末国债余额限额的决议"
                      "__2007年第23号国务院公报_中国政府网", 84, 40,
                      "bm01000001", "京ICP备05070218号", "京公网安备11010202000001号", []),
    "zjfgw_hanweb": ("1-10月德清县固定资产投资结构趋稳趋优", 53, 33,
                     "3300000020", "浙ICP备05018911号", "浙公网安备33010602009328号", [("121.43.68.40", "3300000020")]),
    "cmse_trs": ("天宫一号与神舟九号载人交会对接任务第二场新闻发布会_中国载人航天官方网站", 92, 69,
                 None, "京ICP备20027467号-1", None, []),
    "stats_62": ("2019年统计用区划代码", 33, 32, None, "京ICP备05034670号", None, []),
    "ordos_trs_countpage": ("鄂尔多斯恩格贝生态示范区", 84, 41, "1506000140", "蒙ICP备13001412号-2",
                            "蒙公网安备15062102000168号", [("pucha.kaipuyun.cn", "1506000140")]),
    "fzgg_sitegroup": ("甘肃省发展和改革委员会等部门关于印发《甘肃省关于加力支持工业企业设备更新的若干措施》的通知", 288, 266,
                       "6200000079", "陇ICP备05003927号-4", "甘公网安备62010202004388号",
                       [("zfwzgl.www.gov.cn", "6200000079")]),  # not the commented-out Anhui copy
    "jyt_sitegroup": ("文件通知 - 甘肃省教育厅", 85, 62,
                      "6200000068", "陇ICP备17003689号-1", "甘公网安备62010202000617号",
                      [("zfwzgl.www.gov.cn", "6200000068")]),
    "shanxi_trs": ("山西品牌丝路行（南美站）正式启动 - 山西省人民政府门户网站", 404, 375,
                   "1400000045", "晋ICP备12000773号", "晋公网安备14010502050691号",
                   [("pucha.kaipuyun.cn", "1400000045")]),
    "yichun_home": ("中国宜春", 490, 354, "3609000002", "赣ICP备06000141号", "赣公网安备36090202000004号",
                    [("zfwzgl.www.gov.cn", "3609000002")]),
    "govcn_home": ("中国政府网_中央人民政府门户网站", 311, 227,
                   "bm01000001", "京ICP备05070218号", "京公网安备11010202000001号", []),
}


@pytest.mark.parametrize("key", sorted(FACTS))
def test_title_links_and_marks(real_page, key):
    _site, page = real_page(key)
    title, n_links, n_anchors, code, icp, beian, jiucuo = FACTS[key]
    assert page.reading.title == title
    assert (len(page.links), sum(1 for lk in page.links if lk.element is Element.A)) == (n_links, n_anchors)
    text = marks.footer_text(page.html)
    assert (marks.site_code(text), marks.icp(text), marks.beian_label(text)) == (code, icp, beian)
    assert [(j.host, j.site_code) for j in marks.jiucuo(page.html)] == jiucuo


# key: (visible date, its label, PubDate meta, URL date, URL month, published)
DATES = {
    "govcn_gongbao": (None, "", "2007-08-20T00:00:00", None, None, "2007-08-20"),  # meta firstpublishedtime
    "zjfgw_hanweb": ("2016-11-22T00:00:00", "发布日期", "2016-11-22T09:53:00", "2016-11-22", None, "2016-11-22"),
    "cmse_trs": ("2012-06-24T00:00:00", "发布日期", None, "2012-06-24", None, "2012-06-24"),
    # The visible date and PubDate disagree by a month: the inspector reads the visible one.
    "fzgg_sitegroup": ("2025-02-26T11:54:00", "日期", "2025-03-27T09:36:38", None, "2025-03", "2025-02-26"),
    "shanxi_trs": ("2019-09-18T06:23:00", "时间", "2019-09-18T06:23:00", "2019-09-18", None, "2019-09-18"),
    # A list page: its rows' dates (2020-09-03 ...) are not the page's publication date.
    "ordos_trs_countpage": (None, "", None, None, None, None),
}


@pytest.mark.parametrize("key", sorted(DATES))
def test_publication_dates_visible_meta_and_url(real_page, key):
    site, page = real_page(key)
    fact = article_dates(page.visible_text, page.meta, page.url).as_fact()
    visible, label, meta, url_date, url_month, published = DATES[key]
    assert (fact["visible"], fact["visible_label"], fact["meta"], fact["url_date"], fact["url_month"],
            fact["date"]) == (visible, label, meta, url_date, url_month, published)
    # The marks check stores it, keyed by the page URL (nothing for a page without one).
    _findings, facts = run_check(make(MarksCheck, site), [page], FakeRun(site))
    stored = [f for f in facts if f.name == "article.published"]
    assert [(f.key, f.value["date"]) for f in stored] == ([(page.url, published)] if published else [])


def test_stray_html_end_tag_does_not_hide_the_rest_of_the_page(real_page):
    site, page = real_page("govcn_gongbao")
    raw = page.html
    assert raw.count("</html>") == 2 and raw.index("</html>") < raw.index("网站纠错")
    # libxml2 alone stops at the first </html>: the breadcrumb, body and footer are lost.
    alone = lxml.html.document_fromstring(raw.encode("utf-8"))
    assert "https://www.gov.cn/fuwu/jiucuopage.html" not in {a.get("href") for a in alone.iter("a")}
    jiucuo = [lk for lk in page.links if lk.url == "https://www.gov.cn/fuwu/jiucuopage.html"]
    assert [(lk.text, lk.element) for lk in jiucuo] == [("网站纠错", Element.A)] * 2
    assert "https://www.gov.cn/gongbao/currentissue.htm" in {lk.url for lk in page.links}  # the breadcrumb
    assert "2007年第23号" in page.visible_text
    # The sampled-page footer check finds the site's own 纠错 entry: no mark.missing.
    findings, _ = run_check(make(MarksCheck, site), [page], FakeRun(site))
    assert not [f for f in findings if f.code == "mark.missing"]


def test_full_width_space_kept_and_second_title_ignored():
    page = crawled("http://a.gov.cn/x.html", "<html><head><title> 通知\u3000公告\n  列表 </title></head>"
                   "<body><svg><title>图标</title></svg><title>正文里的标题</title></body></html>", "h")
    assert page.reading.title == "通知\u3000公告 列表"


def test_empty_meta_content_counts_as_missing(real_page):
    site, page = real_page("zjfgw_hanweb")
    assert page.meta["SiteIDCode"] == "" and page.meta["SiteName"] == "浙江省发展和改革委员会"
    findings, facts = run_check(make(MarksCheck, site), [page], FakeRun(site))
    meta = next(f for f in facts if f.name == "marks.meta")
    assert meta.value == {"page_type": "article", "pages": 1, "pages_missing": 1, "tags": {"SiteIDCode": 1}}


PAGINATION = {
    "shanxi_trs": ["http://www.shanxi.gov.cn/yw/sxyw/201909/t20190918_693227.shtml"],  # createPageHTML(1, …)
    "jyt_sitegroup": ["https://jyt.gansu.gov.cn/jyt/c110634/zwgklist.shtml"]
    + [f"https://jyt.gansu.gov.cn/jyt/c110634/zwgklist_{i}.shtml" for i in range(1, 10)],
    # var countPage = 2 with document.write: the first page and index_1.
    "ordos_trs_countpage": ["http://egb.ordos.gov.cn/xxgk/xxgknb/index.html",
                            "http://egb.ordos.gov.cn/xxgk/xxgknb/index_1.html"],
    "govcn_gongbao": [], "zjfgw_hanweb": [], "cmse_trs": [], "stats_62": [], "fzgg_sitegroup": [],
}


@pytest.mark.parametrize("key", sorted(PAGINATION))
def test_pagination_urls_on_real_pages(real_page, key):
    _site, page = real_page(key)
    assert pagination_urls(page.html, page.url) == PAGINATION[key]


ATTACHMENTS = {
    "yichun_home": [
        "http://www.yichun.gov.cn/ycsrmzf/footer/2022-01/27/d8724f590464436195dc04696afea576/files/"
        "DingTalkGzt_v2.8.0-Release.8.zip",
        "http://www.yichun.gov.cn/ycsrmzf/footer/2022-01/27/d8724f590464436195dc04696afea576/files/"
        "600000@jiangxi-release-2.8.0_15459662.zip",
        "http://www.yichun.gov.cn/ycsrmzf/footer/202201/d8724f590464436195dc04696afea576/files/信创版本下载登陆使用手册.doc"],
    "fzgg_sitegroup": ["https://fzgg.gansu.gov.cn/fzgg/tzgg/202503/174084153/files/5e0f97363d1d413c968a35078e0a7fcf.pdf"],
    "shanxi_trs": [], "govcn_gongbao": [], "zjfgw_hanweb": [], "cmse_trs": [], "stats_62": [],
    "ordos_trs_countpage": [],
}


@pytest.mark.parametrize("key", sorted(ATTACHMENTS))
def test_link_kinds_on_real_pages(real_page, key):
    _site, page = real_page(key)
    home = PAGES[key].home
    kinds = [(lk.url, kind_of(lk.url, lk.element, lk.url.startswith(home))) for lk in page.links]
    assert [u for u, k in kinds if k is TargetKind.ATTACHMENT] == ATTACHMENTS[key]
    if key == "shanxi_trs":  # <link rel="search" type="application/opensearchdescription+xml" href=….xml>
        assert dict(kinds)["http://www.shanxi.gov.cn/images/content-search.xml"] is TargetKind.RESOURCE
    if key == "govcn_gongbao":  # an app's download landing page is a page, not a file
        assert dict(kinds)["https://app.www.gov.cn/govdata/html/download.html?from=singlemessage"] \
            is TargetKind.EXTERNAL


def test_entries_on_real_homepages(real_page):
    site, page = real_page("govcn_home")
    _findings, facts = run_check(make(EntriesCheck, site), [page], FakeRun(site))
    assert next(f for f in facts if f.name == "entries.homepage").value == {
        "present": ["互动交流", "信息公开", "我为政府网站找错", "政务服务", "站内搜索"], "missing": ["网站地图"]}
    # The section's "更多 >>" link is named by the heading a visitor sees next to it.
    assert ("https://www.gov.cn/fuwu/gongmin/", "更多 >> 为民服务 更多 >>") in link_labels(page.tree, page.url)
    site, page = real_page("yichun_home")
    _findings, facts = run_check(make(EntriesCheck, site), [page], FakeRun(site))
    assert next(f for f in facts if f.name == "entries.homepage").value == {"present": sorted(ENTRIES), "missing": []}


def test_hidden_links_on_real_pages_are_not_reported(real_page):
    for key, hidden in (("zjfgw_hanweb", ["http://121.43.68.40/exposure/jiucuo.html?site_code=3300000020&url="
                                          "http%3A%2F%2Fwww.zjdpc.gov.cn%2F", "http://www.hanweb.com"]),
                        ("cmse_trs", ["http://www.bshare.cn/intro", "http://www.bshare.cn"])):
        site, page = real_page(key)
        assert [lk.url for lk in page.links if lk.hidden] == hidden
        findings, _ = run_check(make(WordsCheck, site, lists=[]), [page], FakeRun(site))
        assert findings == []


def test_gbk_bytes_under_a_utf8_header_are_decoded_and_reported(real_page):
    real = PAGES["stats_62"]
    body = real.path.read_bytes()
    # The page's own <meta> names gb2312: the header's UTF-8 is overruled by it.
    text, encoding, problem = decode_page(body, "utf-8", lambda: body.decode("utf-8", "replace"))
    assert (encoding, problem) == ("gb18030", "mismatch: served as utf-8, the page is gb18030")
    assert "<TITLE>2019年统计用区划代码</TITLE>" in text
    # The same bytes where the template's <meta> also says UTF-8: nothing declares GBK, the bytes are.
    lying = body.replace(b"charset=gb2312", b"charset=utf-8")
    text, encoding, problem = decode_page(lying, "utf-8", lambda: lying.decode("utf-8", "replace"))
    assert (encoding, problem) == ("gb18030", "mismatch: served as utf-8, the page is gb18030")
    assert "兰州市" in text and "\ufffd" not in text
    site, _ = real_page("stats_62")
    page = crawled(real.url, text, "h")
    page.decode_problem, page.encoding = problem, encoding
    findings, _ = run_check(make(EncodingCheck, site), [page], FakeRun(site))
    assert [(f.code, f.severity, f.details["declared"], f.details["encoding"]) for f in findings] == [
        ("page.encoding_mismatch", Severity.WARNING, "utf-8", "gb18030")]


def test_binary_garbage_under_utf8_stays_invalid_not_gbk():
    body = bytes(range(128, 256)) * 4
    _text, encoding, problem = decode_page(body, "utf-8", lambda: body.decode("utf-8", "replace"))
    assert (encoding, problem) == ("utf-8", "invalid: bytes that are not valid utf-8")


def test_gbk_and_gb2312_labels_are_read_as_gb18030():
    # Labelled gb2312, written with a character GBK lacks (䶮, a name character) as editors save them;
    # w3lib 2.6 resolves gb2312 to the narrower gbk, which would call the page invalid.
    body = '<html><head><meta charset="gb2312"></head><body><p>刘䶮 喆</p></body></html>'.encode("gb18030")
    for served in ("gbk", "gb2312", "GBK"):
        text, encoding, problem = decode_page(body, served, lambda: body.decode(served, "replace"))
        assert (encoding, problem, "刘䶮 喆" in text) == ("gb18030", "", True)
    # Served as UTF-8: the <meta>'s gb2312 decides, read as GB18030 and reported.
    text, encoding, problem = decode_page(body, "utf-8", lambda: body.decode("utf-8", "replace"))
    assert (encoding, problem, "刘䶮 喆" in text) == (
        "gb18030", "mismatch: served as utf-8, the page is gb18030", True)



def test_trs_pager_written_by_document_write_on_a_real_page(real_page):
    _site, page = real_page("ordos_trs_countpage")
    script = next(s.text for s in page.tree.iter("script") if s.text and "var countPage" in s.text)
    assert "var countPage = 2//共多少页" in script and "createPageHTML" not in page.html
    # The server sends the script alone (the saved DOM also holds what it wrote): the script is enough.
    assert pagination_urls(script, page.url) == PAGINATION["ordos_trs_countpage"]
