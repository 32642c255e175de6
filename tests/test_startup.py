"""A crawl imports no second HTTP client, in either process.

libcurl is the one transport (crawler/transport.py); aiohttp, which Scrapy's RemoteControl
extension would import at every start, costs start-up time for nothing (crawler/runner.py's
EXTENSIONS_BASE).  Python's own import log (PYTHONPROFILEIMPORTTIME) of a real two-process
crawl, with a dead link among the targets, says what was imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler

from tests.helpers import listen, one_host_site, serve_handler


class _Portal(BaseHTTPRequestHandler):
    dead = ""

    def do_GET(self):  # noqa: N802
        if self.path == "/":
            body = (f'<html><head><title>首页</title></head><body><a href="/a.html">a</a>'
                    f'<img src="/logo.png"><a href="{self.dead}/gone.html">外站</a></body></html>')
        else:
            body = "<html><head><title>页</title></head><body>正文</body></html>"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


def test_a_crawl_without_a_proxy_does_not_import_aiohttp(tmp_path):
    closed = listen()  # a port that refuses: the dead link
    _Portal.dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    server, base = serve_handler(_Portal)
    try:
        site = one_host_site(tmp_path / "s.yaml", "startup", f"{base}/", processes=2)
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env["PYTHONPROFILEIMPORTTIME"] = "1"  # every Python process it starts logs its imports too
        proc = subprocess.run([sys.executable, "-m", "sitecheck.cli", "run", "--config", str(site),
                               "--db", str(tmp_path / "s.sqlite3")],
                              capture_output=True, text=True, timeout=120, env=env)
    finally:
        server.shutdown()
    assert proc.returncode == 1, proc.stderr[-3000:]  # the dead link is a finding
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]
    assert "scrapy.core.engine" in imported and "sitecheck.crawler.targets" in imported  # both processes logged
    assert "aiohttp" not in imported
    assert "scrapy.core.downloader.handlers.http11" not in imported  # Scrapy's own HTTP client is not used
    assert "scrapy.extensions.remote_control" not in imported
