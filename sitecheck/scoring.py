"""The indicator verdict: findings + facts + a rule set -> veto items, deductions, a score.

Pure functions: nothing here reads the store or the clock.  The rule set
(config/indicators/<name>.yaml, loaded by `sitecheck.config.rules`) holds every
threshold and point value.  Reported point values are not all confirmed, so the
score is always marked as an estimate.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from .config.locate import config_dirs  # noqa: F401 - re-exported for the checks that read word lists
from .config.rules import Rules, find_rules, load_rules, rules_for_site  # noqa: F401 - re-exported

PASS, VETO, NO_DATA = "pass", "veto", "no_data"
QUALIFIED, UNQUALIFIED = "合格", "不合格"
# The site's anti-bot wall answered the monitor instead of the site: no evidence to call it 合格.
UNDETERMINED = "无法判定"
MAX_EXAMPLES = 5

# --- the verdict -----------------------------------------------------------------------


@dataclass
class Evidence:
    label: str
    codes: list[str]
    count: int
    threshold: int
    met: bool
    estimate: bool = False
    by_host: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    unit: str = "项"


@dataclass
class VetoResult:
    id: str
    title: str
    rule: str
    status: str  # pass | veto | no_data
    evidence: list[Evidence] = field(default_factory=list)
    estimate: bool = False
    note: str = ""


@dataclass
class DeductionResult:
    id: str
    title: str
    area: str
    count: int
    points: float
    max_points: float | None
    estimate: bool
    examples: list[str] = field(default_factory=list)


@dataclass
class Verdict:
    rules: str
    title: str
    result: str  # 合格 | 不合格
    score: float
    pass_score: float
    vetoes: list[VetoResult]
    deductions: list[DeductionResult]
    estimate: bool = True
    scale: float = 1.0
    skipped_areas: list[str] = field(default_factory=list)

    @property
    def no_data(self) -> list[str]:
        return [v.id for v in self.vetoes if v.status == NO_DATA]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["no_data"] = self.no_data
        return out


@dataclass(frozen=True, slots=True)
class _F:
    code: str
    url: str
    host_key: str | None
    details: Mapping[str, Any]


def _as_finding(f: Any) -> _F:
    if isinstance(f, Mapping):
        return _F(f.get("code", ""), f.get("url", ""), f.get("host_key"), f.get("details") or {})
    return _F(f.code, f.url, f.host_key, f.details or {})


def _fact_name(f: Any) -> str:
    if isinstance(f, str):
        return f
    return f.get("name", "") if isinstance(f, Mapping) else f.name


def _matches(f: _F, codes: Iterable[str], where: Mapping[str, list]) -> bool:
    return f.code in codes and all(f.details.get(k) in allowed for k, allowed in where.items())


def _evidence(findings: list[_F], cond: Mapping[str, Any], label: str, threshold: int,
              estimate: bool) -> Evidence:
    hits = [f for f in findings if _matches(f, cond["codes"], cond.get("where") or {})]
    by_host = Counter(f.host_key or "" for f in hits)
    examples = list(dict.fromkeys(f.url for f in hits))[:MAX_EXAMPLES]
    return Evidence(label=label, codes=list(cond["codes"]), count=len(hits), threshold=threshold,
                    met=len(hits) >= threshold, estimate=estimate, by_host=dict(by_host), examples=examples)


def _judge_probes(item_id: str, item: Mapping[str, Any], probes: Mapping[str, int] | None) -> VetoResult:
    result = VetoResult(item_id, item["title"], item["rule"], NO_DATA, estimate=item["estimate"])
    if not probes or not probes.get("probes"):
        result.note = "尚无首页监测数据（需定时探测首页）"
        return result
    total, failed = int(probes["probes"]), int(probes.get("failed", 0))
    # the smallest failed count reaching the ratio, in decimal so 5% of 140 is 7, not 7.000000000000001
    threshold = max(1, math.ceil(Decimal(str(item["probe_failure_ratio"])) * total))
    met = failed >= threshold
    result.status = VETO if met else PASS
    result.evidence.append(Evidence(f"首页监测失败 {failed}/{total} 次（{failed / total:.1%}）", ["probe"],
                                    failed, threshold, met, unit="次"))
    expected = item["probes_per_day"] * item["probe_window_days"]
    if total < expected:
        result.note = f"监测次数 {total} 少于规则要求的 {expected} 次（每天≥{item['probes_per_day']}次）"
    return result


def _judge_veto(item_id: str, item: Mapping[str, Any], findings: list[_F], codes_seen: set[str],
                fact_names: set[str], probes: Mapping[str, int] | None) -> VetoResult:
    if item.get("probe_failure_ratio") is not None:
        return _judge_probes(item_id, item, probes)
    result = VetoResult(item_id, item["title"], item["rule"], NO_DATA, estimate=item["estimate"])
    for cond in item["conditions"]:
        ev = _evidence(findings, cond, cond["label"] or "、".join(cond["codes"]), cond["min_count"],
                       cond["estimate"] or item["estimate"])
        result.evidence.append(ev)
    met = [ev for ev in result.evidence if ev.met]
    if met:
        result.status = VETO
        result.estimate = any(ev.estimate for ev in met)
    elif codes_seen & {c for cond in item["conditions"] for c in cond["codes"]} or fact_names & set(item["facts"]):
        result.status = PASS  # the checks behind the item ran: a finding of its codes or one of its facts
    else:
        result.note = "本次检查未采集到相关数据（检查未启用或未配置）"
    return result


def _deduct(item_id: str, item: Mapping[str, Any], findings: list[_F]) -> DeductionResult:
    ev = _evidence(findings, item, item["title"], 1, item["estimate"])
    points = ev.count * item["points_each"]
    if item["max_points"] is not None:
        points = min(points, item["max_points"])
    return DeductionResult(item_id, item["title"], item["area"], ev.count, round(points, 2),
                           item["max_points"], item["estimate"], ev.examples)


def score(findings: Iterable[Any], facts: Iterable[Any], rules: Rules,
          probes: Mapping[str, int] | None = None, *, skip_areas: Iterable[str] = ()) -> Verdict:
    """Judge one run.  `findings`/`facts` are model objects or their stored dicts; facts may also be
    given by name alone, which is all the verdict reads of them.

    `probes` is the homepage probe summary of the rolling window ({"probes": n, "failed": m});
    without it the unreachable item has no data.  `skip_areas` drops deduction areas
    (a department with no external services skips 办事服务) and scales the score back to 100.
    """
    found = [_as_finding(f) for f in findings]
    fact_names = {_fact_name(f) for f in facts}
    skipped = [a for a in skip_areas if a in rules.areas]
    codes_seen = {f.code for f in found}
    vetoes = [_judge_veto(k, item, found, codes_seen, fact_names, probes) for k, item in rules.veto.items()]
    deductions = [_deduct(k, item, found) for k, item in rules.deductions.items() if item["area"] not in skipped]

    by_area: dict[str, float] = {}
    for d in deductions:
        by_area[d.area] = by_area.get(d.area, 0.0) + d.points
    lost = sum(min(p, rules.areas.get(a, p)) for a, p in by_area.items())
    full = 100.0 - sum(rules.areas[a] for a in skipped)
    scale = 100.0 / full if skipped and full > 0 else 1.0
    total = round(max(0.0, (full - lost) * scale), 2)

    vetoed = any(v.status == VETO for v in vetoes)
    result = UNQUALIFIED if vetoed or total < rules.pass_score else QUALIFIED
    if result == QUALIFIED and "crawl.blocked_by_waf" in codes_seen:
        result = UNDETERMINED  # what was not seen cannot pass: the wall, not the site, answered
    return Verdict(rules=rules.name, title=rules.title, result=result, score=total, pass_score=rules.pass_score,
                   vetoes=vetoes, deductions=deductions, scale=round(scale, 4), skipped_areas=skipped)


# --- the text `sitecheck score` prints -----------------------------------------------------

_STATUS_ZH = {PASS: "通过", VETO: "否决", NO_DATA: "无数据"}


def format_verdict(verdict: Verdict) -> str:
    lines = [f"检查指标：{verdict.title or verdict.rules}", f"检查结果：{verdict.result}", "", "一、单项否决指标"]
    for v in verdict.vetoes:
        mark = "（估算）" if v.estimate and v.status == VETO else ""
        lines.append(f"  {v.title}：{_STATUS_ZH[v.status]}{mark}")
        for ev in v.evidence:
            if not ev.count and not ev.met:
                continue
            hosts = "，".join(f"{h or '-'} {n}" for h, n in sorted(ev.by_host.items()))
            tail = (" [R]" if ev.estimate else "") + (f"（{hosts}）" if hosts else "")
            lines.append(f"    - {ev.label}：{ev.count} {ev.unit}，阈值 {ev.threshold}{tail}")
            lines.extend(f"      {url}" for url in ev.examples)
        if v.note:
            lines.append(f"    说明：{v.note}")
    lines += ["", "二、扣分指标（估算）"]
    any_deduction = False
    for d in verdict.deductions:
        if not d.count:
            continue
        any_deduction = True
        cap = f"，上限 {d.max_points:g} 分" if d.max_points is not None else ""
        lines.append(f"  {d.area} / {d.title}：{d.count} 项，扣 {d.points:g} 分{cap}{' [R]' if d.estimate else ''}")
        lines.extend(f"      {url}" for url in d.examples)
    if not any_deduction:
        lines.append("  未发现扣分项")
    lines.append("")
    scaled = f"（不含{'、'.join(verdict.skipped_areas)}，按比例折算 ×{verdict.scale:g}）" if verdict.skipped_areas else ""
    lines.append(f"估算得分：{verdict.score:g} / 100{scaled}（估算 estimate：部分分值为公开报道口径，未经正式确认）")
    lines.append(f"合格线：{verdict.pass_score:g} 分；任一单项否决即为不合格。")
    if verdict.no_data:
        names = "、".join(v.title for v in verdict.vetoes if v.status == NO_DATA)
        lines.append(f"注意：以下指标无数据，结论不完整：{names}")
    return "\n".join(lines)
