"""The link checker (crawler/linkcheck.py) on the crawl's transport, against real loopback servers.

Each rule the crawl applies holds for a non-page target: HEAD fallback, redirects and loops,
retries, the address guard, credentials only for their own host, the per-host limit and delay.
"""

from __future__ import annotations

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sitecheck.model import Reason, TargetKind


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    routes: dict = {}
    log: list = []
    lock = threading.Lock()
    active = 0
    peak = 0

    def _serve(self):
        cls = type(self)
        with cls.lock:
            cls.log.append((self.command, self.path, self.headers.get("Authorization"), time.monotonic()))
            cls.active += 1
            cls.peak = max(cls.peak, cls.active)
        try:
            route = cls.routes.get(self.path.split("?")[0], (404, {}, 0.0))
            if callable(route[0]):  # (function of the request -> (status, headers), sleep)
                (status, headers), sleep = route[0](self), route[1]
            else:
                status, headers, sleep = route
            if sleep:
                time.sleep(sleep)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()
        finally:
            with cls.lock:
                cls.active -= 1

    do_GET = do_HEAD = _serve

    def log_message(self, *args):
        pass


class _Servers:
    """One handler (routes and request log) served on one or more loopback addresses."""

    def __init__(self):
        self.handler = type("H", (_Handler,), {"routes": {}, "log": [], "lock": threading.Lock(),
                                               "active": 0, "peak": 0})
        self.running = []

    def start(self, address: str = "127.0.0.1") -> str:
        httpd = ThreadingHTTPServer((address, 0), self.handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        self.running.append(httpd)
        return f"http://{address}:{httpd.server_port}"


@pytest.fixture
def servers():
    s = _Servers()
    yield s
    for httpd in s.running:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server(servers):
    return servers.handler, servers.start()


def _site(tmp_path, base: str, crawl: str = "", extra: str = "", retries: int = 1):
    from sitecheck.config import load_site

    path = tmp_path / "s.yaml"
    path.write_text("site: s\nname: 测试\nhosts:\n"
                    f"  - {{key: p, name: 门户, url: '{base}/'}}\n{extra}"
                    f"crawl: {{timeout_seconds: 2, retries: {retries}{crawl}}}\n", encoding="utf-8")
    return load_site(path)


def _check(site, urls, credentials=None, per_host=4, delay=0.0):
    from sitecheck.crawler.linkcheck import LinkChecker
    from sitecheck.crawler.policy import Rules
    from sitecheck.crawler.politeness import Politeness
    from sitecheck.crawler.transport import Transport
    from sitecheck.crawler.urls import normalize

    async def run():
        transport = Transport.for_site(site, credentials or {}, Politeness(per_host, delay))
        checker = LinkChecker(transport, Rules(retries=site.crawl.retries), lambda u: normalize(u, frozenset()),
                              site.crawl.timeout_seconds)
        try:
            checked = await asyncio.gather(*[checker.check(u, TargetKind.IMAGE, "p", lambda _u: True) for u in urls])
        finally:
            await transport.close()
        return [c.target for c in checked]

    return asyncio.run(run())


def test_head_refused_falls_back_to_a_get_and_statuses_are_classified(server, tmp_path):
    handler, base = server
    handler.routes.update({
        "/ok.png": (200, {"Content-Type": "image/png"}, 0),
        "/nohead.pdf": (lambda h: (405, {}) if h.command == "HEAD" else (200, {"Content-Type": "application/pdf"}), 0),
        "/gone.png": (410, {}, 0),
        "/busy.png": (429, {}, 0),
        "/broken.png": (500, {}, 0),
    })
    ok, nohead, missing, gone, busy, broken = _check(_site(tmp_path, base, retries=0), [
        f"{base}/ok.png", f"{base}/nohead.pdf", f"{base}/missing.png", f"{base}/gone.png",
        f"{base}/busy.png", f"{base}/broken.png"])
    assert (ok.reason, ok.status, ok.method, ok.content_type) == (Reason.OK, 200, "HEAD", "image/png")
    assert (nohead.reason, nohead.status, nohead.method) == (Reason.OK, 200, "GET")
    assert [("HEAD", "/nohead.pdf"), ("GET", "/nohead.pdf")] == [
        (m, p) for m, p, *_ in handler.log if p == "/nohead.pdf"]
    assert missing.reason == Reason.NOT_FOUND and gone.reason == Reason.NOT_FOUND
    assert busy.reason == Reason.RATE_LIMITED
    assert (broken.reason, broken.method) == (Reason.SERVER_ERROR, "GET")  # 500 on HEAD is asked again


def test_redirects_are_followed_and_loops_reported(server, tmp_path):
    handler, base = server
    handler.routes.update({
        "/a.png": (301, {"Location": "/b.png"}, 0),
        "/b.png": (302, {"Location": f"{base}/c.png"}, 0),
        "/c.png": (200, {"Content-Type": "image/png"}, 0),
        "/loop1": (302, {"Location": "/loop2"}, 0),
        "/loop2": (302, {"Location": "/loop1"}, 0),
        **{f"/hop{i}": (302, {"Location": f"/hop{i + 1}"}, 0) for i in range(20)},
    })
    a, loop, chain = _check(_site(tmp_path, base), [f"{base}/a.png", f"{base}/loop1", f"{base}/hop0"])
    assert (a.reason, a.final_url, a.redirects) == (Reason.OK, f"{base}/c.png", [f"{base}/a.png", f"{base}/b.png"])
    assert loop.reason == Reason.REDIRECT_LOOP
    assert chain.reason == Reason.TOO_MANY_REDIRECTS and len(chain.redirects) == 11


def test_retries_only_what_may_pass_on_a_second_try(server, tmp_path):
    handler, base = server
    calls = {"n": 0}

    def flaky(h):
        calls["n"] += 1
        return (503, {}) if calls["n"] == 1 else (200, {})

    handler.routes.update({"/flaky.png": (flaky, 0), "/down.png": (503, {}, 0)})
    flaky_t, down = _check(_site(tmp_path, base), [f"{base}/flaky.png", f"{base}/down.png"])
    assert flaky_t.reason == Reason.OK and calls["n"] == 2
    assert down.reason == Reason.SERVER_ERROR
    # retries: 1 -> HEAD twice; 503 is not a status that makes us doubt the HEAD (the spider's rule)
    assert [m for m, p, *_ in handler.log if p == "/down.png"] == ["HEAD", "HEAD"]


def test_connection_failures_and_timeouts(server, tmp_path):
    import socket

    handler, base = server
    handler.routes["/slow.png"] = (200, {}, 5)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/x.png"  # bound, not listening: refused
        site = _site(tmp_path, base, ", allow_networks: ['127.0.0.0/8']", retries=0)
        slow, refused = _check(site, [f"{base}/slow.png", dead])
    assert slow.reason == Reason.TIMEOUT
    assert refused.reason == Reason.REFUSED


def test_the_address_guard_refuses_an_address_the_site_does_not_allow(servers, tmp_path):
    handler, base = servers.handler, servers.start()
    other = servers.start("127.0.0.9") + "/x.png"  # loopback, but not a configured host and not allowed
    site = _site(tmp_path, base)
    (refused,) = _check(site, [other])
    assert refused.reason == Reason.PRIVATE_ADDRESS and "loopback" in refused.error
    assert not [p for _, p, *_ in handler.log if p == "/x.png"]  # never requested
    # Redirect hops are checked too: a configured host redirecting to that address.
    handler.routes["/jump.png"] = (302, {"Location": other}, 0)
    (hop,) = _check(site, [f"{base}/jump.png"])
    assert hop.reason == Reason.PRIVATE_ADDRESS and hop.redirects == [f"{base}/jump.png"]
    assert not [p for _, p, *_ in handler.log if p == "/x.png"]
    # With the range allowed, it is checked.
    allowed = _site(tmp_path, base, ", allow_networks: ['127.0.0.0/8']")
    handler.routes["/x.png"] = (200, {}, 0)
    (ok,) = _check(allowed, [other])
    assert ok.reason == Reason.OK


def test_credentials_go_only_to_their_own_host(servers, tmp_path):
    handler, base = servers.handler, servers.start()
    netloc = base.split("//")[1]
    elsewhere = servers.start("127.0.0.2") + "/other.png"
    handler.routes.update({"/mine.png": (302, {"Location": elsewhere}, 0), "/other.png": (200, {}, 0)})
    site = _site(tmp_path, base, ", allow_networks: ['127.0.0.0/8']")
    (t,) = _check(site, [f"{base}/mine.png"], credentials={netloc: {"Authorization": "Basic c2VjcmV0"}})
    assert t.reason == Reason.OK
    auth = {p: a for _, p, a, _ in handler.log}
    assert auth["/mine.png"] == "Basic c2VjcmV0"
    assert auth["/other.png"] is None


def test_per_host_limit_and_delay_hold(server, tmp_path):
    handler, base = server
    handler.routes.update({f"/{i}.png": (200, {}, 0.05) for i in range(12)})
    site = _site(tmp_path, base)
    _check(site, [f"{base}/{i}.png" for i in range(12)], per_host=3)
    assert handler.peak <= 3
    handler.log.clear()
    handler.routes.update({f"/d{i}.png": (200, {}, 0) for i in range(5)})
    _check(site, [f"{base}/d{i}.png" for i in range(5)], per_host=3, delay=0.2)
    starts = sorted(t for *_, t in handler.log)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert len(starts) == 5 and min(gaps) >= 0.2
