"""A loopback web server that records when every request starts and ends, per host.

Politeness is measured where it is felt: at the server.  One `RecordingServer` listens on
several loopback addresses (one per "host"), answers from a table of routes, and logs each
request's host, method, path, start and end (monotonic seconds).  `in_flight_peak` and
`closest_starts` read that log.

With `arrival_stamps=True` a request's start is when its first byte reached the server's socket,
as the kernel stamped it, rather than when a handler thread got round to it: a connection's
first request then is not stamped late because its thread was slow to start, which would make
the next request look too close.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; Python does not name it


@dataclass(frozen=True, slots=True)
class Hit:
    host: str  # "127.0.0.2:port"
    method: str
    path: str
    start: float
    end: float


@dataclass(slots=True)
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    delay_s: float = 0.0  # sleep before answering (a slow or hanging URL)
    headers: tuple[tuple[str, str], ...] = ()


class RecordingServer:
    def __init__(self, addresses: list[str], *, arrival_stamps: bool = False):
        self.routes: dict[tuple[str, str], Route] = {}  # (address, path) -> answer
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            arrived: float | None = None

            def handle_one_request(self):
                if arrival_stamps:
                    self.arrived = _arrival(self.connection)
                super().handle_one_request()

            def _answer(self):
                started = self.arrived or time.monotonic()
                address = self.server.server_address[0]
                route = owner.routes.get((address, self.path)) or Route(404, b"<html><body>404</body></html>")
                if route.delay_s and not self._wait(route.delay_s):
                    self.close_connection = True  # the client gave up (its timeout): the request ends here
                    owner._log(address, self.server.server_address[1], self.command, self.path, started)
                    return
                # With arrival stamps the request ends when its answer is ready to go: a client can
                # read it and send its next request before this thread stamps anything after the write.
                ready = time.monotonic() if arrival_stamps else None
                try:
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Content-Length", str(len(route.body)))
                    for name, value in route.headers:  # raw UTF-8, as some servers send a Location
                        self._headers_buffer.append(f"{name}: ".encode("latin-1") + value.encode("utf-8") + b"\r\n")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(route.body)
                except OSError:  # the client gave up (a timeout): still a request it sent
                    pass
                owner._log(address, self.server.server_address[1], self.command, self.path, started, ready)

            def _wait(self, seconds: float) -> bool:
                """Sleep up to `seconds`; False as soon as the client closes the connection."""
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    ready, _, _ = select.select([self.connection], [], [], 0.02)
                    if ready:
                        try:
                            if self.connection.recv(1, socket.MSG_PEEK) == b"":
                                return False
                        except OSError:
                            return False
                return True

            do_GET = do_HEAD = _answer

            def log_message(self, *args):
                pass

        port = 0
        for address in addresses:
            server = ThreadingHTTPServer((address, port), Handler)
            server.daemon_threads = True
            port = server.server_address[1]  # every address on the same port: hosts differ by address
            self._servers.append(server)
            threading.Thread(target=server.serve_forever, daemon=True).start()
        self.port = port

    def _log(self, address: str, port: int, method: str, path: str, started: float,
             ended: float | None = None) -> None:
        ended = time.monotonic() if ended is None else ended
        with self._lock:
            self.hits.append(Hit(f"{address}:{port}", method, path, started, ended))

    def base(self, address: str) -> str:
        return f"http://{address}:{self.port}"

    def route(self, address: str, path: str, **answer) -> None:
        self.routes[(address, path)] = Route(**answer)

    def by_host(self) -> dict[str, list[Hit]]:
        with self._lock:
            hits = list(self.hits)
        out: dict[str, list[Hit]] = {}
        for hit in hits:
            out.setdefault(hit.host, []).append(hit)
        return out

    def close(self) -> None:
        # Each serve_forever loop notices its shutdown within its poll interval: ask them all at once.
        stoppers = [threading.Thread(target=server.shutdown) for server in self._servers]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        for server in self._servers:
            server.server_close()


def page_html(title: str, links: list[str], images: list[str] = (), paragraphs: int = 100) -> bytes:
    """A small article page: a list of links, images, and body text."""
    items = "".join(f'<li><a href="{u}">{title} {i}</a></li>' for i, u in enumerate(links))
    imgs = "".join(f'<img src="{u}" alt="标志">' for u in images)
    return (f"<html><head><meta charset='utf-8'><title>{title}</title></head><body><ul>{items}</ul>{imgs}"
            f"<p>{'正文内容。' * paragraphs}</p></body></html>").encode("utf-8")


def _arrival(connection: socket.socket) -> float | None:
    """When the next request's first byte reached this socket (monotonic seconds), waiting for it;
    None when the client closed the connection or the kernel gave no stamp."""
    connection.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    try:
        data, ancillary, _flags, _addr = connection.recvmsg(1, socket.CMSG_SPACE(16), socket.MSG_PEEK)
    except OSError:
        return None
    for level, kind, value in ancillary:
        if data and level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
            seconds, nanoseconds = struct.unpack("qq", value[:16])
            return seconds + nanoseconds / 1e9 - (time.time() - time.monotonic())
    return None


def in_flight_peak(hits: list[Hit]) -> int:
    """The most requests one host had in flight at once (an end at the same instant as a start frees first)."""
    events = sorted([(h.start, 1) for h in hits] + [(h.end, -1) for h in hits], key=lambda e: (e[0], e[1]))
    peak = now = 0
    for _t, step in events:
        now += step
        peak = max(peak, now)
    return peak


def overlaps(hits: list[Hit]) -> list[tuple[Hit, Hit]]:
    """Pairs of requests on one host where the later one started before the earlier one ended."""
    ordered = sorted(hits, key=lambda h: h.start)
    return [(a, b) for a, b in zip(ordered, ordered[1:]) if b.start < a.end]


def closest_starts(hits: list[Hit]) -> float:
    """The shortest time between two consecutive request starts on one host (inf for fewer than two)."""
    starts = sorted(h.start for h in hits)
    return min((b - a for a, b in zip(starts, starts[1:])), default=float("inf"))
