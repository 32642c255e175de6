"""The per-page hot paths (visible text, link extraction, JavaScript pagination, hidden anchors) against
plain reference implementations: the fast paths must give exactly what the obvious code gives."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from sitecheck.checks.words import _hidden_anchors
from sitecheck.crawler.classify import DEFAULT_SOFT404_PATTERNS, soft404_matcher
from sitecheck.crawler.extract import extract_links
from sitecheck.crawler.pageparse import PageRules, read_page
from sitecheck.crawler.pagination import pagination_urls
from sitecheck.htmltext import HIDING_STYLE, parse_document, read_markup
from sitecheck.model import Element, Link, Page

_INVISIBLE = ("script", "style", "noscript", "template", "head", "title")


def _reading(html: str):
    return Page(url="http://a.gov.cn/d/p.html", html=html, host_key="h").reading


def _children(node):
    child = node.child
    while child is not None:
        yield child
        child = child.next


def _reference_text(html: str) -> str:
    """The definition: the document's text nodes outside the invisible elements, in document order,
    joined by spaces, whitespace folded; walked node by node from the parser's tree."""
    parts: list[str] = []

    def walk(node):
        for child in _children(node):
            if child.is_text_node:
                parts.append(child.text_content or "")
            elif child.is_element_node and child.tag not in _INVISIBLE:
                walk(child)

    walk(LexborHTMLParser(html).root)
    return re.sub(r"\s+", " ", " ".join(parts)).strip()


def _reference_meta(html: str) -> dict[str, str]:
    """The meta tags as a walk of every element: <meta> with a name and a content, the first of a name."""
    meta: dict[str, str] = {}
    for node in LexborHTMLParser(html).root.traverse():
        if node.is_element_node and node.tag == "meta":
            name, content = node.attrs.get("name"), node.attrs.get("content")
            if name and content is not None:
                meta.setdefault(name, content.strip())
    return meta


def _reference_links(html: str, base_url: str) -> list[tuple]:
    """The links as a walk of every element, with each anchor's ancestors looked up one by one."""
    doc = LexborHTMLParser(html)
    elements = [n for n in doc.root.traverse() if n.is_element_node]
    base = [n.attrs.get("href") for n in elements if n.tag == "base" and n.attrs.get("href") is not None]
    if base:
        base_url = urljoin(base_url, base[0].strip())

    def hides(el) -> bool:
        return "hidden" in el.attrs or bool(HIDING_STYLE.search(el.attrs.get("style") or ""))

    def hidden(el) -> bool:
        while el is not None and el.is_element_node:
            if hides(el):
                return True
            el = el.parent
        return False

    out = []
    for el in elements:
        attr = {"a": "href", "area": "href", "link": "href", "img": "src", "iframe": "src", "frame": "src",
                "script": "src"}.get(el.tag)
        if attr is None or el.attrs.get(attr) is None:
            continue
        raw = el.attrs.get(attr).strip()
        if not raw or raw.lower().startswith(("javascript:", "mailto:", "tel:", "data:", "#", "about:", "file:",
                                              "ftp:")):
            continue
        if el.tag == "link" and (el.attrs.get("rel") or "").lower() in ("dns-prefetch", "preconnect", "canonical",
                                                                        "alternate"):
            continue
        if el.tag in ("a", "area"):
            text = el.attrs.get("title") or el.text(deep=True)
        elif el.tag == "img":
            text = el.attrs.get("alt") or el.attrs.get("title") or ""
        else:
            text = ""
        out.append((urljoin(base_url, raw), " ".join(text.split())[:200], el.tag == "a" and hidden(el)))
    return out


# --- visible text ----------------------------------------------------------------------------------

def test_visible_text_skips_invisible_subtrees_and_keeps_tails():
    reading = _reading("""<html><head><title>标题</title><style>p{}</style><script>var a</script></head><body>
        一<script src="/s.js">var b</script>二<style>.x{}</style>三<noscript><p>无<b>脚本</b></p></noscript>四
        <template><div>模板</div></template>五<!-- 注释 -->六<?php echo 1 ?>七
        <svg><title>图题</title><text>图文</text></svg><p>甲<span>乙</span>丙</p>\u3000全角\xa0空格\t制表
        </body></html>""")
    assert reading.text == "一 二 三 四 五 六 七 图文 甲 乙 丙 全角 空格 制表"
    # the title and the links are read before the invisible elements are dropped from the text
    assert reading.title == "标题" and [link.value for link in reading.links] == ["/s.js"]


def test_visible_text_of_empty_and_text_only_pages():
    assert read_markup("").text == ""
    assert read_markup("<html><head><title>t</title></head></html>").text == ""
    assert read_markup("  just\n text ").text == "just text"


def test_deeply_nested_markup_reads_whole():
    # hostile markup: the parser keeps every level (libxml2 stopped at 256) and reading never recurses
    html = "".join(f"<div>t{i}" for i in range(5000)) + "<script>x</script>" + "</div>" * 5000
    reading = read_markup(html + '<a href="/end">end</a>')
    assert reading.text == " ".join(f"t{i}" for i in range(5000)) + " end"
    assert [link.value for link in reading.links] == ["/end"]


def test_text_after_a_stray_end_of_document_is_read_as_a_browser_does():
    reading = read_markup("<html><body><p>头部</p></body></html>\n<div>正文<a href='/a'>链接</a></div></html>")
    assert reading.text == "头部 正文 链接" and [link.value for link in reading.links] == ["/a"]


REAL_PAGES = Path(__file__).parent / "data" / "realpages"  # saved government pages, sources in its README


def _real_pages(samples_dir: Path | None) -> list[Path]:
    pages = sorted(p for p in REAL_PAGES.iterdir() if p.suffix in (".html", ".htm"))
    if samples_dir is not None:
        pages += sorted(samples_dir.glob("*.html"))
    return pages


def _check_against_references(path: Path) -> None:
    raw = path.read_bytes()
    try:
        html = raw.decode("utf-8")
    except UnicodeDecodeError:
        html = raw.decode("gb18030")
    reading = read_markup(html)
    assert reading.text == _reference_text(html), path.name
    base = "http://a.gov.cn/d/p.html"
    links = [(lk.url, lk.text, lk.hidden) for lk in extract_links(reading, base)]
    assert links == _reference_links(html, base), path.name
    assert reading.meta == _reference_meta(html), path.name
    assert len(links) > 10 and len(reading.text) > 200, path.name  # a real page, read whole


def test_reading_of_real_pages_in_this_repository_matches_the_definition():
    for path in _real_pages(None):
        _check_against_references(path)


def test_reading_of_the_shared_sample_pages_matches_the_definition(samples):
    for path in sorted(samples.glob("*.html")):
        _check_against_references(path)


def test_the_reading_and_the_checks_tree_see_the_same_anchors_on_real_pages():
    # The crawl follows the links of the reading (lexbor); the structural checks read an lxml tree.
    # Two parsers could disagree on broken markup: on real government pages they must not.
    for path in _real_pages(None):
        raw = path.read_bytes()
        try:
            html = raw.decode("utf-8")
        except UnicodeDecodeError:
            html = raw.decode("gb18030")
        in_tree = [href.strip() for a in parse_document(html).iter("a") if (href := a.get("href")) and href.strip()]
        assert [link.value for link in read_markup(html).links if link.tag == "a"] == in_tree, path.name


_TAGS = ["div", "p", "span", "a", "b", *_INVISIBLE, "table", "td", "svg", "img", "textarea", "pre", "meta"]
_WORDS = ["文字", "text", " ", "\n\t", "&amp;", "&nbsp;", "\u3000", "x y", "<!--c-->", "<?pi x?>",
          "createPageHTML(3,0,'index','html')", "pageControl(2, 1, \"list\", \"shtml\")"]


@st.composite
def _html(draw, depth=0):
    out = []
    for _ in range(draw(st.integers(0, 4))):
        if depth > 5 or draw(st.booleans()):
            out.append(draw(st.sampled_from(_WORDS)))
            continue
        tag = draw(st.sampled_from(_TAGS))
        attrs = ""
        if tag == "a":
            attrs += draw(st.sampled_from([' href="/x"', ' href="y.html"', ' href="http://e.example/z"', "",
                                           ' href="#t"', ' href="/t" title="标题"']))
        if tag == "img":
            attrs += draw(st.sampled_from([' src="/i.png" alt="图"', ' src="i.png"', ""]))
        if tag == "meta":
            attrs += draw(st.sampled_from([' name="PubDate" content="2026-12-07"', ' content=" 甲 " name="SiteName"',
                                           ' name="SiteName" content="乙"', ' name="" content="x"', ' name="x"', ""]))
        attrs += draw(st.sampled_from(["", "", "", ' style="display:none"', ' style="VISIBILITY : Hidden"',
                                       ' style="display:\tnone"', ' style="color:red"', " hidden",
                                       ' hidden style="color:red"']))
        close = draw(st.sampled_from([f"</{tag}>", f"</{tag}>", ""]))
        out.append(f"<{tag}{attrs}>" + draw(_html(depth + 1)) + close)
    return "".join(out)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_html())
def test_hot_paths_match_their_references_on_generated_markup(body):
    html = f"<html><head><title>t</title></head><body>{body}</body></html>"
    reading = _reading(html)
    assert reading.text == _reference_text(html)
    links = extract_links(reading, "http://a.gov.cn/d/p.html")
    assert [(lk.url, lk.text, lk.hidden) for lk in links] == _reference_links(html, "http://a.gov.cn/d/p.html")
    assert reading.meta == _reference_meta(html)


# --- links -----------------------------------------------------------------------------------------

def test_anchor_text_with_and_without_child_elements():
    reading = _reading("""<body><a href="/1">  纯 文字 </a><a href="/2">前<b>粗</b>后</a><a href="/3">a<!--c-->b</a>
        <a href="/4"></a><a href="/5" title="标题"><img src="/i.png" alt="图"></a><a href="/6" title="">空标题</a></body>""")
    got = [(lk.url.rsplit("/", 1)[1], lk.text, lk.element) for lk in extract_links(reading, "http://a.gov.cn/")]
    assert got == [("1", "纯 文字", Element.A), ("2", "前粗后", Element.A), ("3", "ab", Element.A),
                   ("4", "", Element.A), ("5", "标题", Element.A), ("i.png", "图", Element.IMG),
                   ("6", "空标题", Element.A)]


def test_hidden_flag_from_style_values_however_written():
    reading = _reading("""<body><div style="&#100;isplay: NONE"><p><a href="/e">实体</a></p></div>
        <a href="/v" style="visibility :hidden">自身</a><div style="display:block"><a href="/s">显示</a></div>
        <div style="display:\tnone"><a href="/t">制表符</a></div></body>""")
    # CSS allows any whitespace around the colon: a tab hides as a space does (the crawler's flag
    # used to miss it while the words check saw it; crawler/extract.py's HIDING_STYLE is the one definition)
    assert [(lk.url, lk.hidden) for lk in extract_links(reading, "http://a.gov.cn/")] == [
        ("http://a.gov.cn/e", True), ("http://a.gov.cn/v", True), ("http://a.gov.cn/s", False),
        ("http://a.gov.cn/t", True)]


@pytest.mark.parametrize("style,hides", [
    ("display:none", True), ("DISPLAY : NONE", True), ("display:\n\tnone", True), ("visibility: hidden", True),
    ("color:red; display: none !important", True), ("display:block", False), ("dis play:none", False),
    ("visibility:visible", False), ("", False)])
def test_hiding_styles_flag_links_and_the_words_check_reports_the_flag(style, hides):
    body = f'<div style="{style}"><a href="http://spam.example/">博彩</a></div>'
    page = _read(body)
    assert [lk.hidden for lk in page.links] == [hides]
    assert _hidden_anchors(page) == ([("http://spam.example/", "博彩")] if hides else [])


def test_no_style_attribute_no_hidden_links():
    reading = _reading('<body><div class="display:none"><a href="/x">x</a></div></body>')
    assert [lk.hidden for lk in extract_links(reading, "http://a.gov.cn/")] == [False]


def test_meta_tags_as_a_browser_reads_them():
    """Names as written, the first of a name wins, content stripped; quotes optional; a tag in the
    body still counts; tags inside comments and scripts are not tags."""
    html = ("<html><head><meta name=SiteIDCode content=6200000001>"
            "<meta content=' 甘肃省工业和信息化厅 ' name='SiteName'>"
            "<!-- <meta name='ColumnName' content='注释里的栏目'> -->"
            "<script>document.write('<meta name=\"PubDate\" content=\"2020-01-01\">')</script>"
            "<meta name='template,templategroup,version' content='6700,default,1.6'>"
            "<meta http-equiv='Content-Type' content='text/html; charset=utf-8'>"
            "<meta name='SiteName' content='第二个'></head>"
            "<body><p>正文</p><meta name='ArticleTitle' content='正文里的标题'></body></html>")
    assert _reading(html).meta == {"SiteIDCode": "6200000001", "SiteName": "甘肃省工业和信息化厅",
                                   "template,templategroup,version": "6700,default,1.6",
                                   "ArticleTitle": "正文里的标题"}
    assert _reading(html).meta == _reference_meta(html)
    assert Page(url="http://a.gov.cn/", html=html, host_key="h").meta["SiteIDCode"] == "6200000001"


def test_first_base_with_an_href_wins():
    reading = _reading('<html><head><base target="_blank"><base href="http://b.gov.cn/d/"><base href="http://c/">'
                 '</head><body><a href="x">x</a></body></html>')
    assert [lk.url for lk in extract_links(reading, "http://a.gov.cn/")] == ["http://b.gov.cn/d/x"]


def test_elements_without_their_link_attribute_are_skipped():
    reading = _reading('<body><a name="top">锚</a><img alt="无源"><script>var a</script><a href="  ">空</a>'
                 '<img src="/i.png"></body>')
    assert [(lk.url, lk.element) for lk in extract_links(reading, "http://a.gov.cn/")] == [
        ("http://a.gov.cn/i.png", Element.IMG)]


# --- pagination ------------------------------------------------------------------------------------

def test_pages_without_a_pager_call_have_no_pagination():
    assert pagination_urls("<html><body>" + "<p>正文</p>" * 2000 + "</body></html>", "http://a/x/") == []
    assert pagination_urls("<script>createPageHTML</script><p>pageControl</p>", "http://a/x/") == []


def test_pager_calls_anywhere_in_the_page_word_boundary_kept():
    filler = "<p>正文</p>" * 2000
    html = (f"<script>xcreatePageHTML(3,0,'bad','html'); _pageControl(3,0,'bad2','html')</script>{filler}"
            "<script>pageControl(2,0,'p','shtml'); createPageHTML(2,1,'c','html')</script>")
    assert pagination_urls(html, "http://a/x/") == ["http://a/x/p.shtml", "http://a/x/p_1.shtml",
                                                    "http://a/x/c.html", "http://a/x/c_1.html"]
    # a name inside another call's arguments is part of that call, not a call of its own
    assert pagination_urls("createPageHTML(pageControl(2,0,'e','html'))", "http://a/x/") == [
        "http://a/x/e.html", "http://a/x/e_1.html"]
    assert pagination_urls(None, "http://a/x/") == []  # type: ignore[arg-type]  # never raises


# --- hidden anchors (words check) ------------------------------------------------------------------

def _read(body: str) -> Page:
    """A page as the crawler hands it to the checks: read by crawler/pageparse.py."""
    page = Page(url="http://a.gov.cn/", html=f"<html><body>{body}</body></html>", host_key="h")
    rules = PageRules(soft404_matcher(DEFAULT_SOFT404_PATTERNS), False, [], frozenset())
    assert read_page(page, page.url, rules) is not None
    return page


@pytest.mark.parametrize("body,expected", [
    ('<a href="http://v/">v</a>', []),
    ('<div style="color:red"><a href="http://v/">v</a></div>', []),
    (('<div style="display : none"><a href="http://1/">一</a></div><p style="Visibility:\thidden">'
      '<a href="http://2/"> 二 <b>2</b></a></p>'), [("http://1/", "一"), ("http://2/", "二 2")]),
    # an element with both attributes is one hidden root; an anchor under nested roots is one link
    (('<div hidden style="display:none"><a href="http://1/">一</a></div>'
      '<div style="color:red" HIDDEN><a href="#x">frag</a><a href="/rel">相对</a></div>'
      '<section hidden><div style="display:none"><a href="http://n/">嵌</a></div></section>'),
     [("http://1/", "一"), ("http://a.gov.cn/rel", "相对"), ("http://n/", "嵌")]),
    ('<p style="display:none"><a href="javascript:x">j</a><a>无</a></p><a hidden href="http://3/">三</a>',
     [("http://3/", "三")]),
    # character references can spell the style: the parser decodes attribute values
    ("<div style='&#100;isplay:none'><a href='http://spam.example/'>博彩</a></div>", [("http://spam.example/", "博彩")]),
    ('<input type="hidden" name="t"><style>.x{overflow:hidden}</style><a href="http://v/">v</a>', []),
])
def test_hidden_anchors_from_hidden_and_style_attributes(body, expected):
    assert _hidden_anchors(_read(body)) == expected


def test_the_words_check_reads_the_crawlers_flag_and_never_parses():
    page = Page(url="http://a.gov.cn/", host_key="p",
                html="<div style='display:none'><a href='http://spam.example/'>博彩</a></div>",
                links=[Link("http://spam.example/", "博彩", Element.A, hidden=True),
                       Link("http://v.example/", "v", Element.A)])
    assert _hidden_anchors(page) == [("http://spam.example/", "博彩")]
    assert "tree" not in page.__dict__ and "reading" not in page.__dict__  # the crawler read the page; the
    # check does not parse it again
