"""Many sites at once: does `sitecheck run --all` keep every site's politeness limit?

Serves N small demo-like sites, each on its own loopback address (127.0.1.1,
127.0.1.2, ...), writes one site file per site with `concurrency_per_host: 1`,
`delay_seconds: D` and `delay_jitter: J` (so each gap between two request starts is
D to D x (1 + J), at most 1/D requests per second to each), runs `sitecheck run --all`
once, and compares, from the server's request timestamps:

- each site's closest two request starts against D (none may be closer),
- each site's own request rate against its limit 1/D, and
- the aggregate rate against the sum of the rates the delays allow on average,
  1 / (D x (1 + J/2)) per site (target: within 10 %).

    python bench/multisite.py --sites 50 --pages 40 --delay 0.25

Prints a table and exits 0; exits 1 when a site saw two starts closer than D, exceeded
its limit by more than 10 %, or the aggregate fell short of 90 % of the expected sum.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def page(site: int, n: int, pages: int) -> bytes:
    links = "".join(f'<li><a href="/p{(n * 7 + k) % pages}.html">第{k}条</a><span>2026-11-2{k % 7}</span></li>'
                    for k in range(1, 9))
    return (f"<html><head><meta charset='utf-8'><title>站点{site} 第{n}页</title></head><body>"
            f"<ul>{links}</ul><p>{'正文内容。' * 200}</p></body></html>").encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        srv = self.server
        with srv.lock:
            srv.stamps.append(time.monotonic())
        name = self.path.strip("/") or "p0.html"
        if name == "robots.txt":
            body, ctype = b"User-agent: *\nDisallow:\n", "text/plain"
        else:
            try:
                n = int(name[1:].split(".")[0])
            except ValueError:
                n = -1
            if not 0 <= n < srv.pages:
                self.send_error(404)
                return
            body, ctype = page(srv.site, n, srv.pages), "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(sites: int, pages: int) -> list[ThreadingHTTPServer]:
    servers = []
    for i in range(sites):
        srv = ThreadingHTTPServer((f"127.0.1.{i + 1}", 0), Handler)
        srv.site, srv.pages, srv.stamps, srv.lock = i, pages, [], threading.Lock()
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    return servers


def write_sites(servers, folder: Path, delay: float, jitter: float) -> None:
    (folder / "sites").mkdir(parents=True)
    for i, srv in enumerate(servers):
        host, port = srv.server_address
        (folder / "sites" / f"s{i:03d}.yaml").write_text(
            f"site: s{i:03d}\nname: 站点{i}\nhosts:\n  - {{key: portal, name: 门户, url: 'http://{host}:{port}/p0.html'}}\n"
            f"crawl: {{concurrency_per_host: 1, delay_seconds: {delay}, delay_jitter: {jitter}, progress: off, "
            "robots: ignore}\n"
            "checks: {links: {}, slow_pages: {}, words: {}}\n", encoding="utf-8")


def rate(stamps: list[float]) -> float:
    """Requests per second over the span of the requests (first to last)."""
    if len(stamps) < 2:
        return 0.0
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def closest_gap(stamps: list[float]) -> float:
    """The shortest time between two consecutive request starts (inf for fewer than two)."""
    return min((b - a for a, b in zip(stamps, stamps[1:])), default=float("inf"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=int, default=50)
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--delay", type=float, default=0.25, help="politeness delay per site (s)")
    ap.add_argument("--jitter", type=float, default=0.2, help="delay_jitter per site (the site file's default)")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    if args.sites > 250:
        ap.error("at most 250 sites (127.0.1.1-127.0.1.250)")
    servers = serve(args.sites, args.pages)
    try:
        with tempfile.TemporaryDirectory(prefix="sitecheck-multi-") as tmp:
            write_sites(servers, Path(tmp), args.delay, args.jitter)
            started = time.monotonic()
            proc = subprocess.run([sys.executable, "-m", "sitecheck.cli", "run", "--all", "--config-dir", tmp,
                                   "--db", str(Path(tmp) / "s.sqlite3"), "--fail-on", "critical"],
                                  capture_output=True, text=True, env=os.environ.copy())
            wall = time.monotonic() - started
    finally:
        for srv in servers:
            srv.shutdown()
    limit = 1.0 / args.delay
    per_site = [rate(sorted(s.stamps)) for s in servers]
    gaps = [closest_gap(sorted(s.stamps)) for s in servers]
    too_close = sum(gap < args.delay for gap in gaps)
    expected = args.sites / (args.delay * (1 + args.jitter / 2))  # the jitter's mean stretches every gap
    total_requests = sum(len(s.stamps) for s in servers)
    first = min(s.stamps[0] for s in servers if s.stamps)
    last = max(s.stamps[-1] for s in servers if s.stamps)
    aggregate = (total_requests - 1) / (last - first)
    # While every site still has pages to fetch, all run at once; the sum of limits applies.
    figures = {
        "sites": args.sites, "pages_per_site": args.pages, "delay_s": args.delay, "limit_per_site": limit,
        "sum_of_limits": limit * args.sites, "requests": total_requests, "wall_s": round(wall, 2),
        "aggregate_rate": round(aggregate, 1), "aggregate_vs_sum": round(aggregate / (limit * args.sites), 3),
        "jitter": args.jitter, "expected_sum": round(expected, 1), "aggregate_vs_expected": round(aggregate / expected, 3),
        "per_site_rate_median": round(statistics.median(per_site), 2), "per_site_rate_max": round(max(per_site), 2),
        "closest_starts_min_s": round(min(gaps), 4), "sites_closer_than_delay": too_close,
        "exit_code": proc.returncode,
    }
    print(f"{args.sites} sites x {args.pages} pages, delay {args.delay}s (limit {limit:.1f} req/s each, "
          f"{limit * args.sites:.0f} req/s in sum)")
    print(f"  requests {total_requests} in {wall:.1f}s; aggregate {aggregate:.1f} req/s "
          f"= {aggregate / (limit * args.sites):.1%} of the sum of limits")
    print(f"  per site: median {figures['per_site_rate_median']} req/s, max {figures['per_site_rate_max']} req/s")
    print(f"  expected with jitter {args.jitter}: {expected:.0f} req/s in sum; aggregate = {aggregate / expected:.1%}")
    print(f"  closest two starts on one site: {min(gaps):.4f} s; sites with two starts closer than the delay: "
          f"{too_close} of {args.sites}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    ok = (proc.returncode in (0, 1) and max(per_site) <= limit * 1.10 and not too_close
          and aggregate >= 0.90 * expected)
    if proc.returncode not in (0, 1):
        print(proc.stderr[-3000:], file=sys.stderr)
    print("  result:", "within limits" if ok else "OUTSIDE the targets")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
