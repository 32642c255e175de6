"""What the crawl process sends the record process rebuilds the same Page and Target (crawler/targets.py)."""

from __future__ import annotations

import pickle
from datetime import datetime, timezone

import pytest

from sitecheck.crawler.decode import decode_page
from sitecheck.crawler.targets import page_from_state, page_state, target_from_state, target_state
from sitecheck.model import Element, Link, Page, Reason, Target, TargetKind


def _page(body: bytes, encoding: str) -> Page:
    html, enc, problem = decode_page(body, encoding, lambda: body.decode(encoding, "replace"))
    page = Page(url="http://a.gov.cn/", html=html, host_key="p", encoding=enc, decode_problem=problem,
                fetched_at=datetime(2026, 11, 27, tzinfo=timezone.utc), body=body if not problem else None,
                links=[Link("http://a.gov.cn/x", "通知", Element.A, False), Link("http://b/", "", Element.IMG, True)])
    page.visible_text  # noqa: B018 - computed by the crawler for the soft-404 test, sent along
    return page


@pytest.mark.parametrize("body,encoding", [
    ('<html><head><meta name="SiteIDCode" content=" 6200000001 "><title>甘肃</title></head>'
     '<body>工业和信息化厅</body></html>'.encode("utf-8"), "utf-8"),
    ("\ufeff<html><body>带 BOM</body></html>".encode("utf-8"), "utf-8"),
    ("<html><body>国标编码</body></html>".encode("gb18030"), "gb18030"),
    (b"<html><body>\xff\xfe broken \xe4\xb8</body></html>", "utf-8"),  # invalid: the text travels, not bytes
])
def test_page_round_trip(body, encoding):
    page = _page(body, encoding)
    state = pickle.loads(pickle.dumps(page_state(page)))
    assert isinstance(state["html"], bytes) == (not page.decode_problem)
    back = page_from_state(state)
    for name in ("url", "html", "host_key", "encoding", "decode_problem", "fetched_at", "links"):
        assert getattr(back, name) == getattr(page, name), name
    assert back.__dict__["visible_text"] == page.visible_text  # not recomputed
    assert back.__dict__["meta"] == page.meta  # nor the meta tags
    assert back.tree is not None and back.body is None


@pytest.mark.parametrize("body,content_type", [
    ("<html><title>甘肃</title><body>工业和信息化厅</body></html>".encode("utf-8"), b"text/html; charset=utf-8"),
    ("<html><body>国标编码：工信厅</body></html>".encode("gbk"), b"text/html; charset=GBK"),
    # the header says UTF-8, the bytes are GBK and the <meta> says so: decoded by the <meta>, reported
    ('<html><head><meta charset="gb2312"></head><body>国标编码：工信厅</body></html>'.encode("gbk"),
     b"text/html; charset=utf-8"),
    ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk"></head>'
     '<body>无头部字符集</body></html>'.encode("gbk"), b"text/html"),  # no charset in the header
    ("\ufeff<html><body>带 BOM</body></html>".encode("utf-8"), None),  # no header at all
    (b"<html><body>\xff\xfe broken \xe4\xb8</body></html>", b"text/html; charset=utf-8"),  # invalid bytes
])
def test_a_page_lent_undecoded_is_decoded_as_the_crawl_decodes_it(body, content_type):
    """The crawl lends pages as their bytes and Content-Type header; the record process must find
    the same text, encoding and problem as decoding the Scrapy response where it was fetched."""
    from scrapy.http import HtmlResponse

    url = "http://a.gov.cn/p.html"
    response = HtmlResponse(url, body=body, headers={"Content-Type": content_type} if content_type else None)
    expected = decode_page(body, response.encoding, lambda: response.text)
    lent = Page(url=url, html="", host_key="p", encoding="", body=body,
                fetched_at=datetime(2026, 12, 7, tzinfo=timezone.utc))
    state = pickle.loads(pickle.dumps(page_state(lent, content_type)))
    assert state["html"] == body  # the bytes travel, not a text decoded twice
    back = page_from_state(state)
    assert (back.html, back.encoding, back.decode_problem) == expected
    assert "<body>" in back.html  # decoded, not left empty
    assert back.decode_problem.startswith("mismatch") == (content_type == b"text/html; charset=utf-8"
                                                          and b"gb2312" in body)


_TEXTS = ["工业和信息化厅 通知公告", "plain ascii only", "Grüße aus Lanzhou"]
_BODY_ENCODINGS = ["utf-8", "gbk", "latin-1"]
_METAS = ["", '<meta charset="{}">', '<meta http-equiv="Content-Type" content="text/html; charset={}">']
_LABELS = ["utf-8", "gb2312", "GBK", "iso-8859-1", "x-no-such-label"]
_HEADERS = [None, b"text/html", b"text/html; charset=utf-8", b"text/html; charset=GBK", b"text/html;charset=x-bogus"]


def _encoding_cases():
    for text in _TEXTS:
        for body_encoding in _BODY_ENCODINGS:
            for meta in _METAS:
                for label in (_LABELS if meta else [""]):
                    for bom in (b"", b"\xef\xbb\xbf"):
                        html = f"<html><head>{meta.format(label)}</head><body><p>{text}</p></body></html>"
                        try:
                            body = html.encode(body_encoding)
                        except UnicodeEncodeError:
                            continue
                        for header in _HEADERS:
                            yield bom + body, header


def test_pages_find_the_encoding_scrapys_text_response_finds():
    """decode_body (both crawl processes decode with it) reads the declared encoding with w3lib, as
    TextResponse does, without building a response: on every combination of BOM, header charset, <meta> charset (known, unknown) and the
    bytes' real encoding it must give what decoding Scrapy's response gives.  A Scrapy release that
    reads encodings otherwise fails here."""
    from scrapy.http import TextResponse

    from sitecheck.crawler.decode import decode_body

    cases = 0
    for body, header in _encoding_cases():
        response = TextResponse("http://a.gov.cn/p.html", body=body,
                                headers={"Content-Type": header} if header else None)
        expected = decode_page(body, response.encoding, lambda r=response: r.text)
        assert decode_body(body, "http://a.gov.cn/p.html", header) == expected, (body[:80], header)
        cases += 1
    assert cases > 400


def test_decoding_never_raises():
    """Whatever goes wrong decoding a page gives an empty page that says so, not a stopped crawl.
    A server can name a codec that is no text encoding at all: w3lib resolves it, and decoding with
    it raises zlib's own error."""
    from sitecheck.crawler.decode import decode_body

    assert decode_body(b"<p>x</p>", "http://a.gov.cn/", b"text/html; charset=zlib") == (
        "", "utf-8", "invalid: the body could not be decoded")


def test_target_round_trip():
    t = Target("http://a/x.pdf", TargetKind.ATTACHMENT, Reason.NOT_FOUND, status=404, final_url="http://a/y.pdf",
               redirects=["http://a/x.pdf"], latency_s=0.2, size=12, content_type="text/html", method="GET",
               error="", host_key="p")
    assert target_from_state(pickle.loads(pickle.dumps(target_state(t)))) == t


def test_a_lent_page_found_soft_404_marks_its_redirect_hops_too(tmp_path):
    """Read here or lent to the record process, a soft-404 page gives its redirect hops the same reason."""
    from sitecheck.config import load_site
    from sitecheck.crawler.spider import Fetch, SiteSpider

    site_file = tmp_path / "s.yaml"
    site_file.write_text("site: s\nname: 测试\nhosts:\n  - {key: p, name: 门户, url: 'http://127.0.0.1:1/'}\n",
                         encoding="utf-8")

    class Recorded:  # the RunRecorder interface the spider calls
        def __init__(self):
            self.rows = []

        def record(self, target, extra, page=None, links=()):
            self.rows.append(target)

    recorder = Recorded()
    spider = SiteSpider(load_site(site_file), recorder=recorder)
    fetch = Fetch("http://127.0.0.1:1/old", TargetKind.PAGE, "p", claimed=["http://127.0.0.1:1/new"])
    target = Target("http://127.0.0.1:1/old", TargetKind.PAGE, Reason.OK, status=200, host_key="p")
    spider._page_read(fetch, target, {"depth": 0}, None)
    assert target.reason == Reason.SOFT_404
    assert [(t.url, t.reason) for t in recorder.rows] == [("http://127.0.0.1:1/new", Reason.SOFT_404)]


def test_replies_carry_only_links_not_sent_back_before():
    """A lent page's reply leaves out links an earlier reply carried; the main process already follows them."""
    from sitecheck.crawler.targets import RepliedLinks

    replied = RepliedLinks(limit=3)
    nav = [("http://a/", "首页", Element.A), ("http://a/logo.png", "", Element.IMG)]
    assert replied.new(nav + [("http://a/1.html", "一", Element.A)]) == [
        ("http://a/", "a"), ("http://a/logo.png", "img"), ("http://a/1.html", "a")]
    assert replied.new(nav + [("http://a/2.html", "二", Element.A)]) == [("http://a/2.html", "a")]
    # Full (4 > 3): it forgets, and sends everything of the next page again, which is safe.
    assert replied.new(nav) == [("http://a/", "a"), ("http://a/logo.png", "img")]


def test_a_lost_record_process_closes_the_run_incomplete_with_its_counts(tmp_path):
    """The record process died (its output ended with no summary): the run is closed here, as
    incomplete, with what the main process had sent."""
    import io
    import types
    from datetime import timedelta

    from sitecheck.crawler.targets import RemoteRecorder, encode_message
    from sitecheck.store import Store

    t0 = datetime(2026, 11, 27, tzinfo=timezone.utc)
    with Store(tmp_path / "s.sqlite3") as store:
        recorder = object.__new__(RemoteRecorder)  # its state, without starting a process
        recorder.store, recorder.clock, recorder.started = store, lambda: t0 + timedelta(seconds=3), t0
        recorder.run_id = store.start_run("demo", "d", t0)
        recorder.pages, recorder.targets, recorder.finding_count = 2, 3, 0
        recorder.summary, recorder.lost, recorder._handlers, recorder._lent = None, False, {}, {}
        recorder.proc = types.SimpleNamespace(stdout=io.BytesIO(encode_message(("findings", 4))), returncode=-9)
        recorder._read()
        assert recorder.lost and recorder.finding_count == 4
        summary = recorder._close_lost_run({})
        assert (summary.status, summary.pages, summary.targets) == ("incomplete", 2, 3)
        assert store.run(recorder.run_id).status == "incomplete"


def test_lending_sees_answers_before_the_reactor_handles_them():
    """The main process lends a page only while fewer than PAGES_LENT are out.  An answer counts
    as soon as the reader thread reads it: the busy reactor may take a while to run its
    callback, and until then the record process would look busy while it idles."""
    import os
    import threading
    import time
    import types
    from collections import deque

    from sitecheck.crawler.targets import RemoteRecorder, encode_message

    recorder = object.__new__(RemoteRecorder)  # its state, without starting a process
    recorder.lost, recorder.summary = False, None
    handled = []
    recorder._handlers = {"read": lambda context, target, extra, links: handled.append((context, links))}
    recorder._answers, recorder._answers_due = deque(), False
    recorder._lent = {token: (f"context {token}", "target", {}) for token in range(1, RemoteRecorder.PAGES_LENT + 1)}
    recorder._token, recorder._replies = RemoteRecorder.PAGES_LENT, 0
    assert not recorder.has_spare_time()

    queued = []  # the reactor's calls, not run: the reactor is busy
    recorder._in_reactor = lambda function, *args: queued.append((function, args))
    read_end, write_end = os.pipe()
    with open(read_end, "rb") as stdout, open(write_end, "wb", buffering=0) as record_process:
        recorder.proc = types.SimpleNamespace(stdout=stdout, returncode=None)
        reader = threading.Thread(target=recorder._read, daemon=True)  # as RemoteRecorder starts it
        reader.start()
        for token in (1, 2):
            record_process.write(encode_message(("read", token, [("http://a.test/x", "a")])))
        deadline = time.monotonic() + 10
        while len(recorder._answers) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)

        assert recorder.has_spare_time()  # two answers are in, though no callback has run
        assert len(recorder._lent) == RemoteRecorder.PAGES_LENT  # the spider has not been told yet
        # One call into the busy reactor for both answers, which it hands to the spider in order.
        assert [f.__name__ for f, _args in queued] == ["_answered"]
        recorder._token += 2  # two more lent: the record process is full again
        assert not recorder.has_spare_time()
        function, args = queued.pop()
        function(*args)
        assert handled == [("context 1", [("http://a.test/x", "", Element.A)]),
                           ("context 2", [("http://a.test/x", "", Element.A)])]
        assert len(recorder._lent) == RemoteRecorder.PAGES_LENT - 2
        # An answer after that call asks for another one.
        record_process.write(encode_message(("read", 3, None)))
        deadline = time.monotonic() + 10
        while not queued and time.monotonic() < deadline:
            time.sleep(0.01)
        function, args = queued.pop()
        function(*args)
        assert handled[-1] == ("context 3", None)
    reader.join(10)


def test_messages_are_one_framing_both_ways():
    """Both directions carry the same frames: a length and a pickle of plain values."""
    import io

    from sitecheck.crawler.targets import encode_message, read_message, send_message

    stream = io.BytesIO()
    send_message(stream, ("record", ("http://a/", "page"), {"depth": 1}, None, None))
    stream.write(encode_message(("findings", 3)))
    stream.write(encode_message(("read", 7, None))[:-1])  # a frame cut short: the writer died
    stream.seek(0)
    assert read_message(stream) == ("record", ("http://a/", "page"), {"depth": 1}, None, None)
    assert read_message(stream) == ("findings", 3)
    assert read_message(stream) is None
