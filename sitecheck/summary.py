"""The table `sitecheck run` prints at the end of a crawl."""

from __future__ import annotations

from collections import Counter

from sitecheck.config import SiteConfig
from sitecheck.model import Severity
from sitecheck.recorder import RunSummary
from sitecheck.store import Store

_SEVERITY_ZH = {Severity.CRITICAL: "严重", Severity.ERROR: "错误", Severity.WARNING: "警告", Severity.INFO: "提示"}


def format_summary(site: SiteConfig, store: Store, s: RunSummary) -> str:
    lines = [f"{site.name} ({site.key}) — run {s.run_id}: {s.status}, {s.pages} pages, "
             f"{s.targets} URLs checked in {s.duration_s:.1f} s"]
    by_host: Counter = Counter()
    for _fid, f in store.findings(s.run_id):
        by_host[(f.host_key or "external", f.code, f.severity)] += 1
    if by_host:
        lines.append("")
        lines.append(f"{'host':<10} {'finding':<26} {'severity':<9} {'count':>5}")
        lines.append("-" * 53)
        for (host, code, sev), n in sorted(by_host.items(), key=lambda kv: (-kv[0][2], kv[0][0], kv[0][1])):
            lines.append(f"{host:<10} {code:<26} {sev.label:<9} {n:>5}")
        lines.append("-" * 53)
        totals = ", ".join(f"{_SEVERITY_ZH[sev]} {s.findings_by_severity[sev]}"
                           for sev in sorted(s.findings_by_severity, reverse=True))
        lines.append(f"findings: {sum(s.findings_by_severity.values())} ({totals})")
    else:
        lines.append("no findings")
    if s.check_errors:
        lines.append("check errors (see log): " + ", ".join(f"{k} x{v}" for k, v in s.check_errors.items()))
    if s.verdict:
        lines.append(f"verdict: {s.verdict.get('result', '?')} (estimated score {s.verdict.get('score', '?')}; "
                     f"'sitecheck score --site {site.key}' for details)")
    lines.append(f"store: {store.location}  —  'sitecheck export --site {site.key}' for every page and finding")
    return "\n".join(lines)
