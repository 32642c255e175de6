"""Units of the crawler that need no network: URLs, traps, pagination, link extraction, reasons."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sitecheck.crawler.classify import DEFAULT_SOFT404_PATTERNS, is_soft404, reason_for_status, soft404_matcher
from sitecheck.crawler.extract import extract_links
from sitecheck.crawler.pagination import MAX_PAGES, pagination_urls
from sitecheck.crawler.urls import TrapGuard, kind_of, normalize
from sitecheck.htmltext import read_markup
from sitecheck.model import Element, Reason, TargetKind

SESSION = frozenset({"sid", "jsessionid"})


def test_normalize_drops_fragment_session_and_default_port():
    assert normalize("HTTP://Gxt.Gansu.gov.cn:80/a/b.html?sid=123&p=2#top", SESSION) == \
        "http://gxt.gansu.gov.cn/a/b.html?p=2"
    assert normalize("http://a/x;jsessionid=ABC?y=1", SESSION) == "http://a/x?y=1"
    assert normalize("http://a", SESSION) == "http://a/"
    assert normalize("http://127.0.0.2:8801/", SESSION) == "http://127.0.0.2:8801/"


def test_normalize_refuses_non_http():
    for url in ("javascript:void(0)", "mailto:a@b.c", "ftp://x/", "http://", "http://[::1/"):
        assert normalize(url, SESSION) is None


def test_kind_of_by_element_then_extension():
    assert kind_of("http://a/x.png", Element.A, True) == TargetKind.IMAGE
    assert kind_of("http://a/pic", Element.IMG, True) == TargetKind.IMAGE
    assert kind_of("http://a/file.DOCX", Element.A, True) == TargetKind.ATTACHMENT
    assert kind_of("http://a/f.wps", Element.A, False) == TargetKind.ATTACHMENT
    assert kind_of("http://a/app.js", Element.SCRIPT, True) == TargetKind.RESOURCE
    assert kind_of("http://a/page.shtml", Element.A, True) == TargetKind.PAGE
    assert kind_of("http://b/page.shtml", Element.A, False) == TargetKind.EXTERNAL


def test_trap_guard_bounds_calendar_session_and_deep_paths():
    guard = TrapGuard(max_per_pattern=5, max_url_length=80, max_repeated_segments=2)
    months = [f"http://a/calendar/?y={2026 + m // 12}&m={m % 12 + 1}" for m in range(20)]
    allowed = [u for u in months if guard.refusal(u) is None]
    assert len(allowed) == 5
    assert guard.refusal("http://a/news/list.html?sid=" + "x" * 100) == "URL longer than 80 characters"
    assert guard.refusal("http://a/deep/a/a/") is None
    assert guard.refusal("http://a/deep/a/a/a/") == "path segment repeats"


def test_pagination_variants():
    base = "http://a/xwdt/index.html"
    assert pagination_urls('createPageHTML(4, 0, "index", "html");', base) == [
        "http://a/xwdt/index.html", "http://a/xwdt/index_1.html", "http://a/xwdt/index_2.html",
        "http://a/xwdt/index_3.html"]
    assert pagination_urls("createPageHTML('page_div',3,1,'fg','shtml',60)", base)[-1] == "http://a/xwdt/fg_2.shtml"
    assert len(pagination_urls("pageControl(4,2,\"index\",\"shtml\",10,'pages-nav')", base)) == 4
    # The definition of the function is not a call with numbers: nothing comes of it.
    assert pagination_urls("function createPageHTML(_nPageCount,_nCurrIndex,_sPageName,_sPageExt){}", base) == []
    assert len(pagination_urls('createPageHTML(999999, 0, "index", "html")', base)) == MAX_PAGES
    assert pagination_urls('createPageHTML(3, 0, "../../etc", "html")', base) == []


def test_pagination_on_real_sample(samples):
    html = (samples / "article_shanxi_1.html").read_text(encoding="utf-8")
    assert pagination_urls(html, "http://www.shanxi.gov.cn/yw/sxyw/201909/t20190918_693227.shtml") == [
        "http://www.shanxi.gov.cn/yw/sxyw/201909/t20190918_693227.shtml"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.sampled_from(["http://a/b/", "http://a/", "https://[::1]/x"]))
def test_pagination_never_raises(text, base):
    urls = pagination_urls("createPageHTML(" + text, base) + pagination_urls(text, base)
    assert all(u.startswith(("http://", "https://")) for u in urls)


def _reading(html: str):
    return read_markup(html)


def test_extract_links_elements_text_hidden_and_base():
    html = """<html><head><base href="http://b/dir/"><link rel="stylesheet" href="s.css">
    <link rel="dns-prefetch" href="//cdn"></head><body>
    <a href="x.html" title="标题">文字</a><a href="javascript:void(0)">js</a><a href="#top">top</a>
    <img src="p.png" alt="图片"><iframe src="/frame.html"></iframe><script src="/app.js"></script>
    <div style="DISPLAY: none"><a href="http://spam.example/">娱乐城</a></div></body></html>"""
    links = extract_links(_reading(html), "http://a/")
    got = [(lk.url, lk.text, lk.element, lk.hidden) for lk in links]
    assert got == [
        ("http://b/dir/s.css", "", Element.LINK, False),
        ("http://b/dir/x.html", "标题", Element.A, False),
        ("http://b/dir/p.png", "图片", Element.IMG, False),
        ("http://b/frame.html", "", Element.IFRAME, False),
        ("http://b/app.js", "", Element.SCRIPT, False),
        ("http://spam.example/", "娱乐城", Element.A, True),
    ]


def test_extract_links_on_govcn_homepage(samples):
    html = (samples / "homepage_govcn_20230927.html").read_text(encoding="utf-8")
    links = extract_links(_reading(html), "https://www.gov.cn/")
    content = {lk.url for lk in links if "/content_" in lk.url and lk.url.startswith("https://www.gov.cn/")}
    assert len(content) == 45
    assert any("bszs.conac.cn/sitename?method=show&id=081D1D6883441A53E053012819AC0DAA" in lk.url for lk in links)


def test_extract_links_is_bounded():
    html = "<html><body>" + "".join(f'<a href="/p{i}">x</a>' for i in range(30000)) + "</body></html>"
    assert len(extract_links(_reading(html), "http://a/")) == 20000


def test_reason_for_status():
    assert reason_for_status(200) == Reason.OK
    assert reason_for_status(301) == Reason.OK
    assert reason_for_status(404) == Reason.NOT_FOUND
    assert reason_for_status(410) == Reason.NOT_FOUND
    assert reason_for_status(429) == Reason.RATE_LIMITED
    assert reason_for_status(503) == Reason.SERVER_ERROR
    assert reason_for_status(403) == Reason.HTTP_STATUS
    assert reason_for_status(403, {b"Server": [b"WAF"]}) == Reason.BLOCKED
    assert reason_for_status(403, {}, "<title>访问被拦截</title>") == Reason.BLOCKED
    assert reason_for_status(400) == Reason.HTTP_STATUS


def test_libcurl_errors_name_the_cause():
    import errno

    import pycurl

    from sitecheck.crawler.curl import CurlError

    assert CurlError(pycurl.E_COULDNT_CONNECT, "x", errno.ECONNREFUSED).reason == Reason.REFUSED
    assert CurlError(pycurl.E_COULDNT_RESOLVE_HOST, "x").reason == Reason.DNS
    assert CurlError(pycurl.E_OPERATION_TIMEDOUT, "x").reason == Reason.TIMEOUT
    assert CurlError(pycurl.E_RECV_ERROR, "x").reason == Reason.RESET
    assert CurlError(pycurl.E_GOT_NOTHING, "x").reason == Reason.RESET
    assert CurlError(pycurl.E_PARTIAL_FILE, "x").reason == Reason.TRUNCATED  # less than Content-Length said
    assert CurlError(pycurl.E_FILESIZE_EXCEEDED, "x").reason == Reason.TOO_LARGE
    assert CurlError(pycurl.E_PEER_FAILED_VERIFICATION, "x").reason == Reason.TLS
    assert CurlError(8, "Weird server reply").reason == Reason.ERROR  # CURLE_WEIRD_SERVER_REPLY


def test_soft404_by_title_heading_or_short_body():
    m = soft404_matcher(DEFAULT_SOFT404_PATTERNS)
    assert is_soft404(m, "页面不存在 - 甘肃省工信厅", "")
    assert is_soft404(m, "甘肃省工信厅", "对不起，您访问的页面不存在！ 返回首页")
    assert not is_soft404(m, "新闻", "正文 " * 2000 + "页面不存在")  # a long article may quote it
    assert not is_soft404(m, "关于开展2026年检查的通知", "通知正文")


def _site_with(tmp_path, crawl: str):
    from sitecheck.config import load_site

    path = tmp_path / "s.yaml"
    path.write_text("site: s\nname: 测试\nhosts:\n  - {key: p, name: 门户, url: 'http://127.0.0.1:1/'}\n"
                    f"crawl: {crawl}\n", encoding="utf-8")
    return load_site(path)


def test_record_process_only_where_it_pays(tmp_path):
    from sitecheck.crawler.runner import uses_record_process

    # Automatic: a second process only without a politeness delay, on two cores, for one site.
    assert uses_record_process(_site_with(tmp_path, "{delay_seconds: 0}"), single=True, cpus=2)
    assert not uses_record_process(_site_with(tmp_path, "{delay_seconds: 0}"), single=True, cpus=1)
    assert not uses_record_process(_site_with(tmp_path, "{delay_seconds: 0}"), single=False, cpus=2)
    assert not uses_record_process(_site_with(tmp_path, "{delay_seconds: 0.5}"), single=True, cpus=8)
    assert uses_record_process(_site_with(tmp_path, "{processes: 2, delay_seconds: 1}"), single=True, cpus=1)
    assert not uses_record_process(_site_with(tmp_path, "{processes: 1, delay_seconds: 0}"), single=True, cpus=2)
