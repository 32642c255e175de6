"""A proxy from the environment (http_proxy / no_proxy) carries the crawl's requests, pages and link targets.

Government networks often reach the internet only through a proxy. The proxy here is a
loopback server that answers absolute-form requests itself; the site's host address has
nothing listening, so a request that bypassed the proxy would fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.e2e

SITE = "http://127.0.0.9:9/"  # nothing listens there


class _Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list = []

    def _answer(self):
        type(self).seen.append((self.command, self.path))
        if self.path == SITE:
            body = (b"<html><head><title>t</title></head><body>" + b"x" * 2000 +
                    b"<a href='/logo.png'>logo</a><a href='/gone.pdf'>gone</a></body></html>")
            status, ctype = 200, "text/html; charset=utf-8"
        elif self.path == SITE + "logo.png":
            body, status, ctype = b"", 200, "image/png"
        else:
            body, status, ctype = b"", 404, "text/html"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _answer

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("processes", [1, 2])
def test_pages_and_targets_go_through_the_environment_proxy(tmp_path, processes):
    handler = type("P", (_Proxy,), {"seen": []})
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        site = tmp_path / "s.yaml"
        site.write_text(f"site: p\nname: 代理\nhosts:\n  - {{key: p, name: 门户, url: '{SITE}'}}\n"
                        f"crawl: {{robots: ignore, processes: {processes}, concurrency_per_host: 4, delay_seconds: 0, "
                        f"retries: 0, progress: off}}\n", encoding="utf-8")
        env = {**os.environ, "http_proxy": f"http://127.0.0.1:{proxy.server_port}", "no_proxy": ""}
        env.pop("HTTP_PROXY", None)
        db = tmp_path / "s.sqlite3"
        run = subprocess.run([sys.executable, "-m", "sitecheck.cli", "run", "--config", str(site), "--db", str(db)],
                             capture_output=True, text=True, env=env, timeout=120)
        export = json.loads(subprocess.run([sys.executable, "-m", "sitecheck.cli", "export", "--site", "p",
                                            "--db", str(db)], capture_output=True, text=True, check=True).stdout)
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    reasons = {p["url"]: p["reason"] for p in export["pages"]}
    assert reasons == {SITE: "ok", SITE + "logo.png": "ok", SITE + "gone.pdf": "not_found"}
    assert ("GET", SITE) in handler.seen
    assert ("HEAD", SITE + "logo.png") in handler.seen
