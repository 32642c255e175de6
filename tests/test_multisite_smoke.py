"""bench/multisite.py runs end to end, and no site is asked more often than its politeness limit.

Only the ceiling is asserted (a correctness property); the aggregate rate is a
benchmark figure, printed by the script, never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


def test_run_all_keeps_each_sites_limit(tmp_path):
    out = tmp_path / "multi.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "multisite.py"), "--sites", "5", "--pages", "12",
                           "--delay", "0.1", "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["exit_code"] in (0, 1)  # the crawl itself ran: findings or clean
    assert figures["requests"] == 5 * 12  # every page of every site, once
    assert figures["per_site_rate_max"] <= figures["limit_per_site"] * 1.10
    assert "aggregate" in proc.stdout and "per site" in proc.stdout
