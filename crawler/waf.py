"""Recognise an anti-bot wall (WAF challenge or block page) from one answer, and decide when to stop.

A wall is an answer that stands *instead of* the page: a JS challenge (Ruishu's 412, Jiasule's 521,
Alibaba's acw_sc__v2 script) or a block page naming the product.  It is never "the site is down":
the crawl stops asking that host after a few walls and reports one `crawl.blocked_by_waf`.

An ordinary page that merely carries a WAF's cookie or bootstrap script is not a wall: pages of the
Gansu platform answer 200 with the Ruishu `$_ts` bootstrap inline (samples/gansu-platform), and
sites behind Alibaba Cloud set `acw_tc` on every answer.  So every rule pairs a marker with a
challenge/block status or with a marker that only challenge pages carry; a plain 403 with no
marker is not a wall (it stays an HTTP 403 for the link checks to weigh).

Markers and where they are documented (public sources; reference, not copied):

| product | marker used here | source |
|---|---|---|
| 瑞数 Ruishu | HTTP 412 (some versions 202); `<meta id=… content=<seed> r='m'>`, inline `$_ts=window['$_ts']`, `<script src=/<dir>/<file>.js r='m'>`; server seed cookie with a dynamic ~13-char name ending in `S`, client token ending in `T` (gxt: `4hP44ZykCTt5P`) | domain note gansu-platform.md §2 (jas0no7/local_spider_jason `policy_gxt_gansu.py` `build_cookies_from_412`, `env.js`); a public write-up "AI啃下瑞数6代药监局" (nmpa.gov.cn: 412, `NfBCSins2OywS`, meta/`$_ts`/script r='m') |
| 加速乐 Jiasule | HTTP 521 (or 512) with `<script>document.cookie=…;location.href=location.pathname+location.search</script>`; cookies `__jsluid_h`/`__jsluid_s`, `__jsl_clearance(_s)`, `jsl_tracking`; `Server: jiasule-WAF`; `static.jiasule.com`, `notice-jiasule` | EnableSecurity/wafw00f `wafw00f/plugins/jiasule.py`; sqlmap `waf/jiasule.py`; public spiders replaying `__jsl_clearance` after a 521 |
| 创宇盾 Chuangyu (知道创宇 Knownsec) | `365cyd.com` / `help.365cyd.com/cyd-error-help.html` on a block page; `ks-waf-error.png`; 创宇盾 block text; `__jsluid_*` cookie on a 403 | wafw00f `plugins/chuangyu.py`, `plugins/knownsec.py`; a public WAF-signature table (创宇盾提示您：当前访问疑似黑客攻击) |
| 阿里云 WAF | HTTP 405 with `errors.aliyun.com` / `aliyundun` block page; `acw_sc__v2` slider/JS challenge; cookies `aliyungf_tc`, `acw_tc` on a 403/405 | wafw00f `plugins/aliyundun.py`; public spiders computing `acw_sc__v2` from `arg1` |
| 腾讯云 WAF | HTTP 403/501 with `腾讯云Web应用防火墙` or `waf-static.tencent.com/501page.html` | wafw00f `plugins/qcloud.py`; a public WAF-signature table |
| 安全狗 Safedog | `Server: Safedog`, `X-Powered-By: WAF/2.0`, cookie `safedog-flow-item`, `404.safedog.cn` / `safedogsite` on the block page | wafw00f `plugins/safedog.py`; sqlmap `waf/safedog.py`; WhatWeb Safedog plugin |
| Cloudflare | `cf-mitigated: challenge`; `Server: cloudflare` with "Just a moment" / `challenge-platform` / `cf_chl` on 403/503 | wafw00f `plugins/cloudflare.py`; Cloudflare's documented `cf-mitigated` header |
| unknown | 403/412/202/521 whose body is a JS cookie challenge (`document.cookie=` … `location`) | generic: the shape every product above shares |
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

RUISHU = "瑞数 Ruishu"
JIASULE = "加速乐 Jiasule"
CHUANGYU = "创宇盾 Chuangyu"
ALIYUN = "阿里云 WAF"
TENCENT = "腾讯云 WAF"
SAFEDOG = "安全狗 Safedog"
CLOUDFLARE = "Cloudflare"
UNKNOWN = "unknown"

_HEAD_LIMIT = 16_384  # markers sit in the first few KB of a challenge page

# Ruishu's seed/token cookie names are per-site random strings of 11–14 letters and digits
# ending in S (server seed) or T (client token), e.g. NfBCSins2OywS, 4hP44ZykCTt5P (gxt's, P-suffixed).
_RUISHU_COOKIE = re.compile(rb"^[0-9A-Za-z]{10,14}[STP]$")
_RUISHU_BODY = (
    (re.compile(rb"\$_ts\s*=\s*window\["), "$_ts challenge script"),
    (re.compile(rb"<meta[^>]{0,200}\br\s*=\s*['\"]m['\"]", re.I), "meta r='m' seed"),
    (re.compile(rb"<script[^>]{0,300}\br\s*=\s*['\"]m['\"]", re.I), "script r='m'"),
)
_JS_COOKIE_CHALLENGE = re.compile(rb"document\.cookie\s*=.{0,4000}?location", re.S)


@dataclass(frozen=True, slots=True)
class Wall:
    product: str  # e.g. "瑞数 Ruishu", "加速乐 Jiasule", ..., "unknown"
    evidence: str  # short: status and the header / cookie / script marker that matched


def _values(headers: Mapping[bytes, Sequence[bytes]], name: bytes) -> list[bytes]:
    return [v for v in headers.get(name, ()) if v is not None]


def _cookie_names(headers: Mapping[bytes, Sequence[bytes]]) -> list[bytes]:
    return [v.split(b"=", 1)[0].strip() for v in _values(headers, b"set-cookie") if b"=" in v]


def _first(patterns, text: bytes) -> str | None:
    for pattern, label in patterns:
        if pattern.search(text):
            return label
    return None


def _contains(text: bytes, *needles: bytes) -> bytes | None:
    for needle in needles:
        if needle in text:
            return needle
    return None


def recognise(status: int, headers: Mapping[bytes, Sequence[bytes]], body_head: bytes) -> Wall | None:
    """The wall this answer is, or None when it is an ordinary answer (whatever its status).

    headers: lower-cased byte names -> list of byte values; body_head: the first few KB of the body
    (empty for HEAD).
    """
    body = (body_head or b"")[:_HEAD_LIMIT]
    low = body.lower()
    cookies = _cookie_names(headers)
    server = b" ".join(_values(headers, b"server")).lower()
    powered = b" ".join(_values(headers, b"x-powered-by")).lower()
    for rule in _RULES:
        wall = rule(status, headers, body, low, cookies, server, powered)
        if wall is not None:
            return wall
    return None


def _ruishu(status, headers, body, low, cookies, server, powered) -> Wall | None:
    if status not in (412, 202):
        return None
    marker = _first(_RUISHU_BODY, body)
    if marker is None and status == 412:
        seed = next((c for c in cookies if _RUISHU_COOKIE.match(c)), None)
        if seed is not None:
            marker = f"cookie {seed.decode('ascii', 'replace')}"
    return Wall(RUISHU, f"HTTP {status}; {marker}") if marker else None


def _jiasule(status, headers, body, low, cookies, server, powered) -> Wall | None:
    if b"jiasule" in server and status >= 400:
        return Wall(JIASULE, f"HTTP {status}; Server: {server.decode('latin-1')}")
    page = _contains(low, b"static.jiasule.com", b"notice-jiasule")
    if page and status >= 400:
        return Wall(JIASULE, f"HTTP {status}; {page.decode()}")
    if status in (521, 512):
        if b"__jsl_clearance" in body:
            return Wall(JIASULE, f"HTTP {status}; __jsl_clearance script")
        jsl = next((c for c in cookies if c.startswith((b"__jsluid", b"__jsl_", b"jsl_"))), None)
        if jsl is not None:
            return Wall(JIASULE, f"HTTP {status}; cookie {jsl.decode('ascii', 'replace')}")
        if _JS_COOKIE_CHALLENGE.search(body):
            return Wall(JIASULE, f"HTTP {status}; document.cookie challenge")
    return None


def _chuangyu(status, headers, body, low, cookies, server, powered) -> Wall | None:
    if status < 400:
        return None
    page = _contains(low, b"365cyd.com", b"ks-waf-error", b"ks_waf_error", "创宇盾".encode())
    if page:
        return Wall(CHUANGYU, f"HTTP {status}; {page.decode()}")
    if status == 403:
        jsl = next((c for c in cookies if c.startswith(b"__jsluid")), None)
        if jsl is not None:
            return Wall(CHUANGYU, f"HTTP {status}; cookie {jsl.decode('ascii', 'replace')}")
    return None


def _aliyun(status, headers, body, low, cookies, server, powered) -> Wall | None:
    if b"acw_sc__v2" in body:
        return Wall(ALIYUN, f"HTTP {status}; acw_sc__v2 challenge script")
    if status < 400:
        return None
    page = _contains(low, b"errors.aliyun.com", b"aliyundun", b"error.aliyun.com")
    if page:
        return Wall(ALIYUN, f"HTTP {status}; {page.decode()}")
    if status in (403, 405):
        tc = next((c for c in cookies if c in (b"aliyungf_tc", b"acw_tc")), None)
        if tc is not None:
            return Wall(ALIYUN, f"HTTP {status}; cookie {tc.decode()}")
    return None


def _tencent(status, headers, body, low, cookies, server, powered) -> Wall | None:
    if status < 400:
        return None
    page = _contains(body, "腾讯云Web应用防火墙".encode(), b"waf-static.tencent.com", b"waf.tencent-cloud.com")
    return Wall(TENCENT, f"HTTP {status}; {page.decode()}") if page else None


def _safedog(status, headers, body, low, cookies, server, powered) -> Wall | None:
    page = _contains(low, b"404.safedog.cn", b"safedogsite", b"safedog.cn/images")
    if page:  # only Safedog's block page links its own images and stats
        return Wall(SAFEDOG, f"HTTP {status}; {page.decode()}")
    if status < 400:
        return None
    if b"safedog" in server:
        return Wall(SAFEDOG, f"HTTP {status}; Server: {server.decode('latin-1')}")
    if powered.startswith(b"waf/2.0"):
        return Wall(SAFEDOG, f"HTTP {status}; X-Powered-By: WAF/2.0")
    if b"safedog-flow-item" in cookies:
        return Wall(SAFEDOG, f"HTTP {status}; cookie safedog-flow-item")
    return None


def _cloudflare(status, headers, body, low, cookies, server, powered) -> Wall | None:
    mitigated = b" ".join(_values(headers, b"cf-mitigated")).lower()
    if b"challenge" in mitigated:
        return Wall(CLOUDFLARE, f"HTTP {status}; cf-mitigated: challenge")
    if status in (403, 503, 429) and b"cloudflare" in server:
        page = _contains(low, b"challenge-platform", b"cf_chl", b"just a moment", b"attention required")
        if page:
            return Wall(CLOUDFLARE, f"HTTP {status}; Server: cloudflare; {page.decode()}")
    return None


def _generic(status, headers, body, low, cookies, server, powered) -> Wall | None:
    if status not in (403, 412, 202, 521):
        return None
    if _JS_COOKIE_CHALLENGE.search(body):
        return Wall(UNKNOWN, f"HTTP {status}; document.cookie challenge script")
    if status == 412 and b"<script" in low:  # nothing asks a monitor for preconditions: a 412 page with JS is a wall
        return Wall(UNKNOWN, f"HTTP {status}; challenge script")
    return None


_RULES = (_ruishu, _jiasule, _chuangyu, _aliyun, _tencent, _safedog, _cloudflare, _generic)


class WallWatch:
    """Decides, answer by answer, when a host has walled the crawl off.

    A host is given up after `max_walls` walls in a row (an unchallenged answer in between resets
    the count: a wall that comes and goes is the WAF's rate rule, not a closed door).  Once given
    up, a host stays given up for the run.
    """

    def __init__(self, max_walls: int = 3):
        if max_walls < 1:
            raise ValueError("max_walls must be at least 1")
        self.max_walls = max_walls
        self._run: dict[str, int] = {}
        self._first: dict[str, Wall] = {}
        self._stopped: dict[str, Wall] = {}

    def observe(self, host_key: str, wall: Wall | None) -> bool:
        """Record one answer from host_key; True when that host should no longer be crawled."""
        if host_key in self._stopped:
            return True
        if wall is None:
            self._run[host_key] = 0
            self._first.pop(host_key, None)
            return False
        self._run[host_key] = self._run.get(host_key, 0) + 1
        self._first.setdefault(host_key, wall)
        if self._run[host_key] >= self.max_walls:
            self._stopped[host_key] = self._first[host_key]
            return True
        return False

    @property
    def closed_any(self) -> bool:
        """Whether any host has been given up (asked before every request: almost always False)."""
        return bool(self._stopped)

    def given_up(self, host_key: str) -> Wall | None:
        """The wall that closed this host, or None while it is still crawled (asked for every link)."""
        return self._stopped.get(host_key)

    def walled_hosts(self) -> dict[str, Wall]:
        """Hosts given up, with the first wall of the run that closed them."""
        return dict(self._stopped)


WALL_ERROR_PREFIX = "waf: "


def wall_error(wall: Wall) -> str:
    """How a walled target's `error` reads: "waf: <product>: <evidence>" (the checks parse it back)."""
    return f"{WALL_ERROR_PREFIX}{wall.product}: {wall.evidence}"


def wall_from_error(error: str) -> Wall | None:
    """The wall a target's `error` text records, or None when it records no wall."""
    if not error or not error.startswith(WALL_ERROR_PREFIX):
        return None
    product, _, evidence = error[len(WALL_ERROR_PREFIX):].partition(": ")
    return Wall(product.strip() or UNKNOWN, evidence.strip())
