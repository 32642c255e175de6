"""Site-file validation: every invalid file gets one exact, located message and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sitecheck.config import ConfigError, load_site

DATA = Path(__file__).parent / "data" / "invalid-sites"
ROOT = Path(__file__).resolve().parents[1]

# file -> the message after "<path>" (":<line>: <key>: <message> (hint: ...)").
EXPECTED = {
    '01-invalid-yaml.yaml':
        ":5: invalid YAML: expected <block end>, but found '<block mapping start>' (hint: check indentation and quoting near this line)",
    '02-unknown-top-key.yaml':
        ":7: crawler: unknown key (hint: did you mean 'crawl'? valid keys: site, name, contact, hosts, crawl, auth, rules, checks, silence, platform, schedule, probe, notify)",
    '03-typo-crawl-key.yaml':
        ":8: crawl.max_pagez: unknown key (hint: did you mean 'max_pages'? valid keys: max_pages, max_depth, concurrency_per_host, concurrency, delay_seconds, delay_jitter, max_retry_after_seconds, processes, timeout_seconds, retries, robots, user_agent, max_page_bytes, max_url_length, max_pages_per_pattern, max_repeated_segments, session_params, exclude, check_external, allow_networks, follow_pagination, soft404_patterns, progress)",
    '04-missing-site.yaml':
        ":1: site: missing required key (hint: add 'site:' (Site key, used by --site and as the metrics label.))",
    '05-missing-hosts.yaml':
        ":1: hosts: missing required key (hint: add 'hosts:' (The portal first, then its sub-sites.))",
    '06-empty-hosts.yaml':
        ':3: hosts: needs at least 1 item',
    '07-wrong-type-int.yaml':
        ":8: crawl.max_pages: expected a whole number, got 'many'",
    '08-hosts-not-list.yaml':
        ":4: hosts: expected a list, got a mapping (hint: write items as '- item' lines or [a, b])",
    '09-ftp-url.yaml':
        ":6: hosts[0].url: not an http(s) URL: 'ftp://127.0.0.2/' (hint: write the full address, e.g. http://gxt.gansu.gov.cn/)",
    '10-url-no-scheme.yaml':
        ":6: hosts[0].url: not an http(s) URL: 'gxt.gansu.gov.cn' (hint: write the full address, e.g. http://gxt.gansu.gov.cn/)",
    '11-bad-cidr.yaml':
        ":8: crawl.allow_networks[0]: not an IP network: '10.0.0.0/33' (hint: use CIDR notation such as 10.1.0.0/16 or 127.0.0.1/32)",
    '12-bad-regex.yaml':
        ':8: crawl.exclude[0]: invalid regular expression: missing ), unterminated subpattern at position 0',
    '13-overlapping-hosts.yaml':
        ":9: hosts[1].url: host 127.0.0.2:8801 is already covered by host 'portal' (hint: hosts must not overlap; use aliases for a second name of one host)",
    '14-duplicate-host-key.yaml':
        ":7: hosts[1].key: duplicate host key 'portal' (hint: each host needs its own key)",
    '15-duplicate-yaml-key.yaml':
        ':7: name: duplicate key (hint: each key may appear once)',
    '16-bad-site-key.yaml':
        ":1: site: 'GXT Portal' is not of the expected form (hint: use lower-case letters, digits, '-' and '_', starting with a letter, at most 32 characters)",
    '17-robots-choice.yaml':
        ":8: crawl.robots: 'sometimes' is not one of: obey, ignore",
    '18-negative-timeout.yaml':
        ':8: crawl.timeout_seconds: must be at least 0.1, got -1',
    '19-empty-file.yaml':
        ": the file is empty (hint: start with 'site: <key>' and 'hosts:')",
    '20-unknown-check.yaml':
        ':8: checks.linkz: unknown check (hint: valid checks: columns, encoding, entries, guides, interaction, links, marks, slow_pages, waf, words)',
    '21-check-option-type.yaml':
        ":9: checks.slow_pages.threshold_seconds: expected a number, got 'fast'",
    '22-auth-unknown-host.yaml':
        ":8: auth[0].hosts: unknown host key 'intranet' (hint: valid host keys: portal)",
    '23-top-level-list.yaml':
        ":1: (top level): expected a mapping, got a list (hint: write 'key: value' lines)",
    '24-bool-for-int.yaml':
        ":8: crawl.retries: expected a whole number, got 'yes'",
    '25-string-for-bool.yaml':
        ":8: crawl.check_external: expected true or false, got 'sometimes'",
    '26-column-missing-url.yaml':
        ":8: hosts[0].columns[0].url: missing required key (hint: add 'url:' (The column's first list page.))",
    '27-site-code-format.yaml':
        ":7: hosts[0].site_code: '62-0000' is not of the expected form (hint: 10 digits for local sites (Gansu codes start 62), or bm + 8 digits)",
    '28-gbk-encoding.yaml':
        ':2: file is not valid UTF-8 (hint: save the site file as UTF-8 (GBK/ANSI editors often default otherwise))',
    '29-max-pages-zero.yaml':
        ':8: crawl.max_pages: must be at least 1, got 0',
    '30-list-for-string.yaml':
        ':8: crawl.user_agent: expected a string, got a list',
    '31-bad-cron.yaml':
        ":8: schedule.crawl: invalid cron expression: 'every night at 1' (hint: five fields: minute hour day-of-month month day-of-week, e.g. '30 1 * * *')",
    '32-bad-webhook-url.yaml':
        ":8: notify.webhook_url: not an http(s) URL: 'dingtalk robot' (hint: write the full address, e.g. http://gxt.gansu.gov.cn/)",
}


def test_every_invalid_file_has_an_expectation():
    assert sorted(p.name for p in DATA.glob("*.yaml")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 20


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_site_file_message(name):
    path = DATA / name
    with pytest.raises(ConfigError) as info:
        load_site(path)
    assert str(info.value) == f"{path}{EXPECTED[name]}"


@pytest.mark.parametrize("name", ["03-typo-crawl-key.yaml", "28-gbk-encoding.yaml", "01-invalid-yaml.yaml"])
def test_check_config_cli_exit_2_without_traceback(name):
    proc = subprocess.run([sys.executable, "-m", "sitecheck.cli", "check-config", str(DATA / name)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: {DATA / name}{EXPECTED[name]}"


def test_duplicate_site_keys_across_files(tmp_path):
    text = (ROOT / "config" / "sites" / "demo.yaml").read_text(encoding="utf-8")
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(text, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "sitecheck.cli", "check-config", str(tmp_path / "a.yaml"),
                           str(tmp_path / "b.yaml")], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert f"{tmp_path / 'b.yaml'}: site: duplicate site key 'demo' (also in {tmp_path / 'a.yaml'})" in proc.stderr


def test_shipped_site_files_are_valid():
    files = sorted((ROOT / "config" / "sites").glob("*.yaml"))
    assert {p.stem for p in files} >= {"gxt", "demo"}
    for path in files:
        site = load_site(path)
        assert site.key == path.stem


def test_defaults_are_filled_and_checks_default_to_all_builtins(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("site: s\nname: 测试\nhosts:\n  - {key: p, name: 门户, url: 'http://127.0.0.1:1/'}\n",
                    encoding="utf-8")
    site = load_site(path)
    assert site.crawl.timeout_seconds == 15.0
    assert site.crawl.robots == "obey"
    from sitecheck.checks import registry
    assert set(site.checks) == set(registry.BUILTIN_CHECKS)
    assert site.host_for("127.0.0.1:1").key == "p"
