"""Small helpers several test files share."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path


def wait_until(condition, timeout: float = 30, what: str = "condition", interval: float = 0.05):
    """Poll `condition` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def self_signed_cert(folder: Path, not_after: dt.datetime,
                     not_before: dt.datetime = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 valid until `not_after`: (cert.pem, key.pem) in `folder`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def add_link_occurrences(store, rows) -> None:
    """Store (to_url, from_url, text, element, on_homepage) rows the way a crawl does: one JSON row
    per referring page (crawler.pageparse.occurrences, Store.add_page_links)."""
    pages: dict[tuple[str, int], list[tuple[str, str, str]]] = {}
    for to_url, from_url, text, element, on_homepage in rows:
        pages.setdefault((from_url, int(on_homepage)), []).append((to_url, text, element))
    store.add_page_links([(from_url, home, json.dumps([u for u, _t, _e in links], ensure_ascii=False),
                           json.dumps([(t, e) for _u, t, e in links], ensure_ascii=False))
                          for (from_url, home), links in pages.items()])


def listen(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket on a loopback address (port 0: any free one)."""
    sock = socket.socket()
    sock.bind((host, port))
    sock.listen(16)
    return sock


def start_raw_server(respond, host: str = "127.0.0.1") -> tuple[socket.socket, int, list[str]]:
    """`serve_raw` on a new listening socket in a daemon thread: (socket, port, request lines)."""
    sock = listen(host)
    hits: list[str] = []
    threading.Thread(target=serve_raw, args=(sock, respond, hits), daemon=True).start()
    return sock, sock.getsockname()[1], hits


def serve_raw(sock, respond, hits: list | None = None) -> None:
    """Answer each connection on the listening `sock` with `respond(path)`, raw bytes (for
    responses no HTTP server library would send); request lines go to `hits`. Returns when
    the socket is closed. Run it in a daemon thread."""
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            if data:
                if hits is not None:
                    hits.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
                try:
                    conn.sendall(respond(data.split(b" ", 2)[1]))
                except OSError:  # the client hung up first (it had what it wanted)
                    pass


def run_and_export(tmp_path: Path, site_yaml: str, site_key: str, env: dict | None = None):
    """Write `site_yaml` as a site file, `sitecheck run` it, `sitecheck export` the run:
    (the run's CompletedProcess, the export as a dict)."""
    site = tmp_path / "s.yaml"
    site.write_text(site_yaml, encoding="utf-8")
    db = tmp_path / "s.sqlite3"
    run = subprocess.run([sys.executable, "-m", "sitecheck.cli", "run", "--config", str(site), "--db", str(db)],
                         capture_output=True, text=True, timeout=120, env=env)
    export = json.loads(subprocess.run([sys.executable, "-m", "sitecheck.cli", "export", "--site", site_key,
                                        "--db", str(db)], capture_output=True, text=True, check=True).stdout)
    return run, export


def serve_handler(handler_class, host: str = "127.0.0.1"):
    """A ThreadingHTTPServer for `handler_class` on a free loopback port, in a daemon thread:
    (server, base URL). Call server.shutdown() when done."""
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer((host, 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}"


def one_host_site(path: Path, key: str, url: str, processes: int) -> Path:
    """A site file with one host at `url` and quick, quiet crawl settings for a loopback test."""
    path.write_text(f"""site: {key}
name: 测试站
hosts:
  - {{key: h, name: 测试, url: "{url}"}}
crawl: {{timeout_seconds: 5, progress: "off", robots: ignore, processes: {processes}, retries: 0,
        delay_seconds: 0, allow_networks: [127.0.0.0/8]}}
""", encoding="utf-8")
    return path
