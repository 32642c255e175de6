"""The demo site itself: every planted fault answers as the manifest says, and nothing else is wrong.

A small reference crawl (requests + lxml, loopback only) walks the demo and
checks the manifest is exact: the failed targets it finds are the manifest's
BROKEN list, no more.  Real hosts the pages link to are matched by demo.yaml's
crawl.exclude and never contacted.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.html
import pytest

from .helpers import wait_until
import requests

from sitecheck.config import load_site
from sitecheck.demo import DemoServer, manifest as M
from sitecheck.demo.content import DemoSite
from sitecheck.demo.server import DEMO_SITE_FILE

TODAY = date(2026, 11, 20)
SITE = load_site(DEMO_SITE_FILE)
EXCLUDE = [re.compile(p) for p in SITE.crawl.exclude]
TIMEOUT = 0.5  # the fixture's timeout fault sleeps 1 s
BINARY = (".png", ".pdf", ".docx", ".xlsx", ".zip", ".css", ".js")
_PAGING = re.compile(r"createPageHTML\(\s*(?:'[^']*'\s*,\s*)?(\d+)\s*,\s*(\d+)\s*,"  # optional container id first
                     r"\s*[\"'](\w+)[\"']\s*,\s*[\"'](\w+)[\"']")
_DATE = re.compile(r"(\d{4})(?:-|/|年)(\d{2})(?:-|/|月)(\d{2})")


@pytest.fixture(scope="module")
def demo():
    server = DemoServer(port=0, today=TODAY, timeout_fault_seconds=1.0, slow_seconds=0.3).start()
    yield server
    server.stop()


def get(url: str, **kw) -> requests.Response:
    assert urlsplit(url).hostname.startswith("127."), url  # no test contacts anything but loopback
    return requests.get(url, timeout=kw.pop("timeout", 5), **kw)


def decode(resp: requests.Response) -> str:
    """Decode as sitecheck must: GBK pages declare their charset only in <meta>, and decode as GB18030."""
    return resp.content.decode("gb18030" if b"charset=gb2312" in resp.content[:400] else "utf-8")


def links_of(page_url: str, html: str, follow_pagination: bool) -> list[tuple[str, str]]:
    tree = lxml.html.fromstring(html)
    found = [(el.get("href"), "a") for el in tree.iter("a") if el.get("href")]
    found += [(el.get("src"), "img") for el in tree.iter("img") if el.get("src")]
    found += [(el.get("href"), "link") for el in tree.iter("link") if el.get("href")]
    found += [(el.get("src"), "script") for el in tree.iter("script") if el.get("src")]
    if follow_pagination:
        for total, _, name, ext in _PAGING.findall(html):
            found += [(f"{name}.{ext}" if i == 0 else f"{name}_{i}.{ext}", "pagination") for i in range(int(total))]
    out = []
    for href, kind in found:
        if href.startswith(("javascript:", "mailto:")):
            continue
        out.append((urldefrag(urljoin(page_url, href))[0], kind))
    return out


class Crawl:
    """What a minimal link checker sees: pages fetched, targets with their outcome and referrers."""

    def __init__(self, urls: dict[str, str], follow_pagination: bool = True):
        self.urls = urls
        self.site_netlocs = {urlsplit(urls[k]).netloc for k in M.SITE_HOSTS}
        self.homepages = {urls[k] for k in M.SITE_HOSTS}
        self.pages: dict[str, str] = {}  # url -> decoded html
        self.outcome: dict[str, str] = {}  # url -> reason
        self.referrers: dict[str, set[str]] = {}
        self.not_checked: dict[str, str] = {}
        queue = list(self.homepages)
        for url in queue:
            self.referrers.setdefault(url, set())
        while queue:
            url = queue.pop(0)
            if url in self.outcome:
                continue
            reason, html = self.fetch(url)
            self.outcome[url] = reason
            if html is None:
                continue
            self.pages[url] = html
            for link, kind in links_of(url, html, follow_pagination):
                parts = urlsplit(link)
                if any(p.search(link) for p in EXCLUDE):
                    continue
                assert parts.hostname.startswith("127.0.0."), f"{url} links outside loopback: {link}"
                if parts.path.startswith(("/calendar/", "/news/", "/deep/")):
                    self.not_checked[link] = "trap"
                    continue
                if parts.path.startswith("/private/"):
                    self.not_checked[link] = "robots"
                    continue
                if parts.netloc not in self.site_netlocs and parts.netloc != urlsplit(urls["external"]).netloc \
                        and parts.netloc != urlsplit(urls["dead"]).netloc:
                    self.not_checked[link] = "private_address"
                    continue
                self.referrers.setdefault(link, set()).add(url)
                if link not in self.outcome:
                    queue.append(link)

    def fetch(self, url: str) -> tuple[str, str | None]:
        parts = urlsplit(url)
        try:
            if parts.path.endswith(BINARY):
                resp = requests.head(url, timeout=TIMEOUT, allow_redirects=True)
            else:
                resp = requests.get(url, timeout=TIMEOUT)
        except requests.exceptions.ReadTimeout:
            return "timeout", None
        except requests.exceptions.TooManyRedirects:
            return "redirect_loop", None
        except requests.exceptions.ConnectionError:
            return "refused", None
        status = resp.status_code
        reason = {404: "not_found", 429: "rate_limited", 403: "blocked"}.get(status) or \
            ("server_error" if status >= 500 else "ok")
        if reason != "ok" or parts.netloc not in self.site_netlocs or not resp.headers["Content-Type"].startswith(
                "text/html"):
            return reason, None
        html = decode(resp)
        if "页面不存在" in lxml.html.fromstring(html).findtext(".//title"):
            return "soft_404", None
        return "ok", html

    def failures(self) -> set[tuple[str, str, bool]]:
        return {(url, reason, bool(self.referrers.get(url, set()) & self.homepages))
                for url, reason in self.outcome.items() if reason not in ("ok", "rate_limited", "blocked")}


@pytest.fixture(scope="module")
def crawl(demo):
    return Crawl(demo.urls)


@pytest.fixture(scope="module")
def site(demo, tmp_path_factory):
    """demo.yaml as written for the fixture's port."""
    return load_site(demo.write_site_file(tmp_path_factory.mktemp("site") / "demo.yaml"))


# --- the link layer ------------------------------------------------------------------------


def test_crawl_finds_exactly_the_planted_broken_links(demo, crawl):
    assert crawl.failures() == M.expected_broken(demo.urls)


def test_throttled_and_not_checked_links_are_linked_and_answer_as_planted(demo, crawl):
    for entry in M.resolve(M.THROTTLED, demo.urls, TODAY):
        assert crawl.outcome[entry["url"]] == entry["reason"]
        assert entry["linked_from_url"] in crawl.referrers[entry["url"]]
    for entry in M.resolve(M.NOT_CHECKED, demo.urls, TODAY):
        assert crawl.not_checked[entry["url"]] == entry["reason"]
        assert entry["url"] in {u for u, _ in links_of(entry["linked_from_url"], crawl.pages[
            entry["linked_from_url"]], False)}
    for entry in M.resolve(M.BROKEN + M.SLOW + M.LARGE, demo.urls, TODAY):
        assert entry["linked_from_url"] in crawl.referrers[entry["url"]], entry


def test_each_fault_answers_as_planted(demo):
    portal, ext = demo.urls["portal"], demo.urls["external"]
    assert get(portal + "xxgk/missing.html").status_code == 404
    assert get(portal + "fault/error.html").status_code == 500
    assert [get(portal + "fault/unavailable.html").status_code for _ in range(3)] == [503] * 3
    busy = get(portal + "fault/busy.html")
    assert (busy.status_code, busy.headers["Retry-After"]) == (429, "2")
    waf = get(portal + "fault/waf.html")
    assert (waf.status_code, waf.headers["Server"]) == (403, "WAF") and "访问被拦截" in waf.text
    loop = get(portal + "fault/loop-a", allow_redirects=False)
    assert (loop.status_code, loop.headers["Location"]) == (302, "/fault/loop-b")
    with pytest.raises(requests.exceptions.TooManyRedirects):
        get(portal + "fault/loop-a")
    moved = get(portal + "fault/moved")
    assert [r.status_code for r in moved.history] == [301] and moved.status_code == 404
    soft = get(portal + "fault/soft404.html")
    assert soft.status_code == 200 and "您访问的页面不存在" in soft.text
    assert get(ext + "ext/ok.html").status_code == 200
    assert get(ext + "ext/missing.html").status_code == 404
    assert get(ext + "ext/error.html").status_code == 500
    with pytest.raises(requests.exceptions.ConnectionError):
        get(demo.urls["dead"] + "index.html", timeout=2)


def test_redirect_hops_are_where_the_redirects_lead(demo):
    for hop in M.REDIRECT_HOPS:
        first = get(demo.urls["portal"] + hop["via"].lstrip("/"), allow_redirects=False)
        assert first.headers["Location"] == hop["path"]
    assert get(demo.urls["portal"] + "fault/gone.html").status_code == 404


def test_timeout_and_slow_pages(demo):
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(demo.urls["portal"] + "fault/timeout.html", timeout=0.3)
    start = time.monotonic()
    assert get(demo.urls["portal"] + "slow/report.html").status_code == 200
    assert time.monotonic() - start >= 0.3
    start = time.monotonic()
    get(demo.urls["portal"])
    assert time.monotonic() - start < 0.3


def test_stop_is_fast_while_a_request_sleeps():
    server = DemoServer(port=0, today=TODAY, timeout_fault_seconds=60).start()
    url = server.urls["portal"] + "fault/timeout.html"
    threading.Thread(target=lambda: pytest.raises(requests.ConnectionError, requests.get, url, timeout=30),
                     daemon=True).start()
    time.sleep(0.2)
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 2


def test_robots_txt_disallows_private_only(demo):
    for key in M.SERVED_HOSTS:
        assert get(demo.urls[key] + "robots.txt").text == "User-agent: *\nDisallow: /private/\n"


def test_traps_are_endless_but_healthy(demo):
    portal = demo.urls["portal"]
    page = get(f"{portal}calendar/?y={TODAY.year}&m={TODAY.month}")
    nxt = [u for u, _ in links_of(page.url, page.text, False) if "/calendar/" in u]
    assert page.status_code == 200 and len(nxt) == 2
    assert get(nxt[1]).status_code == 200
    sid = get(portal + "news/list.html?sid=8f3a")
    longer = [u for u, _ in links_of(sid.url, sid.text, False) if "sid=" in u][0]
    assert len(longer) > len(sid.url) and get(longer).status_code == 200
    deep = get(portal + "deep/a/a/a/a/")
    assert deep.status_code == 200 and portal + "deep/a/a/a/a/a/" in [u for u, _ in links_of(deep.url, deep.text, 0)]


def test_big_attachment_is_cheap_to_check(demo):
    url = demo.urls["portal"] + "uploads/big.zip"
    assert requests.head(url, timeout=5).headers["Content-Length"] == str(200 * 1024 * 1024)
    resp = get(url, stream=True)
    assert resp.headers["Content-Length"] == "209715200" and resp.headers["Content-Type"] == "application/zip"
    assert next(resp.iter_content(64 * 1024)) == bytes(64 * 1024)
    resp.close()
    sent, deadline = -1, time.monotonic() + 5
    while time.monotonic() < deadline:  # until the server notices the client left
        time.sleep(0.2)
        now = demo.stats()["bytes_by_path"]["/uploads/big.zip"]
        if now == sent:
            break
        sent = now
    assert 64 * 1024 <= sent < 1024 * 1024


def test_stats_count_requests_and_bytes(demo):
    before = demo.stats()
    body = get(demo.urls["zxqy"] + "zcjd/index.html").content

    def sent() -> int:  # the server counts bytes after handing them to the socket: the client may be first
        return demo.stats()["bytes_by_path"].get("/zcjd/index.html", 0) - before["bytes_by_path"].get(
            "/zcjd/index.html", 0)

    wait_until(lambda: sent() >= len(body), timeout=5, what="the demo to count the bytes it sent")
    after = get(demo.urls["portal"] + "__stats").json()
    assert after["requests"] > before["requests"]
    assert after["bytes_by_path"]["/zcjd/index.html"] - before["bytes_by_path"].get("/zcjd/index.html", 0) == len(body)
    assert after["requests_by_host"]["zxqy"] > before["requests_by_host"].get("zxqy", 0)


def test_attachments_and_images_are_real_files(demo, crawl):
    magic = {".pdf": b"%PDF-", ".docx": b"PK\x03\x04", ".xlsx": b"PK\x03\x04", ".png": b"\x89PNG\r\n\x1a\n"}
    seen = set()
    for url, reason in crawl.outcome.items():
        ext = "." + url.rsplit(".", 1)[-1]
        if reason == "ok" and ext in magic:
            assert get(url).content.startswith(magic[ext]), url
            seen.add(ext)
    assert seen == set(magic)


# --- pages as a government CMS writes them ---------------------------------------------------


def test_gbk_host_declares_its_charset_only_in_meta(demo):
    resp = get(demo.urls["gbk"])
    assert resp.headers["Content-Type"] == "text/html"
    with pytest.raises(UnicodeDecodeError):
        resp.content.decode("utf-8")
    text = resp.content.decode("gb18030")
    assert '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">' in text
    assert "甘肃省演示无线电管理网" in text and text.encode("gbk") == resp.content


def test_pagination_pages_exist_only_through_javascript(demo, crawl):
    without = Crawl(demo.urls, follow_pagination=False)
    for entry in M.resolve(M.PAGINATION_ONLY, demo.urls, TODAY):
        assert entry["url"] in crawl.pages, entry
        assert entry["url"] not in without.outcome, entry
    index = get(demo.urls["portal"] + "xwdt/index.html").text
    assert 'createPageHTML(4, 0, "index", "html");' in index
    assert 'createPageHTML(4, 3, "index", "html");' in get(demo.urls["portal"] + "xwdt/index_3.html").text
    assert "createPageHTML('page_div',3,0,'index','shtml',18);" in decode(get(demo.urls["gbk"] + "gzdt/index.shtml"))


def test_every_page_carries_site_meta_and_articles_their_dates(crawl):
    articles = 0
    for url, html in crawl.pages.items():
        tree = lxml.html.fromstring(html)
        meta = {m.get("name"): m.get("content") for m in tree.iter("meta") if m.get("name")}
        assert meta.keys() >= {"SiteName", "SiteDomain", "SiteIDCode"}, url
        if re.search(r"/t\d{8}_\d+\.s?html$", url):
            articles += 1
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", meta["PubDate"]), url
            assert f"发布时间：{meta['PubDate']}" in html and "来源：" in html and 'class="TRS_Editor"' in html
            assert url.split("/t")[-1][:8] == meta["PubDate"][:10].replace("-", "")
        if url.endswith(("/index.html", "/index.shtml")) and "ColumnName" in meta:
            assert meta.keys() >= {"ColumnDescription", "ColumnKeywords", "ColumnType"}, url
    assert articles > 80


def test_today_shifts_every_date(demo):
    assert f"<span>{TODAY:%Y-%m-%d}</span>" in get(demo.urls["portal"]).text
    urls = {k: f"http://127.0.0.{2 + n}:8801/" for k, n in M.HOST_OFFSETS.items()}
    later = TODAY + timedelta(days=10)
    a, b = DemoSite(urls, TODAY), DemoSite(urls, later)
    assert {p for _, p in a.resources} != {p for _, p in b.resources}  # article URLs carry their date
    for key in M.ARTICLES:
        assert (b.special[key].published - a.special[key].published).days == 10


def test_write_site_file_uses_the_bound_port(demo, site):
    assert [h.url for h in site.hosts] == [demo.urls[k] for k in M.SITE_HOSTS]
    assert all(f":{demo.port}/" in c["url"] for h in site.hosts for c in h.gov["columns"] + h.gov["boards"])
    assert site.crawl.allow_networks == SITE.crawl.allow_networks and site.checks == SITE.checks


def test_refuses_non_loopback_addresses():
    with pytest.raises(ValueError):
        DemoServer(base_ip="10.0.0.2")
    with pytest.raises(ValueError):
        DemoServer(base_ip="127.255.255.254")  # the dead host would fall outside 127/8


def test_serve_command(tmp_path):
    ready, site_file = tmp_path / "ready.json", tmp_path / "site.yaml"
    with subprocess.Popen([sys.executable, "-m", "sitecheck.demo", "serve", "--port", "0", "--today", "2026-11-20",
                           "--ready-file", str(ready), "--write-site", str(site_file)],
                          stdout=subprocess.PIPE, text=True) as proc:
        try:
            info = json.loads(proc.stdout.readline())
            assert ready.exists() and json.loads(ready.read_text()) == info
            assert load_site(site_file).portal.url == info["urls"]["portal"]
            assert get(info["urls"]["portal"]).status_code == 200
        finally:
            proc.terminate()
        assert proc.wait(timeout=10) == 0


# --- the government layer --------------------------------------------------------------------


def homepage_links(crawl: Crawl, key: str) -> list[str]:
    url = crawl.urls[key]
    return [f"{a.text_content()} {urljoin(url, a.get('href', ''))}"
            for a in lxml.html.fromstring(crawl.pages[url]).iter("a")]


def test_homepage_entries(crawl, site):
    missing = set()
    for host in site.hosts:
        links = homepage_links(crawl, host.key)
        for entry in host.gov["entries"]:
            if not any(re.search(p, text) for p in entry["patterns"] or [entry["name"]] for text in links):
                missing.add((host.key, entry["name"]))
    assert missing == {(g["host"], g["expect"]["entry"]) for g in M.GOV if g["kind"] == "entry.missing"}
    qgw_page = lxml.html.fromstring(crawl.pages[crawl.urls["qgw"]])
    qgw_text = " ".join(homepage_links(crawl, "qgw")) + qgw_page.text_content()
    assert not re.search("互动|留言|咨询|信箱", qgw_text)


def list_dates(html: str) -> list[date]:
    tree = lxml.html.fromstring(html)
    return [date(*map(int, _DATE.search(s.text).groups())) for s in tree.xpath("//li/span") if s.text and
            _DATE.search(s.text)]


def test_column_freshness(crawl, site):
    stale = {(g["host"], g["expect"]["column"]): g["expect"]["age_days"] for g in M.GOV if g["kind"] == "column.stale"}
    blank = {(g["host"], g["expect"]["column"]) for g in M.GOV if g["kind"] == "column.blank"}
    for host in site.hosts:
        for col in host.gov["columns"]:
            dates = list_dates(crawl.pages[col["url"]])
            key = (host.key, col["name"])
            if key in blank:
                assert dates == []
            elif key in stale:
                assert (TODAY - max(dates)).days == stale[key]
            elif col["no_update_expected"]:
                assert (TODAY - max(dates)).days > 3 * 365
            else:
                assert (TODAY - max(dates)).days <= 3, key


def test_homepage_freshness(crawl):
    ages = {k: (TODAY - max(list_dates(crawl.pages[crawl.urls[k]]))).days for k in M.SITE_HOSTS}
    stale = {g["host"]: g["expect"]["age_days"] for g in M.GOV if g["kind"] == "homepage.stale"}
    assert {k: a for k, a in ages.items() if a > 3} == stale


def test_message_board_replies(crawl, site):
    tree = lxml.html.fromstring(crawl.pages[site.portal.gov["boards"][0]["url"]])
    rows = {li.get("id"): (li.cssselect(".asked")[0].text, li.cssselect(".replied")[0].text,
                           li.cssselect(".status")[0].text) for li in tree.cssselect("li.message, tr.message")}
    assert len(rows) >= 8
    asked = {k: (TODAY - date.fromisoformat(a)).days for k, (a, _, _) in rows.items()}
    assert rows["msg-1003"][1:] == (None, "未回复") and asked["msg-1003"] == 120
    assert asked["msg-1007"] == 200 and (date.fromisoformat(rows["msg-1007"][1]) - TODAY).days == -100
    for k, (a, r, status) in rows.items():
        if k not in ("msg-1003", "msg-1007"):
            assert status == "已回复" and (date.fromisoformat(r) - date.fromisoformat(a)).days <= 10


def test_identity_marks(crawl):
    codes = {h.key: h.gov["site_code"] for h in SITE.hosts}
    for url, html in crawl.pages.items():
        key = next(k for k in M.SITE_HOSTS if url.startswith(crawl.urls[k]))
        assert f"网站标识码：{codes[key]}" in html and f'name="SiteIDCode" content="{codes[key]}"' in html
        assert re.search(r'href="https://beian\.miit\.gov\.cn/"[^>]*>陇ICP备\d{8}号<', html)
        assert "dcs.conac.cn" in html and "bszs.conac.cn/sitename?method=show&id=" in html
        assert ("甘公网安备" in html) == (key != "zxqy")
        jiucuo = re.search(r'href="(https?://[^/"]+)/exposure/jiucuo\.html\?site_code=(\d+)&amp;url=', html).groups()
        assert jiucuo == ({"gbk": "http://121.43.68.40"}.get(key, "https://zfwzgl.www.gov.cn"),
                          {"qgw": "6200000099"}.get(key, codes[key])), url


def test_words_and_hidden_link(demo, crawl):
    for g in M.resolve(M.GOV, demo.urls, TODAY):
        if g["kind"] in ("words.wrong", "words.forbidden"):
            word = g["expect"].get("wrong") or g["expect"]["word"]
            where = {u for u, html in crawl.pages.items() if word in html}
            assert where == {g["url"]}, g["id"]
    hidden = lxml.html.fromstring(crawl.pages[demo.urls["qgw"]]).xpath('//div[@style="display:none"]/a')
    assert [(a.get("href"), a.text) for a in hidden] == [(demo.urls["external"] + "casino.html", "娱乐城")]
    assert get(hidden[0].get("href")).status_code == 200


def test_service_guides(demo):
    labels = {}
    for name in ("guide-001", "guide-002"):
        tree = lxml.html.fromstring(get(f"{demo.urls['portal']}bsfw/bszn/{name}.html").text)
        labels[name] = {h.text for h in tree.cssselect(".section h3")}
    full = {"事项名称", "设定依据", "申请条件", "办理材料", "办理地点", "办理时间", "联系电话", "办理流程"}
    assert labels["guide-002"] == full
    planted = next(g for g in M.GOV if g["kind"] == "guide.incomplete")
    assert full - labels["guide-001"] == set(planted["expect"]["missing"])


def test_the_demo_dates_its_content_by_beijings_calendar_as_the_checks_do(monkeypatch):
    """At 17:00 UTC it is already tomorrow in Beijing; the checks count ages from Beijing's date, so
    the demo's planted ages must too (the e2e tests failed between 16:00 and 24:00 UTC before)."""
    import datetime as dt

    import sitecheck.demo.server as server

    class Evening(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime(2026, 11, 27, 17, 0, tzinfo=dt.timezone.utc).astimezone(tz)

    monkeypatch.setattr(server, "datetime", Evening)
    assert DemoServer(port=0).today == dt.date(2026, 11, 28)
    assert DemoServer(port=0, today=dt.date(2026, 1, 2)).today == dt.date(2026, 1, 2)
