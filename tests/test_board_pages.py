"""A message board's pages are read beyond the crawl's depth limit, up to the board's cap.

The board's list pages show only 留言时间 and 状态; the reply date is on each message's own page.
The crawl's max_depth reaches the board's first list page and nothing below it, and its max_pages
is spent on the homepage's four pages, yet every message of the uncapped board is fetched (one
answered after 120 days is found as interaction.late_reply; one the homepage links too, turned
away there by max_pages, is fetched when its board lists it), the capped board costs exactly its
cap in message requests, and the rest of the site still stops at max_depth and max_pages.
Counted at the server.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta

import pytest

from sitecheck.config import load_site
from sitecheck.crawler.boards import BoardPages
from sitecheck.crawler.urls import normalize
from sitecheck.model import Element
from tests.servers.recording import RecordingServer

pytestmark = pytest.mark.e2e

HOST = "127.0.0.5"
TODAY = date.today()
# Board 咨询留言 (uncapped), three list pages of three: message -> (asked days ago, days to reply or None).
ZXLY = {1: (5, 2), 2: (30, 4), 3: (60, None), 4: (100, 6), 5: (200, 120), 6: (220, 3), 7: (250, 5), 8: (300, 1)}
# Board 主任信箱, capped at four message pages: one list page of ten.
ZRXX = {n: (10 + n, 2) for n in range(1, 11)}
ZRXX_CAP = 4
TURNED_AWAY = "detail_8.html"  # linked from the homepage too, past max_pages there


def _html(title: str, body: str) -> bytes:
    return (f"<html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<div class='nav'><a href='/'>首页</a> <a href='/gzdt/index.html'>工作动态</a></div>"
            f"{body}<p>{'正文' * 200}</p></body></html>").encode("utf-8")


def _routes(server: RecordingServer, folder: str, board: dict, per_page: int) -> None:
    rows = []
    for n, (asked_ago, reply_days) in board.items():
        asked = TODAY - timedelta(days=asked_ago)
        rows.append(f'<li class="message" id="m{n}"><a class="title" href="./detail_{n}.html">咨询第{n}号</a>'
                    f'<span class="asked">{asked:%Y-%m-%d}</span>'
                    f'<span class="status">{"已回复" if reply_days is not None else "办理中"}</span></li>')
        reply = (f"<p>回复时间：{asked + timedelta(days=reply_days):%Y-%m-%d}</p><p>回复内容：已收悉。</p>"
                 if reply_days is not None else "<p>办理状态：办理中</p>")
        # A message page links deeper still: the exemption is the board's, not its messages' links'.
        server.route(HOST, f"{folder}detail_{n}.html", body=_html(
            f"咨询第{n}号", f"<h2>咨询第{n}号</h2><p>留言时间：{asked:%Y-%m-%d}</p>{reply}"
                            f"<a href='{folder}related_{n}.html'>相关留言</a>"))
    pages = [rows[i:i + per_page] for i in range(0, len(rows), per_page)]
    for current, page_rows in enumerate(pages):
        pager = (f"<script>var currentPage = {current};//所在页从0开始\nvar countPage = {len(pages)}//共多少页\n"
                 'document.write("<a href=\\"index.html\\">首页</a>");\n'
                 'if(currentPage<countPage-1) document.write("<a href=\\"index_" + (currentPage+1)'
                 ' + ".html\\">下一页</a>");\n</script>')
        name = "index" if current == 0 else f"index_{current}"
        server.route(HOST, f"{folder}{name}.html", body=_html(
            "留言", f"<ul>{''.join(page_rows)}</ul><div class='page'>{pager}</div>"))


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("boards")
    server = RecordingServer([HOST])
    base = server.base(HOST)
    # The homepage also links the board's last message (as a "latest messages" box would): met there
    # first, it is turned away by max_pages (the homepage's other three links use it up), and must
    # still be read when its board lists it.
    server.route(HOST, "/", body=_html("首页", "<a href='/hdjl/zxly/index.html'>咨询留言</a>"
                                              "<a href='/hdjl/zrxx/index.html'>主任信箱</a>"
                                              "<a href='/gzdt/index.html'>工作动态</a>"
                                              f"<a href='/hdjl/zxly/{TURNED_AWAY}'>最新留言</a>"))
    server.route(HOST, "/gzdt/index.html", body=_html("工作动态", "<a href='/gzdt/a1.html'>一篇动态</a>"))
    server.route(HOST, "/gzdt/a1.html", body=_html("一篇动态", "动态"))
    _routes(server, "/hdjl/zxly/", ZXLY, 3)
    _routes(server, "/hdjl/zrxx/", ZRXX, 10)
    site = tmp / "boards.yaml"
    site.write_text(f"""site: boards
name: 留言板
hosts:
  - key: w
    name: 门户
    url: "{base}/"
    boards:
      - {{name: 咨询留言, url: "{base}/hdjl/zxly/index.html"}}
      - {{name: 主任信箱, url: "{base}/hdjl/zrxx/index.html", max_message_pages: {ZRXX_CAP}}}
crawl: {{delay_seconds: 0, retries: 0, robots: ignore, progress: "off", timeout_seconds: 5, max_depth: 1,
        max_pages: 4}}
""", encoding="utf-8")
    db = tmp / "boards.sqlite3"
    try:
        proc = subprocess.run([sys.executable, "-m", "sitecheck.cli", "run", "--config", str(site), "--db", str(db)],
                              capture_output=True, text=True, timeout=120)
        export = json.loads(subprocess.run([sys.executable, "-m", "sitecheck.cli", "export", "--site", "boards",
                                            "--db", str(db)], capture_output=True, text=True, check=True).stdout)
    finally:
        server.close()
    from sitecheck.store import Store

    with Store(db, readonly=True) as store:
        run = store.latest_run("boards")
        stats = {f.key: f.value for f in store.facts(run.id, "board.stats")}
    return {"proc": proc, "hits": server.hits, "export": export, "stats": stats, "base": base}


def test_every_message_of_the_board_is_read_beyond_max_depth(crawl):
    assert crawl["proc"].returncode == 1, crawl["proc"].stderr[-3000:]  # the late reply is a finding
    asked = Counter(h.path for h in crawl["hits"] if h.method == "GET")
    zxly = {p for p in asked if p.startswith("/hdjl/zxly/")}
    assert zxly == {"/hdjl/zxly/index.html", "/hdjl/zxly/index_1.html", "/hdjl/zxly/index_2.html"} | {
        f"/hdjl/zxly/detail_{n}.html" for n in ZXLY}
    assert all(asked[p] == 1 for p in zxly)
    stats = crawl["stats"]["咨询留言"]
    assert (stats["count"], stats["answered"], stats["late"], stats["reply_date_unknown"]) == (8, 7, 1, 0)


def test_a_message_the_limits_turned_away_elsewhere_is_read_when_its_board_lists_it(crawl):
    asked = [h.path for h in crawl["hits"] if h.method == "GET"]
    assert asked.count(f"/hdjl/zxly/{TURNED_AWAY}") == 1
    # The board asked for it, after its list page: the homepage's link did not.
    assert asked.index(f"/hdjl/zxly/{TURNED_AWAY}") > asked.index("/hdjl/zxly/index_2.html")
    assert crawl["stats"]["咨询留言"]["unread_pages"] == []


def test_the_late_reply_is_found_on_the_message_page(crawl):
    late = [f for f in crawl["export"]["findings"] if f["code"] == "interaction.late_reply"]
    assert [(f["url"], f["severity"], f["details"]["reply_days"], f["details"]["replied_from"]) for f in late] == [
        (f"{crawl['base']}/hdjl/zxly/detail_5.html", "critical", 120, "message_page")]


def test_the_cap_bounds_the_requests_for_a_board(crawl):
    asked = [h.path for h in crawl["hits"] if h.path.startswith("/hdjl/zrxx/detail_")]
    # The first four messages in list order, each once.
    assert sorted(asked) == sorted(f"/hdjl/zrxx/detail_{n}.html" for n in range(1, ZRXX_CAP + 1))
    stats = crawl["stats"]["主任信箱"]
    assert (stats["count"], stats["reply_date_unknown"]) == (10, 10 - ZRXX_CAP)
    assert sorted(stats["unread_pages"]) == sorted(f"{crawl['base']}/hdjl/zrxx/detail_{n}.html"
                                                   for n in range(ZRXX_CAP + 1, 11))


def test_the_rest_of_the_site_still_stops_at_max_depth_and_max_pages(crawl):
    paths = {h.path for h in crawl["hits"]}
    assert "/gzdt/index.html" in paths  # depth 1, the fourth page
    assert "/gzdt/a1.html" not in paths  # depth 2, and past max_pages
    assert not {p for p in paths if "/related_" in p}  # a message page's own links are not exempt


# --- the recognition alone ----------------------------------------------------------------------------


def _boards(tmp_path, cap: int = 3) -> BoardPages:
    (tmp_path / "s.yaml").write_text(f"""site: s
name: s
hosts:
  - key: w
    name: w
    url: http://a.gov.cn/
    boards:
      - {{name: 信箱, url: "http://a.gov.cn/hdjl/index.html", max_message_pages: {cap}}}
""", encoding="utf-8")
    return BoardPages.for_site(load_site(tmp_path / "s.yaml"), lambda u: normalize(u, frozenset()))


def test_board_list_pages_are_recognised_by_url(tmp_path):
    boards = _boards(tmp_path)
    assert boards.board_of("w", "http://a.gov.cn/hdjl/index_2.html").name == "信箱"
    assert boards.board_of("w", "http://a.gov.cn/other.html", "http://a.gov.cn/hdjl/").name == "信箱"  # landed
    assert boards.board_of("w", "http://a.gov.cn/hdjl/detail_1.html") is None
    assert boards.board_of("x", "http://a.gov.cn/hdjl/index.html") is None
    assert _boards(tmp_path, cap=0).board_of("w", "http://a.gov.cn/hdjl/index.html") is None  # 0: rule off


def test_wanted_takes_listed_messages_and_list_pages_within_the_cap(tmp_path):
    from sitecheck.htmltext import parse_document

    boards = _boards(tmp_path, cap=3)
    board = boards.boards[0]
    tree = parse_document("<ul>" + "".join(f'<li class="message"><a class="title" href="d{n}.html">t</a></li>'
                                           for n in range(1, 4)) + "</ul><a href='index_1.html'>2</a>")
    distinct = [("http://a.gov.cn/hdjl/d1.html", "t", Element.A), ("http://a.gov.cn/hdjl/index_1.html", "", Element.A),
                ("http://a.gov.cn/about.html", "关于", Element.A)]
    seen = {"http://a.gov.cn/hdjl/d2.html"}  # already requested by the crawl
    base = "http://a.gov.cn/hdjl/index.html"
    assert boards.wanted(board, tree, base, distinct, seen.__contains__) == [
        "http://a.gov.cn/hdjl/d1.html", "http://a.gov.cn/hdjl/d3.html", "http://a.gov.cn/hdjl/index_1.html"]
    assert boards.wanted(board, tree, base, distinct, lambda url: False) == []  # the cap is used up
