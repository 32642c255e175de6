"""A real crawl of hostile servers: every case ends as a finding with its own reason, and the crawl ends."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sitecheck.store import Store

from .servers.hostile import HostileServer

pytestmark = pytest.mark.e2e


def _run(args: list[str], env=None, timeout=240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sitecheck.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    with HostileServer() as srv:
        site = tmp / "hostile.yaml"
        site.write_text(f"""site: hostile
name: 恶意服务器
hosts:
  - {{key: h, name: 测试, url: "{srv.url('/all')}"}}
crawl: {{timeout_seconds: 3, progress: log, robots: ignore, max_page_bytes: 5000000, retries: 0,
        delay_seconds: 0, concurrency_per_host: 4}}
""", encoding="utf-8")
        proc = _run(["run", "--config", str(site), "--db", str(tmp / "s.sqlite3")])
        sent = srv.total_bytes_sent
    export = json.loads(_run(["export", "--site", "hostile", "--db", str(tmp / "s.sqlite3")]).stdout)
    return proc, export, sent, tmp / "s.sqlite3"


def _reason(export, path):
    rows = [p for p in export["pages"] if p["url"].endswith(path)]
    assert rows, f"{path} was not checked"
    return rows[0]["reason"]


@pytest.mark.parametrize("path,reason", [
    ("/trickle", "timeout"),  # a whole-response deadline, not an idle timeout
    ("/no-headers", "timeout"),
    ("/close-mid-body", "truncated"),  # fewer bytes than its Content-Length: its own reason
    ("/reset", "reset"),
    ("/gzip-bomb", "too_large"),
    ("/deflate-bomb", "too_large"),
    ("/huge-html", "too_large"),
    ("/redirect/loop", "redirect_loop"),
    ("/deep-html", "ok"),
    ("/many-links", "ok"),
    ("/charset-lie", "ok"),
])
def test_each_hostile_case_has_its_reason(hostile_run, path, reason):
    proc, export, _, _ = hostile_run
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1  # findings, not a crash
    assert _reason(export, path) == reason


def test_failures_are_findings_and_oddities_are_reported(hostile_run):
    _, export, _, _ = hostile_run
    by_url = {}
    for f in export["findings"]:
        if f["details"].get("scope") == "pages":
            continue  # a host's sampled-pages finding: its URL is one example page, not its subject
        by_url.setdefault(f["url"].split("/", 3)[-1], set()).add(f["code"])
    # These pages carry no footer marks: one finding for the host, its examples the first URLs sampled.
    sampled = [f for f in export["findings"] if f["details"].get("scope") == "pages"]
    assert sampled and all(f["code"] == "mark.missing" and f["url"] == f["details"]["examples"][0]
                           and f["details"]["examples"] == sorted(f["details"]["examples"]) for f in sampled)
    assert "link.broken_homepage" in by_url["trickle"]
    assert "link.broken_homepage" in by_url["gzip-bomb"]
    assert by_url["charset-lie"] == {"page.encoding_mismatch"}
    for enc in ("utf-8", "gb18030", "gbk", "big5", "latin-1"):
        assert by_url[f"bad-bytes/{enc}"] == {"page.invalid_bytes"}
    traps = [f for f in export["findings"] if f["code"] == "crawl.trap"]
    assert len(traps) == 1 and traps[0]["details"]["count"] == 19500  # 20,000 links kept, 500 per shape


def test_transfer_and_store_stay_bounded(hostile_run):
    proc, export, sent, db = hostile_run
    # Bombs and the 50 MB page are cut at max_page_bytes (5 MB); nothing reads them whole.
    assert sent < 40_000_000
    assert len(export["pages"]) < 700
    with Store(db, readonly=True) as store:
        assert store.integrity_ok()
        assert store.latest_run("hostile").status == "complete"


def test_long_redirect_chain_is_cut(tmp_path):
    with HostileServer() as srv:
        site = tmp_path / "s.yaml"
        site.write_text(f"""site: chain
name: 跳转
hosts:
  - {{key: h, name: 测试, url: "{srv.url('/redirect/long/15')}"}}
crawl: {{timeout_seconds: 3, progress: off, robots: ignore, delay_seconds: 0}}
""", encoding="utf-8")
        proc = _run(["run", "--config", str(site), "--db", str(tmp_path / "s.sqlite3")])
    assert proc.returncode == 1
    export = json.loads(_run(["export", "--site", "chain", "--db", str(tmp_path / "s.sqlite3")]).stdout)
    home = export["pages"][0] if export["pages"][0]["url"].endswith("/15") else \
        [p for p in export["pages"] if p["url"].endswith("/redirect/long/15")][0]
    assert home["reason"] == "too_many_redirects"
    assert len(home["redirects"]) == 11
    assert [f["code"] for f in export["findings"]] == ["site.homepage_down"]


class _Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str | None]] = []
    sent_headers: list[dict[str, str]] = []
    other = ""

    def do_GET(self):  # noqa: N802
        type(self).seen.append((self.server.server_address[0], self.path, self.headers.get("Authorization")))
        type(self).sent_headers.append(dict(self.headers))
        if self.path == "/":
            body = (f'<html><head><title>内网</title></head><body><a href="/a.html">a</a>'
                    f'<a href="{self.other}/leak.html">外站</a><a href="/go-away">跳转</a></body></html>')
            self._send(200, body)
        elif self.path == "/go-away":
            self.send_response(302)
            self.send_header("Location", f"{self.other}/redirected.html")
            self.end_headers()
        else:
            self._send(200, "<html><body>ok</body></html>")

    do_HEAD = do_GET

    def _send(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_credentials_go_only_to_their_host_and_never_to_outputs(tmp_path):
    main = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    other = ThreadingHTTPServer(("127.0.0.3", main.server_address[1]), _Recorder)
    _Recorder.other = f"http://127.0.0.3:{main.server_address[1]}"
    _Recorder.seen = []
    _Recorder.sent_headers = []
    for srv in (main, other):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    secret_user, secret_pw = "svc-inspector", "S3cret-Pa55-word!"
    headers = tmp_path / "headers.txt"
    headers.write_text("X-Api-Key: key-0f9e8d7c6b5a\n", encoding="utf-8")
    try:
        site = tmp_path / "s.yaml"
        site.write_text(f"""site: intra
name: 内网站点
hosts:
  - {{key: h, name: 内网, url: "http://127.0.0.1:{main.server_address[1]}/"}}
auth:
  - hosts: [h]
    basic_user_env: SC_USER
    basic_password_env: SC_PW
    headers_file: headers.txt
crawl: {{timeout_seconds: 3, progress: log, robots: ignore, allow_networks: [127.0.0.3/32], delay_seconds: 0,
        user_agent: "sitecheck-test/1.0 (+inspection)"}}
checks: {{links: {{}}}}
""", encoding="utf-8")
        env = {**__import__("os").environ, "SC_USER": secret_user, "SC_PW": secret_pw}
        proc = _run(["run", "--config", str(site), "--db", str(tmp_path / "s.sqlite3"), "-vv"], env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
    finally:
        main.shutdown()
        other.shutdown()
    to_main = [auth for host, _, auth in _Recorder.seen if host == "127.0.0.1"]
    to_other = [(path, auth) for host, path, auth in _Recorder.seen if host == "127.0.0.3"]
    assert to_main and all(a and a.startswith("Basic ") for a in to_main)
    assert {p for p, _ in to_other} == {"/leak.html", "/redirected.html"}
    assert all(a is None for _, a in to_other)
    # Every request, to either host, carries the configured User-Agent and the default headers;
    # the headers file's key goes to its own host only.
    from sitecheck.crawler.classify import REQUEST_HEADERS
    assert len(_Recorder.sent_headers) == len(_Recorder.seen)
    for (host, path, _), sent in zip(_Recorder.seen, _Recorder.sent_headers):
        assert sent.get("User-Agent") == "sitecheck-test/1.0 (+inspection)", (host, path, sent)
        for name, value in REQUEST_HEADERS.items():
            assert sent.get(name) == value, (host, path, name)
        assert (sent.get("X-Api-Key") == "key-0f9e8d7c6b5a") == (host == "127.0.0.1"), (host, path)
    import base64
    token = base64.b64encode(f"{secret_user}:{secret_pw}".encode()).decode()
    export = _run(["export", "--site", "intra", "--db", str(tmp_path / "s.sqlite3")]).stdout
    csv = _run(["export", "--site", "intra", "--format", "csv", "--db", str(tmp_path / "s.sqlite3")]).stdout
    db_bytes = Path(tmp_path / "s.sqlite3").read_bytes()
    for secret in (secret_pw, token, "key-0f9e8d7c6b5a"):
        assert secret not in proc.stderr and secret not in proc.stdout
        assert secret not in export and secret not in csv
        assert secret.encode() not in db_bytes


def test_missing_credential_variable_is_a_config_error(tmp_path):
    site = tmp_path / "s.yaml"
    site.write_text("""site: intra
name: 内网站点
hosts:
  - {key: h, name: 内网, url: "http://127.0.0.1:9/"}
auth:
  - {hosts: [h], basic_user_env: SC_NOPE_USER, basic_password_env: SC_NOPE_PW}
""", encoding="utf-8")
    proc = _run(["run", "--config", str(site), "--db", str(tmp_path / "s.sqlite3")])
    assert proc.returncode == 2
    assert "SC_NOPE_USER" in proc.stderr and "Traceback" not in proc.stderr
