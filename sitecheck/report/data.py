"""The report as one plain data structure, built from the store for a site and a period.

Everything the renderers (Word, HTML, JSON) show is computed here, once, into
JSON-ready dicts and lists, so the three formats cannot disagree.  Nothing here
reads the clock: the caller passes `now`.

Which runs count: the site's *complete* runs whose start falls in the period
(Beijing days).  An incomplete run may have missed pages, so a problem absent
from it would look fixed when it is not.
"""

from __future__ import annotations

import json
import math
import sqlite3
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from sitecheck.model import Severity
from sitecheck.store import Run, Store
from sitecheck.textparse.boards import Message
from sitecheck.textparse.dates import date_from_url
from sitecheck.textparse.urls import normalise

from . import i18n
from .i18n import tr
from .period import Period, local_day

REPORT_FORMAT = "sitecheck-report"
REPORT_VERSION = 1
PROBLEM_MIN_SEVERITY = Severity.WARNING  # info findings (link.not_checked) are not problems to rectify
MAX_FOUND_ON = 3
MAX_EXAMPLES = 5
PUBLICATION_GRACE_DAYS = 7  # an item published on the period's last evening is crawled in the next days
AVAILABILITY_FLOOR = 0.95  # the unreachable veto (failed probes >= 5%) when no rule set says otherwise
BROKEN_CODES = {"homepage": "link.broken_homepage", "other": "link.broken", "homepage_down": "site.homepage_down"}
REPLY_BUCKETS = ((0, 3), (4, 7), (8, 15), (16, 30), (31, 90), (91, None))
PORTAL_PROBE, SUBSITE_PROBE, PAGE_PROBE = "portal", "subsite", "page"  # probes.kind (sitecheck.probe)
_STATUS_RANK = {"pass": 0, "veto": 1}
_FRESH_ORDER = {"stale": 0, "blank": 1, "ok": 2, "exempt": 3}


class ReportError(Exception):
    """Nothing to report on (no runs in the period); the message says what the store holds."""


# --- the site's layout: hosts and column URL prefixes ------------------------------------------


@dataclass(frozen=True)
class Column:
    host: str
    host_name: str
    name: str
    category: str
    url: str


def _dir_prefix(url: str) -> str:
    """`http://h/xxgk/tzgg/index.html` -> `h/xxgk/tzgg/`; '' for a host's root (it would claim every page)."""
    key = normalise(url).split("?", 1)[0]
    head = key[: key.rfind("/") + 1]
    return head if head.count("/") >= 2 else ""


class SiteIndex:
    """Which configured host and column a URL belongs to."""

    def __init__(self, site: Any | None, rules: Any | None):
        self.site = site
        self.hosts: list[dict[str, str]] = []
        self.columns: list[Column] = []
        self.homepages: set[str] = set()
        self.portal = normalise(site.hosts[0].url) if site is not None else None
        prefixes: list[tuple[str, Column]] = []
        for host in site.hosts if site is not None else []:
            self.hosts.append({"key": host.key, "name": host.name, "url": host.url})
            self.homepages.add(normalise(host.url))
            for col in host.gov.get("columns", []):
                category = (rules.category(col["category"]) if rules else None) or col["category"]
                column = Column(host.key, host.name, col["name"], category, col["url"])
                self.columns.append(column)
                prefix = _dir_prefix(col["url"])
                netloc = prefix.split("/", 1)[0]
                for alias in host.aliases if prefix else []:  # the same column served under another name
                    prefixes.append((alias.lower() + prefix[len(netloc):], column))
                if prefix:
                    prefixes.append((prefix, column))
        self._longest_first = sorted(prefixes, key=lambda p: -len(p[0]))

    def column_of(self, url: str | None) -> Column | None:
        if not url or not self._longest_first:
            return None
        key = normalise(url)
        return next((c for prefix, c in self._longest_first if key.startswith(prefix)), None)

    def probe_kind(self, url: str) -> str:
        """What a probe without a recorded kind was about, judged by its URL (everything is the portal
        when there is no site file to tell)."""
        key = normalise(url)
        if self.portal is None or key == self.portal:
            return PORTAL_PROBE
        return SUBSITE_PROBE if key in self.homepages else PAGE_PROBE

    def host_of(self, url: str | None) -> str | None:
        if not url or self.site is None:
            return None
        try:
            host = self.site.host_for(urlsplit(url).netloc)
        except ValueError:
            return None
        return host.key if host else None

    def host_name(self, key: str | None) -> str:
        return next((h["name"] for h in self.hosts if h["key"] == key), key or "")


# --- small helpers ---------------------------------------------------------------------------


def _day(moment: datetime | None) -> str | None:
    return local_day(moment).isoformat() if moment else None


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds") if moment else None


def _marks(items: list) -> str:
    return ",".join("?" * len(items))


def _trend(current: float | None, previous: float | None, higher_is_better: bool = False) -> str:
    if current is None or previous is None:
        return "n/a"
    if current == previous:
        return "same"
    return "better" if (current > previous) == higher_is_better else "worse"


def _percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return round(sorted_values[rank - 1], 3)


def _as_date(text: Any) -> date | None:
    try:
        return date.fromisoformat(str(text)[:10]) if text else None
    except ValueError:
        return None


def _unit(unit: str, lang: str) -> str:
    if lang != "en":
        return unit
    return {"项": tr("unit.item", lang), "次": tr("unit.times", lang)}.get(unit, unit)


def _complete_runs(store: Store, site_key: str, since: datetime, until: datetime) -> tuple[list[Run], int]:
    found = store.runs(site_key, limit=1_000_000, since=since, until=until)
    complete = sorted((r for r in found if r.status == "complete"), key=lambda r: (r.started_at, r.id))
    return complete, sum(1 for r in found if r.status != "complete")


# --- verdicts -------------------------------------------------------------------------------


def _stored_verdicts(store: Store, run_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not run_ids:
        return {}
    out = {}
    for run_id, result, score, body in store.db.execute(
            f"SELECT run_id, result, score, body FROM verdicts WHERE run_id IN ({_marks(run_ids)})", run_ids):
        try:
            data = json.loads(body)
        except (TypeError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        data.setdefault("result", result)
        data.setdefault("score", score)
        out[run_id] = data
    return out


def _probe_rows(store: Store, site_key: str, start: datetime, end: datetime, index: SiteIndex):
    """(host, kind, instant, ok) of the site's probes in [start, end)."""
    has_kind = "kind" in store.columns("probes")
    # Compare as text with a day's margin (writers differ in precision and offset), then exactly.
    lo, hi = _iso(start - timedelta(days=1)), _iso(end + timedelta(days=1))
    for host, url, started, ok, kind in store.db.execute(
            f"SELECT host_key, url, started_at, ok, {'kind' if has_kind else 'NULL'} FROM probes "
            "WHERE site = ? AND started_at >= ? AND started_at < ? ORDER BY started_at", (site_key, lo, hi)):
        try:
            moment = datetime.fromisoformat(started)
        except (TypeError, ValueError):
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        if start <= moment < end:
            yield host, kind or index.probe_kind(url), moment, bool(ok)


def _verdict_for(store: Store, run: Run, stored: dict[int, dict], site: Any | None) -> dict[str, Any] | None:
    """The stored verdict of a run; else one scored now, as `sitecheck score` would (needs the site file)."""
    if run.id in stored:
        return stored[run.id]
    if site is None:
        return None
    from sitecheck import scoring, verdicts

    try:
        verdict = verdicts.compute(store, site, run.id).to_dict()
    except sqlite3.OperationalError:  # a store from before probes had a kind, opened read-only: no probe evidence
        verdict = scoring.score([f for _, f in store.findings(run.id)], store.fact_names(run.id),
                                scoring.rules_for_site(site)).to_dict()
    verdict["computed"] = True
    return verdict


def _rules_named(name: Any):
    try:
        from sitecheck.scoring import load_rules

        return load_rules(str(name)) if name else None
    except Exception:  # an unknown or broken rule set: rows then show titles only
        return None


def _load_rules(site: Any | None):
    if site is None:
        return None
    try:
        from sitecheck.scoring import rules_for_site

        return rules_for_site(site)
    except Exception:  # a report is still useful without the rule set: rows then come from stored verdicts
        return None


# --- the inspection table ---------------------------------------------------------------------


def _veto_row(v: dict[str, Any], vetoed_runs: int, judged_runs: int, lang: str) -> dict[str, Any]:
    status = v.get("status") or "no_data"
    evidence = [ev for ev in v.get("evidence") or [] if isinstance(ev, dict)]
    examples: list[str] = []
    if status == "veto":
        met = [ev for ev in evidence if ev.get("met")]
        text = tr("finding.veto", lang) + ("；" if lang == "zh" else "; ").join(
            tr("finding.evidence", lang, label=ev.get("label", ""), count=ev.get("count", 0),
               unit=_unit(ev.get("unit", "项"), lang), threshold=ev.get("threshold", "")) for ev in met)
        text += "。" if lang == "zh" else "."
        for ev in met:
            examples.extend(ev.get("examples") or [])
        measure = i18n.measure(f"veto.{v.get('id')}", lang)
        points_text = tr("points.veto", lang)
    elif status == "pass":
        below = [tr("finding.below", lang, label=ev.get("label", ""), count=ev.get("count", 0),
                    unit=_unit(ev.get("unit", "项"), lang), threshold=ev.get("threshold", ""))
                 for ev in evidence if ev.get("count")]
        text = tr("finding.ok", lang) + ("".join(f"{b}。" if lang == "zh" else f" {b}." for b in below))
        measure, points_text = i18n.measure("none", lang), tr("points.none", lang)
    else:
        text = tr("finding.no_data", lang) + (v.get("note") or tr("finding.no_data_default", lang))
        measure, points_text = i18n.measure("no_data", lang), tr("points.none", lang)
    if vetoed_runs:
        text += tr("finding.vetoed_runs", lang, runs=judged_runs, vetoed=vetoed_runs)
    if v.get("note") and status != "no_data":
        text += v["note"] + ("。" if lang == "zh" else ".")
    return {
        "kind": "veto", "id": v.get("id", ""), "level1": tr("level1.veto", lang), "level2": v.get("title", ""),
        "criterion": v.get("rule") or v.get("title", ""), "status": status, "finding": text,
        "examples": list(dict.fromkeys(examples))[:MAX_EXAMPLES],
        "count": sum(int(ev.get("count") or 0) for ev in evidence if ev.get("met")),
        "points": None, "points_text": points_text, "measure": measure,
        "estimate": bool(v.get("estimate")) and status == "veto", "vetoed_runs": vetoed_runs,
    }


def _criterion(d: dict[str, Any], rules: Any | None, lang: str) -> str:
    item = rules.deductions.get(d.get("id")) if rules else None
    if not item:
        return d.get("title", "")
    each, cap = i18n.format_number(item["points_each"]), item.get("max_points")
    if cap is None:
        return tr("criterion.deduction_nomax", lang, title=item["title"], each=each)
    return tr("criterion.deduction", lang, title=item["title"], each=each, max=i18n.format_number(cap))


def _deduction_row(d: dict[str, Any], rules: Any | None, lang: str) -> dict[str, Any]:
    count = int(d.get("count") or 0)
    points = float(d.get("points") or 0.0)
    return {
        "kind": "deduction", "id": d.get("id", ""), "level1": d.get("area", ""), "level2": d.get("title", ""),
        "criterion": _criterion(d, rules, lang), "status": "deducted" if count else "ok",
        "finding": tr("finding.count", lang, count=count) if count else tr("finding.ok", lang),
        "examples": list(d.get("examples") or [])[:MAX_EXAMPLES], "count": count, "points": round(points, 2),
        "points_text": i18n.format_number(points), "vetoed_runs": 0,
        "measure": i18n.measure(f"deduction.{d.get('id')}", lang) if count else i18n.measure("none", lang),
        "estimate": bool(d.get("estimate")),
    }


def _inspection(verdict: dict[str, Any] | None, stored: dict[int, dict], rules: Any | None,
                lang: str) -> list[dict[str, Any]]:
    if not verdict:
        return []
    judged = [v for v in stored.values() if isinstance(v.get("vetoes"), list)]
    vetoed = Counter(x.get("id") for v in judged for x in v["vetoes"] if x.get("status") == "veto")
    rows = [_veto_row(v, vetoed.get(v.get("id"), 0), len(judged), lang)
            for v in verdict.get("vetoes") or [] if isinstance(v, dict)]
    deductions = [d for d in verdict.get("deductions") or [] if isinstance(d, dict)]
    area_order = list(rules.areas) if rules else []
    for d in deductions:
        if d.get("area") not in area_order:
            area_order.append(d.get("area"))
    deductions.sort(key=lambda d: area_order.index(d.get("area")))  # stable: rule-set order within an area
    rows += [_deduction_row(d, rules, lang) for d in deductions]
    return rows


def _points_total(rows: list[dict[str, Any]], rules: Any | None) -> float:
    """Points lost, each area capped at its points as the scorer does."""
    by_area: dict[str, float] = defaultdict(float)
    for row in rows:
        if row["kind"] == "deduction":
            by_area[row["level1"]] += row["points"]
    caps = rules.areas if rules else {}
    return round(sum(min(p, caps.get(a, p)) for a, p in by_area.items()), 2)


def _result(verdict: dict[str, Any] | None, run: Run, rows: list[dict], rules: Any | None,
            lang: str) -> dict[str, Any]:
    verdict = verdict or {}
    value = verdict.get("result") if verdict.get("result") in ("合格", "不合格") else None
    return {
        "value": value, "label": i18n.result_label(value, lang),
        "score": verdict.get("score"), "pass_score": verdict.get("pass_score"),
        "points_total": _points_total(rows, rules), "estimate": bool(verdict.get("estimate", True)),
        "rules": verdict.get("rules"), "rules_title": verdict.get("title"),
        "vetoed": [r["level2"] for r in rows if r["kind"] == "veto" and r["status"] == "veto"],
        "no_data": [r["level2"] for r in rows if r["kind"] == "veto" and r["status"] == "no_data"],
        "run_id": run.id, "run_started_at": _iso(run.started_at), "computed": bool(verdict.get("computed")),
        "skipped_areas": list(verdict.get("skipped_areas") or []),
    }


def group_spans(rows: list[dict[str, Any]], key: str = "level1") -> list[int]:
    """Row spans that merge a run of equal first-column values: n on its first row, 0 on the rest."""
    spans = [0] * len(rows)
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i][key] != rows[start][key]:
            spans[start] = i - start
            start = i
    return spans


# --- the rectification list --------------------------------------------------------------------


def _rectification(store: Store, site_key: str, runs: list[Run], period: Period, index: SiteIndex,
                   lang: str) -> dict[str, Any]:
    ids = [r.id for r in runs]
    position = {r.id: i for i, r in enumerate(runs)}
    sev = int(PROBLEM_MIN_SEVERITY)
    seen = ("string_agg(DISTINCT CAST(run_id AS TEXT), ',')" if store.postgresql
            else "group_concat(DISTINCT run_id)")
    rows = store.db.execute(
        f"""SELECT f.code, f.url, g.worst, f.host_key, f.page_url, f.message, f.details, f.run_id, g.seen
            FROM findings f JOIN (
                SELECT code, url, max(id) AS id, max(severity) AS worst, {seen} AS seen
                FROM findings WHERE run_id IN ({_marks(ids)}) AND severity >= ? GROUP BY code, url) g
            ON f.id = g.id""", [*ids, sev]).fetchall()
    # First seen over the whole history before the period ends, so problems carried over show their age.
    first_seen = {(code, url): started for code, url, started in store.db.execute(
        "SELECT f.code, f.url, min(r.started_at) FROM findings f JOIN runs r ON r.id = f.run_id "
        "WHERE r.site = ? AND r.status = 'complete' AND r.started_at < ? AND f.severity >= ? GROUP BY f.code, f.url",
        (site_key, _iso(period.end_utc), sev))}
    last = len(runs) - 1
    items = []
    for code, url, worst, host_key, page_url, message, details, run_id, seen in rows:
        seen_at = sorted(position[int(x)] for x in str(seen).split(","))
        first_in_period, last_pos = seen_at[0], seen_at[-1]
        first = min(runs[first_in_period].started_at,
                    datetime.fromisoformat(first_seen.get((code, url)) or _iso(runs[first_in_period].started_at)))
        refs = store.referrers(run_id, url)
        found_on = [{"page": r.page_url, "text": r.text, "on_homepage": r.on_homepage} for r in refs[:MAX_FOUND_ON]]
        if not found_on and page_url and page_url != url:
            found_on = [{"page": page_url, "text": "", "on_homepage": normalise(page_url) in index.homepages}]
        column = (index.column_of(url) or next(filter(None, (index.column_of(r.page_url) for r in refs)), None)
                  or index.column_of(page_url))
        host = host_key or index.host_of(refs[0].page_url if refs else page_url) or index.host_of(url)
        fixed = last_pos < last
        try:
            detail = json.loads(details) if details else {}
        except ValueError:
            detail = {}
        items.append({
            "code": code, "label": i18n.code_label(code, lang), "severity": _severity_label(worst),
            "url": url, "message": message, "host": host, "host_name": index.host_name(host),
            "column": column.name if column else None, "category": column.category if column else None,
            "found_on": found_on, "found_on_total": store.referrer_count(run_id, url) or len(found_on),
            "first_seen": _day(first), "last_seen": _day(runs[last_pos].started_at),
            "runs_seen": len(seen_at), "new": first >= period.start_utc,
            "status": "fixed" if fixed else "open",
            "fixed_on": _day(runs[last_pos + 1].started_at) if fixed else None,
            "details": detail if isinstance(detail, dict) else {},
        })
    items.sort(key=lambda it: (it["status"] != "open", -_severity_value(it["severity"]), it["code"], it["url"]))
    for n, it in enumerate(items, 1):
        it["no"] = n
    by_code: dict[str, dict[str, Any]] = {}
    for it in items:
        entry = by_code.setdefault(it["code"], {"code": it["code"], "label": it["label"], "open": 0, "fixed": 0})
        entry[it["status"]] += 1
    summary = {"total": len(items), "open": sum(it["status"] == "open" for it in items),
               "fixed": sum(it["status"] == "fixed" for it in items), "new": sum(it["new"] for it in items)}
    summary["carried_over"] = summary["total"] - summary["new"]
    summary["text"] = (tr("rect.summary", lang, total=summary["total"], fixed=summary["fixed"], open=summary["open"],
                          new=summary["new"], carried=summary["carried_over"]) if items else tr("rect.none", lang))
    return {"summary": summary, "by_code": sorted(by_code.values(), key=lambda e: e["code"]), "items": items}


def _severity_label(value: int) -> str:
    try:
        return Severity(value).label
    except ValueError:
        return str(value)


def _severity_value(label: str) -> int:
    try:
        return int(Severity.parse(label))
    except ValueError:
        return 0


# --- counts per run and the comparison ----------------------------------------------------------


def _counts_by_run(store: Store, run_ids: list[int]) -> dict[int, Counter]:
    out: dict[int, Counter] = {rid: Counter() for rid in run_ids}
    if run_ids:
        for run_id, code, n in store.db.execute(
                f"SELECT run_id, code, count(DISTINCT url) FROM findings WHERE run_id IN ({_marks(run_ids)}) "
                "AND severity >= ? GROUP BY run_id, code", [*run_ids, int(PROBLEM_MIN_SEVERITY)]):
            out[run_id][code] = n
    return out


def _comparison(current: dict[str, Any] | None, previous: dict[str, Any] | None, counts_now: Counter,
                counts_before: Counter | None, prev_period: Period, prev_runs: list[Run],
                lang: str) -> dict[str, Any]:
    base = {"previous_period": {"label": prev_period.label, "start": prev_period.start.isoformat(),
                                "end": prev_period.end.isoformat()},
            "previous_runs": len(prev_runs)}
    if not prev_runs:
        return {**base, "available": False,
                "text": tr("cmp.none", lang, period=i18n.format_period(prev_period.start.isoformat(),
                                                                        prev_period.end.isoformat(), lang))}
    current, previous = current or {}, previous or {}
    indicators = []
    prev_vetoes = {v.get("id"): v for v in previous.get("vetoes") or [] if isinstance(v, dict)}
    for v in current.get("vetoes") or []:
        now_s, before_s = v.get("status", "no_data"), prev_vetoes.get(v.get("id"), {}).get("status", "no_data")
        indicators.append({"kind": "veto", "id": v.get("id"), "title": v.get("title", ""), "current": now_s,
                           "previous": before_s,
                           "current_text": tr(f"status.{now_s}", lang), "previous_text": tr(f"status.{before_s}", lang),
                           "trend": _trend(_STATUS_RANK.get(now_s), _STATUS_RANK.get(before_s))})
    prev_deductions = {d.get("id"): d for d in previous.get("deductions") or [] if isinstance(d, dict)}
    for d in current.get("deductions") or []:
        before = prev_deductions.get(d.get("id"))
        now_p, before_p = d.get("points"), before.get("points") if before else None
        indicators.append({"kind": "deduction", "id": d.get("id"), "title": d.get("title", ""),
                           "current": now_p, "previous": before_p, "current_text": i18n.format_number(now_p),
                           "previous_text": i18n.format_number(before_p), "trend": _trend(now_p, before_p)})
    before_counts = counts_before or Counter()
    codes = [{"code": code, "label": i18n.code_label(code, lang), "current": counts_now.get(code, 0),
              "previous": before_counts.get(code, 0),
              "change": counts_now.get(code, 0) - before_counts.get(code, 0),
              "trend": _trend(counts_now.get(code, 0), before_counts.get(code, 0))}
             for code in sorted(set(counts_now) | set(before_counts))]
    return {**base, "available": True,
            "result": {"current": current.get("result"), "previous": previous.get("result"),
                       "current_text": i18n.result_label(current.get("result"), lang),
                       "previous_text": i18n.result_label(previous.get("result"), lang),
                       "trend": _trend(_result_rank(current.get("result")), _result_rank(previous.get("result")),
                                       higher_is_better=True)},
            "score": {"current": current.get("score"), "previous": previous.get("score"),
                      "change": (round(current["score"] - previous["score"], 2)
                                 if current.get("score") is not None and previous.get("score") is not None else None),
                      "trend": _trend(current.get("score"), previous.get("score"), higher_is_better=True)},
            "indicators": indicators, "codes": codes,
            "totals": {"current": sum(counts_now.values()), "previous": sum(before_counts.values())}}


def _result_rank(result: str | None) -> int | None:
    return {"合格": 1, "不合格": 0}.get(result or "")


# --- statistics ----------------------------------------------------------------------------


def _stored_publication_dates(store: Store, ids: list[int]) -> dict[str, date | tuple[int, int]]:
    """URL -> publication date recorded by the marks check (`article.published` facts), the latest
    run's reading winning; a month (year, month) where the page showed no day and its URL only a month."""
    found: dict[str, date | tuple[int, int]] = {}
    for key, value in store.db.execute(
            f"SELECT key, value FROM facts WHERE run_id IN ({_marks(ids)}) AND name = 'article.published' "
            "ORDER BY run_id", ids):
        try:
            data = json.loads(value)
            if data.get("date"):
                found[key] = date.fromisoformat(data["date"])
            elif data.get("url_month"):
                year, month = data["url_month"].split("-")
                found[key] = (int(year), int(month))
        except (TypeError, ValueError, AttributeError):
            continue
    return found


def _publications(store: Store, site_key: str, period: Period, index: SiteIndex, rules: Any | None,
                  lang: str) -> dict[str, Any]:
    """Items published in the period, per configured column: by the publication date stored for each
    article page (visible date, else PubDate meta, else URL), and by the URL's date for pages crawled
    before dates were stored."""
    runs, _ = _complete_runs(store, site_key, period.start_utc,
                             period.end_utc + timedelta(days=PUBLICATION_GRACE_DAYS))
    ids = [r.id for r in runs]
    seen: set[str] = set()
    per_column: Counter = Counter()
    by_source: Counter = Counter()
    unassigned = 0
    if ids:
        stored = _stored_publication_dates(store, ids)
        for (url,) in store.db.execute(
                f"SELECT DISTINCT url FROM pages WHERE run_id IN ({_marks(ids)}) AND kind = 'page' AND reason = 'ok'",
                ids):
            when = stored.get(url)
            source = "stored" if when is not None else "url_date"
            if when is None:
                when = date_from_url(url)
            if isinstance(when, tuple):  # a month: inside the period when its first and last day are
                first = date(when[0], when[1], 1)
                last = date(when[0] + when[1] // 12, when[1] % 12 + 1, 1) - timedelta(days=1)
                inside = period.contains_day(first) and period.contains_day(last)
            else:
                inside = when is not None and period.contains_day(when)
            key = normalise(url)
            if not inside or key in seen:
                continue
            seen.add(key)
            by_source[source] += 1
            column = index.column_of(url)
            if column is None:
                unassigned += 1
            else:
                per_column[(column.host, column.name)] += 1
    by_column = [{"host": c.host, "host_name": c.host_name, "column": c.name, "category": c.category,
                  "count": per_column.get((c.host, c.name), 0)} for c in index.columns]
    order = list(rules.categories) if rules else []
    by_category: dict[str, int] = {}
    for cat in [*order, *(c.category for c in index.columns)]:
        if any(c.category == cat for c in index.columns):
            by_category.setdefault(cat, 0)
    for row in by_column:
        by_category[row["category"]] += row["count"]
    return {"total": len(seen), "unassigned": unassigned,
            "by_category": [{"category": k, "count": v} for k, v in by_category.items()],
            "by_column": by_column, "method": "stored_date", "by_source": dict(sorted(by_source.items())),
            "note": tr("stat.publications_note", lang)}


def _bucket_label(lo: int, hi: int | None, lang: str) -> str:
    days = tr("days", lang)
    if hi is None:
        return f">{lo - 1}{days}" if lang == "zh" else f">{lo - 1} {days}"
    return f"{lo}–{hi}{days}" if lang == "zh" else f"{lo}–{hi} {days}"


def _messages(store: Store, runs: list[Run], period: Period, as_of: date, rules: Any | None,
              index: SiteIndex, lang: str) -> dict[str, Any]:
    limit = rules.veto_param("interaction_poor", "window_days", 90) if rules else 90
    lookback = rules.veto_param("interaction_poor", "lookback_days", 365) if rules else 365
    ids = [r.id for r in runs]
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    # Each message as the last run that saw it recorded it: its status may have changed since.
    for host, key, value in store.db.execute(
            f"""SELECT f.host_key, f.key, f.value FROM facts f JOIN (
                    SELECT host_key, key, max(run_id) AS run_id FROM facts
                    WHERE run_id IN ({_marks(ids)}) AND name = 'board.message' GROUP BY host_key, key) g
                ON f.run_id = g.run_id AND f.host_key = g.host_key AND f.key = g.key
                WHERE f.name = 'board.message'""", ids):
        try:
            data = json.loads(value)
        except ValueError:
            continue
        if isinstance(data, dict):
            latest[(host, key)] = data
    base = {"limit_days": limit, "over_limit_label": tr("stat.over_limit", lang, days=limit)}
    if not latest:
        stats = [{"host": f.host_key, "host_name": index.host_name(f.host_key), "board": f.key,
                  "count": f.value.get("count"), "answered": f.value.get("answered"),
                  "unanswered": f.value.get("unanswered"), "median_reply_days": f.value.get("median_reply_days")}
                 for f in store.facts(runs[-1].id, "board.stats") if isinstance(f.value, dict)]
        return {**base, "source": "board.stats" if stats else None, "boards": stats, "received": None,
                "answered": None, "unanswered": None, "replied": None, "median_reply_days": None,
                "over_limit": None, "histogram": [],
                "note": tr("stat.messages_stats_only", lang) if stats else tr("stat.messages_none", lang)}
    boards: dict[tuple[str, str], dict[str, Any]] = {}

    def tally(entry: dict, msg: Message, reply_days: int | None) -> None:
        received = msg.asked is not None and period.contains_day(msg.asked)
        replied = msg.replied is not None and period.contains_day(msg.replied)
        entry["received"] += received
        entry["answered"] += received and msg.answered
        entry["unanswered"] += received and not msg.answered
        entry["replied"] += replied
        if replied and reply_days is not None:
            entry["_days"].append(reply_days)
        # As the veto rule counts: answered late in the period, or still unanswered past the limit.
        late = (replied and reply_days is not None and reply_days > limit) or (
            not msg.answered and msg.asked is not None and limit < (as_of - msg.asked).days <= lookback)
        entry["over_limit"] += bool(late)

    def blank(host: str, board: str) -> dict[str, Any]:
        return {"host": host, "host_name": index.host_name(host), "board": board, "received": 0, "answered": 0,
                "unanswered": 0, "replied": 0, "over_limit": 0, "_days": []}

    total = blank("", "")
    for (host, key), data in sorted(latest.items()):
        msg = Message(id=key, title=str(data.get("title") or ""), url=str(data.get("url") or ""),
                      asked=_as_date(data.get("asked")), replied=_as_date(data.get("replied")),
                      status=str(data.get("status") or ""))
        reply_days = data.get("reply_days") if isinstance(data.get("reply_days"), int) else msg.reply_days
        board_name = str(data.get("board") or "")
        entry = boards.setdefault((host, board_name), blank(host, board_name))
        tally(entry, msg, reply_days)
        tally(total, msg, reply_days)
    all_reply_days = total.pop("_days")
    for entry in boards.values():
        days = entry.pop("_days")
        entry["median_reply_days"] = statistics.median(days) if days else None
    histogram = [{"label": _bucket_label(lo, hi, lang),
                  "count": sum(1 for d in all_reply_days if d >= lo and (hi is None or d <= hi))}
                 for lo, hi in REPLY_BUCKETS]
    return {**base, "source": "board.message", "boards": list(boards.values()),
            "received": total["received"], "answered": total["answered"], "unanswered": total["unanswered"],
            "replied": total["replied"], "over_limit": total["over_limit"],
            "median_reply_days": statistics.median(all_reply_days) if all_reply_days else None,
            "histogram": histogram, "note": ""}


def _availability(store: Store, site_key: str, period: Period, as_of: date, index: SiteIndex,
                  rules: Any | None) -> dict[str, Any]:
    ratio = rules.veto_param("unreachable", "probe_failure_ratio", None) if rules else None
    floor = AVAILABILITY_FLOOR if ratio is None else round(1 - ratio, 4)
    days_in_report = [d for d in period.each_day() if d <= as_of]
    per_day: dict[date, list[int]] = {d: [0, 0] for d in days_in_report}
    by_host: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for host, kind, moment, ok in _probe_rows(store, site_key, period.start_utc, period.end_utc, index):
        day = local_day(moment)
        if kind == PAGE_PROBE or day not in per_day:
            continue  # key pages are probed too; the rule is about homepages
        by_host[host][0] += 1
        by_host[host][1] += 0 if ok else 1
        if kind == PORTAL_PROBE:  # the unreachable rule judges the portal's homepage
            per_day[day][0] += 1
            per_day[day][1] += 0 if ok else 1
    days = [{"date": d.isoformat(), "probes": n, "failed": f, "availability": round(1 - f / n, 4) if n else None}
            for d, (n, f) in per_day.items()]
    probes, failed = sum(d["probes"] for d in days), sum(d["failed"] for d in days)
    worst = None
    for i in range(max(0, len(days) - 6)):
        window = days[i:i + 7]
        n, f = sum(d["probes"] for d in window), sum(d["failed"] for d in window)
        if n and (worst is None or f / n > worst["ratio"]):
            worst = {"start": window[0]["date"], "end": window[-1]["date"], "probes": n, "failed": f,
                     "ratio": round(f / n, 4)}
    return {"probes": probes, "failed": failed, "availability": round(1 - failed / probes, 4) if probes else None,
            "days_below": sum(1 for d in days if d["availability"] is not None and d["availability"] < floor),
            "floor": floor, "worst_week": worst, "days": days,
            "by_host": [{"host": h, "host_name": index.host_name(h), "probes": n, "failed": f,
                         "availability": round(1 - f / n, 4) if n else None}
                        for h, (n, f) in sorted(by_host.items())]}


def _broken_links(runs: list[Run], counts: dict[int, Counter]) -> list[dict[str, Any]]:
    out = []
    for r in runs:
        c = counts[r.id]
        row = {"run_id": r.id, "date": _day(r.started_at),
               **{k: c.get(code, 0) for k, code in BROKEN_CODES.items()}}
        row["total"] = row["homepage"] + row["other"]
        out.append(row)
    return out


def _response_times(store: Store, runs: list[Run]) -> list[dict[str, Any]]:
    out = []
    for r in runs:
        values, homepage = [], []
        for latency, is_homepage in store.db.execute(
                "SELECT latency_s, is_homepage FROM pages WHERE run_id = ? AND kind = 'page' "
                "AND latency_s IS NOT NULL AND status IS NOT NULL", (r.id,)):
            values.append(latency)
            if is_homepage:
                homepage.append(latency)
        values.sort()
        out.append({"run_id": r.id, "date": _day(r.started_at), "pages": len(values),
                    "p50": _percentile(values, 50), "p90": _percentile(values, 90),
                    "p95": _percentile(values, 95), "max": round(values[-1], 3) if values else None,
                    "homepage": round(statistics.fmean(homepage), 3) if homepage else None})
    return out


def _freshness(store: Store, run: Run, index: SiteIndex) -> list[dict[str, Any]]:
    out = []
    for f in store.facts(run.id, "column.newest"):
        v = f.value if isinstance(f.value, dict) else {}
        age, window = v.get("age_days"), v.get("window_days")
        if v.get("no_update_expected"):
            state = "exempt"
        elif not v.get("date"):
            state = "blank"
        elif window is not None and age is not None and age > window:
            state = "stale"
        else:
            state = "ok"
        out.append({"host": f.host_key, "host_name": index.host_name(f.host_key), "column": f.key,
                    "category": v.get("category"), "date": v.get("date"), "age_days": age, "window_days": window,
                    "items": v.get("items"), "state": state})
    out.sort(key=lambda c: (_FRESH_ORDER[c["state"]], -(c["age_days"] or 0), c["host"] or "", c["column"]))
    return out


# --- the whole report ---------------------------------------------------------------------------


def build_report(store: Store, site_key: str, period: Period, *, now: datetime, site: Any | None = None,
                 rules: Any | None = None, lang: str = "zh") -> dict[str, Any]:
    """One JSON-ready dict with everything the report shows (see docs/report.md for the keys).

    `site` (a SiteConfig) gives names, columns and the rule set; without it the
    report still lists problems and figures, with fewer labels.  Raises
    ReportError when the store holds no complete run of the site in the period.
    """
    i18n.check_lang(lang)
    if rules is None:
        rules = _load_rules(site)
    index = SiteIndex(site, rules)
    runs, skipped = _complete_runs(store, site_key, period.start_utc, period.end_utc)
    if not runs:
        raise ReportError(_no_runs_message(store, site_key, period, skipped))
    as_of = min(period.end, local_day(now))
    latest = runs[-1]
    stored = _stored_verdicts(store, [r.id for r in runs])
    verdict = _verdict_for(store, latest, stored, site)
    if rules is None and verdict:
        rules = _rules_named(verdict.get("rules"))  # no site file: the rule set the verdict names
    rows = _inspection(verdict, stored, rules, lang)

    prev_period = period.previous()
    prev_runs, _ = _complete_runs(store, site_key, prev_period.start_utc, prev_period.end_utc)
    prev_verdict = None
    if prev_runs:
        prev_verdict = _verdict_for(store, prev_runs[-1], _stored_verdicts(store, [prev_runs[-1].id]), site)
    counts = _counts_by_run(store, [r.id for r in runs] + ([prev_runs[-1].id] if prev_runs else []))

    return {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "lang": lang,
        "generated_at": _iso(now),
        "title": tr("title.quarter" if period.quarter else "title.range", lang),
        "site": {"key": site_key, "name": site.name if site else site_key, "hosts": index.hosts},
        "period": {"label": period.label, "quarter": period.label if period.quarter else None,
                   "start": period.start.isoformat(), "end": period.end.isoformat(), "days": period.days,
                   "as_of": as_of.isoformat(), "timezone": "Asia/Shanghai",
                   "text": i18n.format_period(period.start.isoformat(), period.end.isoformat(), lang)},
        "runs": {"count": len(runs), "skipped_incomplete": skipped, "latest_id": latest.id,
                 "first": _iso(runs[0].started_at), "last": _iso(latest.started_at),
                 "list": [{"id": r.id, "started_at": _iso(r.started_at), "date": _day(r.started_at),
                           "pages": r.pages, "findings": r.findings} for r in runs]},
        "result": _result(verdict, latest, rows, rules, lang),
        "inspection": rows,
        "rectification": _rectification(store, site_key, runs, period, index, lang),
        "comparison": _comparison(verdict, prev_verdict, counts[latest.id],
                                  counts[prev_runs[-1].id] if prev_runs else None, prev_period, prev_runs, lang),
        "statistics": {
            "publications": _publications(store, site_key, period, index, rules, lang),
            "messages": _messages(store, runs, period, as_of, rules, index, lang),
            "availability": _availability(store, site_key, period, as_of, index, rules),
            "broken_links": _broken_links(runs, counts),
            "response_times": _response_times(store, runs),
            "column_freshness": _freshness(store, latest, index),
        },
    }


def _no_runs_message(store: Store, site_key: str, period: Period, skipped: int) -> str:
    span = f"{period.label} ({period.start} to {period.end}, Asia/Shanghai)"
    if skipped:
        return (f"site {site_key!r} has no complete run in {span}: {skipped} run(s) there did not finish; "
                f"run 'sitecheck run --site {site_key}' first")
    every = store.runs(site_key, limit=1_000_000)
    if not every:
        return f"the store {store.location} has no runs of site {site_key!r}; run 'sitecheck run --site {site_key}' first"
    first, last = min(r.started_at for r in every), max(r.started_at for r in every)
    return (f"site {site_key!r} has no complete run in {span}; its runs span "
            f"{local_day(first)} to {local_day(last)} (use --quarter or --from/--to)")
