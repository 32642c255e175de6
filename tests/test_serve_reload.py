"""`sitecheck serve` reads its site files again on SIGHUP (a real process and a real signal).

The sites probe a loopback port once a year, so nothing is fetched while the test runs.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def site_file(folder: Path, key: str) -> Path:
    path = folder / "sites" / f"{key}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(f"""\
        site: {key}
        name: 测试厅
        hosts:
          - {{key: portal, name: 门户, url: 'http://127.0.0.1:9/'}}
        schedule: {{crawl: '0 0 1 1 *', probe: '0 0 1 1 *', timezone: UTC}}
        """), encoding="utf-8")
    return path


def wait_for(path: Path, pattern: str, proc: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, path.read_text(encoding="utf-8", errors="replace")):
            return
        assert proc.poll() is None, f"serve exited early ({proc.returncode}): {path.read_text()}"
        time.sleep(0.05)
    raise AssertionError(f"no {pattern!r} in {path.name}:\n{path.read_text()}")


def test_sighup_reloads_the_site_files(tmp_path):
    cfg = tmp_path / "cfg"
    site_file(cfg, "alpha")
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.Popen([sys.executable, "-P", "-m", "sitecheck.cli", "serve", "--all", "--config-dir",
                                 str(cfg), "--db", str(tmp_path / "s.sqlite3"), "--listen", "off", "--no-crawl"],
                                stdout=o, stderr=e, start_new_session=True)
    try:
        wait_for(out, r"1 site\(s\) \(alpha\)", proc)
        site_file(cfg, "beta")
        proc.send_signal(signal.SIGHUP)
        wait_for(err, r"configuration reloaded: 2 site\(s\) \(alpha, beta\)", proc)

        (cfg / "sites" / "beta.yaml").write_text("site: beta\nhosts: [\n", encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        wait_for(err, r"reload failed, the configuration stays as it was: .*beta\.yaml", proc)
        assert proc.poll() is None, "a bad site file must not stop the service"

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
