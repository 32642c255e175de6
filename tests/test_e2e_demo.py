"""End to end: crawl the demo portal and find exactly the planted faults, no more, no fewer.

The demo server runs in this process (threads); the crawl runs in a subprocess,
as `sitecheck run` does, because Scrapy's reactor cannot restart in one process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import jsonschema
import pytest

from sitecheck.config import load_site
from sitecheck.demo import manifest as M
from sitecheck.demo.server import DemoServer
from sitecheck.report.data import build_report
from sitecheck.report.period import parse_quarter
from sitecheck.store import Store
from sitecheck.textparse.urls import normalise

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]
LINK_CODES = {"link.broken", "link.broken_homepage", "site.homepage_down"}


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    demo = DemoServer(port=0, timeout_fault_seconds=6.0, slow_seconds=1.5).start()
    try:
        site_file = demo.write_site_file(tmp / "demo.yaml")
        db = tmp / "s.sqlite3"
        proc = subprocess.run([sys.executable, "-m", "sitecheck.cli", "run", "--config", str(site_file),
                               "--db", str(db), "--progress", "log", "-v"],
                              capture_output=True, text=True, timeout=300)
        stats = demo.stats()
        export = json.loads(subprocess.run(
            [sys.executable, "-m", "sitecheck.cli", "export", "--site", "demo", "--db", str(db)],
            capture_output=True, text=True, check=True).stdout)
        yield {"proc": proc, "export": export, "stats": stats, "urls": demo.urls, "today": demo.today, "db": db}
    finally:
        demo.stop()


def _url(c, place):
    return M.url_of(c["urls"], place, c["today"])


def test_run_completes_with_findings_exit_code(crawl):
    proc = crawl["proc"]
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "progress: pages" in proc.stderr  # log-mode progress lines when not on a terminal
    assert "甘肃省演示工业和信息化厅 (demo)" in proc.stdout and "complete" in proc.stdout
    # The program leaves without interpreter clean-up after `run` (cli.entry): the summary's last
    # line still reaches a pipe.
    assert proc.stdout.rstrip().splitlines()[-1].startswith("store: ")


def test_export_matches_its_json_schema(crawl):
    schema = json.loads((ROOT / "schemas" / "export.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(crawl["export"], schema)


def test_exact_broken_targets_by_reason_and_place(crawl):
    found = {(f["url"], f["details"]["reason"], f["code"] == "link.broken_homepage")
             for f in crawl["export"]["findings"] if f["code"] in LINK_CODES}
    assert found == M.expected_broken(crawl["urls"])


def test_broken_findings_name_the_referring_page_and_kind(crawl):
    by_url = {f["url"]: f for f in crawl["export"]["findings"] if f["code"] in LINK_CODES}
    for entry in M.BROKEN:
        f = by_url[M.url_of(crawl["urls"], entry, crawl["today"])]
        assert f["details"]["kind"] == entry["kind"]
        assert _url(crawl, entry["linked_from"]) in {r["page"] for r in f["found_on"]}
        assert f["severity"] == ("error" if entry["host"] not in ("external", "dead") else "warning")


def test_throttled_and_not_checked_are_not_broken(crawl):
    findings = crawl["export"]["findings"]
    throttled = {(f["url"], f["details"]["reason"]) for f in findings
                 if f["code"] in ("link.rate_limited", "link.blocked")}
    assert throttled == {(_url(crawl, t), t["reason"]) for t in M.THROTTLED}
    not_checked = {(f["url"], f["details"]["reason"]) for f in findings if f["code"] == "link.not_checked"}
    assert not_checked == {(_url(crawl, t), t["reason"]) for t in M.NOT_CHECKED}


def test_slow_pages_exactly(crawl):
    slow = {f["url"] for f in crawl["export"]["findings"] if f["code"] == "page.slow"}
    assert slow == {_url(crawl, s) for s in M.SLOW}


def test_quiet_places_are_not_reported(crawl):
    reported = {(f["url"], f["code"]) for f in crawl["export"]["findings"]}
    for q in M.QUIET:
        assert (_url(crawl, q), q["kind"]) not in reported, q["why"]


def test_big_attachment_checked_without_downloading_it(crawl):
    pages = {p["url"]: p for p in crawl["export"]["pages"]}
    for large in M.LARGE:
        url = _url(crawl, large)
        assert pages[url]["reason"] == "ok" and pages[url]["size"] == large["size"]
        assert crawl["stats"]["bytes_by_path"].get(large["path"], 0) <= 1024 * 1024


def test_pagination_only_pages_were_crawled(crawl):
    pages = {p["url"]: p for p in crawl["export"]["pages"]}
    for entry in M.PAGINATION_ONLY:
        url = _url(crawl, entry)
        assert url in pages, f"{url} reachable only through createPageHTML was not crawled"
        assert pages[url]["status"] == 200


def test_gbk_subsite_decoded(crawl):
    gbk = [p for p in crawl["export"]["pages"] if p["host"] == "gbk" and p["kind"] == "page"]
    assert gbk and all(p["encoding"] == "gb18030" for p in gbk)
    home = next(p for p in gbk if p["url"] == crawl["urls"]["gbk"])
    assert "无线电" in home["title"]


def test_traps_stayed_bounded(crawl):
    pages = crawl["export"]["pages"]
    for trap in M.TRAPS:
        prefix = _url(crawl, trap)
        under = [p for p in pages if p["url"].startswith(prefix.split("?")[0])]
        assert len(under) <= 31, f"trap {trap['kind']}: {len(under)} pages"
    assert len(pages) < 400
    assert any(f["code"] == "crawl.trap" for f in crawl["export"]["findings"])


def test_store_is_consistent_and_run_recorded(crawl):
    with Store(crawl["db"], readonly=True) as store:
        assert store.integrity_ok()
        run = store.latest_run("demo")
        assert run.status == "complete" and run.pages > 150
        # Scrapy's own figures reach the run record (through runner.PlainStatsCollector)
        assert 0 < run.stats["elapsed_time_seconds"] < 600


# --- the government layer -----------------------------------------------------------------

GOV_CODES = {g["kind"] for g in M.GOV}


def _gov_details_match(entry, f, c) -> bool:
    d, e = f["details"], entry["expect"]
    kind = entry["kind"]
    if kind == "entry.missing":
        return d["name"] == e["entry"]
    if kind == "interaction.no_channel":
        return f["url"] == _url(c, entry)
    if kind in ("interaction.unanswered", "interaction.late_reply"):
        ok = d["id"] == e["message"] and d["board"] == e["board"]
        return ok and (kind != "interaction.late_reply" or d["reply_days"] == e["reply_days"])
    if kind == "column.stale":
        return d["name"] == e["column"] and d["age_days"] == e["age_days"] and d["category"] == e["category"]
    if kind == "column.blank":
        return d["name"] == e["column"]
    if kind == "homepage.stale":
        return d["age_days"] == e["age_days"]
    if kind == "mark.jiucuo_outdated_host":
        return d["jiucuo_host"] == e["jiucuo_host"]
    if kind == "mark.missing":
        return d["mark"] == e["mark"]
    if kind == "mark.site_code_mismatch":
        return d["codes"]["jiucuo"] == e["jiucuo"] and d["codes"]["footer"] == e["footer"]
    if kind == "words.wrong":
        return d["wrong"] == e["wrong"] and d["correct"] == e["right"] and f["url"] == _url(c, entry)
    if kind == "words.forbidden":
        return d["term"] == e["word"] and f["url"] == _url(c, entry)
    if kind == "link.hidden":
        return f["url"] == _url(c, e["target"]) and d["text"] == e["text"]
    if kind == "guide.incomplete":
        return sorted(d["missing"]) == sorted(e["missing"]) and f["url"] == _url(c, entry)
    raise AssertionError(f"no matcher for {kind}")


def test_every_planted_government_fault_is_found(crawl):
    findings = crawl["export"]["findings"]
    for entry in M.GOV:
        candidates = [f for f in findings if f["code"] == entry["kind"] and f["host"] == entry["host"]]
        assert any(_gov_details_match(entry, f, crawl) for f in candidates), \
            f"{entry['id']}: not found among {[f['details'] for f in candidates]}"


def test_no_government_false_positives(crawl):
    """Each government finding answers exactly one planted fault."""
    gov = [f for f in crawl["export"]["findings"] if f["code"] in GOV_CODES]
    assert len(gov) == len(M.GOV)
    unexplained = [f for f in gov if not any(
        f["code"] == e["kind"] and f["host"] == e["host"] and _gov_details_match(e, f, crawl) for e in M.GOV)]
    assert unexplained == []
    others = {f["code"] for f in crawl["export"]["findings"]} - GOV_CODES
    assert others <= {"link.broken", "link.broken_homepage", "link.rate_limited", "link.blocked",
                      "link.not_checked", "page.slow", "crawl.trap", "crawl.backoff"}


def test_the_crawl_backs_off_where_the_portal_says_it_is_busy(crawl):
    """The portal's planted 429 (with Retry-After) and 503 make the crawl slow down there, and say so."""
    backoffs = [f for f in crawl["export"]["findings"] if f["code"] == "crawl.backoff"]
    assert [f["host"] for f in backoffs] == ["portal"]
    causes = backoffs[0]["details"]["causes"]
    assert {"429", "503"} <= set(causes) and backoffs[0]["severity"] == "info"


def test_verdict_names_the_right_veto_items(crawl):
    verdict = crawl["export"]["verdict"]
    status = {v["id"]: v["status"] for v in verdict["vetoes"]}
    assert status == {"unreachable": "no_data", "homepage_stale": "veto", "columns_stale": "pass",
                      "interaction_poor": "veto", "service_useless": "veto", "serious_error": "veto"}
    assert verdict["result"] == "不合格" and verdict["estimate"] is True


def test_publications_counted_from_stored_publication_dates(crawl):
    today = crawl["today"]
    period = parse_quarter(f"{today.year}Q{(today.month - 1) // 3 + 1}")
    site = load_site(crawl["db"].parent / "demo.yaml")
    with Store(crawl["db"], readonly=True) as store:
        run = store.latest_run("demo")
        stored = {f.key: f.value for f in store.facts(run.id, "article.published")}
        report = build_report(store, "demo", period, now=datetime.now(timezone.utc), site=site)
    # Every demo article shows 发布时间: the stored date is the visible one, equal to its PubDate meta.
    assert len(stored) > 50 and {v["source"] for v in stored.values()} == {"visible"}
    assert all(v["date"] == v["meta"][:10] for v in stored.values())
    in_period = {normalise(u) for u, v in stored.items() if period.contains_day(date.fromisoformat(v["date"]))}
    pub = report["statistics"]["publications"]
    assert (pub["total"], pub["method"], pub["by_source"]) == (len(in_period), "stored_date",
                                                                {"stored": len(in_period)})
