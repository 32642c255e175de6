"""The `sitecheck` command. Only this module turns errors into exit codes.

Exit codes: 0 clean; 1 findings at or above --fail-on; 2 usage or configuration
error (also store errors a user must fix, such as a read-only data directory).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from sitecheck import __version__
from sitecheck.config import ConfigError, SiteConfig, find_site_file, load_site
from sitecheck.credentials import CredentialError
from sitecheck.model import Severity
from sitecheck.store import Store, StoreError, default_db_path

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


class UsageError(Exception):
    pass


def command(name: str):
    def register(fn):
        COMMANDS[name] = fn
        return fn
    return register


# --- where things are -------------------------------------------------------------------


def config_dir(args: argparse.Namespace) -> Path:
    """--config-dir, $SITECHECK_CONFIG_DIR, ./config, or the config/ folder next to the package."""
    if getattr(args, "config_dir", None):
        return Path(args.config_dir)
    if os.environ.get("SITECHECK_CONFIG_DIR"):
        return Path(os.environ["SITECHECK_CONFIG_DIR"])
    if Path("config/sites").is_dir():
        return Path("config")
    return Path(__file__).resolve().parents[1] / "config"


def site_from_args(args: argparse.Namespace) -> SiteConfig:
    if getattr(args, "config", None):
        return load_site(args.config)
    if getattr(args, "site", None):
        return load_site(find_site_file(args.site, config_dir(args)))
    raise UsageError("name a site with --site KEY or a site file with --config PATH")


def open_store(args: argparse.Namespace, readonly: bool = False) -> Store:
    return Store(Path(args.db) if getattr(args, "db", None) else default_db_path(), readonly=readonly)


# --- commands ---------------------------------------------------------------------------


@command("run")
def cmd_run(args: argparse.Namespace) -> int:
    from sitecheck.crawler.runner import run_crawls
    from sitecheck.summary import format_summary

    sites = all_sites(args) if args.all else [site_from_args(args)]
    fail_on = Severity.parse(args.fail_on)
    stores = [open_store(args) for _ in sites]  # one connection per crawl: each has its own run
    try:
        summaries = run_crawls(list(zip(sites, stores)), progress=args.progress,
                               log_level="DEBUG" if args.verbose > 1 else "INFO" if args.verbose else "WARNING")
        for site, store, summary in zip(sites, stores, summaries):
            print(format_summary(site, store, summary), flush=True)
    finally:
        for store in stores:
            store.close()
    global _crawl_done
    _crawl_done = True
    code = EXIT_OK
    for summary in summaries:
        worst = max(summary.findings_by_severity, default=None)
        if summary.status != "complete" or (worst is not None and worst >= fail_on):
            code = EXIT_FINDINGS
    return code


def all_sites(args: argparse.Namespace) -> list[SiteConfig]:
    paths = sorted((config_dir(args) / "sites").glob("*.yaml"))
    if not paths:
        raise UsageError(f"no site files in {config_dir(args) / 'sites'}")
    sites = [load_site(p) for p in paths]
    seen: dict[str, Path] = {}
    for site in sites:
        if site.key in seen:
            raise ConfigError(site.path, None, "site", f"duplicate site key {site.key!r} (also in {seen[site.key]})",
                              "each site file needs its own key")
        seen[site.key] = site.path
    return sites


@command("check-config")
def cmd_check_config(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths]
    if args.site:
        paths.append(find_site_file(args.site, config_dir(args)))
    if not paths:
        paths = sorted((config_dir(args) / "sites").glob("*.yaml"))
    if not paths:
        raise UsageError("no site files found: pass paths or --config-dir")
    errors = 0
    keys: dict[str, Path] = {}
    for path in paths:
        try:
            site = load_site(path)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            errors += 1
            continue
        if site.key in keys:
            print(f"error: {path}: site: duplicate site key {site.key!r} (also in {keys[site.key]}) "
                  "(hint: each site file needs its own key)", file=sys.stderr)
            errors += 1
            continue
        keys[site.key] = path
        print(f"ok: {path} (site {site.key}: {len(site.hosts)} hosts, checks: {', '.join(site.checks)})")
        if args.probe:  # one request per host: does the WAF allowlist let the monitor in?
            from sitecheck.allowlist import first_answers, format_answers

            print(format_answers(first_answers(site)))
    return EXIT_USAGE if errors else EXIT_OK


@command("export")
def cmd_export(args: argparse.Namespace) -> int:
    from sitecheck import export

    with open_store(args, readonly=True) as store:
        run = _pick_run(store, args)
        out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout
        try:
            (export.write_json if args.format == "json" else export.write_csv)(store, run, out)
        finally:
            if args.output:
                out.close()
    return EXIT_OK


@command("runs")
def cmd_runs(args: argparse.Namespace) -> int:
    with open_store(args, readonly=True) as store:
        store_runs = store.runs(args.site, limit=args.limit)
        print(f"{'id':>5}  {'site':<10} {'started (UTC)':<26} {'status':<11} {'pages':>6} {'findings':>8}")
        for r in store_runs:
            print(f"{r.id:>5}  {r.site:<10} {r.started_at.isoformat():<26} {r.status:<11} {r.pages:>6} "
                  f"{r.findings:>8}")
    return EXIT_OK


@command("config-docs")
def cmd_config_docs(args: argparse.Namespace) -> int:
    from sitecheck.docs import write_generated

    for path in write_generated(Path(args.root)):
        print(f"wrote {path}")
    return EXIT_OK


@command("demo")
def cmd_demo(args: argparse.Namespace) -> int:
    from sitecheck.demo import cli as demo_cli

    return demo_cli.main(args)


def _pick_run(store: Store, args: argparse.Namespace):
    if args.run:
        run = store.run(args.run)
        if run is None:
            raise UsageError(f"no run with id {args.run} in {store.path}")
        return run
    site_key = args.site
    if not site_key and args.config:
        site_key = load_site(args.config).key
    if not site_key:
        raise UsageError("name a run with --run ID or a site with --site KEY")
    run = store.latest_run(site_key, ("complete", "incomplete"))
    if run is None:
        raise UsageError(f"no finished run of site {site_key!r} in {store.path}; run 'sitecheck run --site "
                         f"{site_key}' first")
    return run


# --- argument parsing ------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sitecheck",
        description="Website-health monitor for Chinese government portals: crawls a portal and its "
                    "sub-sites, checks links, speed and the national inspection indicators "
                    "(国办秘函〔2019〕19号), stores history in SQLite, and exports metrics and reports.",
        epilog="Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or configuration error. "
               "Environment: SITECHECK_DB (store path), SITECHECK_CONFIG_DIR (config folder).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"sitecheck {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def common(sp: argparse.ArgumentParser, site: bool = True, db: bool = True) -> None:
        if site:
            sp.add_argument("--site", help="site key: reads <config-dir>/sites/<KEY>.yaml")
            sp.add_argument("--config", metavar="PATH", help="a site file to use instead of --site")
        sp.add_argument("--config-dir", metavar="DIR",
                        help="folder with sites/ and indicators/ (default: $SITECHECK_CONFIG_DIR, ./config, "
                             "or the bundled config)")
        if db:
            sp.add_argument("--db", metavar="PATH", help=f"SQLite store (default: $SITECHECK_DB or "
                                                         f"{default_db_path()})")
        sp.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")

    sp = sub.add_parser("run", help="crawl a site once and record findings",
                        description="Crawl every configured host of a site, check every link target, "
                                    "run the site's checks, store the run and print a summary.")
    common(sp)
    sp.add_argument("--all", action="store_true", help="crawl every site file in <config-dir>/sites at once, "
                                                       "each within its own politeness limits")
    sp.add_argument("--fail-on", default="error", choices=[s.label for s in Severity],
                    help="exit 1 when a finding has at least this severity (default: error)")
    sp.add_argument("--progress", choices=["auto", "live", "log", "off"],
                    help="progress display (default from the site file: auto)")

    sp = sub.add_parser("check-config", help="validate site files",
                        description="Validate site files strictly; errors name file, line, key and a hint.")
    common(sp, site=False, db=False)
    sp.add_argument("paths", nargs="*", help="site files (default: every file in <config-dir>/sites)")
    sp.add_argument("--site", help="also check the site file of this key")
    sp.add_argument("--probe", action="store_true", help="also ask each host's homepage once (with the site's "
                                                         "credentials) and say whether its WAF challenged the request")

    sp = sub.add_parser("export", help="write a run's pages and findings as JSON or CSV",
                        description="Export the latest finished run of a site (or --run ID): every page "
                                    "visited and every finding with its referring pages. The JSON format "
                                    "is described by schemas/export.schema.json.")
    common(sp)
    sp.add_argument("--run", type=int, help="run id (default: the site's latest finished run)")
    sp.add_argument("--format", choices=["json", "csv"], default="json")
    sp.add_argument("--output", "-o", metavar="PATH", help="file to write (default: standard output)")

    sp = sub.add_parser("runs", help="list stored runs")
    common(sp, site=False)
    sp.add_argument("--site", help="only this site")
    sp.add_argument("--limit", type=int, default=20)

    sp = sub.add_parser("config-docs", help="regenerate docs/config.md and the JSON Schemas")
    sp.add_argument("--root", default=".", help="repository root (default: .)")
    sp.add_argument("-v", "--verbose", action="count", default=0)

    from sitecheck.demo import cli as demo_cli

    demo_cli.add_parser(sub, common)
    for path in COMMAND_MODULES:
        importlib.import_module(path).register(sub, common)
    return p


# Modules that add commands: each has register(sub, common), which adds its parser(s)
# and sets a `handler` default taking the parsed args and returning an exit code.
COMMAND_MODULES = [
    "sitecheck.scorecmd",
    "sitecheck.metrics.cli",
    "sitecheck.probe.cli",
    "sitecheck.report.cli",
    "sitecheck.discover",
]



# Set by `run` once its stores are closed and its summary printed (see entry()).
_crawl_done = False


def entry(argv: list[str] | None = None) -> NoReturn:
    """The `sitecheck` program: main(), then exit with its status.

    After `run`, the process leaves without freeing the crawl's objects one by one at interpreter
    exit (0.43 s at 20,000 pages, bench/README.md): the stores are closed and the summary is
    printed by then.  Other commands exit as usual.
    """
    code = main(argv)
    if _crawl_done:
        from sitecheck.gcpolicy import exit_without_cleanup

        exit_without_cleanup(code)
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    level = logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.root.handlers:
        handler.setLevel(level)  # Scrapy resets the root logger's level; the handler's level holds
    if args.verbose < 2:
        # Download failures are findings in the summary; Scrapy's own lines about them are noise
        # here. A handler filter, because Scrapy resets logger levels when a crawl starts.
        floor = logging.WARNING if args.verbose else logging.CRITICAL
        for handler in logging.root.handlers:
            handler.addFilter(lambda r: not r.name.startswith("scrapy") or r.levelno >= floor)
    handler = getattr(args, "handler", None) or COMMANDS[args.command]
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, StoreError, CredentialError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    entry()
