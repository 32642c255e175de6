"""The installed tool's first steps: where config is found, `sitecheck init`, and plain errors.

`init` must write a file that passes check-config and crawls the demo; `score` must not create
a store it was only asked to read; a quarter out of range says quarters run 1-4; the check
registry logs which checks run; the run summary counts pages as the stored run does.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sitecheck import bundled
from sitecheck.checks import registry
from sitecheck.cli import main
from sitecheck.config import CrawlSettings, load_site, user_config_dir
from sitecheck.config.locate import config_dirs, find_site_file
from sitecheck.config.sitefile import CRAWL
from sitecheck.model import Reason, Target, TargetKind
from sitecheck.recorder import RunRecorder
from sitecheck.store import Store

MINIMAL = """\
site: {key}
name: 测试厅
hosts:
  - {{key: portal, name: 门户, url: 'http://127.0.0.1:9/'}}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- where configuration is found ---------------------------------------------------------------


def test_user_config_dir_order(tmp_path):
    env = {"HOME": str(tmp_path / "home")}
    assert user_config_dir(None, env) == tmp_path / "home" / ".config" / "sitecheck"
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    assert user_config_dir(None, env) == tmp_path / "xdg" / "sitecheck"
    env["SITECHECK_CONFIG_DIR"] = str(tmp_path / "env")
    assert user_config_dir(None, env) == tmp_path / "env"
    assert user_config_dir(tmp_path / "flag", env) == tmp_path / "flag"


def test_site_files_come_from_the_config_dir_then_the_bundle(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a ./config folder in the current directory means nothing
    write(tmp_path / "config" / "sites" / "demo.yaml", MINIMAL.format(key="demo"))
    cfg = tmp_path / "cfg"
    assert find_site_file("demo", cfg) == bundled.path("config", "sites", "demo.yaml")
    mine = write(cfg / "sites" / "demo.yaml", MINIMAL.format(key="demo"))
    assert find_site_file("demo", cfg) == mine
    with pytest.raises(Exception, match=r"known sites: .*\bdemo\b.*; write one with 'sitecheck init'"):
        find_site_file("nope", tmp_path / "empty")


def test_bundled_site_reads_bundled_rules_and_words(tmp_path):
    site = load_site(bundled.path("config", "sites", "demo.yaml"))
    assert config_dirs(site) == [bundled.path("config").resolve()]
    own = load_site(write(tmp_path / "sites" / "x.yaml", MINIMAL.format(key="x")))
    assert config_dirs(own) == [bundled.path("config").resolve()]  # no indicators/ or words/ of its own
    (tmp_path / "words").mkdir()
    assert config_dirs(own) == [tmp_path.resolve(), bundled.path("config").resolve()]


def test_crawl_settings_follow_the_table(tmp_path):
    fields = list(CrawlSettings.__dataclass_fields__)
    assert fields == list(CRAWL.fields), "CrawlSettings and the CRAWL table must list the same keys in order"
    defaults = CrawlSettings()
    for key, setting in CRAWL.fields.items():
        expected = tuple(setting.default) if isinstance(setting.default, list) else setting.default
        assert getattr(defaults, key) == expected, key
    site = load_site(write(tmp_path / "s.yaml", MINIMAL.format(key="s") + "crawl: {delay_seconds: 0.5}\n"))
    assert site.crawl.delay_seconds == 0.5
    with pytest.raises(AttributeError):
        site.crawl.delay_seconds = 1  # frozen: settings are read, never changed in flight


# --- sitecheck init -----------------------------------------------------------------------------


def test_init_writes_a_file_that_check_config_accepts(tmp_path, capsys):
    cfg = tmp_path / "cfg"
    assert main(["init", "--config-dir", str(cfg), "--site", "mine", "--url", "https://www.example.gov.cn"]) == 0
    path = cfg / "sites" / "mine.yaml"
    first = path.read_text(encoding="utf-8").splitlines()[0]
    schema = re.fullmatch(r"# yaml-language-server: \$schema=file://(\S+)", first)
    assert schema and Path(schema.group(1)).name == "site.schema.json" and Path(schema.group(1)).exists()
    site = load_site(path)
    assert (site.key, site.portal.url) == ("mine", "https://www.example.gov.cn/")
    capsys.readouterr()
    assert main(["check-config", "--config-dir", str(cfg)]) == 0
    assert f"ok: {path}" in capsys.readouterr().out
    assert main(["init", "--config-dir", str(cfg), "--site", "mine"]) == 2  # never overwrites silently
    assert "exists already" in capsys.readouterr().err
    assert main(["init", "--config-dir", str(cfg), "--site", "Bad Key"]) == 2
    assert main(["init", "--config-dir", str(cfg), "--site", "x", "--url", "example.gov.cn"]) == 2


def test_check_config_without_user_sites_says_what_to_do(tmp_path, capsys):
    assert main(["check-config", "--config-dir", str(tmp_path)]) == 2
    assert "sitecheck init" in capsys.readouterr().err


@pytest.mark.e2e
def test_init_output_crawls_the_demo(tmp_path):
    from sitecheck.demo.server import DemoServer

    cfg, db = tmp_path / "cfg", tmp_path / "s.sqlite3"
    demo = DemoServer(port=0).start()
    try:
        assert main(["init", "--config-dir", str(cfg), "--site", "mine", "--url", demo.urls["portal"]]) == 0
        assert "allow_networks: [127.0.0.2/32]" in (cfg / "sites" / "mine.yaml").read_text(encoding="utf-8")
        proc = subprocess.run([sys.executable, "-P", "-m", "sitecheck.cli", "run", "--site", "mine", "--config-dir",
                               str(cfg), "--db", str(db), "--progress", "off"],
                              capture_output=True, text=True, timeout=300)
    finally:
        demo.stop()
    assert proc.returncode in (0, 1), proc.stderr
    with Store(db, readonly=True) as store:
        run = store.latest_run("mine", ("complete",))
    assert run is not None and run.pages > 20, proc.stdout
    assert f"run {run.id}: complete, {run.pages} pages, {run.targets} URLs" in proc.stdout


# --- plain errors ---------------------------------------------------------------------------------


def test_score_does_not_create_a_missing_store(tmp_path, capsys):
    db = tmp_path / "typo" / "nothing.sqlite3"
    assert main(["score", "--site", "demo", "--db", str(db)]) == 2
    assert "no such database" in capsys.readouterr().err
    assert not db.exists() and not db.parent.exists()


def test_report_names_the_quarters(tmp_path, capsys):
    db = tmp_path / "s.sqlite3"
    Store(db).close()
    assert main(["report", "--site", "demo", "--db", str(db), "--quarter", "2026Q5", "--out", str(tmp_path)]) == 2
    assert "quarters run 1 to 4" in capsys.readouterr().err


# --- the check registry and the run summary ----------------------------------------------------------


def test_registry_logs_enabled_and_disabled_checks(tmp_path, caplog):
    site = load_site(write(tmp_path / "s.yaml", MINIMAL.format(key="s") + textwrap.dedent("""\
        checks:
          links: {}
          words: {lists: [], hidden_links: false}
        """)))
    with caplog.at_level(logging.INFO, logger="sitecheck.checks"):
        checks, disabled = registry.build(site)
    assert [c.name for c in checks] == ["links"] and disabled == {"words": "no word lists and hidden_links is off"}
    messages = [r.getMessage() for r in caplog.records if r.name == "sitecheck.checks"]
    assert messages == ["Disabled words: no word lists and hidden_links is off", "Enabled checks: links"]


def test_summary_counts_pages_as_the_store_does(tmp_path):
    """Every HTML page fetched counts, also the ones no check reads (a 404 page, one too large to parse)."""
    site = load_site(write(tmp_path / "s.yaml", MINIMAL.format(key="s") + "checks: {}\n"))
    with Store(tmp_path / "s.sqlite3") as store:
        rec = RunRecorder(store, site)
        rec.record(Target("http://127.0.0.1:9/", TargetKind.PAGE, Reason.OK, status=200, host_key="portal"), {})
        rec.record(Target("http://127.0.0.1:9/gone", TargetKind.PAGE, Reason.NOT_FOUND, status=404,
                          host_key="portal"), {})
        rec.record(Target("http://127.0.0.1:9/a.png", TargetKind.IMAGE, Reason.OK, status=200,
                          host_key="portal"), {})
        summary = rec.finish("complete")
        stored = store.run(summary.run_id)
    assert (summary.pages, summary.targets) == (stored.pages, stored.targets) == (2, 3)
