"""Availability probes: open a page the way a visitor does and time every phase.

The unreachable rule (站点无法访问) counts homepage probes over a rolling week: a
probe fails when the homepage has not opened within 15 s, and the site is vetoed
when failed probes reach 5 % of all probes.  `probe_url` opens one page with the
standard library (socket, ssl, http.client) because that is the only way to see
the phases - DNS, connect, TLS, time to first byte, transfer - that tell *why* a
probe was slow or failed.  `probe_site` probes every host's homepage and the
site's key pages and stores one `probes` row per page; `availability` turns
the stored rows into the rolling figures and the veto status.

Probes target configured hosts only, so they do not go through the network
guard that protects the crawler from links to foreign addresses.
"""

from __future__ import annotations

import http.client
import logging
import math
import socket
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin, urlsplit

from sitecheck.crawler.classify import reason_for_status
from sitecheck.model import Reason
from sitecheck.store import StoreError

log = logging.getLogger("sitecheck.probe")

Clock = Callable[[], datetime]

USER_AGENT = "sitecheck-probe/0.1 (+government website availability monitor)"
MAX_REDIRECTS = 5
MAX_BODY_BYTES = 20 * 1024 * 1024  # read at most this much; a bigger homepage counts as opened
_READ_CHUNK = 64 * 1024

PORTAL, SUBSITE, PAGE = "portal", "subsite", "page"  # what a probe row is about (probes.kind)


def utc_clock() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class ProbeResult:
    """One probe of one URL.

    Phases are summed over redirect hops: `dns_s`, `connect_s`, `tls_s`, then
    `ttfb_s` (request sent until the response headers arrived); `total_s` runs
    from the start of the probe to the last body byte of the final response (or
    to the failure).  `cert_expiry` is the earliest notAfter of the TLS
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


class _ProbeFailure(Exception):
    def __init__(self, reason: Reason, message: str):
        super().__init__(message)
        self.reason = reason


class _Timing:
    def __init__(self, monotonic: Callable[[], float], budget_s: float):
        self.monotonic = monotonic
        self.start = monotonic()
        self.deadline = self.start + budget_s
        self.budget_s = budget_s
        self.phases = {"dns": 0.0, "connect": 0.0, "tls": 0.0, "ttfb": 0.0}
        self.seen: set[str] = set()

    def remaining(self) -> float:
        left = self.deadline - self.monotonic()
        if left <= 0:
            raise _ProbeFailure(Reason.TIMEOUT, f"no complete response within {self.budget_s:g} s")
        return left

    def add(self, phase: str, since: float) -> None:
        self.phases[phase] += self.monotonic() - since
        self.seen.add(phase)

    def elapsed(self) -> float:
        return self.monotonic() - self.start


def probe_url(url: str, threshold_s: float = 15.0, timeout_s: float = 20.0, clock: Clock = utc_clock, *,
              monotonic: Callable[[], float] = time.monotonic, ssl_context: ssl.SSLContext | None = None,
              headers: Mapping[str, Mapping[str, str]] | None = None, user_agent: str = USER_AGENT,
              max_redirects: int = MAX_REDIRECTS) -> ProbeResult:
    """Open `url` (following redirects, reading the whole body) and say whether it opened in time.

    ok means: a 2xx response, reached directly or through 3xx redirects, fully read
    within `threshold_s`.  The probe waits up to max(timeout_s, threshold_s) so a
    slow page gets a measured time.  `headers` maps a netloc to extra request
    headers (credentials), sent to that netloc only.  Never raises for network
    problems: they become a failed result with a `reason`.
    """
    started = clock()
    timing = _Timing(monotonic, max(timeout_s, threshold_s))
    result = ProbeResult(url=url, started_at=started, ok=False, reason=Reason.ERROR)
    current, visited = url, [url]
    try:
        while True:
            status, location, size, expiry = _fetch_once(current, timing, ssl_context, headers or {}, user_agent)
            if expiry is not None and (result.cert_expiry is None or expiry < result.cert_expiry):
                result.cert_expiry = expiry
            result.status, result.final_url, result.size = status, current, size
            if 300 <= status < 400 and location:
                target = urljoin(current, location.strip())
                if urlsplit(target).scheme not in ("http", "https"):
                    raise _ProbeFailure(Reason.ERROR, f"redirect to a non-web address: {target}")
                if target in visited:
                    raise _ProbeFailure(Reason.REDIRECT_LOOP, f"redirect loop back to {target}")
                if len(result.redirects) >= max_redirects:
                    raise _ProbeFailure(Reason.TOO_MANY_REDIRECTS, f"more than {max_redirects} redirects")
                result.redirects.append(target)
                visited.append(target)
                current, result.status, result.final_url = target, None, target
                continue
            break
        result.total_s = timing.elapsed()
        if 200 <= status < 300:
            if result.total_s <= threshold_s:
                result.ok, result.reason = True, Reason.OK
            else:
                result.reason = Reason.TIMEOUT
                result.error = f"opened in {result.total_s:.1f} s, over the {threshold_s:g} s threshold"
        else:
            result.reason = reason_for_status(status) if status >= 400 else Reason.HTTP_STATUS
            result.error = f"HTTP {status}" + (" without a Location header" if 300 <= status < 400 else "")
    except _ProbeFailure as exc:
        result.reason, result.error = exc.reason, str(exc)
        result.total_s = timing.elapsed()
    except (ValueError, UnicodeError) as exc:  # an unusable URL or Location header
        result.reason, result.error = Reason.ERROR, _describe(exc)
        result.total_s = timing.elapsed()
    for phase, value in timing.phases.items():
        if phase in timing.seen:
            setattr(result, f"{phase}_s", value)
    return result


def _fetch_once(url: str, timing: _Timing, ssl_context: ssl.SSLContext | None,
                headers: Mapping[str, Mapping[str, str]], user_agent: str
                ) -> tuple[int, str | None, int, datetime | None]:
    """One request on a fresh connection: (status, Location, body bytes read, cert notAfter)."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if https else 80)
    except ValueError:
        raise _ProbeFailure(Reason.ERROR, f"invalid port in {url}") from None
    sock = _connect(host, port, timing)
    expiry = None
    ctx = (ssl_context or ssl.create_default_context()) if https else None
    try:
        if https:
            t0 = timing.monotonic()
            sock.settimeout(timing.remaining())
            try:
                sock = ctx.wrap_socket(sock, server_hostname=host)
            except (ssl.SSLError, ssl.CertificateError) as exc:
                raise _ProbeFailure(Reason.TLS, f"TLS handshake failed: {_describe(exc)}") from None
            except OSError as exc:
                raise _classify_os_error(exc, "during the TLS handshake") from None
            timing.add("tls", t0)
            expiry = _cert_not_after(sock)
        if https:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=timing.remaining(), context=ctx)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timing.remaining())
        conn.sock = sock  # already connected: http.client must not connect again
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request_headers = {"User-Agent": user_agent, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
                           "Accept-Encoding": "identity", "Connection": "close"}
        request_headers.update(headers.get(parts.netloc.lower(), {}))
        try:
            t0 = timing.monotonic()
            sock.settimeout(timing.remaining())
            conn.request("GET", path, headers=request_headers)
            response = conn.getresponse()
            timing.add("ttfb", t0)
            status = response.status
            location = response.getheader("Location")
            size = _read_body(response, sock, timing)
        except _ProbeFailure:
            raise
        except (http.client.HTTPException, OSError) as exc:
            raise _classify_os_error(exc, "while reading the response") from None
        return status, location, size, expiry
    finally:
        try:
            sock.close()
        except OSError:
            pass


def _read_body(response: http.client.HTTPResponse, sock: socket.socket, timing: _Timing) -> int:
    size = 0
    while size < MAX_BODY_BYTES:
        sock.settimeout(timing.remaining())
        chunk = response.read1(_READ_CHUNK)  # one recv at most, so the deadline is checked often
        if not chunk:
            break
        size += len(chunk)
    return size


def _connect(host: str, port: int, timing: _Timing) -> socket.socket:
    t0 = timing.monotonic()
    addresses = _resolve(host, port, timing.remaining())
    timing.add("dns", t0)
    t0 = timing.monotonic()
    last: OSError | None = None
    for family, kind, proto, _name, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timing.remaining())
            sock.connect(address)
        except _ProbeFailure:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            last = exc
            continue
        timing.add("connect", t0)
        return sock
    timing.add("connect", t0)
    raise _classify_os_error(last or OSError("no address to connect to"), f"connecting to {host}:{port}")


def _resolve(host: str, port: int, timeout_s: float) -> list[tuple]:
    """getaddrinfo with a deadline (the C resolver has none of its own)."""
    outcome: dict[str, Any] = {}

    def lookup() -> None:
        try:
            outcome["ok"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=lookup, name=f"dns {host}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise _ProbeFailure(Reason.TIMEOUT, f"DNS lookup of {host} took longer than {timeout_s:.1f} s")
    if "error" in outcome:
        raise _ProbeFailure(Reason.DNS, f"DNS lookup of {host} failed: {_describe(outcome['error'])}")
    return outcome["ok"]


def _classify_os_error(exc: BaseException, where: str) -> _ProbeFailure:
    text = f"{_describe(exc)} {where}"
    if isinstance(exc, ConnectionRefusedError):
        return _ProbeFailure(Reason.REFUSED, text)
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return _ProbeFailure(Reason.TIMEOUT, text)
    if isinstance(exc, (ssl.SSLError, ssl.CertificateError)):
        return _ProbeFailure(Reason.TLS, text)
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError,
                        http.client.RemoteDisconnected, http.client.IncompleteRead)):
        return _ProbeFailure(Reason.RESET, text)
    return _ProbeFailure(Reason.ERROR, text)


def _describe(exc: BaseException) -> str:
    detail = getattr(exc, "verify_message", None) or getattr(exc, "strerror", None) or str(exc)
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _cert_not_after(sock: ssl.SSLSocket) -> datetime | None:
    try:
        cert = sock.getpeercert()
    except (ValueError, OSError):
        return None
    not_after = (cert or {}).get("notAfter")
    if not not_after:
        return None
    return datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), timezone.utc)


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

    def one(target: ProbeTarget) -> ProbeResult | None:
        if stop is not None and stop.is_set():
            return None
        try:
            result = probe(target.url, threshold_s=threshold, timeout_s=timeout, clock=clock, headers=headers)
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
    except sqlite3.OperationalError as exc:
        raise StoreError(f"{store.path}: cannot record probes: {exc}") from None


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
