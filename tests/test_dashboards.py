"""Dashboards and alert rules only use metrics sitecheck exports, and are well formed.

Every PromQL expression of every dashboard panel, template variable and alert rule
is parsed for metric names, which are compared with the collector's declared
families (`sitecheck.metrics.exported_names`).  Renaming a metric without
updating a dashboard or a rule fails here.  tests/test_prometheus_e2e.py runs the
same expressions against a real Prometheus.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from sitecheck.metrics import exported_names
from sitecheck.metrics.collector import VETO_ITEMS

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
CJK = re.compile(r"[\u4e00-\u9fff]")

# --- extracting metric names from PromQL -------------------------------------------------------

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENT = re.compile(r"(?<![\w.$:])([A-Za-z_:][\w:]*)")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset",
             "bool", "atan2", "inf", "nan", "start", "end"}
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.*),\s*)?([A-Za-z_]\w*)\s*\)\s*$", re.S)


def metric_names(expr: str) -> set[str]:
    """Metric names selected by a PromQL expression (functions, keywords and labels left out)."""
    text = _STRING.sub('""', expr)
    previous = None
    while previous != text:  # innermost first: label matchers, ranges, grouping label lists
        previous = text
        text = re.sub(r"\{[^{}]*\}", " ", text)
        text = re.sub(r"\[[^\[\]]*\]", " ", text)
        text = _GROUPING.sub(" ", text)
    names = set()
    for m in _IDENT.finditer(text):
        rest = text[m.end():].lstrip()
        if m.group(1) in _KEYWORDS or rest.startswith("("):
            continue
        names.add(m.group(1))
    return names


def variable_query_names(query: str) -> set[str]:
    """Metric names in a Grafana Prometheus variable query (label_values(...) or a PromQL query)."""
    m = _LABEL_VALUES.match(query)
    if m:
        return metric_names(m.group(1)) if m.group(1) else set()
    m = re.match(r"^\s*(?:query_result|metrics)\((.*)\)\s*$", query, re.S)
    return metric_names(m.group(1) if m else query)


@pytest.mark.parametrize("expr,names", [
    ('sum by (site, location) (sitecheck_broken_links{location="homepage"})', {"sitecheck_broken_links"}),
    ("histogram_quantile(0.9, sum by (host, le) (rate(x_bucket{site=\"$site\"}[$__rate_interval])))", {"x_bucket"}),
    ("time() - a_timestamp_seconds > 26 * 3600 unless on (site) (time() - b < 1e3)", {"a_timestamp_seconds", "b"}),
    ("2 * s{status=\"veto\"} + ignoring (status) group_left s{status='pass'}", {"s"}),
    ("max_over_time(foo[5m:1m]) offset 5m or vector(1)", {"foo"}),
    ("label_replace(up, \"dst\", \"$1\", \"src\", \"(.*)\")", {"up"}),
    ("sum without (instance) (metric:recorded)", {"metric:recorded"}),
])
def test_metric_names_extractor(expr, names):
    assert metric_names(expr) == names


def test_variable_query_names():
    assert variable_query_names("label_values(sitecheck_runs_total, site)") == {"sitecheck_runs_total"}
    assert variable_query_names("label_values(site)") == set()
    assert variable_query_names('label_values(a{site="$site"}, host)') == {"a"}
    assert variable_query_names("query_result(topk(5, b))") == {"b"}


# --- what the dashboards and rules contain -------------------------------------------------------


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def panels(dash: dict):
    for p in dash["panels"]:
        yield p
        yield from p.get("panels", [])  # panels inside collapsed rows


def dashboard_exprs(dash: dict) -> list[tuple[str, str]]:
    """(panel title, expr) of every query of every panel."""
    return [(p["title"], t["expr"]) for p in panels(dash) for t in p.get("targets", []) if t.get("expr")]


def variable_queries(dash: dict) -> list[tuple[str, str]]:
    out = []
    for var in dash.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        q = var.get("query")
        q = q.get("query", "") if isinstance(q, dict) else q or ""
        out.append((var["name"], q))
        if var.get("definition"):
            out.append((var["name"], var["definition"]))
    return out


def alert_rules() -> list[dict]:
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def all_exprs() -> list[tuple[str, str]]:
    """(where, expr) for every PromQL expression sitecheck ships."""
    out = []
    for path in DASHBOARDS:
        dash = load(path)
        out += [(f"{path.name}: {title}", expr) for title, expr in dashboard_exprs(dash)]
    out += [(f"{ALERTS.name}: {r.get('alert') or r.get('record')}", r["expr"]) for r in alert_rules()]
    return out


def test_the_dashboards_exist():
    assert {p.name for p in DASHBOARDS} == {"overview.json", "site-detail.json"}


def test_every_expression_uses_only_exported_metrics():
    exported = exported_names()
    unknown = []
    for where, expr in all_exprs():
        names = metric_names(expr)
        assert names, f"{where}: no metric in {expr!r}"
        unknown += [f"{where}: {name}" for name in sorted(names - exported)]
    for path in DASHBOARDS:
        for var, query in variable_queries(load(path)):
            unknown += [f"{path.name}: variable {var}: {n}" for n in sorted(variable_query_names(query) - exported)]
    assert not unknown, "metrics sitecheck does not export:\n" + "\n".join(unknown)


def test_this_test_notices_an_unknown_metric():
    assert metric_names('sum(sitecheck_broken_link{location="homepage"})') - exported_names() == \
        {"sitecheck_broken_link"}


def test_no_constant_vectors_and_no_urls():
    for where, expr in all_exprs():
        assert "vector(" not in expr, f"{where}: expressions must have data from the store, not vector()"
        assert "url" not in re.findall(r"(\w+)\s*=~?", expr), where


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_json_is_importable_anywhere(path):
    dash = load(path)
    assert dash["uid"].startswith("sitecheck-") and dash["id"] is None
    assert dash["schemaVersion"] >= 36
    (ds_input,) = dash["__inputs"]
    assert ds_input == {**ds_input, "name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus"}
    # provisioned from files, __inputs are not substituted: a datasource variable of the same name is
    ds_var = next(v for v in dash["templating"]["list"] if v["name"] == "DS_PROMETHEUS")
    assert ds_var["type"] == "datasource" and ds_var["query"] == "prometheus"
    text = path.read_text(encoding="utf-8")
    uids = set(re.findall(r'"uid": "([^"]*)"', text)) - {dash["uid"], "-- Grafana --"}
    assert uids == {"${DS_PROMETHEUS}"}, "every query must use the DS_PROMETHEUS input"
    ids = [p["id"] for p in panels(dash)]
    assert len(ids) == len(set(ids))
    for p in panels(dash):
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${DS_PROMETHEUS}", p["title"]
            assert p["targets"], p["title"]
            for t in p["targets"]:
                assert t["datasource"]["uid"] == "${DS_PROMETHEUS}" and t["refId"], p["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_titles_are_chinese(path):
    dash = load(path)
    assert CJK.search(dash["title"]), dash["title"]
    for p in panels(dash):
        assert CJK.search(p["title"]), f"{path.name}: panel title {p['title']!r} is not Chinese"
    for var in dash["templating"]["list"]:
        assert CJK.search(var.get("label", "")), var["name"]


def test_site_detail_is_per_site():
    dash = load(ROOT / "dashboards" / "site-detail.json")
    site = next(v for v in dash["templating"]["list"] if v["name"] == "site")
    assert site["type"] == "query" and not site["multi"]
    for title, expr in dashboard_exprs(dash):
        assert 'site="$site"' in expr, f"{title}: not filtered by the site variable"


def test_dashboards_cover_what_was_asked():
    overview = " ".join(e for _, e in dashboard_exprs(load(ROOT / "dashboards" / "overview.json")))
    for metric in ("sitecheck_indicator_status", "sitecheck_broken_links", "sitecheck_last_run_end_timestamp_seconds",
                   "sitecheck_findings", "sitecheck_score_estimate"):
        assert metric in overview
    assert 'location="homepage"' in overview and "sum by (site, location) (sitecheck_broken_links)" in overview
    detail = " ".join(e for _, e in dashboard_exprs(load(ROOT / "dashboards" / "site-detail.json")))
    for metric in ("sitecheck_page_latency_seconds_bucket", "sitecheck_findings", "sitecheck_columns_stale",
                   "sitecheck_columns_blank", "sitecheck_messages_unanswered", "sitecheck_last_run_duration_seconds",
                   "sitecheck_runs_total", "sitecheck_tls_cert_expiry_timestamp_seconds",
                   "sitecheck_probe_success_ratio"):
        assert metric in detail, metric
    assert "histogram_quantile" in detail


# --- alert rules ------------------------------------------------------------------------------


def test_alert_rules_are_complete():
    rules = alert_rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    for r in rules:
        assert r["labels"]["severity"] in ("critical", "warning"), r["alert"]
        assert CJK.search(r["annotations"]["summary"]) and r["annotations"]["description"], r["alert"]
        assert "for" in r, r["alert"]
    vetoed = {r["labels"].get("item") for r in rules if "sitecheck_indicator_status" in r["expr"]}
    assert vetoed == set(VETO_ITEMS), "one alert per veto item"
    exprs = {r["alert"]: r["expr"] for r in rules}
    assert "26 * 3600" in exprs["SitecheckCrawlMissing"]
    assert 'location="homepage"' in exprs["SitecheckHomepageBrokenLinks"]
    assert re.search(r'sitecheck_probe_success_ratio\{window="7d"\}\s*>=\s*0\.05', exprs["SitecheckProbeFailureRatio"])


def test_alert_unit_tests_cover_every_rule():
    doc = yaml.safe_load((ALERTS.parent / "alerts.test.yml").read_text(encoding="utf-8"))
    tested = {t["alertname"] for case in doc["tests"] for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    assert tested == {r["alert"] for r in alert_rules()}, "every alert has a firing case in alerts.test.yml"


# --- provisioning, Prometheus config, compose stack, docs -------------------------------------------


def test_grafana_provisioning():
    ds = yaml.safe_load((ROOT / "dashboards/provisioning/datasources/prometheus.yml").read_text(encoding="utf-8"))
    (source,) = ds["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"] and source["url"] == "http://prometheus:9090"
    prov = yaml.safe_load((ROOT / "dashboards/provisioning/dashboards/sitecheck.yml").read_text(encoding="utf-8"))
    (provider,) = prov["providers"]
    assert provider["type"] == "file"
    compose = yaml.safe_load((ROOT / "deploy/docker-compose.yml").read_text(encoding="utf-8"))
    grafana = compose["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"] if isinstance(v, str) and v.startswith(".")}
    assert mounts[provider["options"]["path"]] == "../dashboards"
    assert mounts["/etc/grafana/provisioning"] == "../dashboards/provisioning"


def test_compose_stack_references_real_files_and_binds_loopback():
    compose = yaml.safe_load((ROOT / "deploy/docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"prometheus", "grafana", "sitecheck"} <= set(services)
    for name, svc in services.items():
        for v in svc.get("volumes", []):
            src = v.split(":")[0] if isinstance(v, str) else v.get("source", "")
            if src.startswith("."):
                assert (ROOT / "deploy" / src).resolve().exists(), f"{name}: {src} does not exist"
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: publish on loopback only ({port})"
    prom = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text(encoding="utf-8"))
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "sitecheck")
    (target,) = job["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host == "sitecheck"
    assert f"0.0.0.0:{port}" in " ".join(map(str, services["sitecheck"]["command"]))
    assert prom["rule_files"] == ["alerts.yml"]


def test_docs_name_every_alert_and_dashboard():
    doc = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    for r in alert_rules():
        assert r["alert"] in doc, r["alert"]
    for path in DASHBOARDS:
        assert path.name in doc and load(path)["title"] in doc
