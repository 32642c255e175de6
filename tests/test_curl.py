"""libcurl on the event loop (crawler/curl.py): the link checker's client, held to the crawl's rules.

Every server here listens on loopback; names that libcurl could not resolve by itself show that
it connects where we tell it and nowhere else.
"""

from __future__ import annotations

import asyncio
import threading

import pycurl
import pytest

from sitecheck.crawler.curl import CurlError, CurlSession, resolve_entry, wire_url
from sitecheck.model import Reason

from .helpers import listen, serve_raw, start_raw_server, wait_until

_OK = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 0\r\n\r\n"


def _server(respond=lambda _path: _OK):
    return start_raw_server(respond)


def _request(method: str, url: str, **kwargs):
    async def run():
        session = CurlSession("sitecheck-test")
        try:
            return await session.request(method, url, headers=kwargs.pop("headers", []),
                                         timeout=kwargs.pop("timeout", 3), **kwargs)
        finally:
            await session.close()

    return asyncio.run(run())


def test_the_last_responses_headers_count():
    from sitecheck.crawler.curl import Transfer

    transfer = Transfer(None, frozenset())
    transfer.lines += [b"HTTP/1.1 100 Continue\r\n", b"X-Early: 1\r\n", b"\r\n",
                       b"HTTP/1.1 200 OK: fine\r\n", b"Content-Type: text/html\r\n", b"Set-Cookie: a=1\r\n",
                       b"set-cookie: b=2\r\n", b"Folded: x\r\n", b" continued\r\n", b"\r\n"]
    assert transfer.headers() == {b"content-type": [b"text/html"], b"set-cookie": [b"a=1", b"b=2"],
                                  b"folded": [b"x"]}
    assert transfer.headers() is transfer.headers()  # parsed once (asked at the first body byte and at the end)
    transfer.lines.append(b"X-Trailer: t\r\n")
    assert transfer.headers()[b"x-trailer"] == [b"t"]  # lines that came later are read


def test_a_head_returns_status_and_headers_names_lower_cased():
    sock, port, hits = _server(lambda _p: b"HTTP/1.1 301 Moved\r\nLocation: /b.png\r\nX-Two: 1\r\nX-Two: 2\r\n"
                                          b"Content-Length: 0\r\n\r\n")
    with sock:
        reply = _request("HEAD", f"http://127.0.0.1:{port}/a.png", headers=["Accept: */*"], addresses=None)
    assert (reply.status, reply.headers[b"location"], reply.headers[b"x-two"]) == (301, [b"/b.png"], [b"1", b"2"])
    assert hits == ["HEAD /a.png HTTP/1.1"]


def test_connections_go_to_the_addresses_given_not_where_the_name_resolves():
    # "sitecheck-pinned.invalid" cannot resolve (RFC 2606): only our addresses can send it anywhere.
    sock, port, hits = _server()
    with sock:
        reply = _request("HEAD", f"http://sitecheck-pinned.invalid:{port}/x.png", addresses=["127.0.0.1"])
        assert reply.status == 200 and hits == ["HEAD /x.png HTTP/1.1"]
        # localhost resolves to 127.0.0.1, where the server listens; told 127.0.0.3, libcurl goes there
        with pytest.raises(CurlError) as refused:
            _request("HEAD", f"http://localhost:{port}/y.png", addresses=["127.0.0.3"])
    assert refused.value.reason == Reason.REFUSED
    assert hits == ["HEAD /x.png HTTP/1.1"]


def test_a_connection_to_an_address_not_given_is_refused(monkeypatch):
    # libcurl honours CURLOPT_RESOLVE; the socket callback is the second lock, tried here by
    # letting the transfer allow another address than the one libcurl is told to use.
    import sitecheck.crawler.curl as curl

    sock, port, hits = _server()
    given = curl.Transfer
    monkeypatch.setattr(curl, "Transfer", lambda future, allowed, **kw: given(future, frozenset({"127.0.0.9"}), **kw))
    with sock, pytest.raises(CurlError) as refused:
        _request("HEAD", f"http://sitecheck-pinned.invalid:{port}/x.png", addresses=["127.0.0.1"])
    assert "127.0.0.1" in str(refused.value) and "did not vet" in str(refused.value)
    assert hits == []


def test_a_get_without_want_body_stops_at_the_headers():
    def endless(_path):  # 64 MB without a length: the connection is dropped at the first chunk
        return b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\n\r\n" + b"%PDF" * (16 << 20)

    sock, port, _hits = _server(endless)
    with sock:
        reply = _request("GET", f"http://127.0.0.1:{port}/big.pdf", addresses=None, timeout=2)
    assert (reply.status, reply.headers[b"content-type"], reply.body) == (200, [b"application/pdf"], b"")


def test_a_body_is_read_when_wanted_and_cut_at_its_limit():
    body = b"<html>" + b"x" * 5000 + b"</html>"
    sock, port, _hits = _server(lambda _p: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                           + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    with sock:
        assert _request("GET", f"http://127.0.0.1:{port}/p.html", addresses=None, want_body=True).body == body
        with pytest.raises(CurlError) as too_large:
            _request("GET", f"http://127.0.0.1:{port}/p.html", addresses=None, want_body=True, max_body=1000)
    assert too_large.value.code == pycurl.E_FILESIZE_EXCEEDED


def test_only_http_and_https(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the crawl", encoding="utf-8")
    with pytest.raises(CurlError) as refused:
        _request("GET", f"file://{secret}", addresses=None, want_body=True)
    assert refused.value.reason == Reason.ERROR  # libcurl speaks http and https only


def test_the_environment_proxy_is_ignored_unless_passed(monkeypatch):
    # the transport decides about proxies itself (no_proxy included); libcurl must not add its own
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9/")  # nothing listens there
    sock, port, hits = _server()
    with sock:
        assert _request("HEAD", f"http://127.0.0.1:{port}/z.png", addresses=None).status == 200
    assert hits == ["HEAD /z.png HTTP/1.1"]


def test_a_server_that_closes_without_answering_is_a_reset_and_a_silent_one_a_timeout():
    closing, closing_port, _ = _server(lambda _p: b"")
    silent = listen()  # accepts (the kernel does) and never answers
    with closing, silent:
        with pytest.raises(CurlError) as reset:
            _request("HEAD", f"http://127.0.0.1:{closing_port}/", addresses=None)
        with pytest.raises(CurlError) as timeout:
            _request("HEAD", f"http://127.0.0.1:{silent.getsockname()[1]}/", addresses=None, timeout=0.5)
    assert reset.value.reason == Reason.RESET
    assert timeout.value.reason == Reason.TIMEOUT


def test_urls_go_on_the_wire_as_scrapy_sends_them():
    assert wire_url("http://a.gov.cn/x/y.png?a=1&b=%20") == "http://a.gov.cn/x/y.png?a=1&b=%20"
    assert wire_url("http://a.gov.cn/通知 1.pdf") == "http://a.gov.cn/%E9%80%9A%E7%9F%A5%201.pdf"
    assert wire_url("http://甘肃.gov.cn/") == "http://" + "甘肃".encode("idna").decode() + ".gov.cn/"
    assert resolve_entry("h.test", 80, ["127.0.0.1", "::1"]) == "h.test:80:127.0.0.1,[::1]"


def test_https_without_verification_and_a_broken_handshake_is_tls(tmp_path):
    import datetime as dt
    import ssl

    from .helpers import self_signed_cert

    cert, key = self_signed_cert(tmp_path, dt.datetime(2031, 6, 1, tzinfo=dt.timezone.utc))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    tls = context.wrap_socket(listen(), server_side=True)
    threading.Thread(target=serve_raw, args=(tls, lambda _p: _OK, []), daemon=True).start()
    plain = listen()  # answers in plain HTTP, at once, where the URL says https
    plain_port = plain.getsockname()[1]

    def answer_in_plain_text():
        while True:
            try:
                conn, _ = plain.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=answer_in_plain_text, daemon=True).start()
    with tls, plain:
        # certificates are the probe's business (it reports this self-signed one); the crawl reads on
        reply = _request("HEAD", f"https://127.0.0.1:{tls.getsockname()[1]}/x.png", addresses=None)
        assert reply.status == 200
        with pytest.raises(CurlError) as broken:
            _request("HEAD", f"https://127.0.0.1:{plain_port}/x.png", addresses=None)
    assert broken.value.reason == Reason.TLS


def _keep_alive_server():
    """Answers every request of a connection on that connection, as nginx does: (socket, port,
    connections accepted, request lines)."""
    sock = listen()
    accepted: list[int] = []
    hits: list[str] = []

    def serve(conn):
        with conn:
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, data = data.split(b"\r\n\r\n", 1)
                hits.append(head.split(b"\r\n", 1)[0].decode("latin-1"))
                conn.sendall(_OK)

    def accept():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            accepted.append(1)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return sock, sock.getsockname()[1], accepted, hits


def _open_descriptors() -> int:
    import os

    return len(os.listdir("/proc/self/fd"))


def _descriptors_back_to(before: int) -> None:
    """The session's sockets and its epoll set are closed with it. The server threads close their
    ends when they see the client's go, a moment later: wait for that, not longer than 5 s."""
    wait_until(lambda: _open_descriptors() <= before, timeout=5,
               what=f"the process's open descriptors back to {before}")


def _many(port: int, count: int, at_once: int, pause: float = 0.0):
    """`count` HEADs, `at_once` at a time, each bounded by a 3 s timeout: a socket that is not
    watched shows as a timeout. Then half a second idle. Returns the sockets still watched
    before the session closes, and the CPU seconds the process spent idle."""
    import time

    async def run():
        session = CurlSession("sitecheck-test")
        try:
            for start in range(0, count, at_once):
                replies = await asyncio.gather(*(
                    session.request("HEAD", f"http://127.0.0.1:{port}/{i}.png", headers=[], timeout=3,
                                    addresses=None) for i in range(start, min(count, start + at_once))))
                assert [r.status for r in replies] == [200] * len(replies)
                if pause:
                    await asyncio.sleep(pause)
            idle_from = time.process_time()
            await asyncio.sleep(0.5)
            return dict(session._watched), time.process_time() - idle_from
        finally:
            await session.close()

    return asyncio.run(run())


def test_kept_alive_connections_carry_many_requests_between_them():
    sock, port, accepted, hits = _keep_alive_server()
    with sock:
        before = _open_descriptors()
        watched, _ = _many(port, 200, at_once=4)
        _descriptors_back_to(before)
    assert len(hits) == 200
    assert len(accepted) <= 4  # one connection per request at a time, reused
    assert len(watched) <= 4 + 1  # the connections' sockets, and libcurl's own eventfd


@pytest.mark.parametrize("pause", [0.0, 0.05])
def test_a_connection_the_server_closes_while_idle_is_replaced_and_nothing_leaks(pause):
    # The server closes every connection after one answer, without saying so: libcurl keeps it.
    # With a pause the closed socket turns readable while it waits for the next transfer, and is
    # dropped then; without one libcurl finds it dead when it picks it, closes it and opens
    # another, which the kernel usually gives the same number.  Either way the new socket must
    # be watched (or the request times out) and nothing may stay behind.
    sock, port, hits = _server()
    with sock:
        before = _open_descriptors()
        watched, idle_cpu = _many(port, 40, at_once=2, pause=pause)
        _descriptors_back_to(before)
    assert len(hits) == 40
    assert idle_cpu < 0.2  # a closed socket left in the epoll set would wake the loop at every turn
    assert len(watched) <= 2 + 1  # the closed sockets' numbers came back: no entry per closed socket
