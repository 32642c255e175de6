"""Availability probes: open a page the way a visitor does and time every phase.

The unreachable rule (站点无法访问) counts homepage probes over a rolling week: a
probe fails when the homepage has not opened within 15 s, and the site is vetoed
when failed probes reach 5 % of all probes.  `probe_url` opens one page on
libcurl, the transport the crawl uses (crawler/curl.py), whose timers give the
phases - DNS, connect, TLS, time to first byte, transfer - that tell *why* a
probe was slow or failed; redirects, loops and anti-bot walls are judged by the
crawl's fetch policy (crawler/policy.py).  `probe_site` probes every host's
homepage and the site's key pages and stores one `probes` row per page;
`availability` turns the stored rows into the rolling figures and the veto status.

Probes start at configured hosts, which are not vetted; a redirect to any other
host goes through the address guard (sitecheck/netguard.py) first, and the
connection goes to the addresses the guard vetted, as in the crawl.
"""

from __future__ import annotations

import logging
import math
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pycurl

from sitecheck import netguard
from sitecheck.crawler.curl import CurlError, Transfer, is_ip_literal, resolve_entry, wire_url
from sitecheck.crawler.policy import Done, Follow, Got, Rules, Sent, next_step
from sitecheck.crawler.urls import normalize
from sitecheck.model import Reason
from sitecheck.store import StoreError

log = logging.getLogger("sitecheck.probe")

Clock = Callable[[], datetime]

USER_AGENT = "sitecheck-probe/0.1 (+government website availability monitor)"
MAX_REDIRECTS = 5
MAX_BODY_BYTES = 20 * 1024 * 1024  # read at most this much; a bigger homepage counts as opened
BODY_HEAD_BYTES = 16_384  # as much of a page as the anti-bot wall recogniser reads (crawler/waf.py)

PORTAL, SUBSITE, PAGE = "portal", "subsite", "page"  # what a probe row is about (probes.kind)


def utc_clock() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class ProbeResult:
    """One probe of one URL.

    Phases are summed over redirect hops, from libcurl's timers: `dns_s` (the
    lookup, made here so the connection goes where it says), `connect_s`, `tls_s`,
    then `ttfb_s` (connected until the response headers arrived); `total_s` runs
    from the start of the probe to the last body byte of the final response (or
    to the failure).  `cert_expiry` is the earliest notAfter of the servers' TLS
    certificates met on the way, as an absolute UTC time.
    """

    url: str
    started_at: datetime
    ok: bool
    reason: Reason
    status: int | None = None
    final_url: str | None = None
    redirects: list[str] = field(default_factory=list)
    dns_s: float | None = None
    connect_s: float | None = None
    tls_s: float | None = None
    ttfb_s: float | None = None
    total_s: float | None = None
    size: int = 0
    cert_expiry: datetime | None = None
    error: str = ""
    # set by probe_site: which page of the site this is
    kind: str = PORTAL
    host_key: str = ""
    name: str = ""

    @property
    def phases(self) -> dict[str, float]:
        return {k: v for k, v in (("dns", self.dns_s), ("connect", self.connect_s), ("tls", self.tls_s),
                                  ("ttfb", self.ttfb_s), ("total", self.total_s)) if v is not None}


class ProbeFailure(Exception):
    """No answer to a request: the reason a probe records, and what happened in words."""

    def __init__(self, reason: Reason, message: str):
        super().__init__(message)
        self.reason = reason


class _Timing:
    """The probe's deadline, and its phases summed over the hops."""

    def __init__(self, monotonic: Callable[[], float], budget_s: float):
        self.monotonic = monotonic
        self.deadline = monotonic() + budget_s
        self.budget_s = budget_s
        self.phases = {"dns": 0.0, "connect": 0.0, "tls": 0.0, "ttfb": 0.0}
        self.seen: set[str] = set()
        self.total = 0.0

    def remaining(self) -> float:
        left = self.deadline - self.monotonic()
        if left <= 0:
            raise ProbeFailure(Reason.TIMEOUT, f"no complete response within {self.budget_s:g} s")
        return left

    def add(self, phase: str, seconds: float) -> None:
        self.phases[phase] += max(0.0, seconds)
        self.seen.add(phase)


@dataclass
class _Answer:
    status: int
    headers: dict[bytes, list[bytes]]
    body_head: bytes
    size: int
    cert_expiry: datetime | None


def probe_url(url: str, threshold_s: float = 15.0, timeout_s: float = 20.0, clock: Clock = utc_clock, *,
              monotonic: Callable[[], float] = time.monotonic, ssl_context: ssl.SSLContext | None = None,
              headers: Mapping[str, Mapping[str, str]] | None = None, user_agent: str = USER_AGENT,
              max_redirects: int = MAX_REDIRECTS, trusted_hosts: Collection[str] | None = None,
              policy: netguard.AddressPolicy | None = None) -> ProbeResult:
    """Open `url` (following redirects, reading the whole body) and say whether it opened in time.

    ok means: a 2xx response, reached directly or through 3xx redirects, fully read
    within `threshold_s`.  The probe waits up to max(timeout_s, threshold_s) so a
    slow page gets a measured time.  `headers` maps a netloc to extra request
    headers (credentials), sent to that netloc only.  `trusted_hosts` are the host
    names the operator configured (default: the host of `url`); a redirect to any
    other host is vetted against `policy` first.  `ssl_context` says which
    certificates are trusted (its CA certificates and verification switches are
    handed to libcurl).  Never raises for network problems: they become a failed
    result with a `reason`.
    """
    started = clock()
    timing = _Timing(monotonic, max(timeout_s, threshold_s))
    result = ProbeResult(url=url, started_at=started, ok=False, reason=Reason.ERROR)
    if trusted_hosts is None:
        try:
            trusted_hosts = {(urlsplit(url).hostname or "").lower()}
        except ValueError:  # reported below, when the request cannot be made
            trusted_hosts = set()
    wire = _Wire(trusted_hosts, policy or netguard.AddressPolicy(), headers or {}, user_agent, ssl_context)
    rules = Rules(retries=0, max_redirects=max_redirects)  # a probe is one visit: no retries
    current, chain = url, ()
    try:
        while True:
            result.status, result.final_url = None, current
            answer = wire.get(current, timing)
            if answer.cert_expiry is not None and (result.cert_expiry is None
                                                   or answer.cert_expiry < result.cert_expiry):
                result.cert_expiry = answer.cert_expiry
            result.status, result.size = answer.status, answer.size
            sent = Sent(_normalise(current) or current, "GET", chain=chain)
            step = next_step(sent, Got(answer.status, answer.headers, body_head=answer.body_head), rules,
                             _normalise)
            if isinstance(step, Follow):
                result.redirects.append(step.url)
                chain, current = (*chain, sent.url), step.url
                continue
            break
        _judge(result, answer.status, step, threshold_s, timing.total)
    except ProbeFailure as exc:
        result.reason, result.error = exc.reason, str(exc)
    except (ValueError, UnicodeError) as exc:  # a URL libcurl or the guard cannot use
        result.reason, result.error = Reason.ERROR, f"unusable URL: {type(exc).__name__}: {exc}"
    finally:
        wire.close()
    result.total_s = timing.total
    for phase, value in timing.phases.items():
        if phase in timing.seen:
            setattr(result, f"{phase}_s", value)
    return result


def fetch_answer(url: str, headers: Mapping[str, str], timeout_s: float = 15.0,
                 ssl_context: ssl.SSLContext | None = None) -> tuple[int, dict[bytes, list[bytes]], bytes]:
    """One GET of a configured host's URL on the probe's transport, no redirect followed: the status,
    the headers (lower-cased byte names) and the first BODY_HEAD_BYTES of the body.  `headers` are
    the request's own (User-Agent included).  Raises ProbeFailure when no answer came."""
    parts = urlsplit(url)
    user_agent = next((v for k, v in headers.items() if k.lower() == "user-agent"), USER_AGENT)
    extra = {k: v for k, v in headers.items() if k.lower() != "user-agent"}
    wire = _Wire({(parts.hostname or "").lower()}, netguard.AddressPolicy(), {parts.netloc.lower(): extra},
                 user_agent, ssl_context)
    try:
        answer = wire.get(url, _Timing(time.monotonic, timeout_s))
    finally:
        wire.close()
    return answer.status, answer.headers, answer.body_head


def _judge(result: ProbeResult, status: int, step, threshold_s: float, total_s: float) -> None:
    """The outcome of the last answer, as the fetch policy ruled on it (`step`: Done)."""
    reason = step.reason if isinstance(step, Done) else Reason.ERROR  # no retries, GET only: always Done
    detail = getattr(step, "detail", "")
    if reason == Reason.OK and 200 <= status < 300:
        if total_s <= threshold_s:
            result.ok, result.reason = True, Reason.OK
        else:
            result.reason = Reason.TIMEOUT
            result.error = f"opened in {total_s:.1f} s, over the {threshold_s:g} s threshold"
    elif reason == Reason.OK:  # a 3xx with no Location, a 1xx: not the page
        result.reason = Reason.HTTP_STATUS
        result.error = f"HTTP {status}" + (" without a Location header" if 300 <= status < 400 else "")
    elif reason in (Reason.BLOCKED, Reason.REDIRECT_LOOP, Reason.TOO_MANY_REDIRECTS) or status < 400:
        result.reason, result.error = reason, detail or f"HTTP {status}"
    else:
        result.reason, result.error = reason, f"HTTP {status}" + (f" ({detail})" if detail else "")


def _normalise(url: str) -> str | None:
    return normalize(url, frozenset())


class _Wire:
    """One probe's libcurl handle: one request per hop, each on a fresh connection, as a new visitor."""

    def __init__(self, trusted_hosts: Collection[str], policy: netguard.AddressPolicy,
                 headers: Mapping[str, Mapping[str, str]], user_agent: str, ssl_context: ssl.SSLContext | None):
        self.trusted = {h.lower() for h in trusted_hosts}
        self.policy, self.headers, self.user_agent = policy, headers, user_agent
        self.curl = pycurl.Curl()
        curl = self.curl
        curl.setopt(pycurl.NOSIGNAL, 1)  # probes run in threads
        curl.setopt(pycurl.FOLLOWLOCATION, 0)  # every hop is vetted and judged here
        curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        curl.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        curl.setopt(pycurl.FRESH_CONNECT, 1)
        curl.setopt(pycurl.FORBID_REUSE, 1)
        curl.setopt(pycurl.NOPROXY, "")
        curl.setopt(pycurl.USERAGENT, user_agent)
        curl.setopt(pycurl.OPT_CERTINFO, 1)
        _trust(curl, ssl_context)

    def get(self, url: str, timing: _Timing) -> _Answer:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ProbeFailure(Reason.ERROR, f"invalid port in {url}") from None
        if parts.scheme not in ("http", "https") or not host:
            raise ProbeFailure(Reason.ERROR, f"not a web address: {url}")
        netloc = parts.netloc.lower()
        proxy = _proxy_for(url, netloc)
        addresses = self._addresses(url, host, port, proxy, timing)
        transfer = Transfer(None, frozenset(addresses or ()))  # parses the headers, guards the sockets
        body = _Body()
        curl = self.curl
        request_headers = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Encoding": "identity",
                           "Connection": "close", **self.headers.get(netloc, {})}
        curl.setopt(pycurl.URL, wire_url(url))
        curl.setopt(pycurl.HTTPHEADER, [f"{name}: {value}" for name, value in request_headers.items()])
        curl.setopt(pycurl.TIMEOUT_MS, max(1, int(timing.remaining() * 1000)))
        curl.setopt(pycurl.PROXY, proxy or "")  # "": no proxy, whatever libcurl would read itself
        if addresses:
            curl.setopt(pycurl.RESOLVE, [resolve_entry(host, port, addresses)])
        else:
            curl.unsetopt(pycurl.RESOLVE)
        curl.setopt(pycurl.HEADERFUNCTION, transfer.lines.append)
        curl.setopt(pycurl.WRITEFUNCTION, body.write)
        curl.setopt(pycurl.OPENSOCKETFUNCTION, transfer.open_socket)
        failure = None
        try:
            curl.perform()
        except pycurl.error as exc:
            code, message = exc.args
            if not body.full:  # a body past MAX_BODY_BYTES was cut on purpose: the page opened
                failure = CurlError(pycurl.E_COULDNT_CONNECT, transfer.refused) if transfer.refused else \
                    CurlError(code, message, curl.getinfo(pycurl.OS_ERRNO))
        finally:
            self._time(timing, https=parts.scheme == "https")
        if failure is not None:
            raise ProbeFailure(failure.reason, _failure_text(failure, timing))
        return _Answer(curl.getinfo(pycurl.RESPONSE_CODE), transfer.headers(), body.head, body.size,
                       _cert_expiry(curl) if parts.scheme == "https" else None)

    def _addresses(self, url: str, host: str, port: int, proxy: str | None, timing: _Timing) -> list[str] | None:
        """Where the connection goes (CURLOPT_RESOLVE): a host outside the configured ones is vetted
        and goes to the addresses the guard pinned; a configured one is looked up.  The lookup is the
        DNS phase; None when a proxy connects for us or the host is an address."""
        t0 = timing.monotonic()
        resolve = _resolver(timing)
        try:
            if host not in self.trusted:
                refusal = netguard.vet_and_pin(url, self.policy, resolve)
                if refusal:
                    raise ProbeFailure(Reason.PRIVATE_ADDRESS, f"not checked: {refusal}")
                addresses = None if proxy or is_ip_literal(host) else netguard.PINS.get(host)
                if addresses is None and not (proxy or is_ip_literal(host)):  # libcurl must not look it up again
                    raise ProbeFailure(Reason.ERROR, f"no vetted address pinned for {host}")
            else:
                addresses = None if proxy or is_ip_literal(host) else resolve(host, port)
        except netguard.ResolutionError as exc:
            timing.total += timing.monotonic() - t0
            raise ProbeFailure(Reason.DNS, f"DNS lookup of {host} failed: {exc}") from None
        except ProbeFailure:
            timing.total += timing.monotonic() - t0
            raise
        spent = timing.monotonic() - t0
        timing.total += spent
        if proxy is None:
            timing.add("dns", spent)
        return addresses

    def _time(self, timing: _Timing, https: bool) -> None:
        """libcurl's timers of the hop just made, all counted from the start of the transfer."""
        curl = self.curl
        lookup, connected = curl.getinfo(pycurl.NAMELOOKUP_TIME), curl.getinfo(pycurl.CONNECT_TIME)
        handshaken, first_byte = curl.getinfo(pycurl.APPCONNECT_TIME), curl.getinfo(pycurl.STARTTRANSFER_TIME)
        total = curl.getinfo(pycurl.TOTAL_TIME)
        timing.total += total
        if "dns" in timing.seen:
            timing.add("dns", lookup)
        timing.add("connect", (connected or total) - lookup)  # a refused or hanging connect: its time to fail
        if https and handshaken:
            timing.add("tls", handshaken - connected)
        if first_byte and curl.getinfo(pycurl.RESPONSE_CODE):  # a failed transfer sets the timer too
            timing.add("ttfb", first_byte - (handshaken or connected))

    def close(self) -> None:
        self.curl.close()


class _Body:
    """Counts the body, keeps its first bytes (for crawler/waf.py), stops at MAX_BODY_BYTES."""

    def __init__(self):
        self.size, self.head, self.full = 0, b"", False

    def write(self, chunk: bytes):
        if len(self.head) < BODY_HEAD_BYTES:
            self.head += chunk[:BODY_HEAD_BYTES - len(self.head)]
        self.size += len(chunk)
        if self.size >= MAX_BODY_BYTES:
            self.full = True
            return 0  # libcurl stops the transfer: enough was read to say the page opened
        return None


def _resolver(timing: _Timing) -> netguard.Resolver:
    """netguard's lookup with the probe's deadline (the C resolver has none of its own)."""

    def resolve(host: str, port: int) -> list[str]:
        outcome: dict[str, Any] = {}

        def lookup() -> None:
            try:
                outcome["ok"] = netguard.default_resolve(host, port)
            except netguard.ResolutionError as exc:
                outcome["error"] = exc

        budget = timing.remaining()
        worker = threading.Thread(target=lookup, name=f"dns {host}", daemon=True)
        worker.start()
        worker.join(budget)
        if worker.is_alive():
            raise ProbeFailure(Reason.TIMEOUT, f"DNS lookup of {host} took longer than {budget:.1f} s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["ok"]

    return resolve


def _trust(curl: pycurl.Curl, ssl_context: ssl.SSLContext | None) -> None:
    """Verify certificates as Python's default context does, or as `ssl_context` says."""
    trusted = ssl_context.get_ca_certs(binary_form=True) if ssl_context is not None else []
    if trusted:  # the certificates the context loaded (a cafile): those only
        curl.setopt(pycurl.CAINFO_BLOB, "".join(ssl.DER_cert_to_PEM_cert(der) for der in trusted).encode())
    else:  # the system's store, where Python's default context finds it (libcurl's own default may differ)
        paths = ssl.get_default_verify_paths()
        if paths.cafile:
            curl.setopt(pycurl.CAINFO, paths.cafile)
        if paths.capath:
            curl.setopt(pycurl.CAPATH, paths.capath)
    if ssl_context is not None:
        curl.setopt(pycurl.SSL_VERIFYPEER, 0 if ssl_context.verify_mode == ssl.CERT_NONE else 1)
        curl.setopt(pycurl.SSL_VERIFYHOST, 2 if ssl_context.check_hostname else 0)


def _proxy_for(url: str, netloc: str) -> str | None:
    """The environment's proxy for `url` (http_proxy, https_proxy, no_proxy), as the crawl's transport."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(url.split(":", 1)[0].lower()) if proxies else None
    if proxy and urllib.request.proxy_bypass(netloc):
        return None
    return proxy


_FAILURE_WORDS = {Reason.TIMEOUT: "no complete response within {budget:g} s", Reason.REFUSED: "connection refused",
                  Reason.RESET: "connection reset", Reason.TRUNCATED: "response cut short",
                  Reason.DNS: "DNS lookup failed", Reason.TLS: "TLS handshake failed"}


def _failure_text(failure: CurlError, timing: _Timing) -> str:
    words = _FAILURE_WORDS.get(failure.reason)
    if words is None:
        return failure.message or str(failure)
    return f"{words.format(budget=timing.budget_s)}: {failure.message}"


def _cert_expiry(curl: pycurl.Curl) -> datetime | None:
    """The server certificate's notAfter, from libcurl's certificate info (OpenSSL's date form)."""
    try:
        chain = curl.getinfo(pycurl.INFO_CERTINFO) or []
    except pycurl.error:
        return None
    for name, value in (chain[0] if chain else ()):
        if name == "Expire date":
            try:
                return datetime.fromtimestamp(ssl.cert_time_to_seconds(value), timezone.utc)
            except ValueError:
                return None
    return None


# --- probing a site ----------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeTarget:
    url: str
    kind: str
    host_key: str
    name: str


def probe_targets(site) -> list[ProbeTarget]:
    """Every host's homepage (the portal first) and the site's `probe.urls`."""
    out = [ProbeTarget(h.url, PORTAL if i == 0 else SUBSITE, h.key, h.name) for i, h in enumerate(site.hosts)]
    for page in site.ops.get("probe", {}).get("urls", []):
        host = site.host_for(urlsplit(page["url"]).netloc)
        out.append(ProbeTarget(page["url"], PAGE, host.key if host else "", page["name"]))
    return out


def probe_site(site, store, clock: Clock = utc_clock, *, probe: Callable[..., ProbeResult] = probe_url,
               max_workers: int = 8, stop: threading.Event | None = None) -> list[ProbeResult]:
    """Probe every homepage and key page of `site` at once, store one row each (unless `store` is None),
    return the results."""
    settings = site.ops.get("probe") or {}
    threshold = float(settings.get("threshold_seconds", 15.0))
    timeout = float(settings.get("timeout_seconds", 20.0))
    headers = _credential_headers(site)
    targets = probe_targets(site)
    # The site's own hosts are not vetted (the operator named them); a redirect elsewhere is.
    trusted = {(urlsplit(f"//{netloc}").hostname or "") for h in site.hosts for netloc in h.netlocs}
    policy = netguard.AddressPolicy(site.crawl.allow_networks)

    def one(target: ProbeTarget) -> ProbeResult | None:
        if stop is not None and stop.is_set():
            return None
        try:
            result = probe(target.url, threshold_s=threshold, timeout_s=timeout, clock=clock, headers=headers,
                           trusted_hosts=trusted, policy=policy)
        except Exception as exc:  # noqa: BLE001 - a bug in one probe must not lose the others
            log.exception("probe of %s crashed", target.url)
            result = ProbeResult(target.url, clock(), False, Reason.ERROR, error=f"probe crashed: {exc!r}")
        result.kind, result.host_key, result.name = target.kind, target.host_key, target.name
        return result

    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(targets))),
                            thread_name_prefix=f"probe-{site.key}") as pool:
        results = [r for r in pool.map(one, targets) if r is not None]
    if store is not None:
        record_probes(store, site.key, results)
    return results


def _credential_headers(site) -> dict[str, dict[str, str]]:
    if not getattr(site, "auth", None):
        return {}
    from sitecheck.credentials import CredentialError, load_credentials

    try:
        return dict(load_credentials(site))
    except CredentialError as exc:
        log.warning("site %s: probing without credentials: %s", site.key, exc)
        return {}


# --- the store side ----------------------------------------------------------------------


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds") if dt else None


def record_probes(store, site_key: str, results: list[ProbeResult]) -> None:
    """Insert probe rows in one transaction (the caller's connection: one Store per thread)."""
    if not results:
        return
    rows = [(site_key, r.host_key, r.url, _iso(r.started_at), int(r.ok), r.status, r.reason.value, r.ttfb_s,
             r.total_s, _iso(r.cert_expiry), r.error, r.kind, r.name, r.final_url, r.dns_s, r.connect_s, r.tls_s)
            for r in results]
    db = store.db
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT INTO probes (site, host_key, url, started_at, ok, status, reason, ttfb_s, total_s, "
                "cert_expiry, error, kind, name, final_url, dns_s, connect_s, tls_s) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    except store.errors as exc:
        raise StoreError(f"{store.location}: cannot record probes: {exc}") from None


def recent_probes(store, site_key: str, url: str, limit: int) -> list[dict[str, Any]]:
    """The last `limit` probes of one URL of a site, newest first."""
    cur = store.db.execute("SELECT started_at, ok, status, reason, total_s, error FROM probes "
                           "WHERE site = ? AND url = ? ORDER BY started_at DESC, id DESC LIMIT ?",
                           (site_key, url, limit))
    return [dict(zip(("started_at", "ok", "status", "reason", "total_s", "error"), row)) for row in cur]


# --- availability: the unreachable rule ----------------------------------------------------

PASS, VETO, NO_DATA = "pass", "veto", "no_data"


def veto_threshold(total: int, ratio: float) -> int:
    """The smallest failed count that reaches `ratio` of `total` (decimal: 5 % of 140 is 7, not 7.000…01)."""
    return max(1, math.ceil(Decimal(str(ratio)) * total))


def availability(store, site_key: str, end: datetime | None = None, days: int = 7, *,
                 min_daily_probes: int = 20, failure_ratio: float = 0.05) -> dict[str, Any]:
    """Rolling figures of the unreachable rule over the `days` before `end`.

    The rule judges the portal homepage (probes of kind "portal"); sub-site
    homepages and key pages are listed under "targets" for information.  "Days"
    are the consecutive 24-hour slices ending at `end`, so a window never has a
    half day.  status is pass / veto / no_data; coverage is "insufficient" when
    any day has fewer than `min_daily_probes` probes.

    A probe the site's WAF challenged (reason "blocked") is neither a success nor a failure: the
    monitor did not see the page.  Such probes are counted apart ("blocked") and left out of the
    ratio, so a window of only blocked probes has no valid data instead of vetoing the site.
    """
    end = (end or utc_clock()).astimezone(timezone.utc)
    start = end - timedelta(days=days)
    rows = store.db.execute(
        "SELECT kind, host_key, url, name, started_at, ok, reason FROM probes WHERE site = ? AND started_at >= ? "
        "AND started_at < ? ORDER BY started_at", (site_key, _iso(start), _iso(end))).fetchall()
    slices = [{"start": _iso(start + timedelta(days=i)), "end": _iso(start + timedelta(days=i + 1)),
               "probes": 0, "failed": 0, "blocked": 0} for i in range(days)]
    per_target: dict[tuple[str, str, str], dict[str, Any]] = {}
    total = failed = blocked = 0
    last: dict[str, Any] | None = None
    for kind, host_key, url, name, started_at, ok, reason in rows:
        t = per_target.setdefault((kind, host_key, url), {"kind": kind, "host_key": host_key, "url": url,
                                                          "name": name, "probes": 0, "failed": 0, "blocked": 0})
        when = datetime.fromisoformat(started_at)
        index = min(days - 1, max(0, int((when - start) / timedelta(days=1))))
        if _walled(ok, reason):
            t["blocked"] += 1
            if kind == PORTAL:
                slices[index]["blocked"] += 1
                blocked += 1
            continue
        t["probes"] += 1
        t["failed"] += 0 if ok else 1
        if kind != PORTAL:
            continue
        slices[index]["probes"] += 1
        slices[index]["failed"] += 0 if ok else 1
        total += 1
        failed += 0 if ok else 1
        last = {"started_at": started_at, "ok": bool(ok), "url": url}
    for t in per_target.values():
        t["ratio"] = t["failed"] / t["probes"] if t["probes"] else None
        t["would_veto"] = bool(t["probes"]) and t["failed"] >= veto_threshold(t["probes"], failure_ratio)
    short = [s["start"] for s in slices if s["probes"] < min_daily_probes]
    threshold = veto_threshold(total, failure_ratio) if total else None
    if not total:
        status = NO_DATA
    else:
        status = VETO if failed >= threshold else PASS
    return {
        "site": site_key,
        "window": {"start": _iso(start), "end": _iso(end), "days": days},
        "probes": total,
        "failed": failed,
        "blocked": blocked,  # challenged by the site's WAF: no valid data, not failures
        "ratio": failed / total if total else None,
        "failure_ratio_veto": failure_ratio,
        "veto_at_failed": threshold,
        "status": status,
        "coverage": "ok" if not short else "insufficient",
        "min_daily_probes": min_daily_probes,
        "insufficient_days": short,
        "per_day": slices,
        "targets": sorted(per_target.values(), key=lambda t: ({PORTAL: 0, SUBSITE: 1}.get(t["kind"], 2),
                                                              t["host_key"], t["url"])),
        "last_probe": last,
    }


def _walled(ok, reason: str | None) -> bool:
    """A probe answered by a WAF challenge, not by the page (the prober records reason "blocked")."""
    return not ok and reason == Reason.BLOCKED.value


def availability_for(store, site, end: datetime | None = None) -> dict[str, Any]:
    """`availability` with the window, coverage and veto share from the site's `probe` settings."""
    p = site.ops.get("probe") or {}
    return availability(store, site.key, end, p.get("window_days", 7),
                        min_daily_probes=p.get("min_daily_probes", 20),
                        failure_ratio=p.get("failure_ratio_veto", 0.05))


def probe_summary(store, site_key: str, end: datetime | None = None, days: int = 7) -> dict[str, Any] | None:
    """The probe evidence for `scoring.score(..., probes=...)`: {"probes": n, "failed": m, ...}, or None
    when the portal homepage has no probes in the window."""
    figures = availability(store, site_key, end, days)
    if not figures["probes"]:
        return None
    return {"probes": figures["probes"], "failed": figures["failed"], "ratio": figures["ratio"],
            "window_days": days, "window_end": figures["window"]["end"], "coverage": figures["coverage"],
            "insufficient_days": len(figures["insufficient_days"]), "status": figures["status"]}
