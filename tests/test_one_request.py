"""One request per distinct resource, counted at the server.

The same document linked raw, percent-encoded, through dot segments and through a redirect
costs one GET (a page) or one HEAD (a file); each redirecting URL costs its own one request
and is judged by where it lands.  And a crawl talks to nobody but the site: no connection,
no name lookup outside the configured hosts (Scrapy's cookie handling would otherwise fetch
the public suffix list from public hosts at the first cookie).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from tests.servers.recording import RecordingServer

pytestmark = pytest.mark.e2e

HOST = "127.0.0.4"
DOC, FILE = "/新闻/通知.html", "/文件/报告.pdf"
DOC_Q = "/%E6%96%B0%E9%97%BB/%E9%80%9A%E7%9F%A5.html"
FILE_Q = "/%E6%96%87%E4%BB%B6/%E6%8A%A5%E5%91%8A.pdf"
MISSING_Q = "/%E6%96%87%E4%BB%B6/%E7%BC%BA.pdf"


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("one")
    server = RecordingServer([HOST])
    base = server.base(HOST)
    links = [DOC, DOC_Q, "/x/../新闻/通知.html", f"{base}:80{DOC}".replace(f":{server.port}:80", f":{server.port}"),
             "/go-doc", FILE, FILE_Q, "/./文件/报告.pdf", "/go-file", "/go-file-2", "/文件/缺.pdf", "/go-missing"]
    home = "".join(f'<a href="{u}">链接{i}</a>' for i, u in enumerate(links))
    server.route(HOST, "/", body=f"<html><head><title>首页</title></head><body>{home}{'正文' * 400}</body></html>"
                 .encode("utf-8"), headers=(("Set-Cookie", "sid=1; Domain=.gov.cn; Path=/"),
                                            ("Set-Cookie", "JSESSIONID=abc; Path=/")))
    server.route(HOST, DOC_Q, body=f"<html><head><title>通知</title></head><body>{'通知正文' * 300}</body></html>"
                 .encode("utf-8"))
    server.route(HOST, FILE_Q, body=b"%PDF-1.4 ...", content_type="application/pdf")
    server.route(HOST, "/go-doc", status=302, headers=(("Location", DOC_Q),))
    server.route(HOST, "/go-file", status=301, headers=(("Location", f"{base}{FILE}"),))  # raw bytes in Location
    server.route(HOST, "/go-file-2", status=302, headers=(("Location", "/go-file"),))  # a chain onto the chain
    server.route(HOST, "/go-missing", status=302, headers=(("Location", MISSING_Q),))
    site = tmp / "one.yaml"
    site.write_text(f"""site: one
name: 一次请求
hosts:
  - {{key: w, name: 门户, url: "{base}/"}}
crawl: {{delay_seconds: 0, retries: 0, robots: ignore, progress: "off", timeout_seconds: 5}}
""", encoding="utf-8")
    db = tmp / "one.sqlite3"
    audit = tmp / "audit.log"
    # Every Python-level name lookup and connection of the crawl's processes, logged by an audit hook.
    hook = tmp / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os, sys\n"
        f"_log = open({str(audit)!r}, 'a', buffering=1)\n"
        "_log.write(f'{os.getpid()} loaded -\\n')\n"
        "def _hook(event, args):\n"
        "    if event in ('socket.getaddrinfo', 'socket.gethostbyname', 'socket.connect'):\n"
        "        _log.write(f'{os.getpid()} {event} {args[1] if event == \"socket.connect\" else args[0]!r}\\n')\n"
        "sys.addaudithook(_hook)\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")])}
    env = {k: v for k, v in env.items() if "proxy" not in k.lower()}
    try:
        proc = subprocess.run([sys.executable, "-m", "sitecheck.cli", "run", "--config", str(site), "--db", str(db)],
                              capture_output=True, text=True, timeout=120, env=env)
        export = json.loads(subprocess.run([sys.executable, "-m", "sitecheck.cli", "export", "--site", "one",
                                            "--db", str(db)], capture_output=True, text=True, check=True).stdout)
    finally:
        server.close()
    return {"proc": proc, "hits": server.hits, "export": export, "base": base,
            "audit": audit.read_text(encoding="utf-8") if audit.exists() else ""}


def test_each_distinct_resource_costs_one_request(crawl):
    assert crawl["proc"].returncode == 1, crawl["proc"].stderr[-3000:]  # the missing file is a finding
    asked = Counter((h.method, h.path) for h in crawl["hits"])
    # Links without a file extension are fetched as pages (GET), files are checked with HEAD.
    assert asked == {("GET", "/"): 1, ("GET", DOC_Q): 1, ("GET", "/go-doc"): 1,
                     ("HEAD", FILE_Q): 1, ("GET", "/go-file"): 1, ("GET", "/go-file-2"): 1,
                     ("HEAD", MISSING_Q): 1, ("GET", "/go-missing"): 1}


def test_redirects_are_judged_by_where_they_land(crawl):
    base = crawl["base"]
    pages = {p["url"]: p for p in crawl["export"]["pages"]}
    assert pages[f"{base}/go-file"]["final_url"] == f"{base}{FILE_Q}"
    assert (pages[f"{base}/go-file"]["reason"], pages[f"{base}/go-file-2"]["reason"]) == ("ok", "ok")
    assert pages[f"{base}/go-missing"]["reason"] == "not_found"  # the landing's outcome, not the redirect's
    broken = {f["url"] for f in crawl["export"]["findings"] if f["code"].startswith("link.broken")}
    assert broken == {f"{base}{MISSING_Q}", f"{base}/go-missing"}


def test_the_crawl_talks_to_nobody_but_the_site(crawl):
    assert crawl["proc"].returncode == 1
    lines = crawl["audit"].splitlines()
    assert sum(" loaded " in line for line in lines) >= 2, "the audit hook did not load in both processes"
    looked_up = {line.split(" ", 2)[2] for line in lines if "getaddrinfo" in line or "gethostbyname" in line}
    connected = {line.split(" ", 2)[2] for line in lines if "socket.connect" in line}
    allowed = {repr(HOST), repr(HOST.encode())}
    assert looked_up <= allowed, looked_up  # no public suffix list, no other name
    assert all(HOST in c for c in connected), connected
