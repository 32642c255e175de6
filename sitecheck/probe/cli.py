"""`sitecheck probe`, `sitecheck availability` and `sitecheck serve`."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import signal
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sitecheck.cmdline import UsageError, config_dir, open_store, site_from_args, user_sites
from sitecheck.storedb import Location

log = logging.getLogger("sitecheck.serve")

DEFAULT_LISTEN = "127.0.0.1:9787"


def register(sub, common) -> None:
    sp = sub.add_parser("probe", help="probe every homepage and key page of a site once",
                        description="Open each configured host's homepage and the site's probe.urls once, the way "
                                    "the availability rule does (15 s to open), print the timings, store the probes. "
                                    "Exit 1 when any probe failed.")
    common(sp)
    sp.add_argument("--json", action="store_true", help="print the results as JSON")
    sp.add_argument("--no-store", action="store_true", help="do not record the probes in the store")
    sp.set_defaults(handler=cmd_probe)

    sp = sub.add_parser("availability", help="the rolling 7-day homepage availability and the unreachable veto",
                        description="Failed share of the portal homepage probes over the rolling window "
                                    "(probe.window_days, default 7), per-day counts, days with fewer than "
                                    "probe.min_daily_probes probes, and the 站点无法访问 status: pass, veto or no_data.")
    common(sp)
    sp.add_argument("--days", type=int, help="window in days (default: the site's probe.window_days)")
    sp.add_argument("--end", help="end of the window, ISO time (default: now)")
    sp.add_argument("--json", action="store_true", help="print the figures as JSON")
    sp.set_defaults(handler=cmd_availability)

    sp = sub.add_parser("serve", help="run the schedule: nightly crawls, probes, notifications, metrics endpoint",
                        description="Long-running service. For each site: crawl on schedule.crawl (a child "
                                    "'sitecheck run'), probe on schedule.probe, notify the webhook, and serve "
                                    "Prometheus metrics read from the store. SIGTERM or Ctrl-C stops it cleanly: "
                                    "running crawls get SIGTERM and are recorded as incomplete. SIGHUP reads the "
                                    "site files again (a file that does not load keeps the running configuration).")
    common(sp, site=False)
    sp.add_argument("--site", action="append", default=[], metavar="KEY",
                    help="site key (repeatable): reads <config-dir>/sites/<KEY>.yaml")
    sp.add_argument("--config", action="append", default=[], metavar="PATH", help="site file (repeatable)")
    sp.add_argument("--all", action="store_true", help="every site file in <config-dir>/sites")
    sp.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                    help=f"metrics endpoint address (default {DEFAULT_LISTEN}; 'off' to serve none)")
    sp.add_argument("--stop-timeout", type=float, default=30.0, metavar="SECONDS",
                    help="on SIGTERM, how long running crawls may take to close their runs before SIGKILL "
                         "(default 30)")
    sp.add_argument("--crawl-on-start", action="store_true", help="crawl every site once right away, then follow "
                                                                  "the schedule")
    sp.add_argument("--no-crawl", action="store_true", help="probe only: run no crawls")
    sp.add_argument("--probe-interval", type=float, metavar="SECONDS",
                    help="testing and demos: probe every SECONDS instead of schedule.probe")
    sp.add_argument("--dispatch", action="store_true",
                    help="distributed crawls: at each site's crawl time, queue the crawl for 'sitecheck worker' "
                         "processes (as 'sitecheck dispatch' does) instead of crawling here, and re-queue the "
                         "crawls of workers that died; run one such scheduler per deployment")
    sp.add_argument("--broker", metavar="URL", help="with --dispatch: the broker (default: $SITECHECK_BROKER)")
    sp.set_defaults(handler=cmd_serve)


# --- sitecheck probe -------------------------------------------------------------------------


def cmd_probe(args: argparse.Namespace) -> int:
    from .probe import probe_site

    site = site_from_args(args)
    if args.no_store:
        results = probe_site(site, None)
    else:
        with open_store(args) as store:
            results = probe_site(site, store)
    if args.json:
        print(json.dumps([_result_json(r) for r in results], ensure_ascii=False, indent=2))
    else:
        print(format_probe_table(results))
    return 1 if any(not r.ok for r in results) else 0


def _result_json(r) -> dict[str, Any]:
    return {"name": r.name, "kind": r.kind, "host": r.host_key, "url": r.url, "ok": r.ok, "status": r.status,
            "reason": r.reason.value, "final_url": r.final_url, "redirects": r.redirects,
            "phases": r.phases, "cert_expiry": r.cert_expiry.isoformat() if r.cert_expiry else None,
            "started_at": r.started_at.isoformat(), "error": r.error}


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_probe_table(results) -> str:
    header = ["", "what", "status", "reason", "dns", "connect", "tls", "ttfb", "total", "cert expiry", "url"]
    rows = [header]
    for r in results:
        rows.append(["ok" if r.ok else "FAIL", r.name or r.host_key, str(r.status or "-"), r.reason.value,
                     _seconds(r.dns_s), _seconds(r.connect_s), _seconds(r.tls_s), _seconds(r.ttfb_s),
                     _seconds(r.total_s), r.cert_expiry.strftime("%Y-%m-%d") if r.cert_expiry else "-", r.url])
    widths = [max(_width(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip()
             for row in rows]
    failed = [r for r in results if not r.ok]
    lines += [f"  {r.url}: {r.error}" for r in failed if r.error]
    lines.append(f"{len(results) - len(failed)}/{len(results)} opened within the threshold")
    return "\n".join(lines)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


# --- sitecheck availability --------------------------------------------------------------------


def cmd_availability(args: argparse.Namespace) -> int:
    from .probe import availability

    site = site_from_args(args)
    settings = site.ops["probe"]
    end = None
    if args.end:
        try:
            end = datetime.fromisoformat(args.end)
        except ValueError:
            raise UsageError(f"--end {args.end!r} is not an ISO time such as 2026-11-27T08:00:00+08:00") from None
        if end.tzinfo is None:
            end = end.replace(tzinfo=timezone.utc)
    with open_store(args, readonly=True) as store:
        figures = availability(store, site.key, end, args.days or settings["window_days"],
                               min_daily_probes=settings["min_daily_probes"],
                               failure_ratio=settings["failure_ratio_veto"])
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    else:
        print(format_availability(site, figures))
    return 0


_STATUS_TEXT = {"pass": "pass (通过)", "veto": "VETO (否决: 站点无法访问)", "no_data": "no data (无监测数据)"}


def format_availability(site, f: dict[str, Any]) -> str:
    w = f["window"]
    lines = [f"{site.name} ({site.key}) — homepage availability, {w['days']} days "
             f"{w['start'][:16]} … {w['end'][:16]} UTC"]
    if f["probes"]:
        lines.append(f"portal homepage: {f['probes']} probes, {f['failed']} failed ({f['ratio']:.2%}); "
                     f"veto at {f['failure_ratio_veto']:.0%} = {f['veto_at_failed']} failed")
    lines.append(f"unreachable: {_STATUS_TEXT[f['status']]}; coverage: {f['coverage']}"
                 + (f" ({len(f['insufficient_days'])} of {w['days']} days with fewer than "
                    f"{f['min_daily_probes']} probes)" if f["insufficient_days"] else ""))
    lines.append("per day (24 h slices ending at the window end):")
    for d in f["per_day"]:
        mark = "  < min" if d["probes"] < f["min_daily_probes"] else ""
        lines.append(f"  {d['start'][:16]}  {d['probes']:>5} probes  {d['failed']:>4} failed{mark}")
    if f["targets"]:
        lines.append("every probed page:")
        for t in f["targets"]:
            lines.append(f"  {t['kind']:<8} {_pad(t['name'] or t['host_key'], 14)} {t['probes']:>5} probes "
                         f"{t['failed']:>4} failed ({t['ratio']:.1%})  {t['url']}")
    return "\n".join(lines)


# --- sitecheck serve -------------------------------------------------------------------------------


def serve_sites(args: argparse.Namespace) -> list:
    from sitecheck.config import load_site
    from sitecheck.config.inventory import find_site

    found = [load_site(p) for p in args.config] + [find_site(key, config_dir(args)) for key in args.site]
    if args.all:
        found += user_sites(args, "--all")
    if not found:
        raise UsageError("name the sites to serve: --site KEY, --config PATH (both repeatable) or --all")
    sites, seen = [], {}
    for site in found:
        where = (Path(site.path).resolve(), site.entry)
        if site.key in seen:
            if seen[site.key] == where:  # the same site named twice
                continue
            raise UsageError(f"{where[0]}: site key {site.key!r} is also used by {seen[site.key][0]}")
        seen[site.key] = where
        sites.append(site)
    return sites


def parse_listen(text: str) -> tuple[str, int] | None:
    if text.lower() in ("off", "none", ""):
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--listen {text!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN}")
    return host.strip("[]") or "127.0.0.1", int(port)


def cmd_serve(args: argparse.Namespace) -> int:
    from .scheduler import Scheduler

    sites = serve_sites(args)
    listen = parse_listen(args.listen)
    if args.probe_interval is not None and args.probe_interval <= 0:
        raise UsageError("--probe-interval must be a positive number of seconds")
    with open_store(args) as store:  # create and migrate the store before anything reads it
        db_path = store.location
    dispatch, sweeper = _distributed(args) if args.dispatch else (None, None)
    scheduler = Scheduler(sites, db_path, probe_interval=args.probe_interval, crawl_on_start=args.crawl_on_start,
                          crawls=not args.no_crawl, stop_timeout=args.stop_timeout,
                          reload_sites=lambda: serve_sites(args), dispatch=dispatch)
    exporter = None
    if listen:
        try:
            exporter = start_metrics(db_path, *listen)
        except OSError as exc:
            raise UsageError(f"--listen {args.listen}: cannot serve metrics there: {exc.strerror or exc}") from None
        listen = (listen[0], exporter[0].server_port) if isinstance(exporter, tuple) else listen

    def on_signal(signum, _frame) -> None:
        log.warning("received %s: stopping", signal.Signals(signum).name)
        scheduler.stop()

    def on_hangup(signum, _frame) -> None:
        log.warning("received SIGHUP: reading the site files again")
        scheduler.request_reload()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, on_hangup)
    print(f"sitecheck serve: {len(sites)} site(s) ({', '.join(s.key for s in sites)}), store {db_path}"
          + (f", metrics http://{listen[0]}:{listen[1]}/metrics" if listen else ""), flush=True)
    if sweeper is not None:
        sweeper.start()
    try:
        scheduler.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop_exporter(exporter)
        if sweeper is not None:
            sweeper.stop()
    print("sitecheck serve: stopped", flush=True)
    return 0


def _distributed(args: argparse.Namespace) -> tuple[Any, Any]:
    """`serve --dispatch`: what a due crawl does instead of crawling, and the sweeper of dead workers' nights."""
    from sitecheck.distributed.app import make_app
    from sitecheck.distributed.dispatch import Sweeper, celery_sender, scheduled
    from sitecheck.distributed.tasks import open_db

    app = make_app(args.broker)
    send = celery_sender(app)
    db = functools.partial(open_db, args.db)
    return scheduled(db, send), Sweeper(db, send, app.conf.sitecheck_stale_after_s)


def start_metrics(db_path: Path | Location, host: str, port: int) -> Any:
    """Serve the store's metrics (sitecheck.metrics) from a daemon thread; returns (server, thread)."""
    from sitecheck.metrics.exporter import start_http_exporter

    return start_http_exporter(db_path, host, port)


def _stop_exporter(exporter: Any) -> None:
    server = exporter[0] if isinstance(exporter, tuple) else exporter
    if server is not None and hasattr(server, "shutdown"):
        try:
            server.shutdown()
            server.server_close()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass
