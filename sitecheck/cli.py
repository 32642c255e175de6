"""The `sitecheck` command. Only this module turns errors into exit codes.

Exit codes: 0 clean; 1 findings at or above --fail-on; 2 usage or configuration
error (also store errors a user must fix, such as a read-only data directory).
Every sub-command lives in a module of `COMMAND_MODULES` and registers itself the
same way (see `sitecheck.cmdline`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import NoReturn

from sitecheck import __version__
from sitecheck.cmdline import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError, common
from sitecheck.config import ConfigError
from sitecheck.credentials import CredentialError
from sitecheck.store import StoreError

__all__ = ["EXIT_FINDINGS", "EXIT_OK", "EXIT_USAGE", "build_parser", "entry", "main"]

# Modules that add commands, in the order `sitecheck --help` lists them.
COMMAND_MODULES = [
    "sitecheck.sitecmds",
    "sitecheck.demo.cli",
    "sitecheck.scorecmd",
    "sitecheck.metrics.cli",
    "sitecheck.probe.cli",
    "sitecheck.report.cli",
    "sitecheck.discover",
    "sitecheck.distributed.cli",
    "sitecheck.storecopy",
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sitecheck",
        description="Website-health monitor for Chinese government portals: crawls a portal and its "
                    "sub-sites, checks links, speed and the national inspection indicators "
                    "(国办秘函〔2019〕19号), stores history in SQLite, and exports metrics and reports.",
        epilog="Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or configuration error. "
               "Environment: SITECHECK_DB (store: a SQLite path or a postgresql:// URL), SITECHECK_CONFIG_DIR (config folder; default "
               "$XDG_CONFIG_HOME/sitecheck), SITECHECK_BROKER (dispatch and worker: the Celery broker URL).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"sitecheck {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for path in COMMAND_MODULES:
        importlib.import_module(path).register(sub, common)
    return p


def entry(argv: list[str] | None = None) -> NoReturn:
    """The `sitecheck` program: main(), then exit with its status.

    After `run`, the process leaves without freeing the crawl's objects one by one at
    interpreter exit (the stores are closed and the summary printed by then); other
    commands exit as usual.
    """
    code = main(argv)
    from sitecheck import sitecmds

    if sitecmds.crawl_done:
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
    try:
        return args.handler(args)
    except (ConfigError, UsageError, StoreError, CredentialError) as exc:
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
