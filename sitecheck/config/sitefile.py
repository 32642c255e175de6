"""The site file: what a site is, how to crawl it, which checks to run.

`SITE_FILE` is the one table of settings; `load_site()` validates a YAML file
against it (strictly: unknown keys are errors), applies cross-field rules and
returns a `SiteConfig`.  `docs/config.md` and `schemas/site.schema.json` are
generated from the same table (`sitecheck config-docs`), and a test keeps them
in step.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from sitecheck.crawler.classify import DEFAULT_SOFT404_PATTERNS
from sitecheck.platforms import PROFILES as PLATFORM_PROFILES

from .govschema import HOST_GOV_FIELDS, cross_check_gov
from .opsschema import OPS_FIELDS
from .schema import REQUIRED, Setting, table
from .validate import ConfigError, Validator, compose, find_node

SITE_KEY_PATTERN = r"[a-z][a-z0-9_-]{0,31}"
KEY_HINT = "use lower-case letters, digits, '-' and '_', starting with a letter, at most 32 characters"

HOST = table("One host of the site: the portal or a sub-site. Every configured host is crawled.", {
    "key": Setting("str", "Short name of the host, used in findings, metrics labels and reports.",
                   REQUIRED, pattern=SITE_KEY_PATTERN, pattern_hint=KEY_HINT, example="portal"),
    "name": Setting("str", "Display name (Chinese), e.g. 门户网站 or 轻工网.", REQUIRED),
    "url": Setting("url", "Homepage URL. The crawl starts here; its host name scopes the crawl.", REQUIRED),
    "aliases": Setting("list", "Other host names (with port if not default) that serve the same sub-site.",
                       [], item=Setting("str", "host[:port]")),
    **HOST_GOV_FIELDS,
})

CRAWL = table("How the crawl behaves: politeness, limits and trap defences.", {
    "max_pages": Setting("int", "Stop following new pages after this many pages (per run, all hosts).",
                         20000, min=1),
    "max_depth": Setting("int", "Links further than this many clicks from a homepage are not followed.",
                         10, min=0, max=100),
    "concurrency_per_host": Setting("int", "Requests in flight at once to one host, counting every kind of "
                                    "request (pages, images, attachments, external links, robots.txt).",
                                    2, min=1, max=64),
    "concurrency": Setting("int", "Requests in flight at once in total.", 32, min=1, max=512),
    "delay_seconds": Setting("float", "Least time between two request starts on one host (politeness), for every "
                             "kind of request. With the defaults a host gets at most ~4 requests a second: a "
                             "night's crawl of N URLs takes about N x 0.33 s (20,000 URLs: ~1.8 h).",
                             0.25, min=0, max=60),
    "delay_jitter": Setting("float", "Random extra spacing, as a fraction of delay_seconds (0.2: each gap is "
                            "1.0-1.2 x the delay), so requests do not arrive in a machine-regular rhythm.",
                            0.2, min=0, max=2),
    "max_retry_after_seconds": Setting("float", "A 429 or 503 answer's Retry-After pauses every request to that "
                                       "host for as long as it asks, up to this many seconds; the request is "
                                       "retried when the pause asked for is no longer than this, else it ends "
                                       "as rate_limited.", 60.0, min=0, max=3600),
    "processes": Setting("int", "Crawl processes: 1, or 2 to use a second core: the main process does every "
                         "request and reads most pages; a second one runs the checks, writes the store and "
                         "reads the pages the first lends it. 0 = automatic: 2 for a single site with no "
                         "delay_seconds on a machine with two or more cores.", 0, min=0, max=2),
    "timeout_seconds": Setting("float", "Whole-response deadline per request; the rules use 15 s.", 15.0,
                               min=0.1, max=300),
    "retries": Setting("int", "Retries for connection failures and 502/503/504 (timeouts are not retried, "
                       "so a dead link never becomes a slow success).", 1, min=0, max=5),
    "robots": Setting("str", "robots.txt policy for crawled hosts.", "obey", choices=("obey", "ignore")),
    "user_agent": Setting("str", "User-Agent header sent with every request.",
                          "sitecheck/0.1 (+government website health monitor)"),
    "max_page_bytes": Setting("int", "Largest HTML page read (bytes, after decompression); larger pages "
                              "are reported too_large and not parsed.", 10 * 1024 * 1024, min=1024),
    "max_url_length": Setting("int", "Longer URLs are dropped as traps.", 512, min=64),
    "max_pages_per_pattern": Setting("int", "Most pages crawled per URL shape (digits folded), which "
                                     "bounds calendars and endless archives.", 500, min=1),
    "max_repeated_segments": Setting("int", "Paths that repeat one segment more often than this are traps.",
                                     2, min=1),
    "session_params": Setting("list", "Query parameters stripped from URLs before de-duplication "
                              "(session ids make every URL new).",
                              ["jsessionid", "phpsessid", "sid", "sessionid", "session_id", "token"],
                              item=Setting("str", "parameter name (case-insensitive)")),
    "exclude": Setting("list", "Regular expressions; matching URLs are neither crawled nor checked.", [],
                       item=Setting("regex", "pattern searched in the URL")),
    "check_external": Setting("bool", "Check links to hosts outside the site (without crawling them).", True),
    "allow_networks": Setting("list", "Address ranges that links to hosts outside the site may resolve to. "
                              "Loopback, private, link-local and metadata addresses are refused by default; "
                              "list a range here to allow it (intranet deployments, the demo site).",
                              [], item=Setting("cidr", "IP network, e.g. 10.20.0.0/16")),
    "follow_pagination": Setting("bool", "Follow JavaScript pagination (createPageHTML and variants).", True),
    "soft404_patterns": Setting("list", "Regular expressions that mark a 200 page as a soft-404 when found in its "
                                "title, a heading, or a short body.", list(DEFAULT_SOFT404_PATTERNS),
                                item=Setting("regex", "pattern")),
    "progress": Setting("str", "Progress display: auto (live line on a terminal, log lines otherwise), "
                        "live, log or off.", "auto", choices=("auto", "live", "log", "off")),
})

AUTH = Setting("list", "Credentials for hosts of this site. Values are read from the environment or a "
               "file at run time, never written to the store, exports or logs.", [], item=table(
                   "One credential set.", {
                       "hosts": Setting("list", "Host keys the credentials are sent to (only these).", REQUIRED,
                                        item=Setting("str", "host key")),
                       "basic_user_env": Setting("str", "Environment variable holding the basic-auth user.", ""),
                       "basic_password_env": Setting("str", "Environment variable holding the basic-auth "
                                                     "password.", ""),
                       "headers_file": Setting("str", "File of 'Name: value' header lines (e.g. Cookie).", ""),
                   }))

SITE_FILE = table("A site file: one government site, its sub-sites, and how to check them.", {
    "site": Setting("str", "Site key, used by --site and as the metrics label.", REQUIRED,
                    pattern=SITE_KEY_PATTERN, pattern_hint=KEY_HINT, example="gxt"),
    "name": Setting("str", "Display name of the department or site (Chinese).", REQUIRED),
    "contact": Setting("str", "Who answers for the site (name, telephone or e-mail), for the people "
                       "reading the findings.", ""),
    "hosts": Setting("list", "The portal first, then its sub-sites.", REQUIRED, item=HOST, min=1),
    "crawl": CRAWL,
    "auth": AUTH,
    "rules": Setting("str", "Indicator rule set: a file name under indicators/ of the config directory (or of the "
                     "bundled config) without .yaml, or a path.",
                     "gov-2019"),
    "checks": Setting("map", "Checks to run, by name, each with its own options block (may be empty: {}). "
                      "Omit the key to run every built-in check with defaults.", None,
                      item=Setting("any", "options of that check")),
    "silence": Setting("list", "Finding codes not to report for this site (e.g. link.rate_limited).", [],
                       item=Setting("str", "finding code")),
    # Platform profile (sitecheck/platforms): how the site's CMS serves lists, dates and attachments.
    "platform": Setting("str", "Platform profile of the site's CMS, e.g. gansu-jiyuehua (the Gansu provincial "
                        "platform: column lists read from its list service). Omit for other sites.", None,
                        choices=tuple(PLATFORM_PROFILES)),
    **OPS_FIELDS,
})


@dataclass(frozen=True)
class CrawlSettings:
    """The site file's `crawl` section, decoded: one attribute per key of `CRAWL` (same names, same
    defaults; lists become tuples).  A test keeps the two in step."""

    max_pages: int = 20000
    max_depth: int = 10
    concurrency_per_host: int = 2
    concurrency: int = 32
    delay_seconds: float = 0.25
    delay_jitter: float = 0.2
    max_retry_after_seconds: float = 60.0
    processes: int = 0
    timeout_seconds: float = 15.0
    retries: int = 1
    robots: str = "obey"
    user_agent: str = "sitecheck/0.1 (+government website health monitor)"
    max_page_bytes: int = 10 * 1024 * 1024
    max_url_length: int = 512
    max_pages_per_pattern: int = 500
    max_repeated_segments: int = 2
    session_params: tuple[str, ...] = ("jsessionid", "phpsessid", "sid", "sessionid", "session_id", "token")
    exclude: tuple[str, ...] = ()
    check_external: bool = True
    allow_networks: tuple[str, ...] = ()
    follow_pagination: bool = True
    soft404_patterns: tuple[str, ...] = tuple(DEFAULT_SOFT404_PATTERNS)
    progress: str = "auto"

    @classmethod
    def from_table(cls, values: dict[str, Any]) -> "CrawlSettings":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


@dataclass
class HostConfig:
    key: str
    name: str
    url: str
    aliases: list[str] = field(default_factory=list)
    gov: dict[str, Any] = field(default_factory=dict)  # columns, boards, entries, marks ... (govschema)

    @property
    def netloc(self) -> str:
        return urlsplit(self.url).netloc.lower()

    @property
    def netlocs(self) -> list[str]:
        return [self.netloc, *(a.lower() for a in self.aliases)]


@dataclass
class SiteConfig:
    key: str
    name: str
    hosts: list[HostConfig]
    crawl: CrawlSettings
    auth: list[dict[str, Any]]
    rules: str
    checks: dict[str, dict[str, Any]]  # name -> validated options
    silence: list[str]
    ops: dict[str, Any] = field(default_factory=dict)  # schedule, probe, notify ... (opsschema)
    path: Path | None = None
    digest: str = ""
    platform: str | None = None  # profile name (sitecheck.platforms)
    entry: str | None = None  # set when the site is a row of an inventory (then `path` is the inventory)
    contact: str = ""

    def locator(self) -> list[str]:
        """The `sitecheck` options that name this site to a child process: its file, or its
        inventory row by key and the config folder the inventory is in."""
        if self.path is None:
            raise ValueError(f"site {self.key} was not loaded from a file; a child process needs one")
        if self.entry is not None:
            return ["--site", self.entry, "--config-dir", str(Path(self.path).resolve().parent)]
        return ["--config", str(Path(self.path).resolve())]

    def host_for(self, netloc: str) -> HostConfig | None:
        netloc = netloc.lower()
        for host in self.hosts:
            if netloc in host.netlocs:
                return host
        return None

    @property
    def portal(self) -> HostConfig:
        return self.hosts[0]


def canonical_url(url: str) -> str:
    """Scheme and host lower-cased, default port dropped, empty path as "/": the form crawled URLs take."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    if parts.port and parts.port != default:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def load_site(path: str | Path) -> SiteConfig:
    """Load and validate one site file; raises ConfigError with file, line and key."""
    path = Path(path)
    node = compose(path)
    if node is None:
        raise ConfigError(path, None, "", "the file is empty", "start with 'site: <key>' and 'hosts:'")
    return site_from_node(node, path, hashlib.sha256(path.read_bytes()).hexdigest()[:16])


def site_from_node(node: yaml.Node, path: Path, digest: str, entry: str | None = None) -> SiteConfig:
    """Validate a site's YAML nodes (from a site file, or built from an inventory row) into a SiteConfig."""
    v = Validator(path)
    data = v.table(node, SITE_FILE, "")
    checks = _validate_checks(v, node, data.get("checks"))
    hosts = [HostConfig(key=h["key"], name=h["name"], url=canonical_url(h["url"]), aliases=h["aliases"],
                        gov={k: h[k] for k in HOST_GOV_FIELDS}) for h in data["hosts"]]
    site = SiteConfig(key=data["site"], name=data["name"], hosts=hosts, crawl=CrawlSettings.from_table(data["crawl"]), auth=data["auth"],
                      rules=data["rules"], checks=checks, silence=data["silence"],
                      ops={k: data[k] for k in OPS_FIELDS}, path=path, platform=data["platform"],
                      digest=digest, entry=entry, contact=data["contact"])
    _cross_checks(v, node, site)
    return site


def _validate_checks(v: Validator, root: yaml.Node, given: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    from sitecheck.checks import registry

    names = list(given) if given is not None else list(registry.BUILTIN_CHECKS)
    # Plugins are looked up only when the site file names a check that is not built in.
    table_ = registry.BUILTIN_CHECKS if set(names) <= set(registry.BUILTIN_CHECKS) else registry.available()
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        if name not in table_:
            raise v.error(find_node(root, "checks", name), f"checks.{name}", "unknown check",
                          "valid checks: " + ", ".join(sorted(table_)))
        cls = registry.load(name)
        opts_node = find_node(root, "checks", name) if given is not None else None
        if given is not None and given[name] is None:
            opts_node = None
        out[name] = v.table(opts_node, table(cls.description, cls.options), f"checks.{name}")
    return out


def _cross_checks(v: Validator, root: yaml.Node, site: SiteConfig) -> None:
    seen_keys: dict[str, int] = {}
    seen_netlocs: dict[str, str] = {}
    for i, host in enumerate(site.hosts):
        if host.key in seen_keys:
            raise v.error(find_node(root, "hosts", i, "key"), f"hosts[{i}].key",
                          f"duplicate host key {host.key!r}", "each host needs its own key")
        seen_keys[host.key] = i
        for netloc in host.netlocs:
            if netloc in seen_netlocs:
                raise v.error(find_node(root, "hosts", i, "url"), f"hosts[{i}].url",
                              f"host {netloc} is already covered by host {seen_netlocs[netloc]!r}",
                              "hosts must not overlap; use aliases for a second name of one host")
            seen_netlocs[netloc] = host.key
    for i, cred in enumerate(site.auth):
        for hk in cred["hosts"]:
            if hk not in seen_keys:
                raise v.error(find_node(root, "auth", i, "hosts"), f"auth[{i}].hosts",
                              f"unknown host key {hk!r}", "valid host keys: " + ", ".join(seen_keys))
    cross_check_gov(v, root, site, find_node)
