"""The hostile test server itself: each endpoint misbehaves exactly as documented.

Only loopback is contacted; `requests` sessions ignore proxy variables
(trust_env=False) so nothing is routed through a proxy elsewhere.
"""

from __future__ import annotations

import gzip
import socket
import struct
import threading
import time
import zlib

import pytest
import requests

try:
    from tests.servers.hostile import (BAD_BYTES, CHARSET_LIE_TEXT, HUGE_HTML_SIZE, HostileServer,
                                       build_bomb)
except ImportError:  # tests/ on sys.path instead of the repository root
    from servers.hostile import BAD_BYTES, CHARSET_LIE_TEXT, HUGE_HTML_SIZE, HostileServer, build_bomb


@pytest.fixture(scope="module")
def srv():
    with HostileServer() as server:
        yield server


@pytest.fixture
def http():
    session = requests.Session()
    session.trust_env = False
    with session:
        yield session


def raw_request(srv, path, method="GET", timeout=2.0):
    conn = socket.create_connection((srv.host, srv.port), timeout=timeout)
    conn.sendall(f"{method} {path} HTTP/1.1\r\nHost: {srv.host}:{srv.port}\r\n\r\n".encode())
    return conn


def read_all(conn, limit=None):
    chunks, total = [], 0
    while True:
        data = conn.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)
        total += len(data)
        if limit and total >= limit:
            return b"".join(chunks)


def split_response(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def wait_for(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_binds_loopback_only():
    with pytest.raises(ValueError):
        HostileServer("0.0.0.0")
    with pytest.raises(ValueError):
        HostileServer("10.0.0.1")


def test_ok_page_and_counters(http):
    with HostileServer() as server:
        r = http.get(server.url("/ok"), timeout=2)
        assert r.status_code == 200 and "<a href=" in r.text and "/redirect/long/3" in r.text
        assert http.head(server.url("/ok?x=1"), timeout=2).content == b""
        assert server.hits["/ok"] == 2
        assert server.bytes_sent["/ok"] > len(r.content)
        assert http.get(server.url("/nope"), timeout=2).status_code == 404
        assert http.get(server.url("/all"), timeout=2).text.count("<a href=") >= 20


def test_trickle_one_byte_per_second(srv):
    conn = raw_request(srv, "/trickle")
    start = time.monotonic()
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(1024)
    status, headers, body = split_response(data)
    assert status == 200 and "content-length" not in headers
    while len(body) < 2:
        body += conn.recv(1)
    elapsed = time.monotonic() - start
    assert 0.7 < elapsed < 3.0, elapsed  # byte 1 at once, byte 2 a second later
    conn.close()
    # The server notices the hang-up and frees the connection.
    assert wait_for(lambda: srv.active_connections == 0)


def test_trickle_never_finishes(srv):
    conn = raw_request(srv, "/trickle?interval=0.02")
    conn.settimeout(0.5)
    got = read_all_for(conn, 0.6)
    conn.close()
    assert got.startswith(b"HTTP/1.1 200") and b"<html>" in got and len(got) < 2000


def read_all_for(conn, seconds):
    deadline, data = time.monotonic() + seconds, b""
    while time.monotonic() < deadline:
        try:
            chunk = conn.recv(4096)
        except socket.timeout:
            break
        if not chunk:
            raise AssertionError("the server closed a connection it should keep open")
        data += chunk
    return data


def test_no_headers_never_answers(srv):
    conn = raw_request(srv, "/no-headers")
    conn.settimeout(0.5)
    with pytest.raises(socket.timeout):
        conn.recv(1)
    assert srv.hits["/no-headers"] >= 1
    conn.close()
    assert wait_for(lambda: srv.active_connections == 0)


def test_close_mid_body(srv, http):
    status, headers, body = split_response(read_all(raw_request(srv, "/close-mid-body")))
    assert status == 200 and headers["content-length"] == "100000" and len(body) == 1000
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        http.get(srv.url("/close-mid-body"), timeout=2)


def test_reset(srv):
    conn = raw_request(srv, "/reset")
    with pytest.raises(ConnectionResetError):
        read_all(conn)


@pytest.mark.parametrize("path,encoding", [("/gzip-bomb", "gzip"), ("/deflate-bomb", "deflate")])
def test_bombs_are_small_on_the_wire_and_huge_inside(srv, path, encoding):
    status, headers, body = split_response(read_all(raw_request(srv, path)))
    assert status == 200 and headers["content-encoding"] == encoding
    assert int(headers["content-length"]) == len(body) and 1_000_000 < len(body) < 5_000_000
    d = zlib.decompressobj(31 if encoding == "gzip" else 15)
    out = d.decompress(body[:200_000], 64 << 20)
    assert len(out) == 64 << 20 and not out.strip(b"\0")  # 64 MiB from 200 kB, and still going
    if encoding == "gzip":
        assert struct.unpack("<I", body[-4:])[0] == 2 << 30  # ISIZE: 2 GiB


@pytest.mark.parametrize("kind", ["gzip", "deflate", "raw"])
def test_bomb_builder_makes_valid_streams(kind):
    size = 5 * (1 << 20) + 12345  # odd size: exercises the tail segment
    data = build_bomb(kind, size)
    if kind == "gzip":
        out = gzip.decompress(data)  # checks CRC and ISIZE
    else:
        out = zlib.decompress(data, 15 if kind == "deflate" else -15)  # checks Adler-32
    assert out == bytes(size)


def test_huge_html_streams_50_mib(srv):
    conn = raw_request(srv, "/huge-html", timeout=5)
    status, headers, body = split_response(read_all(conn))
    assert status == 200 and "content-length" not in headers
    assert len(body) == HUGE_HTML_SIZE and body.startswith(b"<!DOCTYPE html>") and body.endswith(b"</html>\n")
    status, headers, _ = split_response(read_all(raw_request(srv, "/huge-html?declare=1", "HEAD")))
    assert headers["content-length"] == str(HUGE_HTML_SIZE)


def test_transfer_bounded_when_client_stops_reading():
    with HostileServer() as server:
        conn = raw_request(server, "/huge-html")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        read_all(conn, limit=1 << 20)
        conn.close()
        assert wait_for(lambda: server.active_connections == 0)
        assert server.bytes_sent["/huge-html"] < 16 << 20


def test_deep_html(srv, http):
    r = http.get(srv.url("/deep-html"), timeout=2)
    assert r.text.count("<div>") == 10_000 and r.text.count("</div>") == 10_000


def test_many_links(srv, http):
    r = http.get(srv.url("/many-links"), timeout=5)
    assert r.text.count("<a href=") == 100_000
    assert '<a href="/many-links/99999">' in r.text
    assert http.get(srv.url("/many-links/5"), timeout=2).status_code == 404
    assert srv.hits_under("/many-links/") >= 1


@pytest.mark.parametrize("enc", sorted(BAD_BYTES))
def test_bad_bytes(srv, http, enc):
    r = http.get(srv.url(f"/bad-bytes/{enc}"), timeout=2)
    assert r.headers["Content-Type"] == f"text/html; charset={enc}"
    assert f'<meta charset="{enc}">'.encode() in r.content
    text, bad = BAD_BYTES[enc]
    assert text.encode(enc) in r.content
    if enc == "latin-1":
        assert b"\x81" in r.content and b"\x00" in r.content  # undefined in windows-1252 / NUL
        with pytest.raises(UnicodeDecodeError):
            r.content.decode("cp1252")
    else:
        for sample in bad:  # every sample is invalid on its own, not just the page as a whole
            with pytest.raises(UnicodeDecodeError):
                (sample + b" ").decode(enc)
        with pytest.raises(UnicodeDecodeError):
            r.content.decode(enc)
    assert http.get(srv.url("/bad-bytes/ebcdic"), timeout=2).status_code == 404


def test_charset_lie(srv, http):
    r = http.get(srv.url("/charset-lie"), timeout=2)
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"charset=gb2312" in r.content
    with pytest.raises(UnicodeDecodeError):
        r.content.decode("utf-8")
    with pytest.raises(UnicodeDecodeError):
        r.content.decode("gb2312")  # the body uses GBK-only characters
    assert CHARSET_LIE_TEXT in r.content.decode("gb18030")


def test_redirect_long(srv, http):
    before = srv.hits_under("/redirect/long/")
    r = http.get(srv.url("/redirect/long/5"), timeout=2)
    assert r.status_code == 200 and len(r.history) == 5
    assert r.history[0].headers["Location"] == "/redirect/long/4"
    assert srv.hits_under("/redirect/long/") - before == 6


def test_redirect_loop(srv, http):
    r = http.get(srv.url("/redirect/loop"), timeout=2, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == "/redirect/loop/2"
    assert http.get(srv.url("/redirect/loop/2"), timeout=2,
                    allow_redirects=False).headers["Location"] == "/redirect/loop"
    http.max_redirects = 10
    with pytest.raises(requests.exceptions.TooManyRedirects):
        http.get(srv.url("/redirect/loop"), timeout=2)


def test_redirect_scheme_fails_fast(srv, http):
    r = http.get(srv.url("/redirect/scheme"), timeout=2, allow_redirects=False)
    assert r.headers["Location"] == f"https://{srv.host}:{srv.port}/ok"
    start = time.monotonic()
    with pytest.raises(requests.exceptions.SSLError):
        http.get(r.headers["Location"], timeout=2)
    assert time.monotonic() - start < 1.0
    assert srv.hits["<bad-request>"] >= 1


def test_redirect_other_host(http):
    with HostileServer() as a, HostileServer("127.0.0.6") as b:
        target = b.url("/ok")
        r = http.get(a.url("/redirect/other-host"), params={"to": target}, timeout=2)
        assert r.status_code == 200 and r.url == target and len(r.history) == 1
        assert b.hits["/ok"] == 1 and a.hits["/redirect/other-host"] == 1
        # It never points a test outside loopback, whatever it is asked.
        for bad in ("http://example.com/", "http://10.0.0.1/", "ftp://127.0.0.1/", ""):
            r = http.get(a.url("/redirect/other-host"), params={"to": bad}, timeout=2, allow_redirects=False)
            assert r.status_code == 400 and "Location" not in r.headers


def test_junk_request_is_dropped(srv):
    conn = socket.create_connection((srv.host, srv.port), timeout=2)
    conn.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    assert read_all(conn) == b""


def test_shutdown_is_fast_and_leaves_no_threads():
    with HostileServer() as server:
        port = server.port
        conns = [raw_request(server, p) for p in ("/trickle", "/no-headers", "/huge-html")]
        assert wait_for(lambda: server.active_connections == 3)
        start = time.monotonic()
    assert time.monotonic() - start < 1.5
    assert not [t for t in threading.enumerate() if t.name.endswith(f"-{port}") and t.is_alive()]
    for c in conns:
        c.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
