"""Hidden links (暗链): critical only with evidence of spam; CMS credits, share panels, statistics and
legacy government links are not reported; other hidden links to other sites are warnings."""

from __future__ import annotations

import pytest

from sitecheck.checks.words import WordsCheck
from sitecheck.model import Severity
from sitecheck.textparse.hiddenlinks import judge

from .test_checks_gov import FakeRun, make, page, run_check, site  # noqa: F401 - site is a fixture

# (href, text, verdict): the first rows are hidden links seen on real government pages.
TABLE = [
    ("http://www.hanweb.com", "Produced By 大汉网络 大汉版通发布系统", "known"),  # Hanweb credit (zjfgw page)
    ("http://121.43.68.40/exposure/jiucuo.html?site_code=3300000020&url=http%3A%2F%2Fwww.zjdpc.gov.cn%2F", "",
     "known"),  # legacy 找错 (zjfgw page)
    ("http://www.bshare.cn/intro", "分享到", "known"),  # bShare panel injected by script (cmse page)
    ("http://www.bshare.cn", "bShare", "known"),
    ("http://bdimg.share.baidu.com/static/api/js/share.js", "", "known"),
    ("https://www.jiathis.com/share", "分享", "known"),
    ("https://tongji.baidu.com/web/welcome/ico?s=abc", "百度统计", "known"),
    ("https://www.cnzz.com/stat/website.php?web_id=1000", "站长统计", "known"),
    ("https://www.trs.com.cn/", "技术支持：拓尔思", "known"),
    ("https://pucha.kaipuyun.cn/exposure/jiucuo.html?site_code=1400000045", "", "known"),
    ("https://zfwzgl.www.gov.cn/exposure/jiucuo.html", "我为政府网站找错", "known"),
    ("http://www.beijing.gov.cn/", "北京市人民政府", "known"),
    # 暗链 as injected into hacked government pages: words of gambling, lottery, adult content, SEO farms.
    ("http://www.example.com/", "澳门葡京娱乐城", "spam"),
    ("http://www.example.net/", "北京赛车时时彩计划", "spam"),
    ("http://www.example.org/x.html", "百家乐真人娱乐", "spam"),
    ("http://news.example.com/", "六合彩开奖结果", "spam"),
    ("http://www.example.com/%E5%8D%9A%E5%BD%A9/", "网址导航", "spam"),  # the word is in the URL
    ("http://bet365-cn.example/", "体育", "spam"),
    ("http://www.casino88.example/", "", "spam"),
    ("http://seo.example.cn/", "", "spam"),
    ("http://www.example.com/", "蜘蛛池出租", "spam"),
    ("http://www.example.com/", "成人电影在线", "spam"),
    # Hidden, elsewhere, no evidence either way.
    ("http://www.example.com/", "友情链接", "other"),
    ("http://www.beta-shop.example/", "成人教育报名", "other"),  # 成人教育 is adult *education*
    ("https://www.seoul.example/", "", "other"),
]


@pytest.mark.parametrize("href,text,verdict", TABLE)
def test_hidden_link_table(href, text, verdict):
    assert judge(href, text).kind == verdict


def test_site_file_adds_its_own_hosts_but_never_excuses_spam():
    assert judge("http://partner.example/x", "合作单位", ("partner.example",)).kind == "known"
    assert judge("http://www.partner.example/x", "合作单位", ("partner.example",)).evidence == "partner.example"
    assert judge("http://partner.example/x", "博彩导航", ("partner.example",)).kind == "spam"


def test_words_check_severity_codes_and_evidence(site):  # noqa: F811
    body = """
    <a href="http://www.hanweb.com" style="display:none">Produced By 大汉网络 大汉版通发布系统</a>
    <div id="bsBox" style="display:none"><a href="http://www.bshare.cn/intro">分享到</a></div>
    <div style="position:absolute; top:-1200px"><a href="http://www.example.com/">澳门葡京娱乐城</a></div>
    <div hidden><a href="http://www.example.org/">友情链接</a><a href="http://partner.example/">合作单位</a></div>
    """
    check = make(WordsCheck, site, lists=[], hidden_allowed_domains=["gov.cn", "partner.example"])
    findings, _ = run_check(check, [page("http://portal.test/a.html", body)], FakeRun(site))
    got = sorted((f.code, f.severity, f.url) for f in findings)
    assert got == [("link.hidden", Severity.CRITICAL, "http://www.example.com/"),
                   ("link.hidden_other", Severity.WARNING, "http://www.example.org/")]
    spam = next(f for f in findings if f.code == "link.hidden")
    assert spam.page_url == "http://portal.test/a.html"
    assert {k: spam.details[k] for k in ("text", "element", "verdict", "evidence")} == {
        "text": "澳门葡京娱乐城", "element": "a", "verdict": "spam", "evidence": "葡京"}
    assert spam.details["markup"] == '<a href="http://www.example.com/">澳门葡京娱乐城</a>'
