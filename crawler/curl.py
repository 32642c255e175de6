"""HTTP requests on libcurl (pycurl), driven by the asyncio event loop.

Every request sitecheck sends to a monitored site goes through libcurl: pages and link targets
(crawler/transport.py) and availability probes (sitecheck/probe/probe.py).  The request is
built, sent and parsed in C, and Python sees only the finished transfer (what that costs per
request: docs/performance.md).  libcurl is the most widely deployed HTTP client there is;
pycurl has wrapped it since 2001.

libcurl's multi interface tells us which sockets to watch and when its next
timeout is due (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION); the sockets go into an
epoll set of our own (Linux, where sitecheck runs), which the event loop watches as one reader, the deadline
into a loop timer, and libcurl acts when they fire, so thousands of transfers
share the loop with the rest of the process.

What the crawl's rules need, and how libcurl is held to them:

* it connects only where we say: every request carries the addresses the
  address guard vetted (CURLOPT_RESOLVE), so libcurl never resolves a checked
  name on its own, and a socket callback refuses any other address;
* http and https only, no redirects followed (the caller checks every hop),
  no proxy from the environment unless the caller passes it, no decompression,
  HTTP/1.1 as the spider speaks it; certificates are not verified (the probe
  reports them);
* a request can stop at the headers: a GET to a server that refuses HEAD
  reads no body.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import ipaddress
import re
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pycurl

from sitecheck import netguard
from sitecheck.model import Reason

# Characters a URL may carry as they are; anything else goes through w3lib's safe_url_string first,
# as Scrapy does for the spider's requests (non-ASCII paths, spaces, IDNA hosts).
_UNSAFE_URL = re.compile(r"[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]")

_TLS_CODES = frozenset({
    pycurl.E_SSL_CONNECT_ERROR, pycurl.E_PEER_FAILED_VERIFICATION, pycurl.E_SSL_CERTPROBLEM,
    pycurl.E_SSL_CIPHER, pycurl.E_SSL_ENGINE_NOTFOUND, pycurl.E_SSL_ENGINE_SETFAILED,
    pycurl.E_SSL_CACERT_BADFILE, pycurl.E_SSL_SHUTDOWN_FAILED, pycurl.E_SSL_CRL_BADFILE,
    pycurl.E_SSL_ISSUER_ERROR, getattr(pycurl, "E_SSL_PINNEDPUBKEYNOTMATCH", 90),
    getattr(pycurl, "E_SSL_INVALIDCERTSTATUS", 91), getattr(pycurl, "E_SSL_CACERT", 60)})
_RESET_CODES = frozenset({pycurl.E_GOT_NOTHING, pycurl.E_SEND_ERROR, pycurl.E_RECV_ERROR})


class CurlError(Exception):
    """A transfer that ended without a response: libcurl's error code, its message, the OS errno."""

    def __init__(self, code: int, message: str, os_errno: int = 0):
        super().__init__(f"curl error {code}: {message}")
        self.code, self.message, self.os_errno = code, message, os_errno

    @property
    def reason(self) -> Reason:
        """The outcome the crawl records, as crawler/classify.py names it for the other clients' errors.

        Reason.ERROR means none of the others: a reply libcurl could not read as HTTP, say.
        """
        code = self.code
        if code in (pycurl.E_COULDNT_RESOLVE_HOST, pycurl.E_COULDNT_RESOLVE_PROXY):
            return Reason.DNS
        if code == pycurl.E_OPERATION_TIMEDOUT:
            return Reason.TIMEOUT
        if code in _TLS_CODES:
            return Reason.TLS
        if code == pycurl.E_COULDNT_CONNECT and self.os_errno == errno.ECONNREFUSED:
            return Reason.REFUSED
        if code in _RESET_CODES:
            return Reason.RESET
        if code == pycurl.E_PARTIAL_FILE:  # closed before the Content-Length it announced
            return Reason.TRUNCATED
        if code == pycurl.E_FILESIZE_EXCEEDED:
            return Reason.TOO_LARGE
        return Reason.ERROR


@dataclass(slots=True)
class CurlReply:
    status: int
    headers: dict[bytes, list[bytes]]  # names lower-cased; the last response's, after any 1xx
    body: bytes = b""
    url: str = ""  # as sent on the wire
    stopped: bool = False  # the body was wanted, and `stop` said no once the headers were in
    first_byte_s: float = 0.0  # from the start of the transfer to the response's first byte


@dataclass(slots=True, eq=False)
class Transfer:
    """One request's state, filled in by libcurl's callbacks."""

    future: asyncio.Future
    allowed: frozenset[str]  # the addresses this transfer may connect to; empty: any (a proxy, an IP literal)
    want_body: bool = False
    max_body: int = 0
    stop: Callable[[dict[bytes, list[bytes]]], bool] | None = None  # asked once, at the first body byte
    on_send: Callable[[], None] | None = None  # told once, when the request is about to go on the wire
    prereq_set: bool = False  # PREREQFUNCTION was set for this transfer (and is reset with the handle)
    lines: list[bytes] = field(default_factory=list)  # the raw header lines, parsed once at the end
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    stopped_at_headers: bool = False
    too_large: bool = False
    refused: str = ""
    first_byte_s: float = 0.0
    _parsed: tuple[int, dict[bytes, list[bytes]] | None] = (-1, None)  # (lines parsed, their headers)

    def headers(self) -> dict[bytes, list[bytes]]:
        """The last response's headers (after a 100 Continue, say), names lower-cased.

        Asked at the first body byte (the `stop` question) and again at the end: parsed once."""
        if self._parsed[0] == len(self.lines):
            return self._parsed[1]
        headers: dict[bytes, list[bytes]] = {}
        for line in self.lines:
            if line.startswith(b"HTTP/"):  # a status line (its reason phrase may hold a colon)
                headers = {}
                continue
            name, sep, value = line.partition(b":")
            if sep and name and name[:1] not in b" \t":  # not the blank line, not a folded continuation
                headers.setdefault(name.strip().lower(), []).append(value.strip())
        self._parsed = (len(self.lines), headers)
        return headers

    def body_chunk(self, chunk: bytes):
        if self.stop is not None:
            stop, self.stop = self.stop, None
            if stop(self.headers()):
                self.want_body = False
        if not self.want_body:
            self.stopped_at_headers = True
            return 0  # not len(chunk): libcurl stops the transfer (CURLE_WRITE_ERROR), drops the connection
        self.size += len(chunk)
        if self.max_body and self.size > self.max_body:
            self.too_large = True
            return 0
        self.chunks.append(chunk)
        return None

    def prereq(self, *_connection) -> int:
        """libcurl's PREREQFUNCTION: the connection is up and the request goes out now."""
        if self.on_send is not None:
            on_send, self.on_send = self.on_send, None
            on_send()
        return pycurl.PREREQFUNC_OK

    def open_socket(self, purpose, address):
        """Every connection libcurl opens goes to an address this transfer may use."""
        family, socktype, protocol, sockaddr = address
        if self.allowed and sockaddr[0] not in self.allowed:
            self.refused = f"libcurl wanted to connect to {sockaddr[0]}, which the address guard did not vet"
            return pycurl.SOCKET_BAD  # no connection: the transfer fails
        return socket.socket(family, socktype, protocol)  # pycurl keeps a duplicate of the descriptor


def wire_url(url: str) -> str:
    """The URL as it goes on the wire: percent-encoded and IDNA, as Scrapy sends it."""
    if _UNSAFE_URL.search(url) is None:
        return url
    from w3lib.url import safe_url_string

    return safe_url_string(url)


def resolve_entry(host: str, port: int, addresses: list[str]) -> str:
    """A CURLOPT_RESOLVE line: connections to host:port go to these addresses only."""
    listed = ",".join(f"[{a}]" if ":" in a else a for a in addresses)
    return f"{host}:{port}:{listed}"


@functools.lru_cache(maxsize=4096)  # asked for every request: an address parses in 1.8 µs, a name fails in 4 µs
def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


class AddressBook:
    """Where a connection for a URL goes, for CURLOPT_RESOLVE: the addresses the address guard
    pinned when it checked the host, else (configured hosts, which are not checked) the run's
    cached lookup, asked in a worker thread and remembered for `remember_s`; None for an IP literal."""

    def __init__(self, resolver: netguard.CachingResolver, pins: netguard.AddressPins = netguard.PINS,
                 remember_s: float = 30.0):
        self.resolver, self.pins, self.remember_s = resolver, pins, remember_s
        self._known: dict[str, tuple[float, list[str]]] = {}

    async def addresses(self, url: str) -> list[str] | None:
        """Raises netguard.ResolutionError (no address) or ValueError (no usable URL)."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if is_ip_literal(host):
            return None
        pinned = self.pins.get(host)
        if pinned:
            return pinned
        now = time.monotonic()
        known = self._known.get(host)
        if known is not None and known[0] > now:
            return known[1]
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = await asyncio.get_running_loop().run_in_executor(
            None, netguard.connect_addresses, host, port, self.resolver, self.pins)
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[host] = (now + self.remember_s, addresses)
        return addresses


class CurlSession:
    """Concurrent HTTP/1.1 requests on one libcurl multi handle (connections are kept and reused)."""

    def __init__(self, user_agent: str = ""):
        self._loop = asyncio.get_running_loop()
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._user_agent = user_agent
        self._idle: list[pycurl.Curl] = []  # easy handles to reuse: setting one up costs more than reusing
        self._transfers: dict[pycurl.Curl, Transfer] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0
        self._kick: asyncio.Handle | None = None  # libcurl asked to act at once (a transfer was added)
        # libcurl's sockets are watched by an epoll set of our own, which the loop watches as one
        # reader: a socket costs one epoll_ctl where the loop's add_reader/remove_reader cost two
        # and a Python object each, and one wake-up serves every socket that is ready.
        self._poller = select.epoll()
        self._loop.add_reader(self._poller.fileno(), self._ready)
        self._watched: dict[int, int] = {}  # fd -> the epoll mask it is registered with
        # Sockets of kept-alive connections between two transfers: libcurl no longer watches them,
        # but they stay registered, so the next transfer on the connection costs no epoll_ctl to
        # add.  One that turns readable while parked (its server closed it) is dropped then.  A
        # socket libcurl closes leaves the epoll set by itself (the kernel removes a closed file).
        self._parked: set[int] = set()
        self._closed = False

    async def request(self, method: str, url: str, *, headers: list[str], timeout: float,
                      addresses: list[str] | None, proxy: str | None = None, want_body: bool = False,
                      max_body: int = 0, stop: Callable[[dict[bytes, list[bytes]]], bool] | None = None,
                      on_send: Callable[[], None] | None = None) -> CurlReply:
        """One request; raises CurlError when no response came.

        `headers`: "Name: value" lines.  `addresses`: where connections to the URL's host go (None
        for an IP literal, or when a proxy connects for us).  Without `want_body` the transfer stops
        at the headers; with it, `stop(headers)` can still say so once they are in.  `on_send()` is
        called when the request is about to be written to the connection (the politeness gate
        spaces requests by that moment, not by when they were handed over).
        """
        if self._closed:
            raise CurlError(pycurl.E_FAILED_INIT, "the session is closed")
        wire = wire_url(url)
        if method not in ("HEAD", "GET"):
            raise ValueError(f"only HEAD and GET are sent this way, not {method}")
        curl = self._idle.pop() if self._idle else self._new_handle()
        transfer = Transfer(self._loop.create_future(), frozenset(addresses or ()), want_body=want_body,
                             max_body=max_body, stop=stop if want_body else None, on_send=on_send)
        curl.setopt(pycurl.URL, wire)
        if method == "HEAD":
            curl.setopt(pycurl.NOBODY, 1)
        else:
            curl.setopt(pycurl.HTTPGET, 1)  # also clears NOBODY
        curl.setopt(pycurl.HTTPHEADER, headers)
        curl.setopt(pycurl.TIMEOUT_MS, max(1, int(timeout * 1000)))
        curl.setopt(pycurl.PROXY, proxy or "")  # "": no proxy, whatever the environment says
        curl.setopt(pycurl.MAXFILESIZE_LARGE, max_body if want_body and max_body else 0)
        if addresses:
            host, port = _host_port(wire)
            curl.setopt(pycurl.RESOLVE, [resolve_entry(host, port, addresses)])
        else:
            curl.unsetopt(pycurl.RESOLVE)
        curl.setopt(pycurl.HEADERFUNCTION, transfer.lines.append)  # a builtin: no Python frame per line
        curl.setopt(pycurl.WRITEFUNCTION, transfer.body_chunk)
        curl.setopt(pycurl.OPENSOCKETFUNCTION, transfer.open_socket)
        if on_send is not None:
            curl.setopt(pycurl.PREREQFUNCTION, transfer.prereq)
            transfer.prereq_set = True
        self._transfers[curl] = transfer
        self._multi.add_handle(curl)
        try:
            status = await transfer.future
        except asyncio.CancelledError:  # the caller's timeout: stop the transfer, drop its connection
            self._release(curl)
            raise
        return CurlReply(status, transfer.headers(), b"".join(transfer.chunks), wire,
                         stopped=want_body and transfer.stopped_at_headers, first_byte_s=transfer.first_byte_s)

    def _new_handle(self) -> pycurl.Curl:
        curl = pycurl.Curl()
        curl.setopt(pycurl.NOSIGNAL, 1)
        curl.setopt(pycurl.FOLLOWLOCATION, 0)
        curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        curl.setopt(pycurl.REDIR_PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        curl.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        curl.setopt(pycurl.SSL_VERIFYPEER, 0)
        curl.setopt(pycurl.SSL_VERIFYHOST, 0)
        curl.setopt(pycurl.USERAGENT, self._user_agent)
        curl.setopt(pycurl.NOPROXY, "")
        return curl

    # --- libcurl's callbacks -----------------------------------------------------------------

    def _on_socket(self, event: int, fd: int, multi, data) -> None:
        watched = self._watched
        if event == pycurl.POLL_REMOVE:
            mask = watched.get(fd)
            if mask is None:
                return
            if mask & select.EPOLLIN:
                if mask != select.EPOLLIN:  # a writable socket would wake the loop at every turn
                    self._register(fd, select.EPOLLIN)
                    watched[fd] = select.EPOLLIN
                self._parked.add(fd)
            else:
                self._unwatch(fd)
            return
        mask = _EPOLL_MASK[event]
        if fd in self._parked:
            # Registered still, unless libcurl closed that socket and the number came back with a
            # new one: _register finds out.
            self._parked.discard(fd)
            self._register(fd, mask)
        elif watched.get(fd) != mask:
            self._register(fd, mask)
        watched[fd] = mask

    def _register(self, fd: int, mask: int) -> None:
        try:
            self._poller.modify(fd, mask)
        except FileNotFoundError:  # not registered (or its earlier socket was closed): add it
            self._poller.register(fd, mask)

    def _unwatch(self, fd: int) -> None:
        self._parked.discard(fd)
        if self._watched.pop(fd, None) is not None:
            try:
                self._poller.unregister(fd)
            except OSError:  # closed already, and so out of the set
                pass

    def _ready(self) -> None:
        """The epoll set is readable: let libcurl act on every socket that is ready, then collect."""
        multi, parked = self._multi, self._parked
        for fd, events in self._poller.poll(0, 64):
            if fd in parked:  # an idle connection turned readable: its server closed it, most likely;
                self._unwatch(fd)  # libcurl finds out when it next picks the connection, and opens another
                continue
            if fd not in self._watched:  # unwatched by an earlier socket_action of this turn
                continue
            what = 0
            if events & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                what |= pycurl.CSELECT_IN
            if events & select.EPOLLOUT:
                what |= pycurl.CSELECT_OUT
            if events & select.EPOLLERR:
                what |= pycurl.CSELECT_ERR
            try:
                multi.socket_action(fd, what)
            except pycurl.error:  # a multi-level failure: every transfer in it reports its own error
                pass
        self._collect()

    def _on_timer(self, timeout_ms: int) -> None:
        # libcurl moves its deadline on every transfer; a timer that fires early is harmless (libcurl
        # acts on what is due and names its next deadline), so only an earlier deadline replaces it.
        # libcurl must not be re-entered from its own callback: the loop calls it back.
        if timeout_ms < 0:
            return  # "no timeout needed": an armed timer just fires once more for nothing
        if timeout_ms == 0:  # a transfer was added: act on the loop's next turn, keep the timer
            if self._kick is None:
                self._kick = self._loop.call_soon(self._act, True)
            return
        due = self._loop.time() + timeout_ms / 1000
        if self._timer is not None:
            if self._timer_due <= due:
                return
            self._timer.cancel()
        self._timer_due = due
        self._timer = self._loop.call_at(due, self._act, False)

    def _act(self, kicked: bool) -> None:
        """libcurl's deadline is due, or a transfer was added: let libcurl act on what is due."""
        if kicked:
            self._kick = None
        else:
            self._timer = None
        try:
            self._multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)
        except pycurl.error:  # a multi-level failure: every transfer in it reports its own error below
            pass
        self._collect()

    def _collect(self) -> None:
        while True:
            queued, done, failed = self._multi.info_read()
            for curl in done:
                self._settle(curl, None, "")
            for curl, code, message in failed:
                self._settle(curl, code, message)
            if not queued:
                return

    def _settle(self, curl: pycurl.Curl, code: int | None, message: str) -> None:
        """A finished transfer (`code` None) or a failed one: answer its request."""
        transfer = self._transfers.get(curl)
        if transfer is None:  # released already: its request was cancelled
            return
        status = curl.getinfo(pycurl.RESPONSE_CODE)
        transfer.first_byte_s = curl.getinfo(pycurl.STARTTRANSFER_TIME)
        os_errno = curl.getinfo(pycurl.OS_ERRNO) if code is not None else 0
        self._release(curl)
        future = transfer.future
        if future.done():
            return
        if code is None or (transfer.stopped_at_headers and status):
            future.set_result(status)  # a stopped transfer: the headers are what we wanted
        elif transfer.too_large:
            future.set_exception(CurlError(pycurl.E_FILESIZE_EXCEEDED, f"more than {transfer.max_body} bytes"))
        elif transfer.refused:
            future.set_exception(CurlError(pycurl.E_COULDNT_CONNECT, transfer.refused))
        else:
            future.set_exception(CurlError(code, message, os_errno))

    def _release(self, curl: pycurl.Curl) -> None:
        transfer = self._transfers.pop(curl, None)
        if transfer is None:
            return
        try:
            self._multi.remove_handle(curl)
        except pycurl.error:
            pass
        # the callbacks hold the transfer: drop them before the handle is reused
        curl.setopt(pycurl.HEADERFUNCTION, _ignore)
        curl.setopt(pycurl.WRITEFUNCTION, _ignore)
        curl.setopt(pycurl.OPENSOCKETFUNCTION, _refuse_socket)
        if transfer.prereq_set:
            curl.setopt(pycurl.PREREQFUNCTION, _prereq_ok)
        self._idle.append(curl)  # closed with the session

    async def close(self) -> None:
        self._closed = True
        for curl, transfer in list(self._transfers.items()):
            self._release(curl)
            if not transfer.future.done():
                transfer.future.set_exception(CurlError(pycurl.E_ABORTED_BY_CALLBACK, "the session closed"))
        for handle in (self._timer, self._kick):
            if handle is not None:
                handle.cancel()
        self._timer = self._kick = None
        self._multi.close()
        self._loop.remove_reader(self._poller.fileno())
        self._poller.close()
        self._watched.clear()
        self._parked.clear()
        for curl in self._idle:
            curl.close()
        self._idle.clear()


_EPOLL_MASK = {pycurl.POLL_IN: select.EPOLLIN, pycurl.POLL_OUT: select.EPOLLOUT,
               pycurl.POLL_INOUT: select.EPOLLIN | select.EPOLLOUT}


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return host, parts.port or (443 if parts.scheme == "https" else 80)


def _refuse_socket(purpose, address):
    return pycurl.SOCKET_BAD


def _ignore(data):
    return None


def _prereq_ok(*_connection) -> int:
    return pycurl.PREREQFUNC_OK
