"""The site commands: `run`, `check-config`, `init`, `export`, `runs` and `config-docs`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

from sitecheck import bundled
from sitecheck.config import ConfigError, SiteConfig, load_site
from sitecheck.config.inventory import find_site, inventory_path, load_inventory
from sitecheck.config.locate import site_files
from sitecheck.config.sitefile import SITE_KEY_PATTERN, canonical_url
from sitecheck.distributed.cli import parse_night
from sitecheck.model import Severity

from .cmdline import (EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError, config_dir, open_store, pick_run,
                      site_from_args, user_sites)

# Set once `run` has closed its stores and printed its summary: `sitecheck.cli.entry` then leaves
# without freeing the crawl's objects one by one (see sitecheck.gcpolicy).
crawl_done = False


def register(sub, common) -> None:
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
    sp.add_argument("--claimed-run", type=int, metavar="ID",
                    help="record into this running run instead of starting one: the run a distributed "
                         "worker claimed for the site's night (sitecheck worker starts such crawls)")
    sp.set_defaults(handler=cmd_run)

    sp = sub.add_parser("check-config", help="validate site files and the inventory",
                        description="Validate site files and the site inventory strictly; errors name file, "
                                    "line, key and a hint, every bad file and inventory row is listed.")
    common(sp, site=False, db=False)
    sp.add_argument("paths", nargs="*", help="site files or an inventory (default: every file in "
                                             "<config-dir>/sites and <config-dir>/inventory.csv|yaml)")
    sp.add_argument("--site", help="also check the site file of this key")
    sp.add_argument("--probe", action="store_true", help="also ask each host's homepage once (with the site's "
                                                         "credentials) and say whether its WAF challenged the request")
    sp.set_defaults(handler=cmd_check_config)

    sp = sub.add_parser("init", help="write a starter site file into the config directory",
                        description="Write <config-dir>/sites/<KEY>.yaml: one host at URL, the crawl defaults "
                                    "spelled out, and the JSON Schema line editors use for completion. "
                                    "Then: sitecheck check-config --site KEY; sitecheck run --site KEY.")
    common(sp, site=False, db=False)
    sp.add_argument("--site", default="mysite", metavar="KEY", help="site key (default: mysite)")
    sp.add_argument("--url", default="https://www.example.gov.cn/", help="homepage of the portal")
    sp.add_argument("--name", help="display name (default: the key)")
    sp.add_argument("--force", action="store_true", help="overwrite an existing site file")
    sp.set_defaults(handler=cmd_init)

    sp = sub.add_parser("export", help="write a run's pages and findings as JSON or CSV",
                        description="Export the latest finished run of a site (or --run ID): every page "
                                    "visited and every finding with its referring pages. The JSON format "
                                    "is described by schemas/export.schema.json.")
    common(sp)
    sp.add_argument("--run", type=int, help="run id (default: the site's latest finished run)")
    sp.add_argument("--format", choices=["json", "csv"], default="json")
    sp.add_argument("--output", "-o", metavar="PATH", help="file to write (default: standard output)")
    sp.set_defaults(handler=cmd_export)

    sp = sub.add_parser("runs", help="list stored runs, or a night's crawls across workers (--night)")
    common(sp, site=False)
    sp.add_argument("--site", help="only this site")
    sp.add_argument("--limit", type=int, default=20)
    sp.add_argument("--night", type=parse_night, metavar="YYYY-MM-DD",
                    help="the state of this night's dispatched crawls (sitecheck dispatch): queued, running "
                         "(with the worker and its last heartbeat) or done, per site")
    sp.set_defaults(handler=cmd_runs)

    sp = sub.add_parser("config-docs", help="regenerate docs/config.md and the JSON Schemas")
    sp.add_argument("--root", default=".", help="repository root (default: .)")
    sp.add_argument("-v", "--verbose", action="count", default=0)
    sp.set_defaults(handler=cmd_config_docs)


# --- run ----------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from sitecheck.crawler.runner import run_crawls
    from sitecheck.summary import format_summary

    global crawl_done
    sites = user_sites(args, "--all") if args.all else [site_from_args(args)]
    fail_on = Severity.parse(args.fail_on)
    stores = [open_store(args) for _ in sites]  # one connection per crawl: each has its own run
    try:
        run_ids = [claimed_run(stores[0], sites, args.claimed_run)] if args.claimed_run else None
        summaries = run_crawls(list(zip(sites, stores)), progress=args.progress, run_ids=run_ids,
                               log_level="DEBUG" if args.verbose > 1 else "INFO" if args.verbose else "WARNING")
        for site, store, summary in zip(sites, stores, summaries):
            print(format_summary(site, store, summary), flush=True)
    finally:
        for store in stores:
            store.close()
    crawl_done = True
    code = EXIT_OK
    for summary in summaries:
        worst = max(summary.findings_by_severity, default=None)
        if summary.status != "complete" or (worst is not None and worst >= fail_on):
            code = EXIT_FINDINGS
    return code


def claimed_run(store, sites: list[SiteConfig], run_id: int) -> int:
    """`run_id` when it is a running run of the one site given; else a usage error."""
    if len(sites) != 1:
        raise UsageError("--claimed-run records one site's crawl: give --site or --config, not --all")
    run = store.run(run_id)
    if run is None or run.site != sites[0].key or run.status != "running":
        found = "no such run" if run is None else f"run of site {run.site!r}, {run.status}"
        raise UsageError(f"--claimed-run {run_id}: not a running run of site {sites[0].key!r} ({found})")
    return run_id


# --- check-config and init --------------------------------------------------------------------


def _configured(args: argparse.Namespace):
    """What check-config validates: each a loaded site or the ConfigError its file or row gave."""
    paths = [Path(p) for p in args.paths]
    if not paths and not args.site:
        folder = config_dir(args)
        paths = site_files(folder) + [p for p in [inventory_path(folder)] if p]
        if not paths:
            user_sites(args, "check-config")  # the "nothing to check" error
    for path in paths:
        if path.suffix == ".csv" or path.name in ("inventory.yaml", "inventory.yml"):
            try:
                sites, errors = load_inventory(path)
            except ConfigError as exc:
                yield exc
                continue
            yield from sites
            yield from (error for _key, error in errors)
            continue
        try:
            yield load_site(path)
        except ConfigError as exc:
            yield exc
    if args.site:
        try:
            yield find_site(args.site, config_dir(args))
        except ConfigError as exc:
            yield exc


def cmd_check_config(args: argparse.Namespace) -> int:
    errors = 0
    keys: dict[str, str] = {}
    for site in _configured(args):
        if isinstance(site, ConfigError):
            print(f"error: {site}", file=sys.stderr)
            errors += 1
            continue
        where = f"{site.path}" + (f" [{site.entry}]" if site.entry else "")
        if site.key in keys:
            print(f"error: {where}: site: duplicate site key {site.key!r} (also in {keys[site.key]}) "
                  "(hint: each site needs its own key)", file=sys.stderr)
            errors += 1
            continue
        keys[site.key] = where
        print(f"ok: {where} (site {site.key}: {len(site.hosts)} hosts, checks: {', '.join(site.checks)})")
        if args.probe:  # one request per host: does the WAF allowlist let the monitor in?
            from sitecheck.allowlist import first_answers, format_answers

            print(format_answers(first_answers(site)))
    return EXIT_USAGE if errors else EXIT_OK


STARTER = """\
# yaml-language-server: $schema={schema}
# A sitecheck site file. Every key is described in docs/config.md; editors that read the line
# above complete and check keys as you type.  Check the file:  sitecheck check-config --site {key}
# Crawl the site once:                                          sitecheck run --site {key}
site: {key}
name: {name}                  # display name of the department, e.g. 甘肃省工业和信息化厅

hosts:                        # the portal first, then its sub-sites (each is crawled)
  - key: portal
    name: 门户网站
    url: {url}
    # site_code: "6200000000"   # 网站标识码 expected in the footer
    # columns:                  # columns whose freshness is checked
    #   - {{name: 通知公告, url: "{url}tzgg/", category: 通知公告}}

crawl:
  max_pages: 20000            # stop following new pages after this many
  concurrency_per_host: 4     # requests in flight at once to one host
  delay_seconds: 0            # pause between requests to one host (politeness)
  timeout_seconds: 15         # the national rules allow 15 s to open a page
  robots: obey
{extra}
# checks: omit to run every built-in check with its defaults; list names to choose.
# schedule: (for `sitecheck serve`) when to crawl and probe, e.g. crawl: "30 1 * * *".
"""


def starter_site_file(key: str, url: str, name: str | None = None) -> str:
    """The text `sitecheck init` writes; loopback and private addresses are allowed explicitly."""
    import ipaddress

    extra = ""
    host = urlsplit(url).hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and not address.is_global:
        extra = (f"  # {host} is not a public address: links to other hosts on this network may be checked too.\n"
                 f"  allow_networks: [{ipaddress.ip_network(f'{address}/{address.max_prefixlen}')}]\n")
    schema = bundled.path("schemas", "site.schema.json").resolve().as_uri()
    return STARTER.format(schema=schema, key=key, name=name or key, url=canonical_url(url), extra=extra)


def cmd_init(args: argparse.Namespace) -> int:
    import re

    if not re.fullmatch(SITE_KEY_PATTERN, args.site):
        raise UsageError(f"--site {args.site!r}: use lower-case letters, digits, '-' and '_', starting with a "
                         "letter, at most 32 characters")
    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--url {args.url!r}: give the full homepage address, e.g. https://gxt.gansu.gov.cn/")
    path = config_dir(args) / "sites" / f"{args.site}.yaml"
    if path.exists() and not args.force:
        raise UsageError(f"{path} exists already (--force overwrites it)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(starter_site_file(args.site, args.url, args.name), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the site file: {exc.strerror or exc}") from None
    load_site(path)  # what we wrote must pass check-config
    print(f"wrote {path}\nnext: sitecheck check-config --site {args.site} && sitecheck run --site {args.site}")
    return EXIT_OK


# --- export, runs, config-docs --------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    from sitecheck import export

    with open_store(args, readonly=True) as store:
        run = pick_run(store, args)
        out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout
        try:
            (export.write_json if args.format == "json" else export.write_csv)(store, run, out)
        finally:
            if args.output:
                out.close()
    return EXIT_OK


def cmd_runs(args: argparse.Namespace) -> int:
    with open_store(args, readonly=True) as store:
        if args.night:
            from sitecheck.distributed.cli import format_nights

            nights = [n for n in store.nights(args.night) if not args.site or n.site == args.site]
            print(format_nights(nights, args.night))
            return EXIT_OK
        store_runs = store.runs(args.site, limit=args.limit)
        print(f"{'id':>5}  {'site':<10} {'started (UTC)':<26} {'status':<11} {'pages':>6} {'findings':>8}")
        for r in store_runs:
            print(f"{r.id:>5}  {r.site:<10} {r.started_at.isoformat():<26} {r.status:<11} {r.pages:>6} "
                  f"{r.findings:>8}")
    return EXIT_OK


def cmd_config_docs(args: argparse.Namespace) -> int:
    from sitecheck.docs import write_generated

    for path in write_generated(Path(args.root)):
        print(f"wrote {path}")
    return EXIT_OK
