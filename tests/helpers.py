"""Small helpers several test files share."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import time
from pathlib import Path


def wait_until(condition, timeout: float = 30, what: str = "condition", interval: float = 0.05):
    """Poll `condition` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def self_signed_cert(folder: Path, not_after: dt.datetime,
                     not_before: dt.datetime = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 valid until `not_after`: (cert.pem, key.pem) in `folder`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def add_link_occurrences(store, rows) -> None:
    """Store (to_url, from_url, text, element, on_homepage) rows the way a crawl does: one JSON row
    per referring page (crawler.pageparse.occurrences, Store.add_page_links)."""
    pages: dict[tuple[str, int], list[tuple[str, str, str]]] = {}
    for to_url, from_url, text, element, on_homepage in rows:
        pages.setdefault((from_url, int(on_homepage)), []).append((to_url, text, element))
    store.add_page_links([(from_url, home, json.dumps([u for u, _t, _e in links], ensure_ascii=False),
                           json.dumps([(t, e) for _u, t, e in links], ensure_ascii=False))
                          for (from_url, home), links in pages.items()])
