"""Credentials from the site file's auth list, and scrubbing them from output."""

from __future__ import annotations

import base64
import io
import logging
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitecheck.config.sitefile import CrawlSettings, HostConfig, SiteConfig
from sitecheck.credentials import CredentialError, RedactingFilter, load_credentials, redact

PASSWORD = "pässw0rd-Secret!"
USER = "gxt-admin"
COOKIE = "JSESSIONID=0123456789abcdef; lang=zh"
TOKEN = "Bearer tok_9f8e7d6c5b4a"


def make_site(tmp_path, auth):
    hosts = [HostConfig("portal", "门户网站", "http://www.gxt.example", aliases=["gxt.example:8080"]),
             HostConfig("qg", "轻工网", "http://qg.gxt.example/"),
             HostConfig("open", "公开", "https://open.gxt.example/")]
    return SiteConfig(key="gxt", name="工信厅", hosts=hosts, crawl=CrawlSettings(), auth=auth, rules="gov-2019",
                      checks={}, silence=[], path=tmp_path / "gxt.yaml")


ENV = {"GXT_USER": USER, "GXT_PASS": PASSWORD}


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_auth_for_every_netloc_of_listed_hosts_only(tmp_path):
    site = make_site(tmp_path, [{"hosts": ["portal"], "basic_user_env": "GXT_USER",
                                 "basic_password_env": "GXT_PASS", "headers_file": ""}])
    creds = load_credentials(site, ENV)
    assert set(creds) == {"www.gxt.example", "gxt.example:8080"}
    assert creds["www.gxt.example"] == {"Authorization": basic(USER, PASSWORD)}
    assert "qg.gxt.example" not in creds


def test_headers_file_relative_to_site_file(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "qg.headers").write_text(
        "\ufeff# cookies copied from the browser\n\n"
        f"Cookie: {COOKIE}\r\n"
        f"  Authorization:   {TOKEN}  \n"
        "X-Trace: a:b:c\n", encoding="utf-8")
    site = make_site(tmp_path, [{"hosts": ["qg", "open"], "headers_file": "secrets/qg.headers"}])
    creds = load_credentials(site, {})
    expected = {"Cookie": COOKIE, "Authorization": TOKEN, "X-Trace": "a:b:c"}
    assert creds == {"qg.gxt.example": expected, "open.gxt.example": expected}


def test_absolute_headers_file(tmp_path):
    path = tmp_path / "abs.headers"
    path.write_text("X-Api-Key: k3y-value-123\n")
    site = make_site(tmp_path / "elsewhere", [{"hosts": ["qg"], "headers_file": str(path)}])
    assert load_credentials(site, {})["qg.gxt.example"] == {"X-Api-Key": "k3y-value-123"}


def test_basic_and_file_combine_and_entries_merge(tmp_path):
    (tmp_path / "h").write_text(f"Cookie: {COOKIE}\n")
    site = make_site(tmp_path, [
        {"hosts": ["portal"], "basic_user_env": "GXT_USER", "basic_password_env": "GXT_PASS",
         "headers_file": "h"},
        {"hosts": ["portal", "qg"], "headers_file": "h2"},
    ])
    (tmp_path / "h2").write_text("X-Token: abcdefgh\n")
    creds = load_credentials(site, ENV)
    assert creds["www.gxt.example"] == {"Authorization": basic(USER, PASSWORD), "Cookie": COOKIE,
                                        "X-Token": "abcdefgh"}
    assert creds["qg.gxt.example"] == {"X-Token": "abcdefgh"}


def test_no_auth_is_empty(tmp_path):
    assert load_credentials(make_site(tmp_path, []), {}) == {}


def test_reads_os_environ_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("SITECHECK_TEST_USER", "u")
    monkeypatch.setenv("SITECHECK_TEST_PASS", "p")
    site = make_site(tmp_path, [{"hosts": ["qg"], "basic_user_env": "SITECHECK_TEST_USER",
                                 "basic_password_env": "SITECHECK_TEST_PASS"}])
    assert load_credentials(site)["qg.gxt.example"]["Authorization"] == basic("u", "p")


# --- errors: clear, and never carrying a secret ------------------------------------

SECRETS = [PASSWORD, USER, "0123456789abcdef", "tok_9f8e7d6c5b4a", "supersecretline"]


def error_of(site, environ):
    with pytest.raises(CredentialError) as info:
        load_credentials(site, environ)
    message = str(info.value)
    for secret in SECRETS:
        assert secret not in message, message
    return message


@pytest.mark.parametrize("environ,missing", [
    ({"GXT_PASS": PASSWORD}, "GXT_USER"),
    ({"GXT_USER": USER}, "GXT_PASS"),
    ({"GXT_USER": USER, "GXT_PASS": ""}, "GXT_PASS"),
])
def test_missing_env_var_named(tmp_path, environ, missing):
    site = make_site(tmp_path, [{"hosts": ["portal"], "basic_user_env": "GXT_USER",
                                 "basic_password_env": "GXT_PASS"}])
    message = error_of(site, environ)
    assert missing in message and "auth[0]" in message


def test_half_basic_config(tmp_path):
    site = make_site(tmp_path, [{"hosts": ["portal"], "basic_user_env": "GXT_USER"}])
    assert "basic_password_env" in error_of(site, ENV)


def test_user_with_colon(tmp_path):
    site = make_site(tmp_path, [{"hosts": ["portal"], "basic_user_env": "U",
                                 "basic_password_env": "GXT_PASS"}])
    message = error_of(site, {"U": "gxt-admin:x", "GXT_PASS": PASSWORD})
    assert "':'" in message and "gxt-admin" not in message


def test_control_characters_in_env(tmp_path):
    site = make_site(tmp_path, [{"hosts": ["portal"], "basic_user_env": "GXT_USER",
                                 "basic_password_env": "GXT_PASS"}])
    assert "GXT_PASS" in error_of(site, {"GXT_USER": USER, "GXT_PASS": PASSWORD + "\r\nX-Evil: 1"})


def test_unreadable_headers_file_named(tmp_path):
    site = make_site(tmp_path, [{"hosts": ["qg"], "headers_file": "nope.headers"}])
    message = error_of(site, {})
    assert "nope.headers" in message and "auth[0]" in message
    (tmp_path / "adir").mkdir()
    site = make_site(tmp_path, [{"hosts": ["qg"], "headers_file": "adir"}])
    assert "adir" in error_of(site, {})


def test_non_utf8_headers_file(tmp_path):
    (tmp_path / "gbk.headers").write_bytes("Cookie: 会话=supersecretline\n".encode("gbk"))
    site = make_site(tmp_path, [{"hosts": ["qg"], "headers_file": "gbk.headers"}])
    assert "not UTF-8" in error_of(site, {})


@pytest.mark.parametrize("content,needle", [
    ("# ok\nsupersecretline\n", "line 2"),
    ("Bad Name: supersecretline\n", "line 1"),
    ("X-Empty:   \n", "no value"),
    ("Host: supersecretline.example\n", "Host"),
    ("Content-Length: 5\n", "Content-Length"),
    ("X-A: supersecretline\nx-a: supersecretline2\n", "twice"),
    ("X-A: supersecretline\x00x\n", "control"),
    ("X-A: supersecretline\x0bx\n", "control"),
])
def test_bad_header_lines(tmp_path, content, needle):
    (tmp_path / "h").write_text(content, encoding="utf-8")
    site = make_site(tmp_path, [{"hosts": ["qg"], "headers_file": "h"}])
    assert needle in error_of(site, {})


def test_conflicting_headers_for_one_host(tmp_path):
    (tmp_path / "h").write_text("Authorization: Bearer tok_9f8e7d6c5b4a\n")
    site = make_site(tmp_path, [
        {"hosts": ["portal"], "basic_user_env": "GXT_USER", "basic_password_env": "GXT_PASS"},
        {"hosts": ["portal"], "headers_file": "h"},
    ])
    message = error_of(site, ENV)
    assert "auth[0]" in message and "auth[1]" in message and "Authorization" in message


def test_basic_and_file_authorization_in_one_entry(tmp_path):
    (tmp_path / "h").write_text("authorization: Bearer tok_9f8e7d6c5b4a\n")
    site = make_site(tmp_path, [{"hosts": ["portal"], "basic_user_env": "GXT_USER",
                                 "basic_password_env": "GXT_PASS", "headers_file": "h"}])
    assert "twice" in error_of(site, ENV)


def test_entry_without_credentials(tmp_path):
    site = make_site(tmp_path, [{"hosts": ["portal"], "basic_user_env": "", "basic_password_env": "",
                                 "headers_file": ""}])
    assert "no credentials" in error_of(site, {})


def test_unknown_host_key(tmp_path):
    (tmp_path / "h").write_text("X-A: b\n")
    site = make_site(tmp_path, [{"hosts": ["nosuch"], "headers_file": "h"}])
    assert "nosuch" in error_of(site, {})


# --- keeping values out of output ---------------------------------------------------

@pytest.fixture
def loaded(tmp_path):
    (tmp_path / "h").write_text(f"Cookie: {COOKIE}\nX-Token: {TOKEN}\n")
    site = make_site(tmp_path, [{"hosts": ["portal"], "basic_user_env": "GXT_USER",
                                 "basic_password_env": "GXT_PASS", "headers_file": "h"}])
    return load_credentials(site, ENV)


def test_secrets_cover_values_and_their_parts(loaded):
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for s in (PASSWORD, token, COOKIE, "0123456789abcdef", TOKEN, "tok_9f8e7d6c5b4a"):
        assert s in loaded.secrets
    assert "zh" not in loaded.secrets  # too short to redact on its own


def test_repr_shows_no_values(loaded):
    for s in loaded.secrets:
        assert s not in repr(loaded)
    assert "Authorization" in repr(loaded)


def test_redact():
    assert redact("user=x pass=hunter22 again hunter22", ["hunter22"]) == "user=x pass=*** again ***"
    assert redact("GET /?p=p%C3%A4ss%2Fw", ["päss/w"]) == "GET /?p=***"
    assert redact("abcdef and abc", ["abc", "abcdef"]) == "*** and ***"
    assert redact("nothing here", []) == "nothing here"
    assert redact("keep", ["", ""]) == "keep"
    assert redact("a.b*c", ["b*"]) == "a.***c"  # secrets are literal, not patterns


@settings(max_examples=200, deadline=None)
@given(st.text(), st.lists(st.text(alphabet=st.characters(blacklist_characters="*"), min_size=1), max_size=4))
def test_redact_leaves_no_secret(text, secrets):
    for s in secrets:
        text = text.replace("*", "") + s
    out = redact(text, secrets)
    for s in secrets:
        assert s not in out


def make_logger(filt):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(filt)
    logger = logging.getLogger(f"sitecheck.test.{id(filt)}")
    logger.propagate = False
    logger.handlers = [handler]
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_redacting_filter_scrubs_messages_args_and_tracebacks(loaded):
    logger, stream = make_logger(RedactingFilter(loaded.secrets))
    child = logging.getLogger(logger.name + ".child")  # propagates to the handler
    logger.info("sending %s to %s", loaded["www.gxt.example"], "www.gxt.example")
    child.warning(f"cookie was {COOKIE}")
    try:
        raise ValueError(f"bad password {PASSWORD}")
    except ValueError:
        logger.exception("login failed")
    logger.error("stack", stack_info=True, extra={})
    logger.info("broken %s %s", PASSWORD)  # wrong arg count: logging would dump the args raw
    out = stream.getvalue()
    for s in (PASSWORD, "0123456789abcdef", "tok_9f8e7d6c5b4a",
              base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()):
        assert s not in out, out
    assert "***" in out and "login failed" in out and "ValueError" in out and "www.gxt.example" in out


def test_redacting_filter_add_and_empty():
    filt = RedactingFilter()
    logger, stream = make_logger(filt)
    logger.info("one %s", "s3cret-value")
    filt.add(["s3cret-value"])
    logger.info("two %s", "s3cret-value")
    lines = stream.getvalue().splitlines()
    assert lines == ["INFO one s3cret-value", "INFO two ***"]


def test_os_environ_untouched(tmp_path):
    before = dict(os.environ)
    load_credentials(make_site(tmp_path, []))
    assert dict(os.environ) == before
