"""Identity marks in a page's raw HTML (政府网站发展指引 §3 of indicators.md).

Footers are often written by `document.write(unescape(...))`, so the marks are
read from the raw markup with tags removed plus the decoded script strings,
never only from the DOM.  Each reader returns None (or an empty list) when the
mark is absent or unreadable.
"""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

_MAX_SCAN = 2_000_000  # characters of markup read; footers of larger pages are lost, not hung on

_TAG = re.compile(r"<[^>]{0,2000}>")
_UNESCAPE_CALL = re.compile(r"unescape\(\s*([\"'])(.{0,20000}?)\1\s*\)", re.S)
_DOC_WRITE = re.compile(r"document\.write(?:ln)?\(\s*([\"'])(.{0,20000}?)(?<!\\)\1\s*[)+]", re.S)
_PCT_U = re.compile(r"%u([0-9a-fA-F]{4})|%([0-9a-fA-F]{2})")
_BACKSLASH_U = re.compile(r"\\u([0-9a-fA-F]{4})|\\(['\"/\\])")

SITE_CODE_FORM = re.compile(r"bm\d{8}|\d{10}")
_SITE_CODE = re.compile(r"标识码\s*[:：]?\s*([A-Za-z]{0,2}\d{4,12})(?![\dA-Za-z])")
_ICP = re.compile(r"([\u4e00-\u9fff])\s*ICP\s*备\s*(\d{6,12})\s*号(?:\s*-\s*(\d{1,3}))?")
_BEIAN = re.compile(r"([\u4e00-\u9fff])\s*公网安备\s*(\d{6,20})\s*号?")
_BEIAN_LINK = re.compile(r"beian\.gov\.cn/portal/registerSystemInfo\?(?:[^\"'<>\s]*?&(?:amp;)?)?recordcode=(\d+)", re.I)
_CONAC_ID = re.compile(r"bszs\.conac\.cn/sitename\?method=show&(?:amp;)?id=([0-9A-Za-z]{8,64})", re.I)
_CONAC_SCRIPT = re.compile(r"dcs\.conac\.cn|_ideConac", re.I)
_JIUCUO_URL = re.compile(r"(?:https?:)?//([A-Za-z0-9.\-:]{1,100})/exposure/jiucuo\.(?:html|js)[^\"'<>\s]{0,500}", re.I)
_JIUCUO_ANY = re.compile(r"jiucuo", re.I)
_SCRIPT_TAG = re.compile(r"<script\b[^>]{0,2000}>", re.I)
_JIUCUO_ID = re.compile(r"\bid\s*=\s*[\"']?_jiucuo_", re.I)
_SITECODE_ATTR = re.compile(r"\bsitecode\s*=\s*[\"']?([A-Za-z0-9]+)", re.I)
_SRC_ATTR = re.compile(r"\bsrc\s*=\s*[\"']?([^\"'\s>]+)", re.I)
# Markup commented out is not on the page (a template's stale copy of another site's 找错 link); a
# comment inside a <script> is old-style script hiding, and its code still runs.
_COMMENT_OR_SCRIPT = re.compile(r"<script\b.*?</script\s*>|<!--.*?-->", re.I | re.S)


@dataclass(frozen=True, slots=True)
class Jiucuo:
    """One 找错 entry: where it points and the site code it passes."""

    host: str
    site_code: str | None
    via: str  # "link" (an exposure/jiucuo.html URL) or "script" (<script id="_jiucuo_">)


@dataclass(frozen=True, slots=True)
class Conac:
    """The 党政机关 badge: its script and/or its link id."""

    script: bool
    id: str | None


def _decode_js(s: str) -> str:
    def pct(m: re.Match) -> str:
        return chr(int(m.group(1) or m.group(2), 16))

    def bslash(m: re.Match) -> str:
        return chr(int(m.group(1), 16)) if m.group(1) else m.group(2)

    return _BACKSLASH_U.sub(bslash, _PCT_U.sub(pct, s))


def footer_text(html: str) -> str:
    """The markup as text: tags dropped, entities decoded, script-written strings appended."""
    try:
        if not isinstance(html, str):
            return ""
        html = html[:_MAX_SCAN]
        written = [_decode_js(m.group(2)) for m in _UNESCAPE_CALL.finditer(html)]
        written += [_decode_js(m.group(2)) for m in _DOC_WRITE.finditer(html)]
        text = _TAG.sub(" ", "\n".join([html, *written]))
        return htmllib.unescape(text)
    except Exception:
        return ""


def site_code(text: str) -> str | None:
    """The value written after 网站标识码 (format not checked: see `site_code_valid`)."""
    try:
        m = _SITE_CODE.search(text)
        return m.group(1) if m else None
    except Exception:
        return None


def site_code_valid(code: str, prefix: str = "") -> bool:
    """10 digits (local) or bm + 8 digits (State Council departments); local codes start with `prefix`."""
    try:
        if not SITE_CODE_FORM.fullmatch(code or ""):
            return False
        return code.startswith("bm") or code.startswith(prefix or "")
    except Exception:
        return False


def icp(text: str) -> str | None:
    """The ICP filing number as written, e.g. 京ICP备05070218号 (spaces removed)."""
    try:
        m = _ICP.search(text)
        if not m:
            return None
        suffix = f"-{m.group(3)}" if m.group(3) else ""
        return f"{m.group(1)}ICP备{m.group(2)}号{suffix}"
    except Exception:
        return None


def beian(text: str) -> str | None:
    """The 公安备案 number's digits (e.g. 11010202000001), even across a line break."""
    try:
        m = _BEIAN.search(text)
        return m.group(2) if m else None
    except Exception:
        return None


def beian_label(text: str) -> str | None:
    """The 公安备案 mark as written without spaces, e.g. 京公网安备11010202000001号."""
    try:
        m = _BEIAN.search(text)
        return f"{m.group(1)}公网安备{m.group(2)}号" if m else None
    except Exception:
        return None


def beian_link_codes(html: str) -> list[str]:
    """recordcode values of links to the beian.gov.cn filing system."""
    try:
        return list(dict.fromkeys(_BEIAN_LINK.findall(html[:_MAX_SCAN])))
    except Exception:
        return []


def conac(html: str) -> Conac | None:
    """The 党政机关 badge from raw markup (the dcs.conac.cn script, _ideConac, or a bszs link)."""
    try:
        html = html[:_MAX_SCAN]
        ids = _CONAC_ID.findall(html)
        script = bool(_CONAC_SCRIPT.search(html))
        if not ids and not script:
            return None
        return Conac(script=script, id=ids[0] if ids else None)
    except Exception:
        return None


def _uncommented(html: str) -> str:
    return _COMMENT_OR_SCRIPT.sub(lambda m: m.group(0) if m.group(0)[1] != "!" else " ", html)


def jiucuo(html: str) -> list[Jiucuo]:
    """Every 找错 entry in raw markup: exposure/jiucuo links and _jiucuo_ scripts, not commented out."""
    found: list[Jiucuo] = []
    try:
        html = html[:_MAX_SCAN]
        if not _JIUCUO_ANY.search(html):
            return []  # most pages of most sites: skip the slower scans
        html = _uncommented(html)
        for tag in _SCRIPT_TAG.finditer(html):
            if not _JIUCUO_ID.search(tag.group(0)):
                continue
            code = _SITECODE_ATTR.search(tag.group(0))
            src = _SRC_ATTR.search(tag.group(0))
            found.append(Jiucuo(_host(src.group(1)) if src else "", code.group(1) if code else None, "script"))
        scripted = {j.host for j in found}
        for m in _JIUCUO_URL.finditer(html):
            url = htmllib.unescape(m.group(0))
            host = m.group(1).lower()
            if url.lower().split("?")[0].endswith(".js") and host in scripted:
                continue  # the src of a script already counted
            query = parse_qs(urlsplit(url if not url.startswith("//") else "http:" + url).query)
            code = (query.get("site_code") or query.get("sitecode") or [None])[0]
            found.append(Jiucuo(host, code, "link"))
    except Exception:
        pass
    return list(dict.fromkeys(found))


def _host(url: str) -> str:
    try:
        return (urlsplit(url if not url.startswith("//") else "http:" + url).hostname or "").lower()
    except Exception:
        return ""
