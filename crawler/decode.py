"""Decoding pages whatever the server says.

Scrapy (w3lib) already decodes GBK/GB2312 as GB18030 and prefers the HTTP
header, then a BOM, then the <meta> charset.  What it hides is a lie: a header
that says UTF-8 over a GBK body decodes "successfully" into replacement
characters.  So we re-check strictly, fall back to the <meta> charset when the
header is wrong, and report what we found.
"""

from __future__ import annotations

import codecs

from w3lib.encoding import html_body_declared_encoding, resolve_encoding


def strict_decode(body: bytes, encoding: str) -> str:
    """The body as text, or UnicodeDecodeError/LookupError; a BOM is dropped, as w3lib does."""
    text = codecs.decode(body, encoding, "strict")
    return text[1:] if text.startswith("\ufeff") else text


def decode_page(body: bytes, scrapy_encoding: str, scrapy_text) -> tuple[str, str, str]:
    """(text, encoding, problem) where problem is "" or "mismatch: ..." or "invalid: ...".

    `scrapy_text` is called only when the strict decode fails: on clean pages the
    body is decoded once, not twice.
    """
    try:
        return strict_decode(body, scrapy_encoding), scrapy_encoding, ""
    except (UnicodeDecodeError, LookupError):
        pass
    declared = html_body_declared_encoding(body[:4096])
    declared = resolve_encoding(declared) if declared else None
    if declared and declared != scrapy_encoding:
        try:
            text = codecs.decode(body, declared, "strict")
            return text, declared, f"mismatch: served as {scrapy_encoding}, the page is {declared}"
        except (UnicodeDecodeError, LookupError):
            pass
    return scrapy_text(), scrapy_encoding, f"invalid: bytes that are not valid {scrapy_encoding}"
