"""`sitecheck report`: the quarterly self-inspection report as Word, HTML and JSON files."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from sitecheck.cmdline import EXIT_OK, EXIT_USAGE, open_store, site_from_args

from .i18n import LANGS
from .period import PeriodError, resolve

FORMATS = ("docx", "html", "json")


def register(sub, common) -> None:
    sp = sub.add_parser(
        "report", help="write the quarterly self-inspection report (Word, HTML, JSON)",
        description="Build the self-inspection report (季度自查报告) of a site for a quarter or a date range "
                    "from the stored runs: the verdict, the inspection table, the rectification list with "
                    "fixed/open status, the comparison with the previous period and the statistics a department "
                    "reports. Periods are Beijing calendar days. Files are named <site>-<period>.<format>.")
    common(sp)
    sp.add_argument("--quarter", metavar="YYYYQn", help="the quarter, e.g. 2026Q4 (default: the current quarter)")
    sp.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD",
                    help="first day (narrows --quarter, or starts a range on its own)")
    sp.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD",
                    help="last day, inclusive (narrows --quarter; default for a range: today)")
    sp.add_argument("--lang", choices=LANGS, default="zh", help="language of the report (default: zh)")
    sp.add_argument("--out", metavar="DIR", default=".", help="folder for the files (default: .)")
    sp.add_argument("--format", default=",".join(FORMATS),
                    help=f"comma-separated formats among {', '.join(FORMATS)} (default: all)")
    sp.set_defaults(handler=run)


def _formats(text: str) -> list[str]:
    chosen = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise ValueError(f"unknown format {', '.join(unknown) or repr(text)} (valid: {', '.join(FORMATS)})")
    return list(dict.fromkeys(chosen))


def run(args: argparse.Namespace, now: datetime | None = None) -> int:
    from .data import ReportError, build_report
    from .render_docx import write_docx
    from .render_html import write_html
    from .render_json import write_json

    now = now or datetime.now(timezone.utc)
    try:
        formats = _formats(args.format)
        period = resolve(args.quarter, args.date_from, args.date_to, now=now)
    except (ValueError, PeriodError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    site = site_from_args(args)  # ConfigError / UsageError: exit 2 in sitecheck.cli.main
    with open_store(args, readonly=True) as store:
        try:
            report = build_report(store, site.key, period, now=now, site=site, lang=args.lang)
        except ReportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: {out}: cannot create the output folder: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    writers = {"docx": write_docx, "html": write_html, "json": write_json}
    for fmt in formats:
        try:
            path = writers[fmt](report, out / f"{site.key}-{period.label}.{fmt}")
        except OSError as exc:
            print(f"error: {exc.filename or out}: cannot write the report: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
        print(path)
    return EXIT_OK
