"""The speed and memory benchmark runs end to end on a small site (not timed).

bench/run.py generates a 200-page site of each shape, serves it with nginx on
loopback and runs sitecheck (and the plain Scrapy spider) on it; sitecheck must
report exactly the generated broken links, at the concurrency the benchmark
gives every tool.  The pages shape is checked from the files it writes: almost
every URL an HTML page, 40-50 links on every page.  bench/report.py turns the
results file into the doc's table.  LinkChecker and linkinator are run too when
they are already installed in bench/work (the benchmark installs them on its
first full run); otherwise that test is skipped, saying so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
TOOLS_DIR = BENCH / "work"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

needs_nginx = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed (apt-get install "
                                                                  "nginx): the benchmark serves its site with it")
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def run_bench(tmp_path: Path, tools: str, *extra: str, shape: str = "files") -> tuple[subprocess.CompletedProcess, dict]:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--shape", shape, "--pages", "200", "--tools", tools, "--workdir",
         str(tmp_path / "work"), "--tools-dir", str(TOOLS_DIR), "--no-install",
         "--out", str(tmp_path / "results-{shape}-{pages}.json"), "--timeout", "120", *extra],
        capture_output=True, text=True, timeout=170, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = tmp_path / f"results-{shape}-200.json"  # one file per shape and size
    assert f"wrote {results}" in proc.stdout
    return proc, json.loads(results.read_text(encoding="utf-8"))


def table_rows(stdout: str) -> dict[str, str]:
    """Rows of the printed results table, by tool name."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("tool ") and "URL/s" in line)
    rows = {}
    for line in lines[start + 2:]:
        if not line.strip() or line.startswith(("sitecheck / ", "wrote ", "memory targets")):
            break
        rows[line.split()[0]] = line
    return rows


@needs_nginx
def test_sitecheck_and_plain_scrapy_end_to_end(tmp_path):
    proc, results = run_bench(tmp_path, "sitecheck,scrapy", "--rounds", "2")
    rows = table_rows(proc.stdout)
    assert set(rows) == {"sitecheck", "scrapy"}, proc.stdout
    assert not any("ERROR" in r for r in rows.values()), proc.stdout
    assert "sitecheck / scrapy" in proc.stdout  # the ratio line

    assert results["shape"] == "files" and results["concurrency"] == 32  # the defaults
    assert list(results["sizes"]) == ["200"]
    block = results["sizes"]["200"]
    manifest = block["site"]
    assert manifest["shape"] == "files"
    assert manifest["html_pages"] == 200
    assert 30 <= manifest["links_per_page"] <= 60
    assert manifest["broken_count"] >= 4

    sc = block["tools"]["sitecheck"]
    assert sc["status"] == "complete"
    assert sc["exact"], (sc["broken_missed"], sc["broken_extra"])  # exactly the known broken set
    assert sc["broken_found"] == sc["broken_known"] == manifest["broken_count"]
    assert sc["urls_checked"] == manifest["distinct_urls"]
    for key in ("wall_s", "urls_per_s", "cpu_s_per_1k_pages", "peak_rss_mb"):
        assert sc[key] > 0, key

    # Two interleaved rounds: every run kept, the table's row is the median one, a ratio per round.
    assert [r["round"] for r in block["runs"]["sitecheck"]] == [1, 2]
    assert [r["round"] for r in block["runs"]["scrapy"]] == [1, 2]
    assert sc in block["runs"]["sitecheck"]
    assert sc["wall_s"] == min(r["wall_s"] for r in block["runs"]["sitecheck"])  # lower middle of two
    assert all(r["exact"] for r in block["runs"]["sitecheck"])
    assert len(block["round_ratios"]) == 2 and all("scrapy" in rr for rr in block["round_ratios"])
    assert "throughput by round" in proc.stdout

    plain = block["tools"]["scrapy"]
    assert plain["broken_found"] == manifest["broken_count"]
    assert plain["urls_checked"] >= manifest["html_pages"]
    assert "--concurrency 32" in plain["command"]
    assert set(block["ratios"]["scrapy"]) == {"throughput", "cpu", "peak_rss"}


def _page_links(www: Path) -> dict[str, list[str]]:
    """Absolute link targets (href/src of a, img, link, script) of every HTML page under www/, by page URL."""
    from lxml import html

    origin = "http://main.test"
    out = {}
    for file in www.rglob("*.html"):
        rel = "/" + file.relative_to(www).as_posix()
        url = origin + (rel[: -len("index.html")] if rel.endswith("/index.html") else rel)
        doc = html.fromstring(file.read_bytes())
        out[url] = [urljoin(url, el.get(attr)) for el in doc.iter("a", "img", "link", "script")
                    for attr in ("href", "src") if el.get(attr)]
    return out


def test_pages_shape_is_almost_all_pages_with_40_to_50_links_each(tmp_path):
    sys.path.insert(0, str(BENCH))
    try:
        import gensite
    finally:
        sys.path.remove(str(BENCH))
    manifest = gensite.generate(2000, tmp_path / "site", shape="pages", quiet=True)
    links = _page_links(tmp_path / "site" / "www")
    assert len(links) == manifest["html_pages"] == 2000
    counts = [len(v) for v in links.values()]
    assert min(counts) >= 40 and max(counts) <= 50, (min(counts), max(counts))
    targets = {u for v in links.values() for u in v} | {"http://main.test/"}
    not_pages = {u for u in targets if u not in links}
    known_dead_pages = {"http://main.test" + b["path"] for b in manifest["broken"] if b["kind"] == "page"}
    assert known_dead_pages <= not_pages  # counted below as pages: the checker fetches them as pages
    share = len(not_pages - known_dead_pages) / len(targets)
    assert share <= 0.02, share
    assert manifest["shape"] == "pages" and manifest["distinct_urls"] == len(targets)
    assert manifest["non_page_fraction"] == pytest.approx(share, abs=1e-4)
    # Every kind of planted broken link is there, each linked from a live page.
    assert {b["kind"] for b in manifest["broken"]} == {"page", "image", "attachment", "external"}
    ext = manifest["ext_origin"]
    for b in manifest["broken"]:
        url = (ext if b["host"] == "ext" else "http://main.test") + b["path"]
        assert url in targets, url
    # The files shape, for contrast: most URLs are images and attachments.
    files = gensite.generate(2000, tmp_path / "files", quiet=True)
    assert files["shape"] == "files" and files["non_page_fraction"] > 0.5


@needs_nginx
def test_pages_shape_end_to_end_at_the_given_concurrency_and_the_report(tmp_path):
    proc, results = run_bench(tmp_path, "sitecheck", "--concurrency", "8", shape="pages")
    assert results["shape"] == "pages" and results["concurrency"] == 8
    block = results["sizes"]["200"]
    manifest = block["site"]
    assert manifest["shape"] == "pages" and manifest["html_pages"] == 200
    assert 40 <= manifest["links_per_page_min"] <= manifest["links_per_page_max"] <= 50
    sc = block["tools"]["sitecheck"]
    assert sc["status"] == "complete"
    assert sc["exact"], (sc["broken_missed"], sc["broken_extra"])
    assert sc["broken_found"] == sc["broken_known"] == manifest["broken_count"] >= 4
    assert sc["urls_checked"] == manifest["distinct_urls"]
    # Run as users run it (the installed program), with the one limit per host and in total, no delay.
    assert Path(sc["command"].split()[0]).name == "sitecheck", sc["command"]
    site_file = yaml.safe_load((tmp_path / "work" / "run-pages-200" / "sitecheck" / "bench.yaml").read_text("utf-8"))
    crawl = site_file["crawl"]
    assert (crawl["concurrency"], crawl["concurrency_per_host"], crawl["delay_seconds"]) == (8, 8, 0)

    # The doc's table, from the results file: printed, and written between the markers of a document.
    results_file = tmp_path / "results-pages-200.json"
    report = subprocess.run([sys.executable, str(BENCH / "report.py"), str(results_file)],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert report.returncode == 0, report.stderr
    assert "### pages shape, 200 pages" in report.stdout
    row = next(line for line in report.stdout.splitlines() if line.startswith("| sitecheck |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == str(sc["urls_checked"])
    assert cells[6] == f"{manifest['broken_count']} / {manifest['broken_count']}"
    assert cells[7] == "n/a"  # no linkinator in this file
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\nintro\n\n<!-- bench-tables:begin -->\nold table\n<!-- bench-tables:end -->\n"
                   "\nafter\n", encoding="utf-8")
    wrote = subprocess.run([sys.executable, str(BENCH / "report.py"), str(results_file), "--write", str(doc)],
                           capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert wrote.returncode == 0, wrote.stderr
    text = doc.read_text(encoding="utf-8")
    assert "old table" not in text and row in text
    assert text.startswith("# Performance\n\nintro\n") and text.endswith("<!-- bench-tables:end -->\n\nafter\n")
    doc.write_text("# no markers\n", encoding="utf-8")
    refused = subprocess.run([sys.executable, str(BENCH / "report.py"), str(results_file), "--write", str(doc)],
                             capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert refused.returncode == 2 and "bench-tables:begin" in refused.stderr
    assert doc.read_text(encoding="utf-8") == "# no markers\n"


@pytest.mark.parametrize("tool, installed", [
    ("linkinator", TOOLS_DIR / "node_modules" / ".bin" / "linkinator"),
    ("linkchecker", TOOLS_DIR / "lcvenv" / "bin" / "linkchecker"),
])
@needs_nginx
@pytest.mark.parametrize("shape", ["files", "pages"])
def test_peer_end_to_end(tmp_path, tool, installed, shape):
    if not installed.exists():
        pytest.skip(f"{tool} is not installed in {TOOLS_DIR} (python bench/run.py --pages 20000 installs it: "
                    f"npm for linkinator, a venv for LinkChecker)")
    proc, results = run_bench(tmp_path, tool, "--concurrency", "8", shape=shape)
    r = results["sizes"]["200"]["tools"][tool]
    assert "error" not in r, r
    assert r["exact"], (r["broken_missed"], r["broken_extra"])
    assert tool in table_rows(proc.stdout)
    if tool == "linkinator":  # its limit is global: on the one host of the site, the per-host limit
        assert "--concurrency 8" in r["command"], r["command"]
