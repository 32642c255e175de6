"""Availability probes against real loopback servers: outcomes, reasons, phases, stored rows."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from .helpers import self_signed_cert

from sitecheck.config import load_site
from sitecheck.model import Reason
from sitecheck.probe import probe_site, probe_url
from sitecheck.store import Store

FIXED = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.timezone.utc)


# --- a small loopback server, also used by test_serve_e2e ------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        server: LoopbackServer = self.server.owner  # type: ignore[attr-defined]
        server.hits[parts.path] = server.hits.get(parts.path, 0) + 1
        route = server.route(parts.path, query, self.headers)
        status, headers, body, delay = route
        if delay:
            time.sleep(delay)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 with test endpoints; `restart()` rebinds the same port.

        /ok                 small HTML page
        /slow?s=SECONDS     waits, then a page
        /status/N           answers status N
        /redirect           302 to /ok;  /redirect/loop  302 to itself via /redirect/loop2
        /redirect-to?goto=  302 to a 127.0.0.1 URL
        /need-token         401 unless the X-Token header is "t"
        /pages/N            page N of `pages` (all linked from /), `page_delay` seconds each (for crawls)
    """

    def __init__(self, pages: int = 0, page_delay: float = 0.0, port: int = 0, tls: ssl.SSLContext | None = None):
        self.pages, self.page_delay, self.tls = pages, page_delay, tls
        self.hits: dict[str, int] = {}
        self.port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, query: dict[str, str], headers):
        html = {"Content-Type": "text/html; charset=utf-8"}
        if path in ("/", "/ok"):
            links = "".join(f'<a href="/pages/{i}">第{i}页</a>' for i in range(self.pages))
            return 200, html, f"<html><head><title>门户</title></head><body>首页 {links}</body></html>".encode(), 0
        if path == "/slow":
            return 200, html, b"<html><body>slow</body></html>", float(query.get("s", "1"))
        if path.startswith("/status/"):
            return int(path.rsplit("/", 1)[1]), html, b"<html><body>status</body></html>", 0
        if path == "/redirect":
            return 302, {"Location": "/ok"}, b"", 0
        if path == "/redirect-to" and urlsplit(query["goto"]).hostname == "127.0.0.1":
            return 302, {"Location": query["goto"]}, b"", 0
        if path == "/redirect/loop":
            return 302, {"Location": "/redirect/loop2"}, b"", 0
        if path == "/redirect/loop2":
            return 302, {"Location": "/redirect/loop"}, b"", 0
        if path == "/need-token":
            ok = headers.get("X-Token") == "t"
            return (200 if ok else 401), html, b"<html><body>token</body></html>", 0
        if path.startswith("/pages/"):
            n = int(path.rsplit("/", 1)[1])
            if n >= self.pages:
                return 404, html, b"<html><body>no such page</body></html>", 0
            nxt = f'<a href="/pages/{n + 1}">下一页</a>' if n + 1 < self.pages else ""
            body = f"<html><head><title>第{n}页</title></head><body>第{n}页 {nxt}</body></html>"
            return 200, html, body.encode(), self.page_delay
        return 404, html, b"<html><body>not found</body></html>", 0

    def start(self) -> "LoopbackServer":
        httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        httpd.daemon_threads = True
        httpd.owner = self  # type: ignore[attr-defined]
        if self.tls:
            httpd.socket = self.tls.wrap_socket(httpd.socket, server_side=True)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> "LoopbackServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        yield srv


@pytest.fixture
def refused_url():
    """A port that is bound but not listening: connecting is refused, and no other test can take it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        sock.close()


# --- probe_url --------------------------------------------------------------------------------


def test_fast_page_opens_with_every_phase_timed(server):
    r = probe_url(server.url("/ok"), threshold_s=5, timeout_s=5, clock=lambda: FIXED)
    assert (r.ok, r.reason, r.status, r.error) == (True, Reason.OK, 200, "")
    assert r.started_at == FIXED
    assert r.final_url == server.url("/ok") and r.redirects == []
    assert r.size > 0
    assert set(r.phases) == {"dns", "connect", "ttfb", "total"}  # no TLS over http
    assert r.tls_s is None and r.cert_expiry is None
    assert 0 <= r.dns_s <= r.total_s and 0 <= r.connect_s <= r.total_s and 0 < r.ttfb_s <= r.total_s


def test_page_slower_than_the_threshold_fails_as_timeout_with_its_time(server):
    r = probe_url(server.url("/slow?s=0.8"), threshold_s=0.5, timeout_s=3)
    assert not r.ok and r.reason == Reason.TIMEOUT and r.status == 200
    assert 0.8 <= r.total_s < 3
    assert r.ttfb_s >= 0.8
    assert "over the 0.5 s threshold" in r.error


def test_page_that_never_answers_within_the_timeout_is_cut_off(server):
    start = time.monotonic()
    r = probe_url(server.url("/slow?s=3"), threshold_s=0.3, timeout_s=0.6)
    assert time.monotonic() - start < 2
    assert not r.ok and r.reason == Reason.TIMEOUT and r.status is None
    assert 0.5 <= r.total_s < 1.5


@pytest.mark.parametrize("status, reason", [(500, Reason.SERVER_ERROR), (503, Reason.SERVER_ERROR),
                                            (404, Reason.NOT_FOUND), (400, Reason.HTTP_STATUS)])
def test_error_status_fails_with_its_reason(server, status, reason):
    r = probe_url(server.url(f"/status/{status}"), threshold_s=5, timeout_s=5)
    assert (r.ok, r.status, r.reason) == (False, status, reason)
    assert r.error == f"HTTP {status}"
    assert r.ttfb_s is not None


def test_refused_port(refused_url):
    r = probe_url(refused_url, threshold_s=1, timeout_s=2)
    assert (r.ok, r.reason, r.status) == (False, Reason.REFUSED, None)
    assert "refused" in r.error.lower()
    assert r.connect_s is not None and r.ttfb_s is None


def test_redirect_is_followed_to_the_page(server):
    r = probe_url(server.url("/redirect"), threshold_s=5, timeout_s=5)
    assert (r.ok, r.status, r.reason) == (True, 200, Reason.OK)
    assert r.redirects == [server.url("/ok")] and r.final_url == server.url("/ok")
    assert server.hits["/redirect"] == 1 and server.hits["/ok"] == 1


def test_failure_after_a_redirect_names_the_hop_that_failed(server, refused_url):
    r = probe_url(server.url(f"/redirect-to?goto={refused_url}"), threshold_s=5, timeout_s=5)
    assert (r.ok, r.reason, r.status) == (False, Reason.REFUSED, None)
    assert r.redirects == [refused_url] and r.final_url == refused_url


def test_redirect_loop_fails(server):
    r = probe_url(server.url("/redirect/loop"), threshold_s=5, timeout_s=5)
    assert (r.ok, r.reason) == (False, Reason.REDIRECT_LOOP)


def test_credentials_go_to_their_netloc_only(server):
    netloc = f"127.0.0.1:{server.port}"
    assert probe_url(server.url("/need-token"), headers={netloc: {"X-Token": "t"}}).ok
    r = probe_url(server.url("/need-token"), headers={"other.example": {"X-Token": "t"}})
    assert (r.ok, r.status) == (False, 401)


def test_unresolvable_name_is_a_dns_failure(monkeypatch):
    def no_such_name(*args, **kwargs):  # no resolver is asked: tests touch loopback only
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    r = probe_url("http://www.no-such-host.example/", threshold_s=1, timeout_s=3)
    assert (r.ok, r.reason) == (False, Reason.DNS)
    assert "www.no-such-host.example" in r.error and r.dns_s is None


# --- TLS: certificate expiry and verification ---------------------------------------------------


def test_https_records_tls_phase_and_absolute_certificate_expiry(tmp_path):
    not_after = dt.datetime(2031, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
    cert, key = self_signed_cert(tmp_path, not_after)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    with LoopbackServer(tls=server_ctx) as srv:
        trusting = ssl.create_default_context(cafile=str(cert))
        r = probe_url(srv.url("/ok"), threshold_s=5, timeout_s=5, ssl_context=trusting)
        assert (r.ok, r.status) == (True, 200), r.error
        assert r.tls_s is not None and r.tls_s > 0
        assert r.cert_expiry == not_after
        # Not trusted by the system store: a TLS failure, said so.
        r = probe_url(srv.url("/ok"), threshold_s=5, timeout_s=5)
        assert (r.ok, r.reason) == (False, Reason.TLS)
        assert "certificate" in r.error.lower()


# --- probe_site: every homepage and key page, stored ------------------------------------------------


def write_site(path: Path, key: str, hosts: list[tuple[str, str]], pages: list[tuple[str, str]] = (),
               extra: str = "") -> Path:
    lines = [f"site: {key}", "name: 测试厅", "hosts:"]
    for i, (hkey, url) in enumerate(hosts):
        lines += [f"  - key: {hkey}", f"    name: {'门户' if i == 0 else '子站' + str(i)}", f"    url: {url}"]
    if pages:
        lines += ["probe:", "  urls:"] + [f"    - {{name: {n}, url: '{u}'}}" for n, u in pages]
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def test_probe_site_probes_every_homepage_and_key_page_and_stores_rows(tmp_path, refused_url):
    with LoopbackServer() as portal, LoopbackServer() as sub:
        site = load_site(write_site(tmp_path / "t.yaml", "t", [("portal", portal.url("/")), ("sub", sub.url("/"))],
                                    [("网上办事", sub.url("/redirect")), ("领导信箱", refused_url)]))
        with Store(tmp_path / "s.sqlite3") as store:
            results = probe_site(site, store, clock=lambda: FIXED)
            rows = store.db.execute("SELECT site, host_key, url, started_at, ok, status, reason, ttfb_s, total_s, "
                                    "kind, name, final_url, dns_s, connect_s, tls_s, error FROM probes "
                                    "ORDER BY id").fetchall()
    assert [(r.kind, r.host_key, r.name, r.ok) for r in results] == [
        ("portal", "portal", "门户", True), ("subsite", "sub", "子站1", True),
        ("page", "sub", "网上办事", True), ("page", "", "领导信箱", False)]
    assert len(rows) == 4
    by_name = {row[10]: row for row in rows}
    portal_row = by_name["门户"]
    assert portal_row[:7] == ("t", "portal", portal.url("/"), "2026-11-20T08:00:00.000+00:00", 1, 200, "ok")
    assert portal_row[7] > 0 and portal_row[8] >= portal_row[7] and portal_row[12] is not None
    assert by_name["网上办事"][11] == sub.url("/ok")
    refused = by_name["领导信箱"]
    assert (refused[4], refused[5], refused[6], refused[9]) == (0, None, "refused", "page")
    assert "refused" in refused[15].lower()


def test_probe_site_without_a_store_only_probes(tmp_path, server):
    site = load_site(write_site(tmp_path / "t.yaml", "t", [("portal", server.url("/"))]))
    assert [r.ok for r in probe_site(site, None)] == [True]


def test_probe_command_prints_a_table_and_exits_1_on_failure(tmp_path, server, refused_url, capsys):
    from sitecheck.cli import main

    path = write_site(tmp_path / "t.yaml", "t", [("portal", server.url("/"))], [("信箱", refused_url)])
    db = tmp_path / "s.sqlite3"
    assert main(["probe", "--config", str(path), "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "refused" in out and "1/2 opened within the threshold" in out
    with Store(db) as store:
        assert store.db.execute("SELECT count(*) FROM probes").fetchone()[0] == 2
    path = write_site(tmp_path / "t.yaml", "t", [("portal", server.url("/"))])
    assert main(["probe", "--config", str(path), "--db", str(db), "--json"]) == 0
