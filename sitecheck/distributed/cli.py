"""`sitecheck dispatch` and `sitecheck worker` (and the night view of `sitecheck runs --night`)."""

from __future__ import annotations

import argparse
import logging
import os
import socket
from datetime import date, datetime, timezone

from sitecheck.cmdline import EXIT_OK, UsageError, user_sites

log = logging.getLogger("sitecheck.distributed")

BROKER_HELP = ("broker URL, e.g. amqp://user:pass@broker:5672// (RabbitMQ) or redis://host:6379/0 "
               "(default: $SITECHECK_BROKER, else amqp://guest:guest@127.0.0.1:5672//)")


def parse_night(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give the night as YYYY-MM-DD") from None


def register(sub, common) -> None:
    sp = sub.add_parser("dispatch", help="queue a night's crawls for distributed workers",
                        description="Record each site's crawl for the night as queued in the store, then send "
                                    "one task per queued site to the broker; 'sitecheck worker' processes run "
                                    "them. Dispatching the same night again is harmless: a site already "
                                    "claimed or done is not crawled twice.")
    common(sp, site=False)
    sp.add_argument("--site", action="append", default=[], metavar="KEY", help="a site to dispatch (repeatable)")
    sp.add_argument("--all", action="store_true", help="every site file in <config-dir>/sites")
    sp.add_argument("--night", type=parse_night, metavar="YYYY-MM-DD",
                    help="the night (default: today's date in Asia/Shanghai)")
    sp.add_argument("--broker", metavar="URL", help=BROKER_HELP)
    sp.set_defaults(handler=cmd_dispatch)

    sp = sub.add_parser(
        "worker", help="run dispatched crawls (a Celery worker)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Take crawl tasks from the broker and run them, one crawl per worker process. For each\n"
                    "task the worker claims the site's night in the store (a night claimed by a live worker\n"
                    "or already done is skipped), runs 'sitecheck run --site KEY' as a child process, keeps\n"
                    "the claim alive with a heartbeat every --heartbeat seconds, and closes the night when\n"
                    "the crawl ends. If a worker dies, its claim goes stale after --stale-after seconds and\n"
                    "a sweeper (in every worker, unless --no-sweep) queues the site again.\n\n"
                    "Every worker needs the same site files (--config-dir) and the same store (--db, a\n"
                    "PostgreSQL URL when workers span machines). This wraps\n"
                    "'celery -A sitecheck.distributed.app worker'; see docs/distributed.md.")
    common(sp, site=False)
    sp.add_argument("--broker", metavar="URL", help=BROKER_HELP)
    sp.add_argument("--concurrency", type=int, default=1, metavar="N",
                    help="crawls at once on this machine, each in its own worker process (default: 1)")
    sp.add_argument("--name", metavar="NAME", help="worker name (default: sitecheck-<pid>@<hostname>)")
    sp.add_argument("--heartbeat", type=float, metavar="SECONDS",
                    help="how often a running crawl refreshes its claim (default: 30)")
    sp.add_argument("--stale-after", type=float, metavar="SECONDS",
                    help="a claim not refreshed for this long is a dead worker's (default: 300; the same on "
                         "every worker, and well above --heartbeat)")
    sp.add_argument("--no-sweep", action="store_true", help="do not re-queue the nights of dead workers here")
    sp.add_argument("--metrics-listen", metavar="HOST:PORT",
                    help="serve this worker's Prometheus metrics there: crawls by outcome, claim conflicts, "
                         "crawls running, tonight's sites by state, crawls taken over from dead workers, "
                         "queue depth (default: none)")
    sp.set_defaults(handler=cmd_worker)


# --- dispatch -------------------------------------------------------------------------------------


def cmd_dispatch(args: argparse.Namespace) -> int:
    from kombu.exceptions import OperationalError as BrokerError

    from .app import make_app
    from .dispatch import celery_sender, dispatch, night_of
    from .tasks import open_db

    if args.all == bool(args.site):
        raise UsageError("name the sites to dispatch: --site KEY (repeatable) or --all")
    keys = [s.key for s in user_sites(args, "--all")] if args.all else _known_sites(args)
    night = args.night or night_of()
    app = make_app(args.broker)
    with open_db(args.db) as store:
        try:
            out = dispatch(store, celery_sender(app), keys, night)
        except (OSError, BrokerError) as exc:
            raise UsageError(f"cannot send the tasks to the broker {app.conf.broker_url}: {exc} (the nights are "
                             "queued in the store: dispatch again when the broker is back)") from None
    print(f"night {night}: {len(keys)} site(s); {len(out.enqueued)} newly queued, {len(out.sent)} task(s) sent, "
          f"{len(out.running)} running, {len(out.done)} done")
    return EXIT_OK


def _known_sites(args: argparse.Namespace) -> list[str]:
    """The --site keys, each checked to have a site file that loads (a worker will need it)."""
    from sitecheck.cmdline import config_dir
    from sitecheck.config.inventory import find_site

    return list(dict.fromkeys(find_site(key, config_dir(args)).key for key in args.site))


# --- worker ---------------------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    from celery import signals

    from sitecheck.probe.cli import parse_listen

    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    listen = parse_listen(args.metrics_listen) if args.metrics_listen else None
    counters = None
    if listen:  # before prometheus_client is imported: the pool's processes count into files here
        counters = tempfile.mkdtemp(prefix="sitecheck-worker-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = counters

    from . import metrics
    from .app import make_app
    from .dispatch import Sweeper, celery_sender, night_of
    from .tasks import open_db, store_location

    app = make_app(args.broker)
    conf = app.conf
    conf.sitecheck_db = store_location(args.db or conf.sitecheck_db)
    if args.config_dir:
        conf.sitecheck_config_dir = args.config_dir
    if args.heartbeat is not None:
        conf.sitecheck_heartbeat_s = args.heartbeat
    if args.stale_after is not None:
        conf.sitecheck_stale_after_s = args.stale_after
    if conf.sitecheck_heartbeat_s <= 0 or conf.sitecheck_stale_after_s < 3 * conf.sitecheck_heartbeat_s:
        raise UsageError("--stale-after must be at least three heartbeats (--heartbeat), both positive")
    with open_db(conf.sitecheck_db):  # create and migrate the store before any task reads it
        pass
    sweeper = None if args.no_sweep else Sweeper(lambda: open_db(conf.sitecheck_db), celery_sender(app),
                                                 conf.sitecheck_stale_after_s)

    def started(**_kwargs) -> None:
        # In the main process, after the pool's processes were forked.
        if sweeper is not None:
            sweeper.start()
        if listen:
            collector = metrics.NightCollector(lambda: open_db(conf.sitecheck_db, readonly=True),
                                               metrics.broker_queue_depth(app), night_of)
            metrics.serve(*listen, collector)

    signals.worker_ready.connect(started, weak=False)
    name = args.name or f"sitecheck-{os.getpid()}@{socket.gethostname()}"
    argv = ["worker", "--loglevel", "DEBUG" if args.verbose > 1 else "INFO", "--concurrency", str(args.concurrency),
            "--pool", "prefork", "-n", name, "--without-gossip", "--without-mingle", "--without-heartbeat"]
    try:
        app.worker_main(argv)
    finally:
        if sweeper is not None:
            sweeper.stop()
        if counters:
            shutil.rmtree(counters, ignore_errors=True)
    return EXIT_OK


# --- runs --night -----------------------------------------------------------------------------------


def format_nights(states: list, night: date, now: datetime | None = None) -> str:
    """The night across workers: one line per site, then the count of each state."""
    now = now or datetime.now(timezone.utc)
    lines = [f"night {night}",
             f"{'site':<12} {'state':<8} {'run':>6} {'run status':<11} {'tries':>5} {'beat age':>9}  worker"]
    counts: dict[str, int] = {}
    for n in states:
        age = f"{(now - n.heartbeat_at).total_seconds():.0f} s" if n.heartbeat_at and n.state == "running" else ""
        lines.append(f"{n.site:<12} {n.state:<8} {n.run_id if n.run_id is not None else '':>6} "
                     f"{n.run_status or '':<11} {n.attempts:>5} {age:>9}  {n.worker}")
        key = n.state if n.state != "done" else f"done ({n.run_status})"
        counts[key] = counts.get(key, 0) + 1
    lines.append(", ".join(f"{v} {k}" for k, v in sorted(counts.items())) if counts else "nothing dispatched")
    return "\n".join(lines)
