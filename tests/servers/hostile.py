"""A deliberately hostile HTTP server for tests (stdlib only, raw sockets).

    with HostileServer() as srv:
        fetch(srv.url("/trickle"))
        assert srv.hits["/trickle"] == 1 and srv.bytes_sent["/trickle"] < 100

HTTP libraries are too polite to misbehave on demand, so this speaks HTTP/1.1
by hand: one request per connection, always ``Connection: close``.  It binds
127.0.0.0/8 only and never connects anywhere itself; ``/redirect/other-host``
only names loopback targets.  Every endpoint is deterministic:

    /ok                    small HTML page linking a few of the endpoints below
    /all                   HTML page linking every endpoint (for crawl tests)
    /trickle               headers, then 1 byte per second forever (?interval=S to change)
    /no-headers            reads the request, never answers
    /close-mid-body        Content-Length 100000, sends 1000 bytes, closes (FIN)
    /reset                 reads the request, then RST (SO_LINGER 0 + close)
    /gzip-bomb             Content-Encoding: gzip, ~2 MB expanding to 2 GiB of zeros
    /deflate-bomb          Content-Encoding: deflate (zlib wrapper; ?raw=1 for raw deflate)
    /huge-html             50 MiB HTML, streamed without Content-Length (?declare=1 sends it)
    /deep-html             10,000 nested <div>s
    /many-links            100,000 <a href="/many-links/N"> links; /many-links/N is 404
    /bad-bytes/<enc>       invalid byte sequences under a declared charset
                           (utf-8, gb18030, gbk, big5, latin-1)
    /charset-lie           header says utf-8, meta says gb2312, body is GBK (with GBK-only characters)
    /redirect/long/<n>     302 to /redirect/long/<n-1>; /redirect/long/0 is a 200 page
    /redirect/loop         302 to /redirect/loop/2, which 302s back
    /redirect/scheme       302 to https:// on this same port, which does not speak TLS
    /redirect/other-host?to=<url>   302 to <url>, which must be on a 127.x.x.x or [::1] host
    anything else          404

`hits` counts requests per path (query removed), `bytes_sent` counts bytes
handed to the kernel per path (headers included).  Sockets use a small send
buffer so `bytes_sent` stays close to what the client actually read.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from urllib.parse import parse_qs, urlsplit

GIB = 1 << 30
MIB = 1 << 20
BOMB_SIZE = 2 * GIB
HUGE_HTML_SIZE = 50 * MIB
DEEP_DIVS = 10_000
MANY_LINKS = 100_000
SEND_BUFFER = 256 * 1024
_MAX_HEAD = 64 * 1024

_REASONS = {200: "OK", 302: "Found", 400: "Bad Request", 404: "Not Found"}


# --- decompression bombs -------------------------------------------------------

def _raw_deflate_zeros(size: int, chunk: int = MIB) -> bytes:
    """Raw deflate of `size` zero bytes, built in milliseconds instead of seconds.

    A fresh compressor fed one chunk and a Z_FULL_FLUSH always emits the same
    bytes, ends byte-aligned and leaves no back-references, so the segments can
    simply be repeated; a final empty block (BFINAL) closes the stream.
    """
    def segment(n: int, final: bool) -> bytes:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(bytes(n)) + c.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)

    count, rest = divmod(size, chunk)
    return segment(chunk, False) * count + segment(rest, True)


def _crc32_zeros(size: int) -> int:
    block, crc = bytes(MIB), 0
    count, rest = divmod(size, MIB)
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    return zlib.crc32(bytes(rest), crc)


def build_bomb(kind: str, size: int = BOMB_SIZE) -> bytes:
    """A body that decompresses to `size` zero bytes: kind is gzip, deflate (zlib) or raw."""
    raw = _raw_deflate_zeros(size)
    if kind == "raw":
        return raw
    if kind == "deflate":
        # Adler-32 of n zeros: A stays 1, B = n mod 65521.
        return b"\x78\xda" + raw + struct.pack(">I", ((size % 65521) << 16) | 1)
    if kind == "gzip":
        header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # no name, mtime 0, max compression
        return header + raw + struct.pack("<II", _crc32_zeros(size), size & 0xFFFFFFFF)
    raise ValueError(kind)


_cache: dict[str, bytes] = {}
_cache_lock = threading.Lock()


def _cached(key: str, make) -> bytes:
    """Build an expensive body once per process (the gzip CRC over 2 GiB takes ~1 s)."""
    with _cache_lock:
        if key not in _cache:
            _cache[key] = make()
        return _cache[key]


# --- bodies ------------------------------------------------------------------------

def _page(title: str, body: str) -> bytes:
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body>{body}</body></html>").encode()


def _links(paths: list[str]) -> str:
    return "<ul>" + "".join(f'<li><a href="{p}">{p}</a></li>' for p in paths) + "</ul>"


OK_LINKS = ["/redirect/long/3", "/charset-lie", "/bad-bytes/gbk", "/deep-html", "/close-mid-body",
            "/missing"]
ALL_LINKS = ["/ok", "/trickle", "/no-headers", "/close-mid-body", "/reset", "/gzip-bomb", "/deflate-bomb",
             "/huge-html", "/deep-html", "/many-links", "/bad-bytes/utf-8", "/bad-bytes/gb18030",
             "/bad-bytes/gbk", "/bad-bytes/big5", "/bad-bytes/latin-1", "/charset-lie",
             "/redirect/long/5", "/redirect/loop", "/redirect/scheme", "/missing"]

# Valid text, then byte sequences each codec must reject, then valid text again.
# latin-1 decodes every byte, so it gets the C1 controls that windows-1252 (what
# browsers use for "latin-1") leaves undefined, plus a NUL.
BAD_BYTES: dict[str, tuple[str, list[bytes]]] = {
    "utf-8": ("政府网站", [b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"\xf4\x90\x80\x80",
                          b"\xe4\xb8"]),
    "gb18030": ("政府网站", [b"\xff", b"\x81\x7f", b"\x81\x30\x81\x20", b"\xfe\x39\xfe\x39", b"\x80"]),
    "gbk": ("政府网站", [b"\xff", b"\x81\x7f", b"\x80", b"\xa1\x20", b"\xb0"]),
    "big5": ("政府網站", [b"\x80", b"\xff", b"\xa1\x20", b"\xa4"]),
    "latin-1": ("caf\xe9", [b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d", b"\x00"]),
}


def bad_bytes_body(enc: str) -> bytes:
    text, bad = BAD_BYTES[enc]
    head = (f'<html><head><meta charset="{enc}"><title>bad bytes</title></head><body><p>'
            ).encode("ascii") + text.encode(enc)
    # Each bad sequence is followed by ASCII so a truncated lead byte cannot swallow the next sample.
    return head + b"".join(b + b" | " for b in bad) + text.encode(enc) + b"</p></body></html>"


CHARSET_LIE_TEXT = "政府信息公开 测试：喆堃"  # 喆 and 堃 are in GBK but not in GB2312


def charset_lie_body() -> bytes:
    return ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
            f"<title>{CHARSET_LIE_TEXT}</title></head><body><p>{CHARSET_LIE_TEXT}</p></body></html>"
            ).encode("gbk")


def many_links_body() -> bytes:
    links = "".join(f'<a href="/many-links/{i}">link {i}</a>\n' for i in range(MANY_LINKS))
    return f"<html><head><title>many links</title></head><body>\n{links}</body></html>".encode()


def deep_html_body() -> bytes:
    return ("<html><head><title>deep</title></head><body>" + "<div>" * DEEP_DIVS + "bottom"
            + "</div>" * DEEP_DIVS + "</body></html>").encode()


HUGE_PREFIX = b"<!DOCTYPE html><html><head><title>huge</title></head><body>\n"
HUGE_SUFFIX = b"</body></html>\n"
_HUGE_LINE = b"<p>This paragraph repeats until the page is fifty mebibytes long.</p>\n"
_HUGE_BLOCK = _HUGE_LINE * (64 * 1024 // len(_HUGE_LINE))


def _loopback_target(url: str) -> bool:
    """Whether a redirect target stays on loopback (the server must not point tests outward)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        if parts.scheme not in ("http", "https") or not host:
            return False
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- the server --------------------------------------------------------------------

class HostileServer:
    """The server; use as a context manager.  `host` must be in 127.0.0.0/8."""

    def __init__(self, host: str = "127.0.0.1", io_timeout: float = 10.0) -> None:
        addr = ipaddress.ip_address(host)
        if addr.version != 4 or not addr.is_loopback:
            raise ValueError(f"HostileServer binds 127.0.0.0/8 only, not {host}")
        self.host = host
        self.port = 0
        self.io_timeout = io_timeout
        self.hits: Counter[str] = Counter()
        self.bytes_sent: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._conns: dict[socket.socket, threading.Thread] = {}
        self._threads: list[threading.Thread] = []

    # lifecycle

    def start(self) -> "HostileServer":
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((self.host, 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True,
                                               name=f"hostile-accept-{self.port}")
        self._accept_thread.start()
        return self

    def stop(self, timeout: float = 3.0) -> None:
        """Stop accepting, wake every handler (they all wait on the stop event or a socket), join."""
        self._stop.set()
        if self._accept_thread:
            self._accept_thread.join(timeout)
        if self._listener:
            self._listener.close()
        with self._lock:
            for conn in self._conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)  # unblocks recv/send in the handler
                except OSError:
                    pass
            threads = list(self._threads)
        for t in threads:
            t.join(timeout)

    def __enter__(self) -> "HostileServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # helpers for tests

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def hits_under(self, prefix: str) -> int:
        with self._lock:
            return sum(n for p, n in self.hits.items() if p.startswith(prefix))

    @property
    def total_bytes_sent(self) -> int:
        with self._lock:
            return sum(self.bytes_sent.values())

    @property
    def active_connections(self) -> int:
        with self._lock:
            return len(self._conns)

    # plumbing

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            ready, _, _ = select.select([self._listener], [], [], 0.05)
            if not ready:
                continue
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            conn.settimeout(self.io_timeout)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True,
                                 name=f"hostile-conn-{self.port}")
            with self._lock:
                self._conns[conn] = t
                self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            request = self._read_head(conn)
            if request is None:
                self._count("<bad-request>")
                return
            method, target = request
            parts = urlsplit(target)
            path = parts.path or "/"
            self._count(path)
            self._dispatch(conn, method, path, parse_qs(parts.query))
        except OSError:
            pass  # the client went away or reset: that is its right
        finally:
            with self._lock:
                self._conns.pop(conn, None)
            conn.close()

    def _count(self, path: str) -> None:
        with self._lock:
            self.hits[path] += 1

    def _read_head(self, conn: socket.socket) -> tuple[str, str] | None:
        buf = b""
        while b"\r\n\r\n" not in buf and b"\n\n" not in buf:
            data = conn.recv(4096)
            if not data:
                return None
            buf += data
            # A TLS ClientHello (from /redirect/scheme) or other junk: hang up at once
            # rather than wait for a blank line that never comes.
            if not buf[:1].isalpha() or len(buf) > _MAX_HEAD:
                return None
        line = buf.split(b"\n", 1)[0].decode("latin-1").strip().split()
        if len(line) != 3 or not line[2].startswith("HTTP/"):
            return None
        return line[0].upper(), line[1]

    def _send(self, conn: socket.socket, path: str, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = conn.send(view[:64 * 1024])
            with self._lock:
                self.bytes_sent[path] += n
            view = view[n:]

    def _head(self, status: int, headers: dict[str, str] | None = None, length: int | None = None) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", "Server: hostile",
                 "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _respond(self, conn, method: str, path: str, status: int, body: bytes,
                 headers: dict[str, str] | None = None) -> None:
        headers = {"Content-Type": "text/html; charset=utf-8", **(headers or {})}
        self._send(conn, path, self._head(status, headers, len(body)))
        if method != "HEAD":
            self._send(conn, path, body)

    def _peer_closed(self, conn: socket.socket) -> bool:
        ready, _, _ = select.select([conn], [], [], 0)
        if not ready:
            return False
        try:
            return conn.recv(1, socket.MSG_PEEK) == b""
        except (BlockingIOError, socket.timeout):
            return False

    def _hold(self, conn: socket.socket, seconds: float) -> bool:
        """Wait up to `seconds`; False if the server is stopping or the client hung up.

        Polls in short steps so a client that gives up frees its thread at once,
        even while /trickle sleeps a whole second between bytes.
        """
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if self._stop.wait(max(0.0, min(0.05, left))) or self._peer_closed(conn):
                return False
            if left <= 0.05:
                return True

    # endpoints

    def _dispatch(self, conn, method: str, path: str, query: dict[str, list[str]]) -> None:
        def q(name: str, default: str = "") -> str:
            return query.get(name, [default])[0]

        simple = {
            "/ok": lambda: _page("ok", "<h1>ok</h1>" + _links(OK_LINKS)),
            "/all": lambda: _page("all", _links(ALL_LINKS)),
            "/deep-html": lambda: _cached("deep", deep_html_body),
            "/many-links": lambda: _cached("links", many_links_body),
        }
        if path in simple:
            return self._respond(conn, method, path, 200, simple[path]())
        if path == "/trickle":
            try:
                interval = max(0.01, float(q("interval", "1")))
            except ValueError:
                interval = 1.0
            return self._trickle(conn, path, interval)
        if path == "/no-headers":
            while self._hold(conn, 1.0):
                pass
            return
        if path == "/close-mid-body":
            self._send(conn, path, self._head(200, {"Content-Type": "text/html"}, 100_000))
            self._send(conn, path, b"<html><body>" + b"x" * 988)
            conn.shutdown(socket.SHUT_WR)
            return
        if path == "/reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return  # _serve closes the socket, which now sends RST
        if path in ("/gzip-bomb", "/deflate-bomb"):
            kind = "gzip" if path == "/gzip-bomb" else ("raw" if q("raw") else "deflate")
            body = _cached(kind, lambda: build_bomb(kind))
            encoding = "gzip" if kind == "gzip" else "deflate"
            return self._stream(conn, method, path, body, {"Content-Type": "text/html",
                                                           "Content-Encoding": encoding}, len(body))
        if path == "/huge-html":
            return self._huge(conn, method, path, declare=bool(q("declare")))
        if path.startswith("/bad-bytes/") and path[len("/bad-bytes/"):] in BAD_BYTES:
            enc = path[len("/bad-bytes/"):]
            return self._respond(conn, method, path, 200, bad_bytes_body(enc),
                                 {"Content-Type": f"text/html; charset={enc}"})
        if path == "/charset-lie":
            return self._respond(conn, method, path, 200, charset_lie_body())
        if path.startswith("/redirect/"):
            return self._redirect(conn, method, path, q("to"))
        return self._respond(conn, method, path, 404, _page("not found", "<h1>404 页面不存在</h1>"))

    def _trickle(self, conn, path: str, interval: float) -> None:
        self._send(conn, path, self._head(200, {"Content-Type": "text/html; charset=utf-8"}))
        prefix, i = b"<html><body>", 0
        while True:
            self._send(conn, path, prefix[i:i + 1] or b".")
            i += 1
            if not self._hold(conn, interval):
                return

    def _stream(self, conn, method: str, path: str, body: bytes, headers: dict[str, str],
                length: int | None) -> None:
        self._send(conn, path, self._head(200, headers, length))
        if method == "HEAD":
            return
        for start in range(0, len(body), 64 * 1024):
            if self._stop.is_set():
                return
            self._send(conn, path, body[start:start + 64 * 1024])

    def _huge(self, conn, method: str, path: str, declare: bool) -> None:
        headers = {"Content-Type": "text/html; charset=utf-8"}
        self._send(conn, path, self._head(200, headers, HUGE_HTML_SIZE if declare else None))
        if method == "HEAD":
            return
        self._send(conn, path, HUGE_PREFIX)
        left = HUGE_HTML_SIZE - len(HUGE_PREFIX) - len(HUGE_SUFFIX)
        while left > 0:
            if self._stop.is_set():
                return
            piece = _HUGE_BLOCK if left >= len(_HUGE_BLOCK) else b" " * left
            self._send(conn, path, piece)
            left -= len(piece)
        self._send(conn, path, HUGE_SUFFIX)

    def _redirect(self, conn, method: str, path: str, to: str) -> None:
        rest = path[len("/redirect/"):]
        location = None
        if rest.startswith("long/") and rest[5:].isdigit():
            n = int(rest[5:])
            if n == 0:
                return self._respond(conn, method, path, 200, _page("end", "<p>end of the chain</p>"))
            location = f"/redirect/long/{n - 1}"
        elif rest == "loop":
            location = "/redirect/loop/2"
        elif rest == "loop/2":
            location = "/redirect/loop"
        elif rest == "scheme":
            location = f"https://{self.host}:{self.port}/ok"
        elif rest == "other-host":
            if not _loopback_target(to):
                return self._respond(conn, method, path, 400, _page(
                    "bad target", "<p>?to= must be an http(s) URL on a 127.x.x.x or [::1] host</p>"))
            location = to
        if location is None:
            return self._respond(conn, method, path, 404, _page("not found", "<h1>404</h1>"))
        self._respond(conn, method, path, 302, _page("moved", f'<a href="{location}">moved</a>'),
                      {"Location": location})
