"""DNS rebinding: a link's host that answers differently after the check cannot move the connection.

The address guard resolves an outside link's host and vets every answer; the connection must go
to an address it vetted. Here the host `rebind.test` answers 127.0.0.1 (allowed by the site file)
the first time a process asks and 127.0.0.2 (not allowed) every time after: the rebinding attack
with a TTL of zero. Every request goes through one transport (crawler/transport.py), which
connects where the guard's check pinned the name (libcurl's CURLOPT_RESOLVE, and a socket
callback that refuses any other address).  Nothing may reach 127.0.0.2.

The answers come from a `sitecustomize` module on PYTHONPATH, which patches the resolver
functions of every Python process the crawl starts; no name leaves this machine.
"""

from __future__ import annotations

import os
import threading

import pytest

from .helpers import listen, run_and_export, serve_raw

pytestmark = pytest.mark.e2e

_SITECUSTOMIZE = '''
import socket, threading
_calls = [0]
_lock = threading.Lock()
_getaddrinfo, _gethostbyname, _gethostbyname_ex = socket.getaddrinfo, socket.gethostbyname, socket.gethostbyname_ex

def _answer():
    with _lock:
        _calls[0] += 1
        return "127.0.0.1" if _calls[0] == 1 else "127.0.0.2"

def getaddrinfo(host, port, *args, **kwargs):
    if isinstance(host, bytes):
        host = host.decode()
    if host == "rebind.test":
        host = _answer()
    return _getaddrinfo(host, port, *args, **kwargs)

def gethostbyname(host):
    return _answer() if host == "rebind.test" else _gethostbyname(host)

def gethostbyname_ex(host):
    if host == "rebind.test":
        return ("rebind.test", [], [_answer()])
    return _gethostbyname_ex(host)

socket.getaddrinfo, socket.gethostbyname, socket.gethostbyname_ex = getaddrinfo, gethostbyname, gethostbyname_ex
'''

def _plain(_path: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("processes", [1, 2])
def test_connection_goes_to_the_address_the_guard_checked(tmp_path, processes):
    checked = listen("127.0.0.1")
    port = checked.getsockname()[1]
    try:
        rebound = listen("127.0.0.2", port)  # same port: only the address differs
    except OSError:
        checked.close()
        pytest.skip(f"port {port} is taken on 127.0.0.2")
    checked_hits: list[str] = []
    rebound_hits: list[str] = []
    threading.Thread(target=serve_raw, args=(checked, _plain, checked_hits), daemon=True).start()
    threading.Thread(target=serve_raw, args=(rebound, _plain, rebound_hits), daemon=True).start()

    image = f"http://rebind.test:{port}/logo.png"
    home = listen("127.0.0.1")
    body = (f"<html><head><title>门户</title></head><body>{'正文' * 600}"
            f"<img src='{image}' alt='标志'></body></html>").encode("utf-8")
    page = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " +
            str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    threading.Thread(target=serve_raw, args=(home, lambda _p: page, []), daemon=True).start()
    base = f"http://127.0.0.1:{home.getsockname()[1]}/"

    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(custom), os.environ.get("PYTHONPATH", "")])}
    try:
        run, export = run_and_export(
            tmp_path, f"site: rebind\nname: 重绑定\nhosts:\n  - {{key: w, name: 门户, url: '{base}'}}\n"
                      f"crawl: {{robots: ignore, processes: {processes}, retries: 0, progress: off, delay_seconds: 0, "
                      f"allow_networks: [127.0.0.1/32]}}\n", "rebind", env=env)
    finally:
        for sock in (checked, rebound, home):
            sock.close()
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    target = {p["url"]: p for p in export["pages"]}[image]
    assert rebound_hits == [], f"connected to an address nobody checked: {rebound_hits}"
    # Checked where the guard allowed it (a HEAD, then nothing more: it answered).
    assert checked_hits == ["HEAD /logo.png HTTP/1.1"]
    assert (target["reason"], target["status"]) == ("ok", 200)
