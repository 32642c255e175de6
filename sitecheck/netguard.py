"""Address policy for untrusted links: which IPs a link may make us connect to.

Pages of a government portal are written by many hands and scraped by many
more; a link to ``http://169.254.169.254/`` or ``http://10.0.0.5/admin`` must
not turn the monitor into a proxy into the network it runs in (SSRF).  So
before a link to a host outside the site is fetched, `check_url` works out
every address the URL could reach and `AddressPolicy.refusal` rules on each.

What "every address" means:

* the host as `urllib` parses it, as a WHATWG URL parser (browsers, w3lib,
  hence Scrapy) parses it, and percent-decoded, IDNA/NFKC-folded (``１２７。０。０。１``
  is 127.0.0.1) - the URL is refused if *any* reading is refused, so parser
  differentials cannot smuggle an address past the check;
* numeric IPv4 spellings that inet_aton and browsers accept
  (``2130706433``, ``0x7f.1``, ``0177.0.0.1``) as the address they denote;
* for a host name, every address the resolver returns (one private address
  among public ones is enough to refuse: a round-robin answer is one
  rebinding trick).

DNS rebinding limitation: this is check-then-connect.  A name can resolve to
a public address when checked and to 10.0.0.5 a moment later when the
downloader resolves it again.  The crawler mitigates it by connecting to the
address that was checked where it can (`inspect_url` returns the vetted
addresses; a `CachingResolver` shared by the check and the downloader's
resolver pins one answer for its TTL).  Redirects are new URLs and must be
checked again.  What remains is a race inside one TTL window on a resolver
we do not control; a network egress firewall is the real fix.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class ResolutionError(OSError):
    """The host name could not be resolved (recorded as Reason.DNS, not as a refusal)."""


_N = ipaddress.ip_network

# Cloud instance-metadata endpoints: the classic SSRF prize.  100.100.100.200
# is Alibaba Cloud's, which matters for monitors hosted in China.
_METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254"))

# Explicit tables rather than ipaddress.is_private & co.: those changed
# between Python patch releases, and the policy must not move under us.
# Order matters: the first matching category names the refusal.
_CATEGORIES: tuple[tuple[str, tuple], ...] = (
    ("unspecified", (_N("0.0.0.0/8"), _N("::/128"))),  # 0.x reaches this host on Linux
    ("loopback", (_N("127.0.0.0/8"), _N("::1/128"))),
    ("link-local", (_N("169.254.0.0/16"), _N("fe80::/10"))),
    ("private", (_N("10.0.0.0/8"), _N("172.16.0.0/12"), _N("192.168.0.0/16"),
                 _N("100.64.0.0/10"),  # RFC 6598 carrier-grade NAT
                 _N("fc00::/7"), _N("fec0::/10"),  # unique-local, old site-local
                 _N("64:ff9b:1::/48"))),  # RFC 8215 local-use NAT64
    ("multicast", (_N("224.0.0.0/4"), _N("ff00::/8"))),
    ("reserved", (_N("240.0.0.0/4"),  # includes 255.255.255.255 broadcast
                  _N("192.0.0.0/24"), _N("192.0.2.0/24"), _N("198.51.100.0/24"),
                  _N("203.0.113.0/24"), _N("198.18.0.0/15"),
                  _N("::/8"),  # IPv4-compatible and other legacy forms
                  _N("100::/64"), _N("2001:db8::/32"), _N("2001:10::/28"), _N("2001:20::/28"))),
)

_NAT64 = _N("64:ff9b::/96")
_IPV4_TRANSLATED = _N("::ffff:0:0:0/96")  # RFC 2765 SIIT form


def _embedded_ipv4(addr: IPAddress) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address carries (and how), for forms that reach it."""
    if not isinstance(addr, ipaddress.IPv6Address):
        return None
    if addr.ipv4_mapped is not None:
        return "IPv4-mapped", addr.ipv4_mapped
    if addr in _NAT64 or addr in _IPV4_TRANSLATED:
        return "NAT64", ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr.sixtofour is not None:
        return "6to4", addr.sixtofour
    if addr.teredo is not None:
        return "Teredo", addr.teredo[1]
    return None


def parse_ip(text: str) -> IPAddress | None:
    """An IP address from a literal (brackets and zone ids allowed), else None."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class AddressPolicy:
    """Which addresses untrusted links may reach.

    Refused by default: unspecified, loopback, private (RFC 1918, RFC 6598,
    fc00::/7), link-local, cloud metadata, multicast and reserved addresses,
    also when wrapped in IPv4-mapped, NAT64, 6to4 or Teredo IPv6 forms.
    `allow_networks` (CIDRs) override everything: an allowed range is allowed
    even if private, and so are IPv6 forms that embed an allowed IPv4 address.
    """

    def __init__(self, allow_networks: Iterable[str] = ()) -> None:
        self.allow_networks = tuple(ipaddress.ip_network(n, strict=False) for n in allow_networks)

    def _allowed(self, addr: IPAddress) -> bool:
        # `in` across IP versions is simply False, so one loop serves both.
        return any(addr in net for net in self.allow_networks)

    def refusal(self, ip: str) -> str | None:
        """None if `ip` may be requested, else a short reason such as "private address 10.1.2.3"."""
        if not isinstance(ip, str):
            return f"not an IP address: {ip!r}"
        addr = parse_ip(ip)
        if addr is None:
            return f"not an IP address: {ip[:80]!r}"
        return self.refusal_for(addr)

    def refusal_for(self, addr: IPAddress) -> str | None:
        if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id:
            addr = ipaddress.IPv6Address(str(addr).split("%", 1)[0])
        embedded = _embedded_ipv4(addr)
        if self._allowed(addr) or (embedded and self._allowed(embedded[1])):
            return None
        if embedded:
            # Judge the wrapper by what it carries: ::ffff:8.8.8.8 is fine,
            # ::ffff:127.0.0.1 is loopback whatever the outer range says.
            inner = classify(embedded[1])
            if inner is not None:
                return f"{inner} address {embedded[1]} ({embedded[0]} form {addr})"
            return None
        category = classify(addr)
        if category is not None:
            return f"{category} address {addr}"
        return None


def classify(addr: IPAddress) -> str | None:
    """The refused category of an address itself (not of what it embeds), or None if global."""
    if addr in _METADATA:
        return "metadata"
    for name, nets in _CATEGORIES:
        if any(addr in net for net in nets):
            return name
    return None


# --- URL hosts ---------------------------------------------------------------

_IDNA_DOTS = re.compile("[\u3002\uff0e\uff61]")  # the full stops IDNA treats as "."
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*"
                       r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
_NUMERIC_LABEL = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")


def parse_ipv4_number(host: str) -> ipaddress.IPv4Address | None | bool:
    """The WHATWG / inet_aton reading of numeric IPv4 hosts.

    Returns the address for ``2130706433``, ``0x7f.1``, ``0177.0.0.1`` ...;
    None when the host is not numeric (a domain name); False when it ends in a
    number but is no valid address (``1.2.3.4.5``, ``256.1.1.1``) - browsers
    reject those, and we refuse rather than guess what a resolver makes of it.
    """
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not parts or not _NUMERIC_LABEL.match(parts[-1]):
        return None
    if len(parts) > 4:
        return False
    values = []
    for part in parts:
        if len(part) > 40 or not _NUMERIC_LABEL.match(part):  # 40: int() refuses >4300 digits
            return False
        if part[:2].lower() == "0x":
            values.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            try:
                values.append(int(part[1:], 8))
            except ValueError:
                return False
        else:
            values.append(int(part))
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return False
    number = last
    for i, v in enumerate(head):
        number += v << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


def _normalise_host(host: str) -> str:
    """Percent-decode, NFKC-fold (full-width digits) and IDNA-dot a host as URL parsers do."""
    host = unquote(host)
    host = unicodedata.normalize("NFKC", host)
    host = _IDNA_DOTS.sub(".", host)
    return host.strip().lower()


_C0_AND_SPACE = "".join(map(chr, range(0x21)))


def _whatwg_netloc(url: str) -> str | None:
    """The authority a WHATWG parser sees: tabs/newlines removed, "\\" is "/" for http(s)."""
    url = re.sub(r"[\t\n\r]", "", url).strip(_C0_AND_SPACE)
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):[/\\]*", url)
    if not m or m.group(1).lower() not in ("http", "https"):
        return None
    rest = url[m.end():]
    authority = re.split(r"[/\\?#]", rest, maxsplit=1)[0]
    return authority.rsplit("@", 1)[-1]


def _host_of_authority(authority: str) -> str:
    if authority.startswith("["):
        return authority[1:authority.find("]")] if "]" in authority else authority[1:]
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def url_hosts(url: str) -> list[str]:
    """Every reading of the URL's host (normalised, de-duplicated, urllib's first)."""
    hosts: list[str] = []
    parts = urlsplit(url)
    if parts.hostname:
        hosts.append(parts.hostname)
    whatwg = _whatwg_netloc(url)
    if whatwg:
        hosts.append(_host_of_authority(whatwg))
    try:
        from w3lib.url import safe_url_string  # what Scrapy will actually request

        safe = urlsplit(safe_url_string(url)).hostname
        if safe:
            hosts.append(safe)
    except Exception:  # w3lib rejects some hostile URLs; the other readings remain
        pass
    out: list[str] = []
    for h in hosts:
        for variant in (h.lower(), _normalise_host(h)):
            if variant.endswith(".") and len(variant) > 1:
                variant = variant[:-1]  # "127.0.0.1." is 127.0.0.1
            if variant and variant not in out:
                out.append(variant)
    return out


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one URL: `refusal` is None when it may be fetched."""

    refusal: str | None
    addresses: tuple[str, ...] = ()  # every vetted address, of every reading of the host
    host: str = ""
    resolved: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, its vetted addresses) per name resolved


def default_resolve(host: str, port: int) -> list[str]:
    """All addresses of `host` via getaddrinfo, in resolver order; ResolutionError on failure."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:  # idna errors for over-long labels, NULs ...
        raise ResolutionError(f"cannot resolve {host[:100]!r}: {exc}") from exc
    seen: list[str] = []
    for *_, sockaddr in infos:
        if sockaddr[0] not in seen:
            seen.append(sockaddr[0])
    return seen


def inspect_url(url: str, policy: AddressPolicy, resolve: Resolver = default_resolve) -> Verdict:
    """Check every address `url` could reach; raises ResolutionError if the host does not resolve.

    Malformed URLs (no host, bad IPv6 brackets) are refused, not raised: a link
    we cannot place is a link we do not fetch.
    """
    if not isinstance(url, str):
        return Verdict(f"invalid URL: {type(url).__name__}, not str")
    try:
        parts = urlsplit(url)
        hosts = url_hosts(url)
    except (ValueError, TypeError, AttributeError) as exc:
        return Verdict(f"invalid URL: {exc}")
    if not hosts:
        return Verdict("URL has no host")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        port = 443 if parts.scheme.lower() == "https" else 80

    addresses: list[str] = []
    to_resolve: list[str] = []
    by_name: list[tuple[str, tuple[str, ...]]] = []
    for i, host in enumerate(hosts):
        addr = parse_ip(host)
        if addr is None:
            number = parse_ipv4_number(host)
            if number is False:
                return Verdict(f"invalid numeric host {host[:80]!r}", host=host)
            addr = number
        if addr is not None:
            reason = policy.refusal_for(addr)
            if reason:
                return Verdict(reason, host=host)
            addresses.append(str(addr))
        # The first (urllib) reading is what gets resolved; other readings are
        # resolved only if they are plausible names (a "user@host" reading is not).
        elif i == 0 or _HOSTNAME.match(host):
            to_resolve.append(host)

    for host in to_resolve:
        try:
            resolved = resolve(host, port)
        except ResolutionError:
            raise
        except (OSError, UnicodeError, ValueError) as exc:
            raise ResolutionError(f"cannot resolve {host[:100]!r}: {exc}") from exc
        if not resolved:
            raise ResolutionError(f"no addresses for {host[:100]!r}")
        for ip in resolved:
            reason = policy.refusal(ip)
            if reason:
                return Verdict(f"{host[:100]} resolves to {reason}", host=host)
            addresses.append(ip)
        by_name.append((host, tuple(dict.fromkeys(resolved))))
    return Verdict(None, tuple(dict.fromkeys(addresses)), hosts[0], tuple(by_name))


def check_url(url: str, policy: AddressPolicy, resolve: Resolver = default_resolve) -> str | None:
    """None if `url` may be fetched, else why not; ResolutionError if its host does not resolve."""
    return inspect_url(url, policy, resolve).refusal


class AddressPins:
    """Where connections to a host go: the addresses its latest check allowed.

    The check resolves a name and vets every answer; the connection resolves it
    again. If the two answers differ (DNS rebinding: a short-lived public answer,
    then a private one; or a cache entry expiring in between), the connection
    would go somewhere nobody checked. So `vet_and_pin` records what it vetted, and
    connections go where the pins say: libcurl is handed them with each request
    (crawler/curl.py, `AddressBook`; the probes likewise), and refuses a socket to any
    other address. Process-wide, so every request of a process shares them; bounded
    (oldest pins dropped first).
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._pins: dict[str, tuple[str, ...]] = {}

    def pin(self, host: str, addresses: tuple[str, ...]) -> None:
        key = pin_key(host)
        with self._lock:
            self._pins.pop(key, None)  # re-inserted last: dicts keep insertion order
            if len(self._pins) >= self.max_entries:
                for old in list(self._pins)[: max(1, self.max_entries // 10)]:
                    del self._pins[old]
            self._pins[key] = tuple(addresses)

    def get(self, host: str) -> list[str] | None:
        with self._lock:
            found = self._pins.get(pin_key(host))
        return list(found) if found else None


def pin_key(host: str) -> str:
    """One spelling per host: the check sees a page's link, the connection the encoded URL."""
    host = host.strip("[]").rstrip(".").lower()
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


PINS = AddressPins()


def connect_addresses(host: str, port: int, cache: "CachingResolver", pins: AddressPins = PINS) -> list[str]:
    """Where a connection to `host` goes: the addresses pinned by its check, else (configured
    hosts, which are not checked) the cached answer. For the connections' resolvers."""
    return pins.get(host) or cache(host, port)


def vet_and_pin(url: str, policy: AddressPolicy, resolve: Resolver = default_resolve,
                pins: AddressPins = PINS) -> str | None:
    """`check_url`, and when the URL is allowed, pin the addresses it was allowed for."""
    verdict = inspect_url(url, policy, resolve)
    if verdict.refusal is None:
        for name, addresses in verdict.resolved:
            pins.pin(name, addresses)
    return verdict.refusal


class CachingResolver:
    """A thread-safe TTL cache in front of a resolver function.

    Failures are cached too (for `negative_ttl`), so a page with 300 links to a
    dead host costs one lookup.  Concurrent lookups of one host share a single
    call.  Using the same instance for the check and for the downloader's
    resolver pins one DNS answer per TTL, which narrows DNS rebinding.
    """

    def __init__(self, resolve: Resolver = default_resolve, ttl: float = 300.0,
                 negative_ttl: float = 30.0, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._resolve = resolve
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, list[str] | ResolutionError]] = {}
        self._inflight: dict[str, threading.Lock] = {}

    def __call__(self, host: str, port: int) -> list[str]:
        key = host.lower()
        hit = self._lookup(key)
        if hit is not None:
            return self._answer(hit)
        with self._lock:
            gate = self._inflight.setdefault(key, threading.Lock())
        with gate:  # one resolution per host at a time; the rest wait and reuse it
            hit = self._lookup(key)
            if hit is not None:
                return self._answer(hit)
            try:
                value: list[str] | ResolutionError = list(self._resolve(host, port))
                if not value:
                    value = ResolutionError(f"no addresses for {host[:100]!r}")
                ttl = self.ttl if isinstance(value, list) else self.negative_ttl
            except ResolutionError as exc:
                value, ttl = exc, self.negative_ttl
            except (OSError, UnicodeError, ValueError) as exc:
                value = ResolutionError(f"cannot resolve {host[:100]!r}: {exc}")
                ttl = self.negative_ttl
            with self._lock:
                if len(self._cache) >= self.max_entries:
                    self._evict()
                self._cache[key] = (self._clock() + ttl, value)
                self._inflight.pop(key, None)
            return self._answer(value)

    def _lookup(self, key: str):
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._cache[key]
                return None
            return entry[1]

    @staticmethod
    def _answer(value):
        if isinstance(value, ResolutionError):
            raise ResolutionError(*value.args)
        return list(value)

    def _evict(self) -> None:
        """Drop expired entries, then the oldest half if still full (called under the lock)."""
        now = self._clock()
        for k in [k for k, (exp, _) in self._cache.items() if exp <= now]:
            del self._cache[k]
        if len(self._cache) >= self.max_entries:
            for k in list(self._cache)[: max(1, len(self._cache) // 2)]:
                del self._cache[k]

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
