"""The site registry: site files and an inventory (CSV or YAML) in one config folder."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date

import pytest

from sitecheck.config import ConfigError
from sitecheck.config.inventory import find_site, load_inventory, registry_sites
from tests.servers.farm import Farm, farm_sites


def sitecheck(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sitecheck.cli", *args], capture_output=True, text=True, timeout=120)


def write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


SITE_FILE = """\
    site: gxt
    name: 甘肃省工业和信息化厅
    hosts:
      - {key: portal, name: 门户, url: "https://gxt.gansu.gov.cn/"}
    """


def test_csv_rows_become_one_host_sites_beside_the_site_files(tmp_path):
    write(tmp_path / "sites" / "gxt.yaml", SITE_FILE)
    write(tmp_path / "inventory.csv", """\
        site,name,homepage,site_code,contact
        lzs,兰州市人民政府,https://www.lanzhou.gov.cn/,6201000001,办公室 0931-8888888
        tss,天水市人民政府,http://www.tianshui.gov.cn,,
        """)
    sites = {s.key: s for s in registry_sites(tmp_path)}
    assert sorted(sites) == ["gxt", "lzs", "tss"]
    lzs = sites["lzs"]
    assert (lzs.name, lzs.contact, lzs.entry, lzs.path) == ("兰州市人民政府", "办公室 0931-8888888", "lzs",
                                                           tmp_path / "inventory.csv")
    assert [(h.key, h.name, h.url, h.gov["site_code"]) for h in lzs.hosts] == [
        ("portal", "兰州市人民政府", "https://www.lanzhou.gov.cn/", "6201000001")]
    assert sites["tss"].hosts[0].url == "http://www.tianshui.gov.cn/"
    assert lzs.crawl.delay_seconds == 0.25 and lzs.checks == sites["gxt"].checks  # the defaults of a site file
    assert lzs.locator() == ["--site", "lzs", "--config-dir", str(tmp_path.resolve())]
    assert find_site("tss", tmp_path).entry == "tss" and find_site("gxt", tmp_path).entry is None
    proc = sitecheck("check-config", "--config-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("ok: ") == 3
    assert f"ok: {tmp_path / 'inventory.csv'} [lzs] (site lzs: 1 hosts" in proc.stdout


def test_yaml_inventory_gives_its_defaults_to_every_row(tmp_path):
    write(tmp_path / "inventory.yaml", """\
        defaults:
          crawl: {delay_seconds: 1.5, max_pages: 500}
          checks: {links: {}}
        sites:
          - {site: a1, name: 甲, homepage: "https://a.gov.cn/"}
          - {site: b2, name: 乙, homepage: "https://b.gov.cn/", site_code: "6200000002", contact: 张三}
        """)
    sites, errors = load_inventory(tmp_path / "inventory.yaml")
    assert errors == []
    assert [(s.key, s.crawl.delay_seconds, s.crawl.max_pages, list(s.checks)) for s in sites] == [
        ("a1", 1.5, 500, ["links"]), ("b2", 1.5, 500, ["links"])]
    assert sites[0].digest != sites[1].digest


def test_check_config_names_every_bad_row_with_its_line_and_column(tmp_path):
    inventory = write(tmp_path / "inventory.csv", """\
        site,name,homepage,site_code,contact
        ok1,好,https://ok.gov.cn/,,
        ok2,坏网址,ftp://x.gov.cn/,,
        Bad Key,大写,https://b.gov.cn/,,
        ok1,重复,https://c.gov.cn/,,
        nm,,https://d.gov.cn/,,
        """)
    proc = sitecheck("check-config", "--config-dir", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: {inventory}:3: homepage: not an http(s) URL: 'ftp://x.gov.cn/' "
        "(hint: write the full address, e.g. http://gxt.gansu.gov.cn/)",
        f"error: {inventory}:4: site: 'Bad Key' is not of the expected form (hint: use lower-case letters, "
        "digits, '-' and '_', starting with a letter, at most 32 characters)",
        f"error: {inventory}:5: site: duplicate site key 'ok1' (also on line 2) (hint: each site needs its own key)",
        f"error: {inventory}:6: name: missing required key (hint: add 'name:' (Display name of the department "
        "or site (Chinese).))",
    ]
    assert proc.stdout.count("ok: ") == 1


@pytest.mark.parametrize("text, message", [
    ("site,name,url\n", ":1: url: unknown column (hint: valid columns: site, name, homepage, site_code, contact)"),
    ("site,homepage\n", ":1: name: missing required column"),
])
def test_csv_header_errors(tmp_path, text, message):
    path = tmp_path / "inventory.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_inventory(path)
    assert str(info.value).startswith(f"{path}{message}")


def test_yaml_inventory_errors_point_at_the_row_or_the_default(tmp_path):
    path = write(tmp_path / "inventory.yaml", """\
        defaults:
          crawl: {delay_seconds: -1}
        sites:
          - {site: a1, name: 甲, homepage: "https://a.gov.cn/"}
          - {site: b2, name: 乙, homepage: "https://b.gov.cn/"}
        """)
    _sites, errors = load_inventory(path)
    assert [str(e) for _k, e in errors] == [f"{path}:2: defaults.crawl.delay_seconds: must be at least 0, got -1"]
    write(path, "sites:\n  - {site: a1, name: 甲, homepage: 'https://a.gov.cn/', phone: 1}\n")
    with pytest.raises(ConfigError, match=r"inventory.yaml:2: sites\[0\].phone: unknown key"):
        load_inventory(path)


def test_a_key_in_both_a_site_file_and_the_inventory_is_an_error(tmp_path):
    write(tmp_path / "sites" / "gxt.yaml", SITE_FILE)
    write(tmp_path / "inventory.csv", "site,name,homepage\ngxt,又一个,https://x.gov.cn/\n")
    with pytest.raises(ConfigError, match="duplicate site key 'gxt'"):
        registry_sites(tmp_path)
    proc = sitecheck("check-config", "--config-dir", str(tmp_path))
    assert proc.returncode == 2 and "duplicate site key 'gxt'" in proc.stderr


@pytest.mark.e2e
def test_an_inventory_site_is_crawled_and_dispatched_like_a_site_file(tmp_path):
    from sitecheck.distributed.crawl import crawl_night
    from sitecheck.store import Store

    farm = Farm(tmp_path / "unused", farm_sites(2))
    try:
        rows = "".join(f"  - {{site: {s.key}, name: 站点{s.n}, homepage: 'http://{s.address}:{farm.server.port}/'}}\n"
                       for s in farm.sites)
        write(tmp_path / "config" / "inventory.yaml", "defaults:\n  crawl: {delay_seconds: 0.05, timeout_seconds: 5, "
              "robots: ignore, progress: 'off', processes: 1, allow_networks: [127.0.0.0/8]}\n  checks: {links: {}}\n"
              "sites:\n" + rows)
        db = str(tmp_path / "s.sqlite3")
        proc = sitecheck("run", "--site", farm.sites[0].key, "--config-dir", str(tmp_path / "config"), "--db", db)
        assert proc.returncode in (0, 1), proc.stderr[-2000:]
        with Store(db) as store:
            out = crawl_night(store, farm.sites[1].key, date(2026, 12, 7), db=db, config_dir=tmp_path / "config")
            runs = {r.site: r.status for r in store.runs()}
    finally:
        farm.close()
    assert out.status == "complete"
    assert runs == {farm.sites[0].key: "complete", farm.sites[1].key: "complete"}
    assert farm.homepage_gets() == {farm.sites[0].key: 1, farm.sites[1].key: 1}
