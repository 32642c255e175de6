"""From a stored run to the indicator verdict: gathers the evidence, scores it, stores it.

Scoring itself is pure (`sitecheck.scoring.score`); this module only reads the
store (findings, facts, the probe window that ends with the run) and writes the
verdict back, so metrics and reports read one stored answer.
"""

from __future__ import annotations

from typing import Any

from sitecheck import scoring
from sitecheck.config import SiteConfig
from sitecheck.store import Store


def compute(store: Store, site: SiteConfig, run_id: int) -> scoring.Verdict:
    run = store.run(run_id)
    findings = [f for _fid, f in store.findings(run_id)]
    probes = _probe_evidence(store, site, run.ended_at or run.started_at)
    return scoring.score(findings, store.fact_names(run_id), scoring.rules_for_site(site), probes=probes)


def judge_run(store: Store, site: SiteConfig, run_id: int) -> dict[str, Any]:
    """Score a run against the site's rule set, store the verdict, return it as a dict."""
    verdict = compute(store, site, run_id)
    body = verdict.to_dict()
    store.save_verdict(run_id, verdict.result, verdict.score, body)
    return body


def _probe_evidence(store: Store, site: SiteConfig, end) -> dict[str, Any] | None:
    """The unreachable item's evidence: homepage probes in the window ending at `end`."""
    from sitecheck.probe.probe import probe_summary

    window = (site.ops.get("probe") or {}).get("window_days", 7)
    return probe_summary(store, site.key, end, window)
