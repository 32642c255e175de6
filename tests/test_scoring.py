"""The verdict: veto thresholds crossed exactly, deductions and caps, rule-set validation, the printed text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sitecheck.config import ConfigError
from sitecheck.model import Fact, Finding, Severity
from sitecheck.scoring import (NO_DATA, PASS, QUALIFIED, UNQUALIFIED, VETO, Verdict, format_verdict, load_rules,
                               score)

RULES = load_rules("gov-2019")


def f(code: str, n: int = 1, host: str = "portal", **details) -> list[Finding]:
    return [Finding(code, Severity.ERROR, f"http://{host}.test/{code}/{i}", "x", host_key=host, details=details)
            for i in range(n)]


def veto(verdict: Verdict, item: str):
    return next(v for v in verdict.vetoes if v.id == item)


ALL_FACTS = [Fact(n, {}) for n in ("homepage.newest", "column.newest", "interaction.channel", "guide.stats",
                                   "words.scanned")]


def test_rule_set_loads_with_every_veto_item():
    assert list(RULES.veto) == ["unreachable", "homepage_stale", "columns_stale", "interaction_poor",
                                "service_useless", "serious_error"]
    assert RULES.window_days("通知公告") == 183 and RULES.window_days("工作动态") == 14
    assert RULES.window_days("信息公开目录") == 365 and RULES.window_days("没有这类") is None
    assert sum(RULES.areas.values()) == 100
    assert all(d["estimate"] for d in RULES.deductions.values())


def test_clean_run_passes_with_full_score():
    verdict = score([], ALL_FACTS, RULES, probes={"probes": 140, "failed": 0})
    assert [v.status for v in verdict.vetoes] == [PASS] * 6
    assert (verdict.result, verdict.score, verdict.estimate) == (QUALIFIED, 100.0, True)


def test_no_facts_means_no_data_not_pass():
    verdict = score([], [], RULES)
    assert verdict.no_data == list(RULES.veto)
    assert verdict.result == QUALIFIED  # nothing failed; the report says the verdict is incomplete


@pytest.mark.parametrize("failed,status", [(6, PASS), (7, VETO), (8, VETO)])
def test_unreachable_five_percent_of_probes(failed, status):
    item = veto(score([], [], RULES, probes={"probes": 140, "failed": failed}), "unreachable")
    assert item.status == status
    assert item.evidence[0].threshold == 7 and item.evidence[0].count == failed


def test_unreachable_without_probes_is_no_data_and_few_probes_noted():
    assert veto(score(f("site.homepage_down"), [], RULES), "unreachable").status == NO_DATA
    item = veto(score([], [], RULES, probes={"probes": 20, "failed": 1}), "unreachable")
    assert item.status == VETO and "少于" in item.note


@pytest.mark.parametrize("news,notice,status", [(2, 2, PASS), (3, 2, VETO), (0, 5, VETO), (4, 0, PASS)])
def test_columns_stale_news_and_notices_together(news, notice, status):
    findings = (f("column.stale", news, category="动态要闻") + f("column.stale", notice, category="通知公告"))
    assert veto(score(findings, [], RULES), "columns_stale").status == status


@pytest.mark.parametrize("n,status", [(9, PASS), (10, VETO), (11, VETO)])
def test_columns_stale_ten_of_any_category(n, status):
    findings = f("column.stale", n, category="人事信息")
    item = veto(score(findings, [], RULES), "columns_stale")
    assert item.status == status
    assert item.evidence[1].count == n and item.evidence[1].threshold == 10


@pytest.mark.parametrize("n,status", [(4, PASS), (5, VETO), (6, VETO)])
def test_columns_blank(n, status):
    assert veto(score(f("column.blank", n), [], RULES), "columns_stale").status == status


@pytest.mark.parametrize("findings,status", [
    ([], NO_DATA),
    (f("interaction.unanswered"), VETO),
    (f("interaction.late_reply"), VETO),
    (f("interaction.no_channel", host="qgw"), VETO),
    (f("interaction.board_empty"), NO_DATA),
])
def test_interaction_poor(findings, status):
    assert veto(score(findings, [], RULES), "interaction_poor").status == status


def test_service_useless_only_for_the_service_entry():
    assert veto(score(f("entry.missing", name="决策公开"), [], RULES), "service_useless").status == PASS
    item = veto(score(f("entry.missing", name="政务服务"), [], RULES), "service_useless")
    assert item.status == VETO and not item.estimate
    item = veto(score(f("guide.incomplete"), [], RULES), "service_useless")
    assert item.status == VETO and item.estimate  # the guide count is a reported threshold


def test_serious_error_only_for_serious_wrong_words():
    assert veto(score(f("words.wrong", serious=False), [], RULES), "serious_error").status == PASS
    for findings in (f("words.wrong", serious=True), f("words.forbidden"), f("link.hidden")):
        assert veto(score(findings, [], RULES), "serious_error").status == VETO


def test_homepage_stale():
    assert veto(score(f("homepage.stale", host="gbk"), [], RULES), "homepage_stale").status == VETO
    assert veto(score([], [Fact("homepage.unchanged_since", {})], RULES), "homepage_stale").status == PASS


def test_deductions_homepage_and_other_links_weighed_apart():
    verdict = score(f("link.broken_homepage", 2) + f("link.broken", 7), ALL_FACTS, RULES)
    points = {d.id: d.points for d in verdict.deductions if d.count}
    assert points == {"homepage_links": 2.0, "page_links": 0.7}
    assert verdict.score == 97.3 and verdict.result == QUALIFIED


def test_deductions_capped_per_item_and_per_area():
    verdict = score(f("link.broken_homepage", 50), ALL_FACTS, RULES)
    assert next(d for d in verdict.deductions if d.id == "homepage_links").points == 5
    many = (f("link.broken_homepage", 50) + f("link.broken", 500) + f("entry.missing", 9, name="x")
            + f("entry.broken", 9) + f("mark.missing", 9) + f("mark.meta_missing", 9))
    verdict = score(many, ALL_FACTS, RULES)
    assert sum(d.points for d in verdict.deductions) == 21  # 5 + 5 + 5 + 3 + 2 + 1: exactly the area
    assert verdict.score == 79


def test_score_below_pass_fails_without_veto(tmp_path):
    text = Path(RULES.path).read_text(encoding="utf-8").replace("pass_score: 60", "pass_score: 98")
    rules = load_rules(write(tmp_path, text), tmp_path)
    assert score(f("link.broken_homepage", 2), ALL_FACTS, rules).result == QUALIFIED  # 98: not below
    verdict = score(f("link.broken_homepage", 3), ALL_FACTS, rules)
    assert verdict.result == UNQUALIFIED and all(v.status != VETO for v in verdict.vetoes)


def test_any_veto_fails_whatever_the_score():
    verdict = score(f("link.hidden"), ALL_FACTS, RULES)
    assert verdict.score == 100 and verdict.result == UNQUALIFIED


def test_skipping_services_scales_to_100():
    verdict = score(f("guide.incomplete", 3) + f("link.broken_homepage", 3), ALL_FACTS, RULES,
                    skip_areas=["办事服务"])
    assert verdict.skipped_areas == ["办事服务"] and verdict.scale == pytest.approx(4 / 3, abs=1e-4)
    assert verdict.score == 96.0  # (75 - 3) * 4/3; guide points skipped


def test_findings_as_stored_dicts():
    stored = [{"code": "column.blank", "url": f"http://h/{i}", "host_key": "zxqy", "details": {}} for i in range(5)]
    item = veto(score(stored, [{"name": "column.newest"}], RULES), "columns_stale")
    assert item.status == VETO and item.evidence[2].by_host == {"zxqy": 5}
    assert item.evidence[2].examples == [f"http://h/{i}" for i in range(5)]


def test_verdict_to_dict_is_json():
    verdict = score(f("interaction.unanswered") + f("link.broken", 3), ALL_FACTS, RULES,
                    probes={"probes": 140, "failed": 1})
    data = json.loads(json.dumps(verdict.to_dict(), ensure_ascii=False))
    assert data["result"] == UNQUALIFIED and data["estimate"] is True and data["no_data"] == []
    assert data["vetoes"][3]["status"] == VETO and data["vetoes"][3]["evidence"][1]["count"] == 1


def test_format_verdict_in_chinese():
    verdict = score(f("interaction.unanswered") + f("link.broken_homepage", 2), [Fact("column.newest", {})], RULES)
    text = format_verdict(verdict)
    assert "检查结果：不合格" in text
    assert "互动回应差：否决" in text and "栏目不更新：通过" in text and "站点无法访问：无数据" in text
    assert "留言超过3个月未回复：1 项，阈值 1" in text and "http://portal.test/interaction.unanswered/0" in text
    assert "功能设计 / 首页链接不可用：2 项，扣 2 分" in text
    assert "估算得分：98 / 100" in text and "估算" in text
    assert "结论不完整" in text


# --- rule-set validation -----------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "indicators" / "province.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text,line,key,message", [
    ("name: x\n", 1, "veto", "missing required key"),
    ("name: x\nveto:\n  a:\n    title: t\n    conditons: []\n", 5, "veto.a.conditons", "unknown key"),
    ("name: x\nveto:\n  a:\n    title: t\n    conditions:\n      - {codes: [], min_count: 1}\n", 6,
     "veto.a.conditions[0].codes", "at least 1 item"),
    ("name: x\nveto:\n  a:\n    title: t\n    conditions:\n      - {codes: [x], min_count: 0}\n", 6,
     "veto.a.conditions[0].min_count", "must be at least 1"),
    ("name: x\nareas: {A: 100}\nveto: {}\ndeductions:\n  d: {title: t, area: B, codes: [x], points_each: 1}\n", 5,
     "deductions.d.area", "unknown area 'B'"),
    ("name: x\ncategories: {新闻: {window_days: 7}}\nveto:\n  a:\n    title: t\n    conditions:\n"
     "      - {codes: [x], where: {category: [旧闻]}}\n", 7, "veto.a.conditions[0].where.category",
     "unknown category '旧闻'"),
])
def test_invalid_rule_sets_name_line_and_key(tmp_path, text, line, key, message):
    with pytest.raises(ConfigError) as err:
        load_rules(write(tmp_path, text), tmp_path)
    assert (err.value.line, err.value.key) == (line, key)
    assert message in err.value.message
    assert err.value.file.endswith("province.yaml")


def test_rule_set_by_name_from_a_config_folder(tmp_path):
    write(tmp_path, "name: province\nveto: {}\n")
    assert load_rules("province", tmp_path).name == "province"
    with pytest.raises(ConfigError, match="no rule set 'nope'.*known rule sets: province"):
        load_rules("nope", tmp_path)


def test_a_walled_run_is_not_called_qualified():
    """A run whose site answered with an anti-bot wall has no evidence to pass on: 无法判定."""
    from sitecheck.model import Finding, Severity
    from sitecheck.scoring import UNDETERMINED, score

    rules = load_rules("gov-2019")
    wall = Finding("crawl.blocked_by_waf", Severity.ERROR, "https://a.gov.cn/", "网站防护拦截", "waf", "portal")
    assert score([], [], rules).result == "合格"
    assert score([wall], [], rules).result == UNDETERMINED
