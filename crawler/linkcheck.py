"""Checking one non-page link target (image, attachment, external page) without Scrapy.

Two thirds of a portal's URLs are files and other sites that are checked, never parsed: a
HEAD each (a GET cut at the headers where HEAD is refused).  Scrapy's per-request machinery
would cost several times the request itself, so the spider hands these to this checker, which
runs in the same process and the same event loop and sends through the same transport
(crawler/transport.py: address guard, per-host politeness, credentials, proxies) by the same
rules (crawler/policy.py: redirects, HEAD fallback, retries, reasons).  Only the bookkeeping
differs from a page: no Scrapy request, no body.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sitecheck.model import Reason, Target, TargetKind

from .policy import Done, Follow, Got, Rules, Sent, next_step, resend
from .transport import FetchError, Transport


@dataclass(slots=True)
class Checked:
    target: Target
    claimed: list[str] = field(default_factory=list)  # redirect hops first reached by this check


class LinkChecker:
    def __init__(self, transport: Transport, rules: Rules, normalise: Callable[[str], str | None], timeout_s: float):
        self.transport, self.rules, self.normalise, self.timeout_s = transport, rules, normalise, timeout_s

    async def check(self, url: str, kind: TargetKind, host_key: str | None,
                    claim: Callable[[str], bool]) -> Checked:
        """`claim(url)` marks a redirect hop as seen and says whether it was new: a hop reached
        here is not requested again when a page links to it directly."""
        sent = Sent(url, "HEAD")
        claimed: list[str] = []
        while True:
            started = time.monotonic()
            try:
                reply = await self.transport.send(sent.method, sent.url, timeout=self.timeout_s)
                got = Got(reply.status, reply.headers)
            except FetchError as exc:
                got = Got(failure=exc.reason, detail=exc.detail)
            latency = round(time.monotonic() - started, 4)
            step = next_step(sent, got, self.rules, self.normalise)
            if isinstance(step, Done):
                return Checked(target_for(url, kind, host_key, sent, got, step, latency), claimed)
            if isinstance(step, Follow):
                if not claim(step.url):  # checked on its own account: one request per resource
                    return Checked(target_for(url, kind, host_key, sent, got, landed_elsewhere(step.url), latency),
                                   claimed)
                claimed.append(step.url)
            sent = resend(sent, step)


SAME_AS = "same as "  # the error text of a chain that landed on a URL fetched on its own account


def landed_elsewhere(url: str) -> Done:
    """A redirect chain reached a URL the crawl fetches anyway: it ends here, and its outcome is
    the landing URL's, filled in by the store at the end of the run (Store.resolve_landings)."""
    return Done(Reason.OK, SAME_AS + url, url)


def target_for(url: str, kind: TargetKind, host_key: str | None, sent: Sent, got: Got, done: Done,
               latency_s: float) -> Target:
    """The record of a finished fetch, the same for a page and a link target."""
    headers = got.headers or {}
    ctype = b";".join(headers.get(b"content-type", [b""])).decode("latin-1").split(";")[0].strip()
    length = b"".join(headers.get(b"content-length", [b""]))
    redirects = list(sent.chain)
    final_url = sent.url
    if done.next_url is not None:  # a loop or an over-long chain: the last hop is part of the chain
        redirects.append(sent.url)
        final_url = done.next_url
    return Target(url, kind, done.reason, status=got.status, final_url=final_url, redirects=redirects,
                  latency_s=latency_s, size=int(length) if length.isdigit() else 0, content_type=ctype,
                  method=sent.method, error=done.detail[:500], host_key=host_key)
