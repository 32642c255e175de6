"""Serving the demo site: one ThreadingHTTPServer per loopback address, all on one port.

The hosts of the demo are told apart by address (127.0.0.2 portal ... 127.0.0.6
external), as separate sites would be; 127.0.0.7 is bound but never listens, so
connecting to it is refused.  Standard library only, so the demo runs
wherever sitecheck is installed.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import signal
import socket
import socketserver
import sys
import threading
from collections import Counter
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from sitecheck import bundled
from sitecheck.textparse.dates import china_today

from . import manifest as M
from .content import DemoSite, Resource

DEMO_SITE_FILE = bundled.path("config", "sites", "demo.yaml")
CHUNK = 64 * 1024
_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


class _Stats:
    """Counters of what the demo served; body bytes are counted as they are handed to the socket."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.bytes = 0
        self.by_status: Counter[str] = Counter()
        self.requests_by_host: Counter[str] = Counter()
        self.requests_by_path: Counter[str] = Counter()
        self.bytes_by_path: Counter[str] = Counter()

    def request(self, host: str, path: str, status: int) -> None:
        with self._lock:
            self.requests += 1
            self.by_status[str(status)] += 1
            self.requests_by_host[host] += 1
            self.requests_by_path[path] += 1

    def sent(self, path: str, n: int) -> None:
        with self._lock:
            self.bytes += n
            self.bytes_by_path[path] += n

    def snapshot(self) -> dict:
        with self._lock:
            return {"requests": self.requests, "bytes_sent": self.bytes, "by_status": dict(self.by_status),
                    "requests_by_host": dict(self.requests_by_host),
                    "requests_by_path": dict(self.requests_by_path), "bytes_by_path": dict(self.bytes_by_path)}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection is dropped after this
    server: "_HostServer"
    _server_header = "nginx"

    def setup(self) -> None:
        super().setup()
        self.server.demo._track(self.connection, True)

    def finish(self) -> None:
        self.server.demo._track(self.connection, False)
        super().finish()

    def version_string(self) -> str:
        return self._server_header

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass  # quiet: a crawl makes thousands of requests

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def _serve(self, send_body: bool) -> None:
        demo, host = self.server.demo, self.server.host_key
        parts = urlsplit(self.path)
        path = parts.path or "/"
        gate = getattr(demo, "gate", None)  # a simulated WAF in front of the site (sitecheck/demo/waf.py)
        wall = gate(self.headers, host, path) if gate is not None else None
        if wall is not None:
            res = wall
        elif host == "portal" and path == "/__stats":
            res = Resource(body=json.dumps(demo.stats(), ensure_ascii=False).encode(),
                           content_type="application/json")
        else:
            res = demo.site.lookup(host, path, parts.query)
        demo._stats.request(host, path, res.status)
        if res.delay and demo._stopping.wait(res.delay):
            self.close_connection = True  # shutting down: give up without answering
            return
        self._server_header = res.headers.get("Server", "nginx")
        try:
            self.send_response(res.status)
            self.send_header("Content-Type", res.content_type)
            self.send_header("Content-Length", str(res.stream_size or len(res.body)))
            for name, value in res.headers.items():
                if name != "Server":
                    self.send_header(name, value)
            self.end_headers()
            if not send_body:
                return
            if res.stream_size:
                self._stream_zeros(path, res.stream_size)
            elif res.body:
                self.wfile.write(res.body)
                demo._stats.sent(path, len(res.body))
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True  # the client went away (a cut download, a timed-out checker)

    def _stream_zeros(self, path: str, size: int) -> None:
        """Send `size` zero bytes in chunks, stopping when the client leaves or the server stops."""
        # A small send buffer keeps what the kernel accepts beyond what the client read small.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHUNK)
        zeros = bytes(CHUNK)
        left = size
        while left and not self.server.demo._stopping.is_set():
            n = min(left, CHUNK)
            self.wfile.write(zeros[:n])
            self.server.demo._stats.sent(path, n)
            left -= n
        if left:
            self.close_connection = True


class _HostServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's backlog of 5 drops SYNs under a crawler's burst; each costs a 1 s retransmit,
    # which would make ordinary pages look slow.
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], demo: "DemoServer", host_key: str):
        self.demo = demo
        self.host_key = host_key
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup we neither need nor want.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class DemoServer:
    """The demo site on loopback: `start()`, use `urls`, `stop()`.

    port=0 binds the portal to a free port and every other host to the same one.
    """

    def __init__(self, port: int = M.DEFAULT_PORT, base_ip: str = M.DEFAULT_BASE_IP, today: date | None = None,
                 timeout_fault_seconds: float = 6.0, slow_seconds: float = 1.5):
        base = ipaddress.ip_address(base_ip)
        self._ips = {key: base + offset for key, offset in M.HOST_OFFSETS.items()}
        if any(ip not in _LOOPBACK for ip in self._ips.values()):
            raise ValueError(f"the demo serves loopback addresses only; {base_ip} + {max(M.HOST_OFFSETS.values())} "
                             "is not within 127.0.0.0/8")
        self._requested_port = port
        # The checks date pages by Beijing's calendar (sitecheck/textparse/dates.py); so does the demo,
        # or between 16:00 and 24:00 UTC every planted age would be a day off.
        self.today = today or china_today(datetime.now(timezone.utc))
        self.timeout_fault_seconds = timeout_fault_seconds
        self.slow_seconds = slow_seconds
        self._port: int | None = None
        self._servers: list[_HostServer] = []
        self._threads: list[threading.Thread] = []
        self._dead: socket.socket | None = None
        self._stopping = threading.Event()
        self._stats = _Stats()
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self.site: DemoSite | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the demo server is not started")
        return self._port

    @property
    def urls(self) -> dict[str, str]:
        """Base URL (ending in /) of every host key, including "external" and "dead"."""
        keys = (*M.SERVED_HOSTS, "dead")
        return {key: f"http://{self._ips[key]}:{self.port}/" for key in keys}

    def start(self) -> "DemoServer":
        """Bind every host, render the pages, and serve in background threads."""
        self._bind()
        self.site = DemoSite(self.urls, self.today, self.slow_seconds, self.timeout_fault_seconds)
        for srv in self._servers:
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                                 name=f"demo-{srv.host_key}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _bind(self) -> None:
        attempts = 5 if self._requested_port == 0 else 1
        for attempt in range(attempts):
            servers: list[_HostServer] = []
            dead = None
            try:
                port = self._requested_port
                for key in M.SERVED_HOSTS:
                    servers.append(_HostServer((str(self._ips[key]), port), self, key))
                    port = servers[-1].server_address[1]
                # Bound but never listen()ed: connections are refused, and nobody else can take the port.
                dead = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                dead.bind((str(self._ips["dead"]), port))
            except OSError:
                for srv in servers:
                    srv.server_close()
                if dead is not None:
                    dead.close()
                if attempt == attempts - 1:
                    raise
                continue
            self._servers, self._dead, self._port = servers, dead, port
            return

    def stop(self) -> None:
        """Stop serving; sleeping and streaming responses end at once."""
        self._stopping.set()
        for srv in self._servers:
            if self._threads:
                srv.shutdown()
            srv.server_close()
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._dead is not None:
            self._dead.close()
        for t in self._threads:
            t.join(timeout=5)
        self._servers, self._threads, self._dead = [], [], None

    def __enter__(self) -> "DemoServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _track(self, conn: socket.socket, alive: bool) -> None:
        with self._conns_lock:
            (self._conns.add if alive else self._conns.discard)(conn)

    def stats(self) -> dict:
        """Requests and body bytes sent, in total and per path (paths without the query string)."""
        return self._stats.snapshot()

    def write_site_file(self, path: str | Path, source: str | Path = DEMO_SITE_FILE) -> Path:
        """Write config/sites/demo.yaml with this server's addresses and port."""
        text = Path(source).read_text(encoding="utf-8")
        default_base = ipaddress.ip_address(M.DEFAULT_BASE_IP)
        offsets = set(M.HOST_OFFSETS.values())

        def move(m: re.Match) -> str:
            offset = int(ipaddress.ip_address(m.group(1))) - int(default_base)
            if offset not in offsets:
                return m.group(0)
            ip = str(self._ips[next(k for k, v in M.HOST_OFFSETS.items() if v == offset)])
            return f"{ip}:{self.port}" if m.group(2) else ip

        text = re.sub(rf"\b(127\.0\.0\.\d{{1,3}})(:{M.DEFAULT_PORT}\b)?", move, text)
        out = Path(path)
        out.write_text(text, encoding="utf-8")
        return out


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    Path(tmp).write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def serve_main(argv: list[str] | None = None) -> int:
    """`sitecheck demo serve [--port N] [--today D] [--write-site PATH] [--ready-file PATH]`.

    Serves until SIGTERM/SIGINT; returns the exit code.  A leading "serve" in argv is accepted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="sitecheck demo serve",
                                     description="Serve the demo government site (with planted faults) on loopback.")
    parser.add_argument("--port", type=int, default=M.DEFAULT_PORT,
                        help=f"port of every demo host (default {M.DEFAULT_PORT}; 0 = pick a free one)")
    parser.add_argument("--today", type=date.fromisoformat, default=None,
                        help="date the demo's content is relative to, YYYY-MM-DD (default: today in Beijing, the calendar the checks use)")
    parser.add_argument("--write-site", metavar="PATH", help="write a site file for the bound addresses here")
    parser.add_argument("--ready-file", metavar="PATH", help="write the JSON line here once serving")
    parser.add_argument("--timeout-fault-seconds", type=float, default=6.0, help="how long the timeout fault sleeps")
    parser.add_argument("--slow-seconds", type=float, default=1.5, help="how long the slow page sleeps")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or a usage error: argparse has printed why
        return int(exc.code or 0)

    server = DemoServer(port=args.port, today=args.today, timeout_fault_seconds=args.timeout_fault_seconds,
                        slow_seconds=args.slow_seconds)
    try:
        server.start()
    except OSError as exc:
        print(f"error: cannot bind the demo hosts on port {args.port}: {exc} (hint: --port 0 picks a free port)",
              file=sys.stderr)
        return 2
    stop = threading.Event()
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
        except ValueError:  # not the main thread: the caller stops us some other way
            pass
    try:
        # Files first, then stdout: whoever sees the line can rely on both files.
        line = json.dumps({"port": server.port, "urls": server.urls})
        if args.write_site:
            server.write_site_file(args.write_site)
        if args.ready_file:
            _write_atomic(args.ready_file, line + "\n")
        print(line, flush=True)
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
