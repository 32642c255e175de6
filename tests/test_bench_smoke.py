"""The speed and memory benchmark runs end to end on a small site (not timed).

bench/run.py generates a 200-page site, serves it with nginx on loopback and
runs sitecheck and the plain Scrapy spider on it; sitecheck must report exactly
the generated broken links.  LinkChecker and linkinator are run too when they
are already installed in bench/work (the benchmark installs them on its first
full run); otherwise that test is skipped, saying so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
TOOLS_DIR = BENCH / "work"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(180),
    pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed (apt-get install nginx): "
                                                         "the benchmark serves its site with it"),
]


def run_bench(tmp_path: Path, tools: str, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    results = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--pages", "200", "--tools", tools, "--workdir",
         str(tmp_path / "work"), "--tools-dir", str(TOOLS_DIR), "--no-install", "--results", str(results),
         "--timeout", "120", *extra],
        capture_output=True, text=True, timeout=170, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
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


def test_sitecheck_and_plain_scrapy_end_to_end(tmp_path):
    proc, results = run_bench(tmp_path, "sitecheck,scrapy", "--rounds", "2")
    rows = table_rows(proc.stdout)
    assert set(rows) == {"sitecheck", "scrapy"}, proc.stdout
    assert not any("ERROR" in r for r in rows.values()), proc.stdout
    assert "sitecheck / scrapy" in proc.stdout  # the ratio line

    block = results["sizes"]["200"]
    manifest = block["site"]
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
    assert set(block["ratios"]["scrapy"]) == {"throughput", "cpu", "peak_rss"}


@pytest.mark.parametrize("tool, installed", [
    ("linkinator", TOOLS_DIR / "node_modules" / ".bin" / "linkinator"),
    ("linkchecker", TOOLS_DIR / "lcvenv" / "bin" / "linkchecker"),
])
def test_peer_end_to_end(tmp_path, tool, installed):
    if not installed.exists():
        pytest.skip(f"{tool} is not installed in {TOOLS_DIR} (python bench/run.py --pages 20000 installs it: "
                    f"npm for linkinator, a venv for LinkChecker)")
    proc, results = run_bench(tmp_path, tool)
    r = results["sizes"]["200"]["tools"][tool]
    assert "error" not in r, r
    assert r["exact"], (r["broken_missed"], r["broken_extra"])
    assert tool in table_rows(proc.stdout)
