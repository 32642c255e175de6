"""The record process: runs the checks, writes the store, and reads pages the crawl lends it.

A crawl on two cores is a two-stage pipeline.  The main process runs Scrapy and does every
request (pages and link targets, through one transport and one politeness gate: see
crawler/transport.py); it also reads most pages (title, soft-404 test, links).  Downstream of
that, this process runs the run's `RunRecorder`: the checks' `on_page` hooks, batched store
writes, and at the end `on_finish`, the verdict and the run's status.  While fewer than
PAGES_LENT pages are out, the main process lends it pages to read as well, and follows the
links it sends back, so whichever process has spare time reads pages.

The main process talks to us through `RemoteRecorder`, which implements the same
`sitecheck.recorder.Recorder` interface as the RunRecorder a one-process crawl uses.  Both
directions carry the same framing (`send_message` / `read_message`): a 4-byte big-endian
length, then a pickle of a tuple of plain values (both ends are this program).

If this process dies, the main process stops the crawl and closes the run as `incomplete`
(what was written so far stays); if the main process dies, we see our stdin close without a
"finish", flush what we have and exit, and the run is marked `incomplete` when the store is
next opened.

    python -m sitecheck.crawler.targets --config SITE.yaml --db STORE --run-id N
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections import deque
from typing import Any, Callable

from sitecheck.model import ELEMENT_BY_VALUE, ELEMENT_VALUE, Element, Link, Page, Reason, Target, TargetKind

from .decode import decode_body, strict_decode

log = logging.getLogger("sitecheck.targets")


_PAGE_FIELDS = ("url", "html", "host_key", "site", "final_url", "status", "depth", "is_homepage", "title",
                "encoding", "content_type", "latency_s", "size", "links", "fetched_at", "decode_problem")


# Messages carry tuples of plain values, not our dataclasses: pickling 50 Link objects costs
# ~180 µs a page, their tuples ~10 µs (measured on the benchmark site's pages).

def page_state(page: Page, content_type: bytes | None = None) -> dict[str, Any]:
    """What a Page is made of, plus views the crawler already computed (not the lxml tree).

    A page lent undecoded (no encoding yet) travels as its bytes and its Content-Type header."""
    state = {name: getattr(page, name) for name in _PAGE_FIELDS}
    if page.body is not None and not page.decode_problem:
        state["html"] = page.body  # decoded on arrival with the same strict codec (crawler/decode.py)
    if not page.encoding:
        state["content_type_header"] = content_type
    state["links"] = [(link.url, link.text, ELEMENT_VALUE[link.element], link.hidden) for link in page.links]
    if "visible_text" in page.__dict__:  # computed for the soft-404 test: do not compute it twice
        state["visible_text"] = page.__dict__["visible_text"]
    if "reading" in page.__dict__:  # the page was read here: the checks' meta tags come from that reading
        state["meta"] = page.__dict__["reading"].meta
    return state


def page_from_state(state: dict[str, Any]) -> Page:
    visible, meta = state.pop("visible_text", None), state.pop("meta", None)
    if not state["encoding"]:  # lent undecoded: decoded here by the rules the crawl uses
        state["html"], state["encoding"], state["decode_problem"] = decode_body(
            state["html"], state["final_url"], state.pop("content_type_header", None))
    elif isinstance(state["html"], bytes):
        state["html"] = strict_decode(state["html"], state["encoding"])
    state["links"] = [Link(url, text, ELEMENT_BY_VALUE[element], hidden)
                      for url, text, element, hidden in state["links"]]
    page = Page(**state)
    if visible is not None:
        page.__dict__["visible_text"] = visible  # functools.cached_property reads the instance dict
    if meta is not None:
        page.__dict__["meta"] = meta
    return page


def target_state(t: Target) -> tuple:
    return (t.url, t.kind.value, t.reason.value, t.status, t.final_url, t.redirects, t.latency_s, t.size,
            t.content_type, t.method, t.error, t.host_key)


def target_from_state(s: tuple) -> Target:
    url, kind, reason, status, final_url, redirects, latency_s, size, content_type, method, error, host_key = s
    return Target(url, TargetKind(kind), Reason(reason), status=status, final_url=final_url, redirects=redirects,
                  latency_s=latency_s, size=size, content_type=content_type, method=method, error=error,
                  host_key=host_key)


def send_message(stream, message: tuple) -> None:
    """Write one message: a 4-byte big-endian length and a pickle (the framing of both directions)."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(4, "big") + data)


def encode_message(message: tuple) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(4, "big") + data


def read_message(stream) -> tuple | None:
    """The next message from a blocking binary stream, or None at its end."""
    head = stream.read(4)
    if len(head) < 4:
        return None
    size = int.from_bytes(head, "big")
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


# --- the main process's side ---------------------------------------------------------------


class RemoteRecorder:
    """The crawl's recorder, living in the second process (sitecheck.recorder.Recorder).

    It also lends the record process pages to read (title, soft-404 test, links: the same
    `crawler.pageparse.read_page`) whenever fewer than PAGES_LENT are out: when the record
    process has spare time it answers quickly and gets more, when it is busy the main process
    reads its pages itself. That keeps both cores busy without a tuned ratio.
    """

    lends_pages = True
    # Pages out at once (docs/performance.md has the measurements behind 32).
    PAGES_LENT = 32

    def __init__(self, store, site, *, clock, run_id: int | None = None):
        self.store, self.site, self.clock = store, site, clock
        self.started = clock()
        if run_id is None:
            run_id = store.start_run(site.key, site.digest, self.started)
            store.hand_over_run()
        self.run_id = run_id
        self.pages = 0
        self.targets = 0
        self.finding_count = 0
        self.summary = None
        self.lost = False
        self._lent: dict[int, Any] = {}  # token -> the spider's context for a page the record process reads
        self._token = 0
        # Lent pages the record process has answered, counted by the reader thread as the answers
        # arrive: the reactor runs _page_read only when the main process's busy loop gets to it,
        # and counting there made the record process look busier than it was.
        self._replies = 0
        # Answers read by the reader thread, run in the reactor thread by one call for all that
        # arrived meanwhile: a call from a thread wakes the busy reactor through its self-pipe,
        # once a batch instead of once a page.
        self._answers: deque[tuple[int, Any]] = deque()
        self._answers_due = False
        self._handlers: dict[str, Callable] = {}
        self._outbox: list[bytes] = []  # framed messages not yet written (see _send)
        self._flush_due = False
        from sitecheck.cmdline import python_module as python_module_argv

        args = [*python_module_argv("sitecheck.crawler.targets"), *site.locator(),
                "--db", store.location.argument, "--run-id", str(self.run_id)]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=os.environ.copy())
        _widen_pipe(self.proc.stdin)
        self._reader = threading.Thread(target=self._read, name="sitecheck-record-reader", daemon=True)
        self._reader.start()

    @property
    def busy(self) -> bool:
        """Pages being read for the crawl."""
        return bool(self._lent)

    def bind(self, *, on_lost: Callable, on_page_read: Callable) -> None:
        """Callbacks run in the reactor thread: the process gone, a lent page read (its context and
        its links, or None for a soft-404)."""
        self._handlers = {"lost": on_lost, "read": on_page_read}

    # --- to the record process ---------------------------------------------------------

    def _send(self, message: tuple) -> None:
        """Queue a message; the queue goes down the pipe once per event-loop turn.

        A turn that reads one page sends ~a dozen messages (the page, its link targets); one
        write for all of them instead of a write and a wake-up of the record process each.
        Outside the event loop (the main thread after the reactor stopped) it goes at once.
        """
        if self.lost:
            return
        # only the reactor thread sends (and the main thread after the reactor stopped)
        self._outbox.append(encode_message(message))
        if self._flush_due:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._flush()
            return
        self._flush_due = True
        loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        if not self._outbox:
            return
        data = b"".join(self._outbox)
        self._outbox.clear()
        if self.lost:
            return
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            self.lost = True  # the reader thread reports it

    def record(self, target: Target, extra: dict, page: Page | None = None, links=None) -> None:
        self.targets += 1
        if page is not None:
            self.pages += 1
        self._send(("record", target_state(target), extra, page_state(page) if page is not None else None, links))

    def has_spare_time(self) -> bool:
        return not self.lost and self._token - self._replies < self.PAGES_LENT

    def read_for_us(self, page: Page, base_url: str, target: Target, extra: dict, context,
                    content_type: bytes | None = None) -> None:
        """Lend a fetched page: the record process reads it, records it and sends its links back.

        A page not decoded yet (empty `encoding`) is decoded there, from its bytes and
        `content_type` (the response's header).  `context` (the spider's Fetch) comes back with
        target, extra and the links to on_page_read.
        """
        self._token += 1
        self._lent[self._token] = (context, target, extra)
        self.targets += 1
        self.pages += 1
        self._send(("read", self._token, base_url, target_state(target), extra, page_state(page, content_type)))

    def _answered(self) -> None:  # in the reactor thread
        self._answers_due = False  # first: an answer read from now on schedules another call
        answers = self._answers
        while answers:
            self._page_read(*answers.popleft())

    def _page_read(self, token: int, links) -> None:  # in the reactor thread
        lent = self._lent.pop(token, None)
        handler = self._handlers.get("read")
        if lent is not None and handler is not None:
            handler(*lent, None if links is None else [(url, "", ELEMENT_BY_VALUE[e]) for url, e in links])

    def record_crawl(self, traps: list[dict], backoffs: list[dict]) -> None:
        self._send(("crawl", traps, backoffs))

    def finish(self, status: str, error: str = "", stats: dict | None = None):
        """Let the record process finish the run (end checks, verdict); its RunSummary."""
        stats = {**(stats or {}), "pages_read_by_record_process": self._token}
        self._send(("finish", status, error, stats))
        self._flush()  # now, even inside the event loop: stdin closes next
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.wait()
        self._reader.join(30)
        if self.summary is not None:
            return self.summary
        return self._close_lost_run(stats)

    def _close_lost_run(self, stats: dict):
        """The record process died: what it wrote stays, the run is closed as incomplete here."""
        from sitecheck.recorder import RunSummary

        error = f"the record process exited unexpectedly (exit status {self.proc.returncode})"
        now = self.clock()
        self.store.finish_run(self.run_id, "incomplete", ended_at=now, error=error, stats=stats)
        summary = RunSummary(self.run_id, "incomplete", self.pages, self.targets,
                             duration_s=(now - self.started).total_seconds())
        for _fid, f in self.store.findings(self.run_id):
            summary.findings_by_severity[f.severity] += 1
            summary.findings_by_code[f.code] += 1
        return summary

    # --- from the record process (reader thread) ---------------------------------------

    def _call(self, name: str, *args) -> None:
        handler = self._handlers.get(name)
        if handler is not None:
            self._in_reactor(handler, *args)

    @staticmethod
    def _in_reactor(function: Callable, *args) -> None:
        from twisted.internet import reactor

        reactor.callFromThread(function, *args)

    def _read(self) -> None:
        stream = self.proc.stdout
        while (message := read_message(stream)) is not None:
            kind = message[0]
            if kind == "findings":
                self.finding_count = message[1]
            elif kind == "read":
                self._replies += 1  # only this thread writes it
                self._answers.append((message[1], message[2]))
                if not self._answers_due:
                    self._answers_due = True
                    self._in_reactor(self._answered)
            elif kind == "summary":
                self.summary = message[1]
        if self.summary is None:
            self.lost = True
            self._call("lost")


def _widen_pipe(pipe, size: int = 1 << 20) -> None:
    """A 64 KiB pipe holds three pages: the crawl would wait on every check. Ask Linux for 1 MiB."""
    import fcntl

    try:
        fcntl.fcntl(pipe.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except OSError:  # not Linux, or above /proc/sys/fs/pipe-max-size: keep the default
        pass


# --- the record process -----------------------------------------------------------------


class RepliedLinks:
    """Which links of lent pages the record process has already sent back.

    The main process follows a URL the first time it sees it and skips it afterwards, so a
    reply can leave out what an earlier reply carried: a portal page repeats most of its links
    (navigation, footer, related articles), and decoding and skipping them was most of what a
    lent page cost the main process.  Bounded: when full it forgets everything, which only
    means some links are sent again and skipped there.
    """

    def __init__(self, limit: int = 50_000):  # ~5 MB of URLs
        self.limit = limit
        self._sent: set[str] = set()

    def new(self, distinct: list[tuple[str, str, Element]]) -> list[tuple[str, str]]:
        """(url, element value) of the page's links not sent back before."""
        if len(self._sent) > self.limit:
            self._sent.clear()
        sent = self._sent
        links = [(url, ELEMENT_VALUE[element]) for url, _text, element in distinct if url not in sent]
        sent.update(url for url, _value in links)
        return links


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sitecheck.crawler.targets", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", help="the site file")
    ap.add_argument("--site", help="or the site's key in --config-dir (an inventory row)")
    ap.add_argument("--config-dir")
    ap.add_argument("--db", required=True)
    ap.add_argument("--run-id", type=int, required=True)
    args = ap.parse_args(argv)
    # The main process decides when the run ends: Ctrl-C or SIGTERM to the process group reach it,
    # and it tells us to finish. We end on "finish" or when our stdin closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")

    from sitecheck.cmdline import site_from_args
    from sitecheck.gcpolicy import tuned_for_crawl
    from sitecheck.recorder import RunRecorder
    from sitecheck.store import Store

    site = site_from_args(args)
    store = Store(args.db)
    recorder = RunRecorder(store, site, run_id=args.run_id)
    try:
        with tuned_for_crawl():
            serve(site, recorder, sys.stdin.buffer, sys.stdout.buffer)
    finally:
        store.close()
    return 0


def serve(site, recorder, inbox, out) -> None:
    """Record what arrives on `inbox` and read the pages lent to us, until "finish" or its end."""
    from .pageparse import PageRules, occurrences, read_page

    rules = PageRules.for_site(site)
    replied = RepliedLinks()
    findings_sent = 0
    finish = None
    while (message := read_message(inbox)) is not None:
        kind = message[0]
        if kind == "record":
            _, target, extra, state, links = message
            recorder.record(target_from_state(target), extra, page_from_state(state) if state else None, links)
        elif kind == "read":
            _, token, base_url, tstate, extra, state = message
            target, page = target_from_state(tstate), page_from_state(state)
            extra["encoding"] = page.encoding  # found here when the page was lent undecoded
            distinct = read_page(page, base_url, rules)
            extra["title"] = page.title
            # The links go back before the checks run: the crawl follows them meanwhile.
            send_message(out, ("read", token, None if distinct is None else replied.new(distinct)))
            out.flush()
            if distinct is None:
                target.reason = Reason.SOFT_404
                recorder.record(target, extra)
            else:
                recorder.record(target, extra, page, occurrences(distinct, page.url, page.is_homepage))
        elif kind == "crawl":
            recorder.record_crawl(message[1], message[2])
        elif kind == "finish":
            finish = message
            break
        if recorder.finding_count != findings_sent:  # for the main process's progress line
            findings_sent = recorder.finding_count
            send_message(out, ("findings", findings_sent))
            out.flush()
    if finish is None:
        # The main process is gone: keep what we have; the run is marked incomplete when the
        # store is next opened. The scratch file only serves the end of a run: remove it.
        recorder.flush()
        recorder.store.drop_run_scratch()
        return
    _, status, error, stats = finish
    summary = recorder.finish(status, error, stats)
    send_message(out, ("summary", summary))
    out.flush()


if __name__ == "__main__":
    from sitecheck.gcpolicy import exit_without_cleanup

    # The run is recorded, the store closed and the summary sent; the main process waits for our
    # exit, so we do not spend time freeing objects first (docs/performance.md).
    exit_without_cleanup(main())
