"""Machine-readable exports of one run: JSON (schemas/export.schema.json) and CSV."""

from __future__ import annotations

import csv
import json
from typing import IO, Any

from sitecheck.store import Run, Store

EXPORT_VERSION = 1


def run_document(store: Store, run: Run) -> dict[str, Any]:
    """The whole run as one JSON-serialisable document."""
    findings = []
    for fid, f in store.findings(run.id):
        referrers = [{"page": r.page_url, "text": r.text, "element": r.element, "on_homepage": r.on_homepage}
                     for r in store.referrers(run.id, f.url)]
        findings.append({
            "id": fid, "code": f.code, "severity": f.severity.label, "check": f.check, "url": f.url,
            "host": f.host_key, "page": f.page_url, "message": f.message, "details": f.details,
            "found_on": referrers, "found_on_total": store.referrer_count(run.id, f.url) or len(referrers),
        })
    pages = [{"url": p["url"], "final_url": p["final_url"], "kind": p["kind"], "host": p["host_key"],
              "status": p["status"], "reason": p["reason"], "redirects": p["redirects"],
              "latency_s": p["latency_s"], "size": p["size"], "content_type": p["content_type"],
              "encoding": p["encoding"], "title": p["title"], "depth": p["depth"],
              "is_homepage": p["is_homepage"], "method": p["method"], "error": p["error"]}
             for p in store.pages(run.id)]
    return {
        "format": "sitecheck-export", "version": EXPORT_VERSION,
        "run": {"id": run.id, "site": run.site, "started_at": run.started_at.isoformat(),
                "ended_at": run.ended_at.isoformat() if run.ended_at else None, "status": run.status,
                "pages": run.pages, "targets": run.targets, "findings": run.findings,
                "config_digest": run.config_digest},
        "verdict": store.verdict(run.id),
        "pages": pages,
        "findings": findings,
    }


def write_json(store: Store, run: Run, out: IO[str]) -> None:
    json.dump(run_document(store, run), out, ensure_ascii=False, indent=1, default=str)
    out.write("\n")


CSV_COLUMNS = ["record", "code", "severity", "url", "host", "status", "reason", "kind", "latency_s",
               "found_on", "anchor_text", "on_homepage", "message"]


def write_csv(store: Store, run: Run, out: IO[str]) -> None:
    """One row per finding and referring page, then one row per page visited."""
    w = csv.writer(out)
    w.writerow(CSV_COLUMNS)
    doc = run_document(store, run)
    for f in doc["findings"]:
        d = f["details"]
        refs = f["found_on"] or [{"page": f["page"] or "", "text": "", "on_homepage": False}]
        for r in refs:
            w.writerow(["finding", f["code"], f["severity"], f["url"], f["host"] or "", d.get("status", ""),
                        d.get("reason", ""), d.get("kind", ""), d.get("latency_s", ""), r["page"], r["text"],
                        int(bool(r["on_homepage"])), f["message"]])
    for p in doc["pages"]:
        w.writerow(["page", "", "", p["url"], p["host"] or "", p["status"] or "", p["reason"], p["kind"],
                    p["latency_s"] or "", "", "", int(p["is_homepage"]), p["title"]])
