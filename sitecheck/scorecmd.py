"""`sitecheck score`: the verdict on each national indicator for a site's latest run."""

from __future__ import annotations

import argparse
import json

from sitecheck import scoring, verdicts
from sitecheck.cmdline import UsageError, open_store, pick_run, site_from_args


def register(sub, common) -> None:
    sp = sub.add_parser("score", help="the verdict on each national indicator (通过/否决) and an estimated score",
                        description="Judge the latest finished run of a site (or --run ID) against the site's rule "
                                    "set (config/indicators/*.yaml): each veto item 通过/否决/无数据 with its "
                                    "evidence, then the deductions and an estimated score. The verdict is stored "
                                    "with the run. Exit 1 when the result is 不合格.")
    common(sp)
    sp.add_argument("--run", type=int, help="run id (default: the latest finished run)")
    sp.add_argument("--json", action="store_true", help="print the verdict as JSON")
    sp.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    site = site_from_args(args)
    args.site = site.key
    with open_store(args, must_exist=True) as store:
        chosen = pick_run(store, args)
        if chosen.site != site.key:
            raise UsageError(f"run {chosen.id} belongs to site {chosen.site!r}, not {site.key!r}")
        verdict = verdicts.compute(store, site, chosen.id)
        store.save_verdict(chosen.id, verdict.result, verdict.score, verdict.to_dict())
    if args.json:
        print(json.dumps(verdict.to_dict(), ensure_ascii=False, indent=1))
    else:
        print(f"{site.name}（{site.key}）第 {chosen.id} 次检查，{chosen.started_at:%Y-%m-%d %H:%M} UTC")
        print(scoring.format_verdict(verdict))
    return 1 if verdict.result == scoring.UNQUALIFIED else 0
