"""`sitecheck exporter` (serve /metrics until stopped) and `sitecheck metrics` (one snapshot)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from sitecheck.cmdline import EXIT_OK, EXIT_USAGE, UsageError
from sitecheck.store import store_location
from sitecheck.storedb import Location

from . import DEFAULT_HOST, DEFAULT_PORT  # the exporter itself (prometheus_client) loads when a command runs


def register(sub, common) -> None:
    sp = sub.add_parser(
        "exporter", help="serve Prometheus metrics read from the store on every scrape",
        description="Serve /metrics for Prometheus until SIGTERM or Ctrl-C. Every scrape reads the store "
                    "(read-only), so the metrics always show the latest runs; crawls may write meanwhile. "
                    "docs/metrics.md lists the metrics.")
    common(sp, site=False)
    sp.add_argument("--listen", metavar="HOST:PORT", default=f"{DEFAULT_HOST}:{DEFAULT_PORT}",
                    help=f"address to listen on (default {DEFAULT_HOST}:{DEFAULT_PORT}, loopback only; "
                         "port 0 picks a free port; [::1]:PORT for IPv6)")
    sp.set_defaults(handler=cmd_exporter)

    sp = sub.add_parser(
        "metrics", help="print the metrics once, or write them for node_exporter, or push them",
        description="Read the store once and print the metrics in the Prometheus text format, or write them "
                    "atomically for node_exporter's textfile collector (--textfile), or push them to a "
                    "Pushgateway (--push). Exit 2 when the store cannot be read (the output then says "
                    "sitecheck_exporter_store_up 0).")
    common(sp, site=False)
    out = sp.add_mutually_exclusive_group()
    out.add_argument("--textfile", metavar="PATH", help="write here, e.g. "
                     "/var/lib/prometheus/node-exporter/sitecheck.prom (the name must end in .prom)")
    out.add_argument("--push", metavar="URL", help="Pushgateway address, e.g. http://127.0.0.1:9091")
    sp.add_argument("--job", default="sitecheck", help="job label for --push (default: sitecheck)")
    sp.set_defaults(handler=cmd_metrics)


def parse_listen(text: str) -> tuple[str, int]:
    """'HOST:PORT' or '[IPv6]:PORT' -> (host, port); raises ValueError with a hint."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:{DEFAULT_PORT} "
                         f"(0.0.0.0:{DEFAULT_PORT} listens on every interface)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise ValueError(f"--listen {text!r}: the port must be a number from 0 to 65535")
    return host, number


def _db_path(args: argparse.Namespace) -> Location:
    return store_location(getattr(args, "db", None))


def cmd_exporter(args: argparse.Namespace) -> int:
    try:
        host, port = parse_listen(args.listen)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    db = _db_path(args)
    try:
        from .exporter import start_http_exporter

        server, thread = start_http_exporter(db, host, port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.listen}: {exc.strerror or exc}") from None
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    shown = f"[{host}]" if ":" in host else host
    try:
        print(f"sitecheck exporter: serving http://{shown}:{server.server_port}/metrics (store {db})", flush=True)
        if not db.exists():
            print(f"warning: {db} does not exist yet; sitecheck_exporter_store_up is 0 until a crawl "
                  "creates it", file=sys.stderr, flush=True)
        while not stop.wait(1.0):
            if not thread.is_alive():
                print("error: the metrics server stopped", file=sys.stderr)
                return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.shutdown()
        server.server_close()
        thread.join(5)
    print("sitecheck exporter: stopped", flush=True)
    return EXIT_OK


def cmd_metrics(args: argparse.Namespace) -> int:
    from .exporter import exposition, push, write_textfile

    db = _db_path(args)
    if args.textfile:
        if not args.textfile.endswith(".prom"):
            print(f"warning: node_exporter's textfile collector reads only *.prom files, not {args.textfile}",
                  file=sys.stderr)
        try:
            error = write_textfile(db, args.textfile)
        except OSError as exc:
            print(f"error: cannot write {args.textfile}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
    elif args.push:
        try:
            error = push(db, args.push, job=args.job)
        except OSError as exc:
            print(f"error: cannot push to {args.push}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    else:
        text, error = exposition(db)
        sys.stdout.buffer.write(text)
        sys.stdout.flush()
    if error:
        print(f"error: cannot read the store: {error}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
