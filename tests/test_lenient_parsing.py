"""Odd headers from government servers, as the one transport (libcurl) reads them.

A space before the colon, "X-Powered-By : ASP.NET", libcurl reads as browsers do.  A header line
without a colon is not HTTP: libcurl refuses the response, and the crawl records it as an
`error` whose detail says so, for pages and link targets alike, with no second HTTP client to
second-guess it (one transport: crawler/transport.py).
"""

from __future__ import annotations


import pytest

from .helpers import run_and_export, start_raw_server

pytestmark = pytest.mark.e2e

ODD = b"GarbageLine\r\n"  # a header line without a colon: rejected by libcurl and llhttp, skipped by Twisted


def _reply(odd: bytes, content_type: str = "", body: bytes = b"", status: str = "200 OK") -> bytes:
    """A raw response carrying the header line `odd`."""
    head = f"HTTP/1.1 {status}\r\n" + (f"Content-Type: {content_type}\r\n" if content_type else "")
    return (head.encode() + odd + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body)


def _response(path: bytes) -> bytes:
    if path == b"/":
        body = (b"<html><head><title>odd</title></head><body>" + b"x" * 2000 +
                b"<a href='/b.html'>b</a><img src='/logo.png'><a href='/gone.pdf'>gone</a></body></html>")
        return _reply(ODD, "text/html; charset=utf-8", body)
    if path == b"/b.html":
        return _reply(ODD, "text/html", b"<html><head><title>b</title></head><body>" + b"y" * 2000 + b"</body></html>")
    if path == b"/logo.png":
        return _reply(ODD, "image/png")
    return _reply(ODD, status="404 Not Found")


def _crawl(tmp_path, respond, processes: int) -> tuple[str, dict]:
    """Serve `respond` raw on loopback, crawl it with `processes` processes: (base URL, export)."""
    sock, port, _hits = start_raw_server(respond)
    base = f"http://127.0.0.1:{port}/"
    try:
        run, export = run_and_export(
            tmp_path, f"site: odd\nname: 怪异服务器\nhosts:\n  - {{key: o, name: 门户, url: '{base}'}}\n"
                      f"crawl: {{robots: ignore, processes: {processes}, concurrency_per_host: 4, retries: 0, delay_seconds: 0, "
                      f"progress: off}}\n", "odd")
    finally:
        sock.close()
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    return base, export


@pytest.mark.parametrize("processes", [1, 2])
def test_a_header_line_without_a_colon_is_an_error_that_says_so(tmp_path, processes):
    base, export = _crawl(tmp_path, _response, processes)
    pages = {p["url"]: p for p in export["pages"]}
    assert list(pages) == [base]  # not parsed, so nothing followed
    assert (pages[base]["reason"], pages[base]["status"]) == ("error", None)
    assert "curl error 8" in pages[base]["error"]  # CURLE_WEIRD_SERVER_REPLY: libcurl's own words kept


@pytest.mark.parametrize("processes", [1, 2])
def test_a_space_before_the_colon_is_read_as_browsers_read_it(tmp_path, processes):
    spaced = b"X-Powered-By : ASP.NET\r\n"

    def respond(path: bytes) -> bytes:
        if path == b"/":
            return _reply(spaced, "text/html; charset=utf-8", b"<html><head><title>spaced</title></head><body>"
                          + b"x" * 2000 + b"<img src='/logo.png'></body></html>")
        return _reply(spaced, "image/png")

    base, export = _crawl(tmp_path, respond, processes)
    assert {p["url"]: (p["reason"], p["status"]) for p in export["pages"]} == {
        base: ("ok", 200), base + "logo.png": ("ok", 200)}
