"""Per-host politeness, held in one place that every request passes through.

The transport (crawler/transport.py) asks `Politeness.slot(netloc)` before each request to a
host, whatever the request is for: a page the spider crawls, an image, an attachment or an
external link the link checker checks, robots.txt.  So for every host:

* at most `concurrency` requests are in flight;
* request starts are spaced by at least the host's gap: the configured delay (plus a random
  part of up to `jitter` × delay, so the rhythm is not machine-regular), or robots.txt's
  Crawl-delay when it asks for more, or the back-off below, whichever is largest.  The gap runs
  from the moment the previous request actually went on the wire (libcurl says when: the
  transport passes `Slot.sent`), not from the moment it was let through: a new connection's
  set-up takes several turns of a busy event loop, a kept-alive one none, and spacing the
  hand-overs let the server see two arrivals closer than the delay.  Until the previous request
  is sent (or has failed) the next one waits; a hundredth of a second is added on top;
* a Retry-After on 429 or 503 holds every start on that host until it has passed;
* when a host keeps answering with distress (429, 5xx, timeouts, dropped connections) its gap
  doubles, from half a second up to `max_backoff_s`, and shrinks again as answers come back
  healthy — AutoThrottle's idea, for every request rather than only Scrapy's.  Each back-off is
  recorded and reported with the run.

A hanging request holds one slot of its own host and nothing else: hosts do not share slots.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sitecheck.model import Reason

SAFETY_MARGIN_S = 0.01
DISTRESS_STREAK = 3  # answers of distress in a row before a host's gap grows (429 and 503 count at once)
MIN_BACKOFF_S = 0.5
_DISTRESS_FAILURES = frozenset({Reason.TIMEOUT, Reason.RESET, Reason.REFUSED, Reason.TRUNCATED})


@dataclass(slots=True)
class _Host:
    slots: asyncio.Semaphore
    netloc: str = ""
    sending: asyncio.Future | None = None  # a request let through and not yet on the wire
    next_start: float = 0.0  # no request starts before this (monotonic seconds)
    held_until: float = 0.0  # Retry-After
    crawl_delay: float = 0.0  # robots.txt
    backoff: float = 0.0
    streak: int = 0


@dataclass(slots=True)
class Backoff:
    """What a run reports of one host's back-off."""

    netloc: str
    times: int = 0
    longest_gap_s: float = 0.0
    causes: dict[str, int] = field(default_factory=dict)


class Politeness:
    def __init__(self, concurrency: int, delay_s: float, jitter: float = 0.0, *, max_backoff_s: float = 30.0,
                 rng: Callable[[], float] = random.random, clock: Callable[[], float] = time.monotonic):
        self.concurrency = max(1, concurrency)
        self.delay_s = delay_s
        self.jitter = jitter
        self.max_backoff_s = max_backoff_s
        self._rng, self._clock = rng, clock
        self._hosts: dict[str, _Host] = {}
        self.backoffs: dict[str, Backoff] = {}

    def _host(self, netloc: str) -> _Host:
        host = self._hosts.get(netloc)
        if host is None:
            host = self._hosts[netloc] = _Host(asyncio.Semaphore(self.concurrency), netloc)
        return host

    def slot(self, netloc: str) -> "_Slot":
        """`async with politeness.slot(netloc):` around one request to that host."""
        return _Slot(self, netloc)

    def gap_s(self, netloc: str) -> float:
        """The least time between two request starts on this host now (before jitter and margin)."""
        host = self._hosts.get(netloc)
        if host is None:
            return self.delay_s
        return max(self.delay_s, host.crawl_delay, host.backoff)

    async def _acquire(self, netloc: str) -> _Host:
        host = self._host(netloc)
        await host.slots.acquire()
        try:
            while True:
                if host.sending is not None:  # the previous request is not on the wire yet
                    await asyncio.shield(host.sending)
                    continue
                now = self._clock()
                start = max(now, host.next_start, host.held_until)
                if start <= now:
                    break
                await asyncio.sleep(start - now)
            if self.gap_s(netloc) > 0:
                host.sending = asyncio.get_running_loop().create_future()
        except BaseException:  # cancelled while waiting for its turn: give the slot back
            host.slots.release()
            raise
        return host

    def _sent(self, host: _Host) -> None:
        """The request let through last is on the wire (or will never be): the gap starts now."""
        sending, host.sending = host.sending, None
        if sending is None:
            return
        gap = self.gap_s(host.netloc)
        host.next_start = self._clock() + gap * (1 + self.jitter * self._rng()) + SAFETY_MARGIN_S
        if not sending.done():
            sending.set_result(None)

    def _release(self, host: _Host) -> None:
        host.slots.release()

    # --- what answers tell us ---------------------------------------------------------

    def hold(self, netloc: str, seconds: float) -> None:
        """No request starts on this host for `seconds` (a Retry-After)."""
        host = self._host(netloc)
        host.held_until = max(host.held_until, self._clock() + seconds)

    def set_crawl_delay(self, netloc: str, seconds: float) -> None:
        """robots.txt's Crawl-delay for us, when the site file says to obey robots.txt."""
        self._host(netloc).crawl_delay = max(0.0, seconds)

    def observe(self, netloc: str, status: int | None, failure: Reason | None) -> None:
        """An answer (or a failure) came back from this host: adjust its back-off."""
        host = self._host(netloc)
        urgent = status in (429, 503)
        distress = urgent or (status is not None and status >= 500) or failure in _DISTRESS_FAILURES
        if not distress:
            host.streak = 0
            if host.backoff:
                host.backoff = host.backoff / 2 if host.backoff / 2 >= self.delay_s + 0.05 else 0.0
            return
        host.streak += 1
        if urgent or host.streak >= DISTRESS_STREAK:
            host.streak = 0
            host.backoff = min(self.max_backoff_s, max(MIN_BACKOFF_S, self.delay_s, host.backoff * 2))
            record = self.backoffs.get(netloc)
            if record is None:
                record = self.backoffs[netloc] = Backoff(netloc)
            record.times += 1
            record.longest_gap_s = max(record.longest_gap_s, host.backoff)
            cause = str(status) if status is not None else (failure.value if failure else "?")
            record.causes[cause] = record.causes.get(cause, 0) + 1


class _Slot:
    __slots__ = ("politeness", "netloc", "host", "_mine")

    def __init__(self, politeness: Politeness, netloc: str):
        self.politeness, self.netloc = politeness, netloc
        self.host: _Host | None = None
        self._mine: asyncio.Future | None = None

    async def __aenter__(self) -> "_Slot":
        self.host = await self.politeness._acquire(self.netloc)
        self._mine = self.host.sending
        return self

    @property
    def spaced(self) -> bool:
        """Whether the next request to this host waits for this one to be sent (a delay applies)."""
        return self._mine is not None

    def sent(self) -> None:
        """This slot's request is going on the wire now (the transport hands this to libcurl)."""
        if self._mine is not None and self.host.sending is self._mine:
            self.politeness._sent(self.host)
        self._mine = None

    async def __aexit__(self, *exc) -> None:
        self.sent()  # a request that failed before it was sent still opens the gap
        self.politeness._release(self.host)
