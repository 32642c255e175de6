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

from .helpers import self_signed_cert, serve_handler, start_raw_server

from sitecheck import netguard
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


# --- phases, the fetch policy on every hop, the address guard --------------------------------------


class _Routes(BaseHTTPRequestHandler):
    """Answers from a class-level table: path -> (status, headers, body, pause before body)."""

    protocol_version = "HTTP/1.1"
    routes: dict[str, tuple[int, dict[str, str], bytes, float]] = {}
    seen: list[tuple[str, str]] = []  # (Host header, path) of every request

    def do_GET(self):  # noqa: N802 - http.server's name
        self.seen.append((self.headers.get("Host"), self.path))
        status, headers, body, pause = self.routes.get(self.path, (404, {}, b"none", 0.0))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        time.sleep(pause)
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def routed():
    """A loopback server answering from a table of its own (a fresh handler class per test)."""
    handler = type("Routes", (_Routes,), {"routes": {}, "seen": []})
    server, base = serve_handler(handler)
    yield handler, base
    server.shutdown()
    server.server_close()


def test_phases_measure_each_part_of_the_exchange(routed):
    """Headers after 0.3 s, the body 0.4 s later: first byte and total tell the two waits apart."""
    handler, base = routed
    handler.routes["/late"] = (200, {"Content-Type": "text/html"}, b"<html>late</html>", 0.4)

    def late_headers():
        time.sleep(0.3)

    handler.do_GET = lambda self, _get=_Routes.do_GET: (late_headers(), _get(self))
    r = probe_url(base + "/late", threshold_s=5, timeout_s=5)
    assert (r.ok, r.status, r.size) == (True, 200, len(b"<html>late</html>")), r.error
    assert set(r.phases) == {"dns", "connect", "ttfb", "total"}
    assert 0.3 <= r.ttfb_s < 0.6  # the wait for the headers, not the body's
    assert r.total_s >= 0.7 and r.total_s >= r.dns_s + r.connect_s + r.ttfb_s
    assert r.dns_s < 0.2 and r.connect_s < 0.2  # loopback: nothing to wait for


def test_phases_are_summed_over_redirect_hops(routed):
    handler, base = routed
    handler.routes["/first"] = (302, {"Location": "/second"}, b"", 0.0)
    handler.routes["/second"] = (200, {"Content-Type": "text/html"}, b"<html>2</html>", 0.0)
    handler.do_GET = lambda self, _get=_Routes.do_GET: (time.sleep(0.25), _get(self))
    r = probe_url(base + "/first", threshold_s=5, timeout_s=5)
    assert r.ok and r.redirects == [base + "/second"]
    assert r.ttfb_s >= 0.5 and r.total_s >= 0.5  # two hops, each with its own wait for the headers


def test_too_many_redirects_stops_before_the_next_hop(routed):
    handler, base = routed
    for n in range(10):
        handler.routes[f"/hop/{n}"] = (302, {"Location": f"/hop/{n + 1}"}, b"", 0.0)
    r = probe_url(base + "/hop/0", threshold_s=5, timeout_s=5, max_redirects=3)
    assert (r.ok, r.reason, r.status) == (False, Reason.TOO_MANY_REDIRECTS, 302)
    assert r.redirects == [base + f"/hop/{n}" for n in (1, 2, 3)]
    assert "more than 3 redirects" in r.error
    assert [path for _host, path in handler.seen] == ["/hop/0", "/hop/1", "/hop/2", "/hop/3"]


def test_a_loop_is_seen_through_url_identity_without_asking_again(routed):
    """/a -> /b -> /x/../a: the third URL is the first one, normalised as the crawl does."""
    handler, base = routed
    handler.routes["/a"] = (302, {"Location": "/b"}, b"", 0.0)
    handler.routes["/b"] = (301, {"Location": "/x/../a"}, b"", 0.0)
    r = probe_url(base + "/a", threshold_s=5, timeout_s=5)
    assert (r.ok, r.reason, r.status) == (False, Reason.REDIRECT_LOOP, 301)
    assert r.error == f"HTTP 301 back to {base}/a"
    assert [path for _host, path in handler.seen] == ["/a", "/b"]


def test_a_redirect_to_a_non_web_address_is_an_unusable_location(routed):
    handler, base = routed
    handler.routes["/away"] = (302, {"Location": "ftp://files.example/x.zip"}, b"", 0.0)
    r = probe_url(base + "/away", threshold_s=5, timeout_s=5)
    assert (r.ok, r.reason, r.redirects) == (False, Reason.ERROR, [])
    assert "unusable Location header" in r.error and "ftp://files.example/x.zip" in r.error


@pytest.fixture
def second_loopback():
    """A server on 127.0.0.2: another host, which the probe of a 127.0.0.1 site did not configure."""
    handler = type("Routes", (_Routes,), {"routes": {"/landing": (200, {}, b"<html>landing</html>", 0.0)},
                                          "seen": []})
    server, base = serve_handler(handler, host="127.0.0.2")
    yield handler, base
    server.shutdown()
    server.server_close()


def test_a_hop_to_another_host_is_vetted_before_any_connection(routed, second_loopback):
    handler, base = routed
    other, other_base = second_loopback
    handler.routes["/leave"] = (302, {"Location": other_base + "/landing"}, b"", 0.0)
    r = probe_url(base + "/leave", threshold_s=5, timeout_s=5)
    assert (r.ok, r.reason, r.status) == (False, Reason.PRIVATE_ADDRESS, None)
    assert r.error == "not checked: loopback address 127.0.0.2"
    assert r.redirects == [other_base + "/landing"] and r.final_url == other_base + "/landing"
    assert other.seen == []  # refused before any connection
    # The operator allows the range (the site file's allow_networks): the hop is followed.
    r = probe_url(base + "/leave", threshold_s=5, timeout_s=5,
                  policy=netguard.AddressPolicy(["127.0.0.0/8"]))
    assert (r.ok, r.status, r.final_url) == (True, 200, other_base + "/landing"), r.error
    assert [path for _host, path in other.seen] == ["/landing"]
    # A configured host is not vetted: the site names it.
    r = probe_url(base + "/leave", threshold_s=5, timeout_s=5, trusted_hosts={"127.0.0.1", "127.0.0.2"})
    assert r.ok, r.error


def test_a_vetted_hop_connects_where_the_guard_looked(routed, monkeypatch):
    """The name of the next hop is resolved once, by the guard, and libcurl goes to that address: the
    system resolver never hears of hop.example (no such name exists)."""
    handler, base = routed
    port = urlsplit(base).port
    asked: list[str] = []

    def resolve(host, port_):
        asked.append(host)
        if host == "hop.example":
            return ["127.0.0.1"]
        raise netguard.ResolutionError(f"cannot resolve {host!r}")

    monkeypatch.setattr(netguard, "default_resolve", resolve)
    handler.routes["/go"] = (302, {"Location": f"http://hop.example:{port}/there"}, b"", 0.0)
    handler.routes["/there"] = (200, {}, b"<html>there</html>", 0.0)
    refused = probe_url(base + "/go", threshold_s=5, timeout_s=5)
    assert (refused.reason, refused.error) == (
        Reason.PRIVATE_ADDRESS, "not checked: hop.example resolves to loopback address 127.0.0.1")
    r = probe_url(base + "/go", threshold_s=5, timeout_s=5, policy=netguard.AddressPolicy(["127.0.0.1/32"]))
    assert (r.ok, r.final_url) == (True, f"http://hop.example:{port}/there"), r.error
    assert handler.seen[-1] == (f"hop.example:{port}", "/there")
    assert asked == ["hop.example", "hop.example"]


def test_a_waf_challenge_is_blocked_not_down(routed):
    handler, base = routed
    challenge = b"<html><script>document.cookie='t=1';location.href=location.href;</script></html>"
    handler.routes["/"] = (521, {"Content-Type": "text/html"}, challenge, 0.0)
    r = probe_url(base + "/", threshold_s=5, timeout_s=5)
    assert (r.ok, r.reason, r.status) == (False, Reason.BLOCKED, 521)
    assert r.error == "waf: 加速乐 Jiasule: HTTP 521; document.cookie challenge"  # crawler/waf.py's wall_error


def test_a_proxy_is_used_only_when_the_environment_names_one(monkeypatch):
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    proxy, port, lines = start_raw_server(lambda path: answer)
    try:
        for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY", "https_proxy", "HTTPS_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{port}")
        r = probe_url("http://portal.example/", threshold_s=5, timeout_s=5)  # the proxy resolves, not us
        assert (r.ok, r.status) == (True, 200), r.error
        assert lines == ["GET http://portal.example/ HTTP/1.1"]
        assert r.dns_s is None  # no lookup here: the proxy did it
    finally:
        proxy.close()


def test_the_probe_says_who_it_is(routed):
    handler, base = routed
    agents: list[str] = []
    handler.routes["/"] = (200, {}, b"<html></html>", 0.0)
    handler.do_GET = lambda self, _get=_Routes.do_GET: (agents.append(self.headers.get("User-Agent")), _get(self))
    assert probe_url(base + "/").ok
    assert probe_url(base + "/", user_agent="other/1").ok
    from sitecheck.probe.probe import USER_AGENT
    assert agents == [USER_AGENT, "other/1"]


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


# --- one answer, for check-config --probe (sitecheck/allowlist.py) -----------------------------------


def test_fetch_answer_gives_status_headers_and_first_bytes_and_follows_nothing(routed, refused_url):
    from sitecheck.probe.probe import ProbeFailure, fetch_answer

    handler, base = routed
    handler.routes["/"] = (302, {"Location": "/next", "X-Site": "门户".encode().decode("latin-1")}, b"moved", 0.0)
    status, headers, body = fetch_answer(base + "/", {"User-Agent": "ua/1", "X-Token": "t"}, timeout_s=5)
    assert (status, headers[b"location"], headers[b"x-site"], body) == (302, [b"/next"], ["门户".encode()], b"moved")
    assert [path for _host, path in handler.seen] == ["/"]
    with pytest.raises(ProbeFailure) as failure:
        fetch_answer(refused_url, {}, timeout_s=5)
    assert failure.value.reason == Reason.REFUSED
