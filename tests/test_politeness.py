"""Politeness measured at the server, for every kind of request the crawl sends.

A recording server (tests/servers/recording.py) stands for two hosts of one site on loopback
addresses; it logs every request's start and end.  The portal links pages, images and
attachments of its own and of the second host, whose every URL hangs past the crawl's timeout.
For each per-host concurrency and delay the crawl must keep, counted across both crawl
processes and all kinds of request (Scrapy's page fetches, the link checker's HEADs and GETs,
robots.txt):

* requests in flight on one host never exceed `concurrency_per_host`;
* no two request starts on one host are closer than `delay_seconds`;
* the portal is not held up by the hanging host: no pause in its requests comes near the hang.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.servers.recording import RecordingServer, closest_starts, in_flight_peak, overlaps

pytestmark = pytest.mark.e2e

PORTAL, HANGING = "127.0.0.2", "127.0.0.3"
# Long enough that a portal stalled behind the hanging host (a pause of a whole timeout) stands
# well clear of the pauses a loaded 2-core machine gives a crawl (seen up to ~2 s with 6 crawls at once).
TIMEOUT_S = 4.0


def _page(title: str, links: list[str]) -> bytes:
    items = "".join(f'<li><a href="{u}">{title} {i}</a></li>' for i, u in enumerate(links) if not u.endswith(".png"))
    images = "".join(f'<img src="{u}" alt="图">' for u in links if u.endswith(".png"))
    return (f"<html><head><title>{title}</title></head><body><ul>{items}</ul>{images}"
            f"<p>{'正文内容' * 200}</p></body></html>").encode("utf-8")


def _build_site(server: RecordingServer, pages: int, files: int, hanging: int) -> None:
    """The portal: `pages` pages, `files` images and `files` attachments of its own, and `hanging`
    pages, images and attachments on the second host, which never answers in time."""
    other = server.base(HANGING)
    own_pages = [f"/p{i}.html" for i in range(pages)]
    own_files = [f"/img/{i}.png" for i in range(files)] + [f"/files/{i}.pdf" for i in range(files)]
    far = ([f"{other}/h{i}.html" for i in range(hanging)] + [f"{other}/img/{i}.png" for i in range(hanging)]
           + [f"{other}/files/{i}.doc" for i in range(hanging)])
    # The homepage links everything, so the portal's queue is full from the start: a pause in its
    # requests can only be a wait for something else, not for pages to be read.
    server.route(PORTAL, "/", body=_page("门户首页", own_pages + own_files + far))
    for i, path in enumerate(own_pages):
        # each page links two neighbours and a file: the crawl finds the rest of the site page by page
        links = [own_pages[(i + 1) % pages], own_pages[(i + 7) % pages], own_files[files + i % files]]
        server.route(PORTAL, path, body=_page(f"页面{i}", links), delay_s=0.03)
    for path in own_files:
        server.route(PORTAL, path, body=b"x" * 100, delay_s=0.02,
                     content_type="image/png" if path.endswith(".png") else "application/pdf")
    server.route(PORTAL, "/robots.txt", body=b"User-agent: *\nAllow: /\n", content_type="text/plain")
    for path in ["/", "/robots.txt"] + [u.split(str(server.port), 1)[1] for u in far]:
        server.route(HANGING, path, body=_page("子站", []), delay_s=TIMEOUT_S + 3)


def _crawl(tmp_path, server: RecordingServer, per_host: int, delay: float) -> tuple[subprocess.CompletedProcess, dict]:
    site = tmp_path / f"polite-{per_host}-{delay}.yaml"
    site.write_text(f"""site: polite
name: 礼貌测试
hosts:
  - {{key: portal, name: 门户, url: "{server.base(PORTAL)}/"}}
  - {{key: sub, name: 子站, url: "{server.base(HANGING)}/"}}
crawl: {{concurrency_per_host: {per_host}, delay_seconds: {delay}, timeout_seconds: {TIMEOUT_S}, retries: 0,
        processes: 2, robots: obey, progress: "off"}}
""", encoding="utf-8")
    db = tmp_path / f"{site.stem}.sqlite3"
    proc = subprocess.run([sys.executable, "-m", "sitecheck.cli", "run", "--config", str(site), "--db", str(db)],
                          capture_output=True, text=True, timeout=600)
    with sqlite3.connect(db) as conn:
        (status, stats), = conn.execute("SELECT status, stats FROM runs")
    return proc, {"status": status, **json.loads(stats or "{}")}


CASES = [(c, d) for d in (0.0, 0.3) for c in (1, 2, 4)]


@pytest.fixture(scope="module")
def crawls(tmp_path_factory):
    """Every case at once, each against a server of its own (the cases run in parallel)."""
    folders = {case: tmp_path_factory.mktemp("polite") for case in CASES}  # not from threads: mktemp races

    def one(case):
        per_host, delay = case
        server = RecordingServer([PORTAL, HANGING], arrival_stamps=True)
        small = delay > 0  # the same shapes; fewer URLs where each costs the delay
        _build_site(server, pages=20 if small else 80, files=12 if small else 60, hanging=4)
        try:
            proc, run = _crawl(folders[case], server, per_host, delay)
        finally:
            server.close()
        return case, proc, run, server

    with ThreadPoolExecutor(3) as pool:  # 3 crawls (6 processes) at a time on 2 cores
        return {case: (proc, run, server) for case, proc, run, server in pool.map(one, CASES)}


@pytest.mark.parametrize("per_host,delay", CASES)
def test_per_host_concurrency_and_delay_hold_for_every_kind_of_request(crawls, per_host, delay):
    proc, run, server = crawls[(per_host, delay)]
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    assert run["status"] == "complete" and "pages_read_by_record_process" in run  # both processes ran
    hosts = server.by_host()
    portal, hanging = hosts[f"{PORTAL}:{server.port}"], hosts[f"{HANGING}:{server.port}"]
    # Every kind of request reached the server: pages, HEADs of images and attachments, robots.txt.
    kinds = {(h.method, h.path.rsplit(".", 1)[-1] if "." in h.path else "/") for h in portal}
    assert {("GET", "html"), ("HEAD", "png"), ("HEAD", "pdf"), ("GET", "txt")} <= kinds
    assert {h.method for h in hanging} == {"GET", "HEAD"}
    for hits in (portal, hanging):
        assert in_flight_peak(hits) <= per_host, (per_host, delay, [(a.path, b.path, b.start - a.start, a.end - b.start)
                                                                    for a, b in overlaps(hits)][:5])
        if delay:
            assert closest_starts(hits) >= delay, (per_host, delay, closest_starts(hits))
    # The hanging host held only its own slots: the portal never paused for anything near its hang.
    starts = sorted(h.start for h in portal)
    longest_pause = max(b - a for a, b in zip(starts, starts[1:]))
    assert longest_pause < TIMEOUT_S / 2, longest_pause


def test_robots_crawl_delay_and_retry_after_hold_the_host(tmp_path):
    """robots.txt asks for a Crawl-delay: every later request to that host keeps it (the site file
    says delay 0).  A 429 with Retry-After holds every request to the host for that long, and the
    request is asked once more after it."""
    server = RecordingServer([PORTAL], arrival_stamps=True)
    pages = [f"/c{i}.html" for i in range(6)]
    server.route(PORTAL, "/", body=_page("首页", pages + ["/busy.png", "/logo.png"]))
    for path in pages:
        server.route(PORTAL, path, body=_page("页", []))
    server.route(PORTAL, "/logo.png", body=b"png", content_type="image/png")
    server.route(PORTAL, "/busy.png", status=429, headers=(("Retry-After", "1"),), content_type="image/png")
    server.route(PORTAL, "/robots.txt", body=b"User-agent: *\nCrawl-delay: 0.4\nAllow: /\n", content_type="text/plain")
    site = tmp_path / "cd.yaml"
    site.write_text(f"""site: cd
name: 抓取间隔
hosts:
  - {{key: portal, name: 门户, url: "{server.base(PORTAL)}/"}}
crawl: {{concurrency_per_host: 4, delay_seconds: 0, retries: 1, robots: obey, progress: "off"}}
""", encoding="utf-8")
    try:
        proc = subprocess.run([sys.executable, "-m", "sitecheck.cli", "run", "--config", str(site),
                               "--db", str(tmp_path / "cd.sqlite3")], capture_output=True, text=True, timeout=120)
    finally:
        server.close()
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    hits = sorted(server.hits, key=lambda h: h.start)
    assert hits[0].path == "/robots.txt"
    after_robots = hits[1:]
    assert len(after_robots) == 1 + 6 + 1 + 2  # homepage, pages, logo, busy twice
    assert closest_starts(after_robots) >= 0.4
    busy = [h for h in hits if h.path == "/busy.png"]
    assert [h.method for h in busy] == ["HEAD", "HEAD"]
    # Nothing started on the host for a second after the 429: the Retry-After held it all.
    assert not [h for h in hits if busy[0].start < h.start < busy[0].end + 1.0]
