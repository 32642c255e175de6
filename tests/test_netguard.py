"""The address policy for untrusted links.

No test here sends a packet: IP literals are judged without resolving, and
host names go through resolver functions injected per test.  The one test of
`default_resolve` passes a numeric loopback literal, which getaddrinfo answers
locally.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitecheck.netguard import (AddressPins, AddressPolicy, CachingResolver, ResolutionError, check_url, classify,
                                default_resolve, inspect_url, parse_ipv4_number, vet_and_pin)

DEFAULT = AddressPolicy()

# (address, category named in the refusal, a CIDR that allows it)
REFUSED = [
    ("127.0.0.1", "loopback", "127.0.0.0/8"),
    ("127.0.0.9", "loopback", "127.0.0.9/32"),
    ("127.255.255.254", "loopback", "127.0.0.0/8"),
    ("::1", "loopback", "::1/128"),
    ("10.1.2.3", "private", "10.0.0.0/8"),
    ("172.16.0.1", "private", "172.16.0.0/12"),
    ("172.31.255.254", "private", "172.16.0.0/12"),
    ("192.168.1.1", "private", "192.168.0.0/16"),
    ("100.64.0.1", "private", "100.64.0.0/10"),  # RFC 6598
    ("100.127.255.254", "private", "100.64.0.0/10"),
    ("fc00::1", "private", "fc00::/7"),
    ("fd12:3456::1", "private", "fd00::/8"),
    ("169.254.1.1", "link-local", "169.254.0.0/16"),
    ("fe80::1", "link-local", "fe80::/10"),
    ("fe80::1%eth0", "link-local", "fe80::/10"),
    ("169.254.169.254", "metadata", "169.254.169.254/32"),
    ("100.100.100.200", "metadata", "100.100.100.200/32"),  # Alibaba Cloud
    ("fd00:ec2::254", "metadata", "fd00:ec2::254/128"),
    ("0.0.0.0", "unspecified", "0.0.0.0/32"),
    ("0.1.2.3", "unspecified", "0.0.0.0/8"),
    ("::", "unspecified", "::/128"),
    ("224.0.0.1", "multicast", "224.0.0.0/4"),
    ("239.255.255.250", "multicast", "239.0.0.0/8"),
    ("ff02::1", "multicast", "ff00::/8"),
    ("255.255.255.255", "reserved", "255.255.255.255/32"),
    ("240.0.0.1", "reserved", "240.0.0.0/4"),
    ("192.0.2.1", "reserved", "192.0.2.0/24"),
    ("2001:db8::1", "reserved", "2001:db8::/32"),
    # IPv6 forms that carry an IPv4 address are judged by what they carry.
    ("::ffff:127.0.0.1", "loopback", "127.0.0.0/8"),
    ("::ffff:7f00:1", "loopback", "127.0.0.1/32"),
    ("::ffff:10.0.0.1", "private", "10.0.0.0/8"),
    ("::ffff:169.254.169.254", "metadata", "169.254.169.254/32"),
    ("::ffff:100.100.100.200", "metadata", "100.100.100.200/32"),
    ("::ffff:0.0.0.0", "unspecified", "0.0.0.0/8"),
    ("64:ff9b::7f00:1", "loopback", "127.0.0.0/8"),  # NAT64
    ("64:ff9b::a9fe:a9fe", "metadata", "169.254.169.254/32"),
    ("64:ff9b::c0a8:101", "private", "192.168.0.0/16"),
    ("2002:7f00:1::1", "loopback", "127.0.0.0/8"),  # 6to4
    ("2002:c0a8:101::", "private", "192.168.0.0/16"),
    ("2002:a9fe:a9fe::1", "metadata", "169.254.169.254/32"),
]

ALLOWED = ["8.8.8.8", "114.114.114.114", "223.5.5.5", "2400:3200::1", "172.32.0.1", "100.128.0.1",
           "169.255.0.1", "11.0.0.1", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]


@pytest.mark.parametrize("ip,category,cidr", REFUSED)
def test_refused_by_default_and_allowed_when_listed(ip, category, cidr):
    reason = DEFAULT.refusal(ip)
    assert reason is not None and reason.startswith(f"{category} address"), reason
    assert AddressPolicy([cidr]).refusal(ip) is None


@pytest.mark.parametrize("ip", ALLOWED)
def test_public_addresses_allowed(ip):
    assert DEFAULT.refusal(ip) is None


def test_refusal_names_the_address():
    assert DEFAULT.refusal("127.0.0.9") == "loopback address 127.0.0.9"
    assert DEFAULT.refusal("10.1.2.3") == "private address 10.1.2.3"
    assert DEFAULT.refusal("169.254.169.254") == "metadata address 169.254.169.254"
    assert "::ffff:7f00:1" in DEFAULT.refusal("::ffff:127.0.0.1")


def test_allow_networks_is_narrow():
    policy = AddressPolicy(["127.0.0.6/32", "10.20.0.0/16"])
    assert policy.refusal("127.0.0.6") is None
    assert policy.refusal("127.0.0.9") == "loopback address 127.0.0.9"
    assert policy.refusal("10.20.3.4") is None
    assert policy.refusal("10.21.0.1").startswith("private")
    assert policy.refusal("169.254.169.254").startswith("metadata")


def test_allow_by_outer_ipv6_range_too():
    assert AddressPolicy(["::ffff:0:0/96"]).refusal("::ffff:127.0.0.1") is None


@pytest.mark.parametrize("junk", ["", "garbage", "1.2.3", "::g", "[::1", None, 12])
def test_refusal_of_non_addresses(junk):
    assert DEFAULT.refusal(junk).startswith("not an IP address")


def test_classify_global_is_none():
    assert classify(ipaddress.ip_address("8.8.8.8")) is None


# --- URLs ------------------------------------------------------------------------

def no_dns(host, port):
    raise AssertionError(f"resolver called for {host!r}: IP literals must not be resolved")


@pytest.mark.parametrize("url,ip", [
    ("http://2130706433/", "127.0.0.1"),
    ("http://0x7f000001/", "127.0.0.1"),
    ("http://0x7f.1/", "127.0.0.1"),
    ("http://0177.0.0.1/", "127.0.0.1"),
    ("http://0177.1/", "127.0.0.1"),
    ("http://017700000001/", "127.0.0.1"),
    ("http://127.1/", "127.0.0.1"),
    ("http://127.0.1/", "127.0.0.1"),
    ("http://0x7F.0x00.0x00.0x01/", "127.0.0.1"),
    ("http://127.0.0.1./", "127.0.0.1"),
    ("http://167772165/", "10.0.0.5"),
    ("http://0xA9FEA9FE/latest/meta-data/", "169.254.169.254"),
    ("http://0x646464c8/", "100.100.100.200"),
    ("http://0/", "0.0.0.0"),
    ("http://[::1]/", "::1"),
    ("http://[::1]:8080/x", "::1"),
    ("http://[0:0:0:0:0:0:0:1]/", "::1"),
    ("http://[::ffff:127.0.0.1]/", "127.0.0.1"),
    ("http://[::ffff:7f00:1]:80/", "127.0.0.1"),
    ("http://[fe80::1%25eth0]/", "fe80::1"),
    ("http://[fd00:ec2::254]/", "fd00:ec2::254"),
    ("http://[64:ff9b::a9fe:a9fe]/", "169.254.169.254"),
    ("HTTP://127.0.0.1:8080/", "127.0.0.1"),
    ("http://user:pw@127.0.0.1/", "127.0.0.1"),
])
def test_ip_literal_urls_refused(url, ip):
    reason = check_url(url, DEFAULT, resolve=no_dns)
    assert reason is not None and ip in reason, reason


@pytest.mark.parametrize("url", [
    "http://good.example\\@127.0.0.1/",  # urllib reads 127.0.0.1
    "http://127.0.0.1\\@good.example/",  # browsers and w3lib (Scrapy) read 127.0.0.1
    "http://１２７.０.０.１/",  # full-width digits fold to ASCII (NFKC, as IDNA does)
    "http://127。0。0。1/",  # ideographic full stops are label separators
    "http://127.0.0.%31/",  # percent-encoded host
    "http://127.0.\t0.1/",  # URL parsers drop tabs
    "  http://127.0.0.1/",
])
def test_parser_differentials_refused(url):
    def resolve(host, port):
        assert host == "good.example", host
        return ["1.1.1.1"]

    reason = check_url(url, DEFAULT, resolve=resolve)
    assert reason is not None and "127.0.0.1" in reason, reason


@pytest.mark.parametrize("url", ["http://1.2.3.4.5/", "http://256.0.0.1/", "http://0x100000000/",
                                 "http://09.0.0.1/", "http://1..2/", "http://a.0x7f/"])
def test_invalid_numeric_hosts_refused(url):
    assert check_url(url, DEFAULT, resolve=no_dns).startswith("invalid numeric host")


def test_allowed_loopback_server():
    policy = AddressPolicy(["127.0.0.6/32"])
    assert check_url("http://127.0.0.6:8080/ok", policy, resolve=no_dns) is None
    assert check_url("http://2130706438/", policy, resolve=no_dns) is None  # 127.0.0.6
    assert check_url("http://127.0.0.9:8080/ok", policy, resolve=no_dns) == "loopback address 127.0.0.9"


@pytest.mark.parametrize("url", ["http://[::1/", "mailto:someone@example.gov.cn", "", "http://",
                                 "javascript:alert(1)"])
def test_malformed_urls_refused_not_raised(url):
    assert check_url(url, DEFAULT, resolve=no_dns)


def test_extra_slashes_read_as_browsers_do():
    # http:///intranet.example/ is http://intranet.example/ to browsers and w3lib
    assert "10.0.0.5" in check_url("http:///intranet.example/x", DEFAULT, resolve=FakeResolver())


@pytest.mark.parametrize("n", [0x7F000001, 0x0A000005, 0xA9FEA9FE, 0x08080808])
def test_parse_ipv4_number(n):
    ip = ipaddress.IPv4Address(n)
    assert parse_ipv4_number(str(n)) == ip
    assert parse_ipv4_number(hex(n)) == ip
    assert parse_ipv4_number(".".join("0%o" % b for b in ip.packed)) == ip
    assert parse_ipv4_number("example.gov.cn") is None


# --- host names through an injected resolver --------------------------------------

ZONE = {
    "www.gov.example": ["1.1.1.1", "2400:3200::1"],
    "intranet.example": ["10.0.0.5"],
    "meta.example": ["100.100.100.200"],
    "rebind.example": ["1.1.1.1", "8.8.8.8", "192.168.1.10"],  # one bad answer among good ones
    "mapped.example": ["1.1.1.1", "::ffff:10.0.0.1"],
    "localhost": ["127.0.0.1", "::1"],
    "demo.example": ["127.0.0.6"],
    "weird.example": ["not-an-address"],
    "empty.example": [],
}


class FakeResolver:
    def __init__(self, zone=ZONE):
        self.zone = zone
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host, port):
        self.calls.append((host, port))
        if host not in self.zone:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.zone[host])


@pytest.mark.parametrize("url,needle", [
    ("http://intranet.example/", "private address 10.0.0.5"),
    ("http://meta.example/", "metadata address 100.100.100.200"),
    ("http://rebind.example/", "private address 192.168.1.10"),
    ("http://mapped.example/", "private address 10.0.0.1"),
    ("http://localhost:8080/", "loopback address 127.0.0.1"),
    ("http://INTRANET.example/", "10.0.0.5"),
    ("http://weird.example/", "not an IP address"),
])
def test_hostnames_refused_if_any_address_is(url, needle):
    reason = check_url(url, DEFAULT, resolve=FakeResolver())
    assert reason is not None and needle in reason, reason


def test_public_hostname_allowed_with_vetted_addresses():
    resolver = FakeResolver()
    verdict = inspect_url("https://www.gov.example/a?b=1", DEFAULT, resolve=resolver)
    assert verdict.refusal is None
    assert verdict.addresses == ("1.1.1.1", "2400:3200::1")
    assert verdict.host == "www.gov.example"
    assert resolver.calls == [("www.gov.example", 443)]


def test_resolver_gets_explicit_port():
    resolver = FakeResolver()
    check_url("http://www.gov.example:8081/", DEFAULT, resolve=resolver)
    assert resolver.calls == [("www.gov.example", 8081)]


def test_allow_networks_applies_to_resolved_names():
    assert check_url("http://demo.example/", AddressPolicy(["127.0.0.6/32"]), resolve=FakeResolver()) is None
    assert check_url("http://demo.example/", DEFAULT, resolve=FakeResolver()).startswith("demo.example")


@pytest.mark.parametrize("url", ["http://nx.example/", "http://empty.example/"])
def test_resolution_failure_is_resolution_error(url):
    with pytest.raises(ResolutionError) as info:
        check_url(url, DEFAULT, resolve=FakeResolver())
    assert isinstance(info.value, OSError)


def test_default_resolve_on_a_literal_sends_nothing():
    assert default_resolve("127.0.0.1", 80) == ["127.0.0.1"]


@pytest.mark.parametrize("error", [socket.gaierror(socket.EAI_NONAME, "unknown"),
                                   UnicodeError("label too long"), ValueError("embedded null")])
def test_default_resolve_wraps_errors(monkeypatch, error):
    def fake_getaddrinfo(*args, **kwargs):
        raise error

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)  # nothing leaves the process
    with pytest.raises(ResolutionError) as info:
        default_resolve("intranet.example", 80)
    assert "intranet.example" in str(info.value)


def test_default_resolve_dedupes(monkeypatch):
    infos = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("1.1.1.1", 80)),
             (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("1.1.1.1", 80)),
             (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2400:3200::1", 80, 0, 0))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: infos)
    assert default_resolve("www.gov.example", 80) == ["1.1.1.1", "2400:3200::1"]


# --- CachingResolver ---------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_caching_resolver_caches_until_ttl():
    inner, clock = FakeResolver(), Clock()
    cached = CachingResolver(inner, ttl=60, negative_ttl=5, clock=clock)
    assert cached("www.gov.example", 80) == ["1.1.1.1", "2400:3200::1"]
    cached("WWW.gov.example", 443)[0] = "poison"  # answers are copies
    assert cached("www.gov.example", 80) == ["1.1.1.1", "2400:3200::1"]
    assert len(inner.calls) == 1
    clock.now += 61
    cached("www.gov.example", 80)
    assert len(inner.calls) == 2


def test_caching_resolver_caches_failures_briefly():
    inner, clock = FakeResolver(), Clock()
    cached = CachingResolver(inner, ttl=60, negative_ttl=5, clock=clock)
    for _ in range(3):
        with pytest.raises(ResolutionError):
            cached("nx.example", 80)
    assert len(inner.calls) == 1
    clock.now += 6
    with pytest.raises(ResolutionError):
        cached("nx.example", 80)
    assert len(inner.calls) == 2


def test_caching_resolver_one_lookup_for_concurrent_callers():
    release, calls = threading.Event(), []

    def slow(host, port):
        calls.append(host)
        release.wait(5)
        return ["1.1.1.1"]

    cached = CachingResolver(slow)
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(cached, "www.gov.example", 80) for _ in range(32)]
        threading.Timer(0.2, release.set).start()
        results = [f.result(timeout=10) for f in futures]
    assert results == [["1.1.1.1"]] * 32
    assert calls == ["www.gov.example"]


def test_caching_resolver_bounded():
    cached = CachingResolver(lambda h, p: ["1.1.1.1"], max_entries=10)
    for i in range(100):
        cached(f"h{i}.example", 80)
    assert len(cached._cache) <= 10


def test_caching_resolver_with_check_url():
    cached = CachingResolver(FakeResolver())
    assert check_url("http://rebind.example/", DEFAULT, resolve=cached)
    assert check_url("http://www.gov.example/", DEFAULT, resolve=cached) is None


# --- never crash on hostile input --------------------------------------------------

def quiet_resolver(host, port):
    """Answers *.example with a public address, everything else fails: no packets, ever."""
    if host.endswith(".example"):
        return ["1.1.1.1"]
    raise ResolutionError(host)


HOSTILE_ALPHABET = st.sampled_from(list("0123456789abcdefxX.:[]%@\\/?#-_ \t") +
                                   ["。", "１", "２", "７", "０", "．", "::ffff:", "0x", "%25",
                                    "example",
                                    "\x00", "\u200b", "ß", "xn--", "２５５", ".example"])
hostile_hosts = st.lists(HOSTILE_ALPHABET, max_size=30).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=200), hostile_hosts.map(lambda h: f"http://{h}/"),
                 hostile_hosts.map(lambda h: f"https://[{h}]:443/x")))
def test_check_url_never_raises_except_resolution_error(url):
    try:
        result = check_url(url, DEFAULT, resolve=quiet_resolver)
    except ResolutionError:
        return
    assert result is None or isinstance(result, str)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=100), hostile_hosts))
def test_refusal_never_raises(text):
    result = DEFAULT.refusal(text)
    assert result is None or isinstance(result, str)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_integer_forms_mean_the_address_they_denote(n):
    ip = ipaddress.IPv4Address(n)
    expected = DEFAULT.refusal(str(ip))
    for host in (str(n), hex(n), ".".join("0%o" % b for b in ip.packed)):
        assert check_url(f"http://{host}/", DEFAULT, resolve=no_dns) == expected
    mapped = check_url(f"http://[::ffff:{ip}]/", DEFAULT, resolve=no_dns)
    assert (mapped is None) == (expected is None)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_wrapped_forms_judged_like_the_ipv4(n):
    ip = ipaddress.IPv4Address(n)
    refused = DEFAULT.refusal(str(ip)) is not None
    for wrapped in (f"::ffff:{ip}", str(ipaddress.IPv6Address((0x64FF9B << 96) | n)),
                    str(ipaddress.IPv6Address((0x2002 << 112) | (n << 80)))):
        assert (DEFAULT.refusal(wrapped) is not None) == refused, wrapped


# --- AddressPins / vet_and_pin ---------------------------------------------------------


def test_vet_and_pin_pins_what_it_allowed_per_name():
    pins = AddressPins()
    assert vet_and_pin("http://www.gov.example/a.html", DEFAULT, FakeResolver(), pins) is None
    assert pins.get("www.gov.example") == ["1.1.1.1", "2400:3200::1"]
    # One spelling per host: the check may see a page's link, the connection the encoded URL.
    assert pins.get("WWW.gov.example.") == ["1.1.1.1", "2400:3200::1"]
    assert pins.get("other.example") is None  # never checked: the connection resolves as usual


def test_vet_and_pin_pins_nothing_it_refused():
    pins = AddressPins()
    refusal = vet_and_pin("http://rebind.example/", DEFAULT, FakeResolver(), pins)
    assert refusal and "192.168.1.10" in refusal
    assert pins.get("rebind.example") is None


def test_a_later_check_replaces_the_pin():
    pins = AddressPins()
    zone = {"cdn.example": ["1.1.1.1"]}
    vet_and_pin("http://cdn.example/", DEFAULT, FakeResolver(zone), pins)
    zone["cdn.example"] = ["8.8.8.8"]
    vet_and_pin("http://cdn.example/", DEFAULT, FakeResolver(zone), pins)
    assert pins.get("cdn.example") == ["8.8.8.8"]
    zone["cdn.example"] = ["10.0.0.1"]  # rebound to a private address: refused, the old pin stays
    assert vet_and_pin("http://cdn.example/", DEFAULT, FakeResolver(zone), pins)
    assert pins.get("cdn.example") == ["8.8.8.8"]


def test_pins_of_unicode_and_encoded_names_are_one():
    pins = AddressPins()
    pins.pin("甘肃.example", ("1.1.1.1",))
    assert pins.get("xn--2myo7v.example") == ["1.1.1.1"]


def test_pins_are_bounded_oldest_first():
    pins = AddressPins(max_entries=10)
    for i in range(25):
        pins.pin(f"h{i}.example", ("1.1.1.1",))
    assert pins.get("h24.example") and pins.get("h0.example") is None
    assert sum(pins.get(f"h{i}.example") is not None for i in range(25)) <= 10
