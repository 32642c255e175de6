"""What every sub-command shares: exit codes, the common options, where the config and the store are.

Each command module has `register(sub, common)`: it adds its parser(s) to `sub`, calls
`common(parser, ...)` for the shared options and sets a `handler` default taking the
parsed arguments and returning an exit code.  `sitecheck.cli` lists the modules,
builds the parser and turns the errors below into exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sitecheck import storedb
from sitecheck.config import ConfigError, SiteConfig, load_site, user_config_dir
from sitecheck.config.inventory import find_site, registry_sites
from sitecheck.store import Store, StoreError, default_db_path, store_location

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A command was asked for something it cannot do as given; exit 2 with this message."""


def python_module(module: str) -> list[str]:
    """The command line running `module` in a child Python: `-P` keeps the current directory off
    sys.path, so a source checkout the user stands in never shadows the installed package."""
    return [sys.executable, "-P", "-m", module]


def common(sp: argparse.ArgumentParser, site: bool = True, db: bool = True) -> None:
    """The options most commands take: --site/--config, --config-dir, --db, -v."""
    if site:
        sp.add_argument("--site", help="site key: reads <config-dir>/sites/<KEY>.yaml, else the bundled one")
        sp.add_argument("--config", metavar="PATH", help="a site file to use instead of --site")
    sp.add_argument("--config-dir", metavar="DIR",
                    help="folder with sites/ (and optionally indicators/, words/); default: "
                         "$SITECHECK_CONFIG_DIR, else $XDG_CONFIG_HOME/sitecheck (~/.config/sitecheck)")
    if db:
        sp.add_argument("--db", metavar="PATH|URL", help="the store: a SQLite file or a postgresql:// URL "
                        f"(default: $SITECHECK_DB or {default_db_path()})")
    sp.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")


def config_dir(args: argparse.Namespace) -> Path:
    return user_config_dir(getattr(args, "config_dir", None))


def site_from_args(args: argparse.Namespace) -> SiteConfig:
    if getattr(args, "config", None):
        return load_site(args.config)
    if getattr(args, "site", None):
        return find_site(args.site, config_dir(args))
    raise UsageError("name a site with --site KEY or a site file with --config PATH")


def user_sites(args: argparse.Namespace, what: str) -> list[SiteConfig]:
    """Every site of the user's config directory, its site files and its inventory (for --all and
    friends); an error when there is none, or when a key is given twice."""
    sites = registry_sites(config_dir(args))
    if not sites:
        raise UsageError(f"{what}: no site files in {config_dir(args) / 'sites'} and no inventory "
                         "(write one with 'sitecheck init', or name a bundled site such as --site demo)")
    return sites


def open_store(args: argparse.Namespace, readonly: bool = False, must_exist: bool = False) -> Store:
    """The store of --db or the default path; `must_exist` refuses to create one (commands that only read
    a run's results must not leave an empty database behind a mistyped path)."""
    where = store_location(getattr(args, "db", None))
    if must_exist and not where.exists():
        raise StoreError(f"{where}: no such database (run a crawl first, or pass --db)")
    if not readonly and storedb.needs_migration(where):
        try:
            storedb.migrate_in_child(where)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
    return Store(where, readonly=readonly)


def pick_run(store: Store, args: argparse.Namespace):
    """The run named by --run, else the latest finished run of --site (or of the --config site)."""
    if args.run:
        run = store.run(args.run)
        if run is None:
            raise UsageError(f"no run with id {args.run} in {store.location}")
        return run
    site_key = args.site
    if not site_key and args.config:
        site_key = load_site(args.config).key
    if not site_key:
        raise UsageError("name a run with --run ID or a site with --site KEY")
    run = store.latest_run(site_key, ("complete", "incomplete"))
    if run is None:
        raise UsageError(f"no finished run of site {site_key!r} in {store.location}; run 'sitecheck run --site "
                         f"{site_key}' first")
    return run


__all__ = ["EXIT_FINDINGS", "EXIT_OK", "EXIT_USAGE", "ConfigError", "StoreError", "UsageError", "common",
           "config_dir", "open_store", "pick_run", "python_module", "site_from_args", "user_sites"]
