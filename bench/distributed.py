"""Scale figure for distributed crawls: sites per hour with 1, 2 and 3 workers, and the night's arithmetic.

Serves N polite, I/O-bound loopback sites (each `--pages` pages with `--delay` seconds between
two requests, as a government site is crawled at night), starts a RabbitMQ on loopback and W
`sitecheck worker` processes, dispatches the N sites as one night, and times the night until
every site is done; for W = 1, 2, 3 (`--workers`), each on a fresh store.  Prints, per W: wall
time, sites per hour, the speed-up over one worker, the mean crawl time of a site, and the CPU
the workers and their crawls used.  Then the capacity arithmetic for a province (500 sites x
10,000 pages) and the nation (14,000 sites), from the measured seconds per page and CPU per
page (docs/distributed.md quotes a run).

    python bench/distributed.py --sites 24 --pages 20 --delay 0.25

Needs rabbitmq-server (scripts/install-system-deps.sh).  Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sitecheck.store import Store  # noqa: E402
from tests.distributed_rig import Workers, wait_night  # noqa: E402
from tests.servers.brokers import RabbitMQ, rabbitmq_missing  # noqa: E402
from tests.servers.farm import Farm, FarmSite  # noqa: E402

NIGHT_HOURS = 8.0  # a night's crawl window


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_night(broker: RabbitMQ, farm: Farm, workers: int, folder: Path, night: dt.date) -> dict:
    db = str(folder / f"w{workers}.sqlite3")
    pool = Workers(broker.url, db, farm.config_dir, folder / f"logs-w{workers}")
    cpu = children_cpu()
    try:
        for n in range(workers):
            pool.start(f"b{n + 1}")
        time.sleep(4)  # the workers connect before the clock starts
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "sitecheck.cli", "dispatch", "--all", "--night", night.isoformat(),
                        "--broker", broker.url, "--db", db, "--config-dir", str(farm.config_dir)],
                       check=True, capture_output=True)
        wait_night(db, night, len(farm.sites), timeout=3600, workers=pool)
        wall = time.monotonic() - started
    finally:
        pool.close()
    with Store(db, readonly=True) as store:
        runs = [r for r in store.runs(limit=100_000) if r.night == night]
    return {"workers": workers, "wall_s": wall, "sites_per_hour": len(farm.sites) / wall * 3600,
            "crawl_s": sum(r.duration_s or 0 for r in runs) / len(runs), "pages": sum(r.pages for r in runs),
            "urls": sum(r.targets for r in runs), "cpu_s": children_cpu() - cpu,
            "complete": sum(r.status == "complete" for r in runs)}


def capacity(rows: list[dict], sites: int, pages_per_site: int) -> str:
    """Worker-hours and workers for a night of `sites` sites of `pages_per_site` pages, from the
    measured seconds and CPU seconds per URL of the one-worker night."""
    base = rows[0]
    s_per_url = base["crawl_s"] * base["complete"] / base["urls"] if base["urls"] else 0
    cpu_per_url = base["cpu_s"] / base["urls"] if base["urls"] else 0
    urls = sites * pages_per_site
    worker_hours = urls * s_per_url / 3600
    crawls = worker_hours / NIGHT_HOURS
    cores = urls * cpu_per_url / 3600 / NIGHT_HOURS
    return (f"{sites:,} sites x {pages_per_site:,} URLs: {worker_hours:,.0f} crawl-hours at {s_per_url:.3f} s/URL; "
            f"in an {NIGHT_HOURS:g} h night {crawls:,.0f} crawls at once (one per worker process), "
            f"using at most {cores:,.1f} cores at {cpu_per_url * 1000:.1f} ms CPU/URL (an upper bound: on "
            f"small sites each crawl's start-up dominates the CPU per URL)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=int, default=24)
    ap.add_argument("--pages", type=int, default=20, help="pages per site")
    ap.add_argument("--delay", type=float, default=0.25, help="seconds between two requests to one site")
    ap.add_argument("--workers", default="1,2,3", help="worker counts to measure (default 1,2,3)")
    args = ap.parse_args(argv)
    if reason := rabbitmq_missing():
        print(reason, file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="sitecheck-bench-distributed-"))
    sites = [FarmSite(n, f"127.0.3.{n}", args.delay, args.pages, "") for n in range(1, args.sites + 1)]
    farm = Farm(folder / "config", sites)
    broker = RabbitMQ(folder / "rabbitmq").start()
    rows = []
    try:
        for i, w in enumerate(int(x) for x in args.workers.split(",")):
            rows.append(one_night(broker, farm, w, folder, dt.date(2026, 1, 1) + dt.timedelta(days=i)))
            r = rows[-1]
            print(f"{w} worker(s): {r['wall_s']:.1f} s, {r['sites_per_hour']:.0f} sites/h "
                  f"(x{r['sites_per_hour'] / rows[0]['sites_per_hour']:.2f}), crawl {r['crawl_s']:.1f} s/site, "
                  f"{r['urls']} URLs, CPU {r['cpu_s']:.1f} s, {r['complete']}/{args.sites} complete", flush=True)
    finally:
        broker.close()
        farm.close()
    print(f"\n{args.sites} sites x {args.pages} pages, delay {args.delay} s, {os.cpu_count()} cores")
    print(f"{'workers':>7} {'wall s':>7} {'sites/h':>8} {'speed-up':>8} {'s/site':>7} {'CPU s':>6}")
    for r in rows:
        print(f"{r['workers']:>7} {r['wall_s']:>7.1f} {r['sites_per_hour']:>8.0f} "
              f"{r['sites_per_hour'] / rows[0]['sites_per_hour']:>8.2f} {r['crawl_s']:>7.1f} {r['cpu_s']:>6.1f}")
    print("\nCapacity, from the one-worker night:")
    print("  province: " + capacity(rows, 500, 10_000))
    print("  nation:   " + capacity(rows, 14_000, 10_000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
