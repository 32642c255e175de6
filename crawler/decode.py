"""Decoding pages whatever the server says.

Scrapy (w3lib) prefers the HTTP header, then a BOM, then the <meta> charset.
What it hides is a lie: a header that says UTF-8 over a GBK body decodes
"successfully" into replacement characters.  So we re-check strictly, fall back
to the <meta> charset when the header is wrong, and report what we found.  When
nothing declares another charset (or the <meta> repeats the header's UTF-8) and
the bytes are not UTF-8, they are tried as GB18030, the superset of the GBK and
GB2312 that Chinese sites' older templates write: accepted when they decode
strictly into mostly Chinese text.  A GBK or GB2312 label is read as GB18030 too.
"""

from __future__ import annotations

import codecs
import re

from w3lib.encoding import (html_body_declared_encoding, html_to_unicode, http_content_type_encoding, read_bom,
                            resolve_encoding)

_UTF8 = frozenset({"utf-8", "utf8"})
# Labels whose pages are decoded as GB18030, their superset: editors write rare characters (人名用字 such as
# 䶮) that Python's narrower gbk table rejects, and w3lib 2.6 resolves gb2312 to gbk, not gb18030.
_GB_FAMILY = frozenset({"gb2312", "gbk", "cp936", "ms936", "gb_2312-80", "x-gbk", "euc-cn"})
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def strict_decode(body: bytes, encoding: str) -> str:
    """The body as text, or UnicodeDecodeError/LookupError; a BOM is dropped, as w3lib does."""
    text = codecs.decode(body, encoding, "strict")
    return text[1:] if text.startswith("\ufeff") else text


def decode_page(body: bytes, scrapy_encoding: str, scrapy_text) -> tuple[str, str, str]:
    """(text, encoding, problem) where problem is "" or "mismatch: ..." or "invalid: ...".

    `scrapy_text` is called only when the strict decode fails: on clean pages the
    body is decoded once, not twice.
    """
    encoding = _superset(scrapy_encoding)
    try:
        return strict_decode(body, encoding), encoding, ""
    except (UnicodeDecodeError, LookupError):
        pass
    declared = html_body_declared_encoding(body[:4096])
    declared = resolve_encoding(declared) if declared else None
    declared = _superset(declared) if declared else None
    if declared and declared != encoding:
        try:
            text = codecs.decode(body, declared, "strict")
            return text, declared, f"mismatch: served as {scrapy_encoding}, the page is {declared}"
        except (UnicodeDecodeError, LookupError):
            pass
    if scrapy_encoding.lower() in _UTF8 and declared != "gb18030":
        text = _as_gb18030(body)
        if text is not None:
            return text, "gb18030", f"mismatch: served as {scrapy_encoding}, the page is gb18030"
    return scrapy_text(), scrapy_encoding, f"invalid: bytes that are not valid {scrapy_encoding}"


def decode_body(body: bytes, url: str, content_type: bytes | None) -> tuple[str, str, str]:
    """A fetched page's text: `decode_page` with the encoding Scrapy's TextResponse would give the
    body (a BOM, else the Content-Type header's charset, else the <meta> charset, else Scrapy's own
    guess).  Never raises: undecodable bytes give an empty page, said so in the problem.

    Both crawl processes decode with it: the main process the pages it reads, the record process
    the pages lent to it undecoded (crawler/targets.py).  The declared cases are read with the same
    w3lib functions TextResponse uses, without building a response (its headers cost more than the
    reading); only a page that declares nothing is handed to TextResponse for its guess.
    tests/test_record_messages.py compares the two on every case, so a Scrapy release that reads
    encodings otherwise fails it."""
    try:
        declared = (read_bom(body)[0] or http_content_type_encoding((content_type or b"").decode("latin-1"))
                    or html_body_declared_encoding(body))
        if declared:
            return decode_page(body, declared, lambda: html_to_unicode(f"charset={declared}", body)[1])
        from scrapy.http import TextResponse

        response = TextResponse(url, body=body, headers={b"Content-Type": content_type} if content_type else None)
        return decode_page(body, response.encoding, lambda: response.text)
    except Exception:  # noqa: BLE001 - hostile bytes must not stop the crawl
        return "", "utf-8", "invalid: the body could not be decoded"


def _superset(encoding: str) -> str:
    return "gb18030" if encoding.lower() in _GB_FAMILY else encoding


def _as_gb18030(body: bytes) -> str | None:
    """The body as GB18030 when it decodes strictly and most of its non-ASCII characters are Chinese."""
    try:
        text = strict_decode(body, "gb18030")
    except UnicodeDecodeError:
        return None
    sample = text[:200_000]
    non_ascii = len(_NON_ASCII.findall(sample))
    return text if non_ascii and len(_CHINESE.findall(sample)) >= 0.8 * non_ascii else None
