"""A demo site served the Gansu platform's way, optionally behind a simulated WAF.

One host, pages shaped like the two real platform pages in ../shared/samples/gansu-platform:
column pages name their channel in `meta channelId`, keep a stale copy of old items inside an HTML
comment and an empty list the visitor's script would fill from `/common/search/<channelId>`;
articles show `日期：…` (their PubDate meta is the regeneration time) and link attachments
relative to themselves; the footer writes 找错 as `<script id="_jiucuo_">`, with a stale copied
jiucuo link in a comment.  What each column must come out as is in `COLUMNS` (tests read it):

    政策法规  fresh from the service; its commented copy is 400+ days old (reading it says stale)
    经济运行  monthly (category 经济运行: 45 days); newest 20 days old
    政策解读  the service answers HTTP 500: unknown (its commented copy looks fresh)
    工作动态  the service's newest item is 30 days old: stale (动态要闻, 14 days)

`python -m sitecheck.demo.platform [--waf] [--allow-secret S] [--port N] [--write-site PATH]` serves it
on loopback until interrupted; with --waf every request without the allowlist header gets the
412 challenge (sitecheck/demo/waf.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import sys
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from html import escape
from pathlib import Path
from urllib.parse import parse_qs

from sitecheck.textparse.dates import china_today

from .content import PNG, Resource, _pdf, _plain
from .server import _HostServer, _Stats
from .waf import ALLOW_HEADER, SCRIPT_PATH, WafGate

SITE_KEY = "demoplat"
SITE_NAME = "甘肃省演示平台厅"
SITE_CODE = "6200000099"
STALE_SITE_CODE = "3407000003"  # the copied Anhui footer left in a comment on fzgg (P2)
PREFIX = "/demo"


@dataclass(frozen=True)
class Column:
    name: str
    code: str
    template: str
    category: str
    ages: tuple[int, ...]  # ages in days of the items the list service returns, newest first
    stale_ages: tuple[int, ...] = ()  # items of the commented server-side copy
    service_status: int = 200
    expect: str = "fresh"  # what the columns check must say: fresh, stale, unknown

    @property
    def channel(self) -> str:
        return hashlib.md5(f"demo-{self.code}".encode()).hexdigest()

    @property
    def path(self) -> str:
        return f"{PREFIX}/{self.code}/{self.template}"


COLUMNS = (
    Column("政策法规", "c100101", "zwgklist.shtml", "政策文件", (10, 40, 95, 200), (400, 420, 500)),
    Column("经济运行", "jjyx", "infolist.shtml", "经济运行", (20, 50, 81, 112)),
    Column("政策解读", "c100103", "list.shtml", "政策文件", (3, 60), (1, 2), service_status=500, expect="unknown"),
    Column("工作动态", "c100104", "xwdt.shtml", "动态要闻", (30, 33, 61), expect="stale"),
)
BOARD = ("互动交流", f"{PREFIX}/c100110/hdjl.shtml")
EXCLUDE = (r"^https?://beian\.miit\.gov\.cn(/|$)", r"^https?://www\.beian\.gov\.cn(/|$)",
           r"^https?://([a-z0-9-]+\.)*conac\.cn(/|$)", r"^https?://zfwzgl\.www\.gov\.cn(/|$)")


def article_id(col: Column, i: int) -> int:
    return 174100000 + COLUMNS.index(col) * 1000 + i


class PlatformSite:
    """Every answer of the platform demo for one `today`."""

    def __init__(self, today: date):
        self.today = today
        self.resources: dict[str, Resource] = {}
        self.articles: dict[str, list[tuple[str, str, date]]] = {}  # channel -> (title, path, day) newest first
        for col in COLUMNS:
            self.articles[col.channel] = [self._article(col, i, age) for i, age in enumerate(col.ages)]
            self.resources[col.path] = self._column(col)
        self.resources["/"] = self._home()
        self.resources[BOARD[1]] = self._html(BOARD[0], "<h2>互动交流</h2><p>领导信箱 · 咨询投诉</p>",
                                              self._metas(BOARD[0], "c100110", ""))
        self.resources[SCRIPT_PATH] = Resource(body=b"/* Ruishu bootstrap */", content_type="application/javascript")
        self.resources["/robots.txt"] = Resource(body=b"User-agent: *\nDisallow:\n", content_type="text/plain")
        self.resources[f"{PREFIX}/images/pdf.gif"] = Resource(body=PNG, content_type="image/gif")

    def lookup(self, host: str, path: str, query: str = "") -> Resource:
        if path.startswith("/common/search/"):
            return self._service(path.rsplit("/", 1)[-1], parse_qs(query, keep_blank_values=True))
        return self.resources.get(path) or _plain(404, "404 Not Found")

    # --- pages -------------------------------------------------------------------------------

    def _metas(self, column_name: str, code: str, channel: str, extra: dict[str, str] | None = None) -> dict:
        metas = {"channelId": channel, "code": code, "SiteName": SITE_NAME, "SiteDomain": "demo.gansu.gov.cn",
                 "SiteIDCode": SITE_CODE, "ColumnName": column_name, "ColumnType": column_name,
                 "others": f"页面生成时间 {self.today.isoformat()} 09:00:00"}
        return {k: v for k, v in {**metas, **(extra or {})}.items() if v}

    def _html(self, title: str, body: str, metas: dict[str, str]) -> Resource:
        meta_html = "\n".join(f'    <meta name="{k}" content="{escape(v)}">' for k, v in metas.items())
        nav = "".join(f'<li><a href="{c.path}">{c.name}</a></li>' for c in COLUMNS)
        html = f"""<!DOCTYPE html>
<html>
<head>
{meta_html}
    <meta http-equiv="Content-Type" content="text/html; charset=utf-8">
    <title>{escape(title)} - {SITE_NAME}</title>
    <meta content="RtDemoSeedMetaContent" r="m">
    <script type="text/javascript" r='m'>$_ts=window['$_ts'];if(!$_ts)$_ts={{}};$_ts.nsd=1;</script>
    <script type="text/javascript" charset="utf-8" src="{SCRIPT_PATH}" r='m'></script>
</head>
<body>
<div class="nav"><ul><li><a href="/">首页</a></li>{nav}<li><a href="{BOARD[1]}">{BOARD[0]}</a></li></ul></div>
<div class="main">
{body}
</div>
{self._footer()}
</body>
</html>
"""
        return Resource(body=html.encode("utf-8"))

    def _footer(self) -> str:
        conac = ("%3Cspan id='_ideConac' %3E%3C/span%3E%3Cscript src='//dcs.conac.cn/js/28/000/0000/60619999/"
                 "CA280000000606199990001.js' type='text/javascript'%3E%3C/script%3E")
        return f"""<div class="foot_box">
    <p>主办单位：{SITE_NAME}</p>
    <p><a href="https://beian.miit.gov.cn/" target="_blank">陇ICP备17009999号-1</a>　　网站标识码：{SITE_CODE}　　
    <a href="http://www.beian.gov.cn/portal/registerSystemInfo?recordcode=62010202009999" target="_blank">甘公网安备62010202009999号</a></p>
    <!--<a class="jiucuo" href="https://zfwzgl.www.gov.cn/exposure/jiucuo.html?site_code={STALE_SITE_CODE}&url=https%3A%2F%2Fwww.tl.gov.cn%2F">
        <img src="/images/footer_jiucuo.png" alt="" >
    </a>-->
    <script type="text/javascript">
        document.write(unescape("{conac}"));
    </script>
    <script id="_jiucuo_" sitecode='{SITE_CODE}' src='https://zfwzgl.www.gov.cn/exposure/jiucuo.js'></script>
</div>"""

    def _home(self) -> Resource:
        newest = sorted((a for arts in self.articles.values() for a in arts), key=lambda a: a[2], reverse=True)[:6]
        items = "".join(f'<li><a href="{p}" title="{escape(t)}">{escape(t)}</a><span>{d.isoformat()}</span></li>'
                        for t, p, d in newest)
        return self._html("首页", f'<div class="news"><h2>最新信息</h2><ul>{items}</ul></div>',
                          self._metas("", "", "", {"SiteName": SITE_NAME}))

    def _column(self, col: Column) -> Resource:
        stale = "".join(f"""
                                <li>
                                    <a target="_blank" href="{PREFIX}/{col.code}/{self._month(age)}/{article_id(col, 900 + i)}.shtml" title="旧信息{i}">
                                        旧信息{i}
                                    </a>
                                    <b>{(self.today - timedelta(days=age)).isoformat()}</b>
                                </li>""" for i, age in enumerate(col.stale_ages))
        body = f"""<div class="zfxxgk_zdgktit"><a style="cursor: default;">{col.name}</a></div>
<div class="zfxxgk_zdgkc">
    <input id="page" type="hidden" value="1">
    <input id="pageSize" type="hidden" value="20">
    <ul class="jytxxgklist">
        <!--{stale}
-->
    </ul>
    <div class="page"><div id="page_div"></div></div>
</div>
<script type="text/javascript">/* the platform's page_list.js draws the list from /common/search/{col.channel} */</script>"""
        return self._html(col.name, body, self._metas(col.name, col.code, col.channel))

    def _month(self, age: int) -> str:
        return (self.today - timedelta(days=age)).strftime("%Y%m")

    def _article(self, col: Column, i: int, age: int) -> tuple[str, str, date]:
        day = self.today - timedelta(days=age)
        aid = article_id(col, i)
        path = f"{PREFIX}/{col.code}/{day.strftime('%Y%m')}/{aid}.shtml"
        title = f"{col.name}第{i + 1}号信息（{day.isoformat()}）"
        attachment = ""
        if i == 0:
            hexname = hashlib.md5(path.encode()).hexdigest()
            folder = f"{PREFIX}/{col.code}/{day.strftime('%Y%m')}/{aid}"
            attachment = (f'<p><img border="0" src="{aid}/images/{hexname}.gif"><a href="{aid}/files/{hexname}.pdf" '
                          f'target="_blank">附件：{escape(title)}.pdf</a></p>')
            self.resources[f"{folder}/files/{hexname}.pdf"] = Resource(body=_pdf(f"Attachment {aid}"), content_type="application/pdf")
            self.resources[f"{folder}/images/{hexname}.gif"] = Resource(body=PNG, content_type="image/gif")
        body = f"""<h1>{escape(title)}</h1>
<div class="info"><p class="">日期：{day.isoformat()} 10:{i % 60:02d} 来源：{SITE_NAME}</p></div>
<div id="detailContent" class="detailContent"><p>{escape(title)}正文。</p>{attachment}</div>"""
        metas = self._metas(col.name, col.code, col.channel,
                            {"ArticleTitle": title, "PubDate": f"{self.today.isoformat()} 09:00:00"})
        self.resources[path] = self._html(title, body, metas)
        return title, path, day

    # --- the list service ------------------------------------------------------------------------

    def _service(self, channel: str, query: dict[str, list[str]]) -> Resource:
        col = next((c for c in COLUMNS if c.channel == channel), None)
        if col is None:
            return _plain(404, "404 Not Found")
        as_json = query.get("_isJson", ["false"])[0] == "true"
        if col.service_status != 200:
            body = json.dumps({"code": col.service_status, "msg": "系统繁忙", "data": None}, ensure_ascii=False)
            return Resource(col.service_status, body.encode(), content_type="application/json;charset=UTF-8")
        try:
            page, size = int(query.get("page", ["1"])[0]), int(query.get("_pageSize", ["20"])[0])
        except ValueError:
            return _plain(400, "400 Bad Request")
        arts = self.articles[channel]
        rows = arts[(page - 1) * size: page * size]
        if as_json:
            results = [{"title": t, "url": p, "publishedTimeStr": f"{d.isoformat()} 10:00:00", "channelId": channel,
                        "channelName": col.name} for t, p, d in rows]
            body = json.dumps({"data": {"page": page, "rows": size, "total": len(arts), "results": results}},
                              ensure_ascii=False)
            return Resource(body=body.encode(), content_type="application/json;charset=UTF-8")
        lis = "".join(f'<li><div class="title"><a href="{p}" target="_blank" title="{escape(t)}">{escape(t)}</a></div>'
                      f'<div class="date">{d.isoformat()}</div></li>' for t, p, d in rows)
        return Resource(body=f'<ul id="body">{lis}</ul>'.encode("utf-8"))


class PlatformDemoServer:
    """The platform demo on one loopback address; `gate` (a WafGate) puts the simulated WAF in front."""

    def __init__(self, port: int = 0, ip: str = "127.0.0.2", today: date | None = None,
                 waf: bool = False, allow_secret: str = ""):
        if not ip.startswith("127."):
            raise ValueError("the demo serves loopback addresses only")
        self.ip, self._requested_port = ip, port
        self.today = today or china_today(datetime.now(timezone.utc))
        self.gate = WafGate(allow_secret) if waf else None
        self.site = PlatformSite(self.today)
        self._stats = _Stats()
        self._stopping = threading.Event()
        self._server: _HostServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self._server.server_address[1]}/"

    def _track(self, conn, alive: bool) -> None:
        pass  # connections end with the server's threads (daemon)

    def stats(self) -> dict:
        return self._stats.snapshot()

    def start(self) -> "PlatformDemoServer":
        self._server = _HostServer((self.ip, self._requested_port), self, "portal")
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="demo-platform", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "PlatformDemoServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def write_site_file(self, path: str | Path, headers_file: str | Path | None = None) -> Path:
        """A site file for this server; with `headers_file`, the allowlist header goes to the site's host."""
        return write_site_file(path, self.url, headers_file)


def write_site_file(path: str | Path, url: str, headers_file: str | Path | None = None) -> Path:
    cols = "\n".join(f'      - {{name: {c.name}, url: "{url.rstrip("/")}{c.path}", category: {c.category}}}'
                     for c in COLUMNS)
    auth = (f"auth:\n  - {{hosts: [portal], headers_file: {json.dumps(str(headers_file))}}}\n"
            if headers_file else "")
    exclude = "\n".join(f"    - '{p}'" for p in EXCLUDE)
    text = f"""# The platform demo (sitecheck/demo/platform.py): a site served the Gansu platform's way.
site: {SITE_KEY}
name: {SITE_NAME}
platform: gansu-jiyuehua
hosts:
  - key: portal
    name: 门户网站
    url: {url}
    site_code: "{SITE_CODE}"
    columns:
{cols}
crawl:
  timeout_seconds: 5
  delay_seconds: 0
  retries: 0
  exclude:
{exclude}
{auth}checks:
  links: {{}}
  columns: {{}}
  waf: {{}}
"""
    out = Path(path)
    out.write_text(text, encoding="utf-8")
    return out


def write_allow_headers(path: str | Path, secret: str) -> Path:
    """The credentials file (`auth[].headers_file`) carrying the allowlist header."""
    out = Path(path)
    out.write_text(f"# allowlist header agreed with the site's WAF (docs/waf.md)\n{ALLOW_HEADER}: {secret}\n",
                   encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sitecheck.demo.platform",
                                     description="Serve the Gansu-platform demo site on loopback.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ip", default="127.0.0.2")
    parser.add_argument("--waf", action="store_true", help="put the simulated Ruishu-style WAF in front")
    parser.add_argument("--allow-secret", default="", help="value of the allowlist header the WAF lets through")
    parser.add_argument("--write-site", metavar="PATH", help="write a site file for the bound address")
    parser.add_argument("--headers-file", metavar="PATH", help="with --write-site and --allow-secret: write the "
                                                                "allowlist header here and name it in the site file")
    args = parser.parse_args(argv)
    server = PlatformDemoServer(args.port, args.ip, waf=args.waf, allow_secret=args.allow_secret).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if args.write_site:
            headers = None
            if args.headers_file and args.allow_secret:
                headers = write_allow_headers(args.headers_file, args.allow_secret).resolve()
            server.write_site_file(args.write_site, headers)
        print(json.dumps({"url": server.url, "waf": args.waf}), flush=True)
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
