"""The fetch policy as a table: every path that fetches (pages, link checks, probes) makes these decisions.

No network: each row is (what was sent, what came back) -> the next step.  A last group of
tests plays whole fetches against a scripted server of answers and counts the requests, so
retry counts are exact.
"""

from __future__ import annotations

import pytest

from sitecheck.crawler.policy import (AsGet, Done, Follow, Got, Retry, Rules, Sent, next_step, retry_after_s,
                                      wants_body)
from sitecheck.crawler.urls import normalize
from sitecheck.model import Reason, TargetKind

RULES = Rules(retries=1, max_redirects=3, max_retry_after_s=30)


def norm(url: str) -> str | None:
    return normalize(url, frozenset({"jsessionid"}))


def h(**fields: str) -> dict[bytes, list[bytes]]:
    return {k.replace("_", "-").encode(): [v.encode()] for k, v in fields.items()}


A = "http://a.gov.cn/x"

TABLE = [
    # --- answers that end the fetch ----------------------------------------------------------
    ("200 GET", Sent(A, "GET"), Got(200, {}), Done(Reason.OK)),
    ("404", Sent(A, "GET"), Got(404, {}), Done(Reason.NOT_FOUND)),
    ("410", Sent(A, "HEAD"), Got(410, {}), Done(Reason.NOT_FOUND)),
    ("500 GET is not retried", Sent(A, "GET"), Got(500, {}), Done(Reason.SERVER_ERROR)),
    ("429 without Retry-After", Sent(A, "GET"), Got(429, {}), Done(Reason.RATE_LIMITED)),
    ("plain 403 GET", Sent(A, "GET"), Got(403, {}), Done(Reason.HTTP_STATUS)),
    ("a WAF's 403 page", Sent(A, "GET"), Got(403, h(server="WAF/2.0")), Done(Reason.BLOCKED)),
    # --- redirects -----------------------------------------------------------------------------
    ("301 relative", Sent(A, "GET"), Got(301, h(location="/y")), Follow("http://a.gov.cn/y")),
    ("302 absolute other host", Sent(A, "HEAD"), Got(302, h(location="https://b.cn/z#f")), Follow("https://b.cn/z")),
    ("303", Sent(A, "GET"), Got(303, h(location="y?jsessionid=1&a=2")), Follow("http://a.gov.cn/y?a=2")),
    ("307 keeps going", Sent(A, "GET"), Got(307, h(location="/q")), Follow("http://a.gov.cn/q")),
    ("308 to a Chinese path", Sent(A, "GET"), Got(308, h(location="/文件.pdf")),
     Follow("http://a.gov.cn/%E6%96%87%E4%BB%B6.pdf")),
    ("3xx without Location is an answer", Sent(A, "GET"), Got(304, {}), Done(Reason.OK)),
    ("loop back to the start", Sent("http://a.gov.cn/b", "GET", chain=(A,)), Got(302, h(location=A)),
     Done(Reason.REDIRECT_LOOP, f"HTTP 302 back to {A}", A)),
    ("loop to itself", Sent(A, "GET"), Got(301, h(location="/x")), Done(Reason.REDIRECT_LOOP, f"HTTP 301 back to {A}", A)),
    ("chain longer than the limit", Sent("http://a.gov.cn/4", "GET", chain=("http://a.gov.cn/1", "http://a.gov.cn/2",
                                                                            "http://a.gov.cn/3")),
     Got(302, h(location="/5")), Done(Reason.TOO_MANY_REDIRECTS, "more than 3 redirects", "http://a.gov.cn/5")),
    ("chain at the limit still follows", Sent("http://a.gov.cn/3", "GET", chain=("http://a.gov.cn/1", "http://a.gov.cn/2")),
     Got(302, h(location="/4")), Follow("http://a.gov.cn/4")),
    ("unusable Location", Sent(A, "GET"), Got(302, h(location="ftp://a.gov.cn/file")),
     Done(Reason.ERROR, "unusable Location header: 'ftp://a.gov.cn/file'")),
    # --- a hop the address guard refuses ends the fetch with its reason -------------------------------
    ("guard refuses a hop", Sent("http://10.0.0.1/", "GET", chain=(A,)),
     Got(failure=Reason.PRIVATE_ADDRESS, detail="not checked: private address"),
     Done(Reason.PRIVATE_ADDRESS, "not checked: private address")),
    # --- HEAD refused: one GET cut at the headers ---------------------------------------------------
    ("HEAD 405", Sent(A, "HEAD"), Got(405, {}), AsGet()),
    ("HEAD 501", Sent(A, "HEAD"), Got(501, {}), AsGet()),
    ("HEAD 403", Sent(A, "HEAD"), Got(403, {}), AsGet()),
    ("HEAD 400", Sent(A, "HEAD"), Got(400, {}), AsGet()),
    ("HEAD reset", Sent(A, "HEAD"), Got(failure=Reason.RESET), AsGet()),
    ("HEAD truncated", Sent(A, "HEAD"), Got(failure=Reason.TRUNCATED), AsGet()),
    ("HEAD unreadable reply", Sent(A, "HEAD"), Got(failure=Reason.ERROR), AsGet()),
    ("HEAD 404 is believed", Sent(A, "HEAD"), Got(404, {}), Done(Reason.NOT_FOUND)),
    ("GET 405 is the answer", Sent(A, "GET"), Got(405, {}), Done(Reason.HTTP_STATUS)),
    ("HEAD timeout is not asked again", Sent(A, "HEAD"), Got(failure=Reason.TIMEOUT, detail="t"), Done(Reason.TIMEOUT, "t")),
    # --- retries --------------------------------------------------------------------------------------
    ("GET reset, first try", Sent(A, "GET"), Got(failure=Reason.RESET), Retry()),
    ("GET reset, last try", Sent(A, "GET", attempt=2), Got(failure=Reason.RESET, detail="r"), Done(Reason.RESET, "r")),
    ("truncated body is retried", Sent(A, "GET"), Got(failure=Reason.TRUNCATED), Retry()),
    ("truncated body, last try", Sent(A, "GET", attempt=2), Got(failure=Reason.TRUNCATED, detail="18"),
     Done(Reason.TRUNCATED, "18")),
    ("refused is retried", Sent(A, "HEAD"), Got(failure=Reason.REFUSED), Retry()),
    ("timeout never is", Sent(A, "GET"), Got(failure=Reason.TIMEOUT, detail="t"), Done(Reason.TIMEOUT, "t")),
    ("dns never is", Sent(A, "GET"), Got(failure=Reason.DNS, detail="d"), Done(Reason.DNS, "d")),
    ("tls never is", Sent(A, "GET"), Got(failure=Reason.TLS, detail="c"), Done(Reason.TLS, "c")),
    ("too large never is", Sent(A, "GET"), Got(failure=Reason.TOO_LARGE, detail="m"), Done(Reason.TOO_LARGE, "m")),
    ("502", Sent(A, "GET"), Got(502, {}), Retry()),
    ("504", Sent(A, "GET"), Got(504, {}), Retry()),
    ("504, last try", Sent(A, "GET", attempt=2), Got(504, {}), Done(Reason.SERVER_ERROR)),
    ("503 without Retry-After", Sent(A, "GET"), Got(503, {}), Retry()),
    ("503 Retry-After 5", Sent(A, "GET"), Got(503, h(retry_after="5")), Retry(5.0)),
    ("429 Retry-After 2", Sent(A, "HEAD"), Got(429, h(retry_after="2")), Retry(2.0)),
    ("429 Retry-After longer than we wait", Sent(A, "GET"), Got(429, h(retry_after="3600")),
     Done(Reason.RATE_LIMITED, "Retry-After 3600 s")),
    ("429 Retry-After, last try", Sent(A, "GET", attempt=2), Got(429, h(retry_after="2")),
     Done(Reason.RATE_LIMITED, "Retry-After 2 s")),
]


@pytest.mark.parametrize("sent,got,expected", [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_next_step(sent, got, expected):
    assert next_step(sent, got, RULES, norm) == expected


def test_no_retries_configured():
    rules = Rules(retries=0)
    assert next_step(Sent(A, "GET"), Got(failure=Reason.RESET, detail="r"), rules, norm) == Done(Reason.RESET, "r")
    assert next_step(Sent(A, "GET"), Got(503, {}), rules, norm) == Done(Reason.SERVER_ERROR)


def test_retry_after_forms():
    assert retry_after_s(h(retry_after="120")) == 120.0
    assert retry_after_s(h(retry_after="Wed, 21 Oct 2015 07:28:30 GMT"), now=1445412500.0) == 10.0
    assert retry_after_s(h(retry_after="Wed, 21 Oct 2015 07:28:00 GMT"), now=1445412500.0) == 0.0  # past
    assert retry_after_s(h(retry_after="soon")) is None
    assert retry_after_s({}) is None


@pytest.mark.parametrize("kind,headers_only,headers,wanted", [
    (TargetKind.PAGE, False, h(content_type="text/html; charset=gbk"), True),
    (TargetKind.PAGE, False, {}, True),  # no type said: read it and see
    (TargetKind.PAGE, False, h(content_type="application/pdf"), False),  # linked like a page, a file
    (TargetKind.PAGE, True, h(content_type="text/html"), False),  # a GET standing in for HEAD
    (TargetKind.ATTACHMENT, False, h(content_type="text/html"), False),
    (TargetKind.PAGE, False, h(content_type="application/pdf", location="/x"), True),  # a redirect's small body
])
def test_wants_body(kind, headers_only, headers, wanted):
    assert wants_body(kind, headers_only, headers) is wanted


# --- whole fetches against scripted answers: exact request counts ---------------------------------


def play(answers: dict[tuple[str, str], list[Got]], url: str = A, method: str = "HEAD",
         rules: Rules = RULES) -> tuple[Done, list[tuple[str, str]]]:
    """Drive next_step the way every fetch path does; (the end, the requests sent)."""
    sent, asked = Sent(url, method), []
    while True:
        asked.append((sent.method, sent.url))
        queue = answers[(sent.method, sent.url)]
        got = queue.pop(0) if len(queue) > 1 else queue[0]
        step = next_step(sent, got, rules, norm)
        if isinstance(step, Follow):
            sent = Sent(step.url, sent.method, 1, (*sent.chain, sent.url))
        elif isinstance(step, Retry):
            sent = Sent(sent.url, sent.method, sent.attempt + 1, sent.chain)
        elif isinstance(step, AsGet):
            sent = Sent(sent.url, "GET", 1, sent.chain)
        else:
            return step, asked


def test_a_page_that_always_resets_costs_one_try_and_one_retry():
    done, asked = play({("GET", A): [Got(failure=Reason.RESET)]}, method="GET")
    assert done.reason == Reason.RESET and asked == [("GET", A), ("GET", A)]


def test_a_target_that_always_resets_costs_a_head_and_two_gets():
    done, asked = play({("HEAD", A): [Got(failure=Reason.RESET)], ("GET", A): [Got(failure=Reason.RESET)]})
    assert done.reason == Reason.RESET and asked == [("HEAD", A), ("GET", A), ("GET", A)]


def test_head_refused_then_a_redirect_then_ok():
    b = "http://a.gov.cn/b"
    done, asked = play({("HEAD", A): [Got(405, {})], ("GET", A): [Got(302, h(location="/b"))],
                        ("GET", b): [Got(200, {})]})
    assert done.reason == Reason.OK and asked == [("HEAD", A), ("GET", A), ("GET", b)]


def test_retries_with_zero_configured_send_once():
    done, asked = play({("GET", A): [Got(502, {})]}, method="GET", rules=Rules(retries=0))
    assert done.reason == Reason.SERVER_ERROR and asked == [("GET", A)]


def test_a_redirect_loop_of_two_ends_after_two_requests():
    b = "http://a.gov.cn/b"
    done, asked = play({("GET", A): [Got(302, h(location="/b"))], ("GET", b): [Got(302, h(location="/x"))]},
                       method="GET")
    assert done.reason == Reason.REDIRECT_LOOP and asked == [("GET", A), ("GET", b)]
