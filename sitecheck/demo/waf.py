"""A simulated anti-bot wall in front of a demo site, shaped like Ruishu (瑞数) on the Gansu platform.

Every request without a pass gets HTTP 412 and the challenge page a plain client sees there: a seed
cookie whose name ends in S, `<meta … r='m'>`, the inline `$_ts` script and the external script
`r='m'` (domain note gansu-platform.md §2).  A browser would run the script and come back with the
token cookie (…T); a crawler cannot, so it stays walled.  The owner's way through is the allowlist:
a request carrying the configured secret header passes, as a WAF rule "header X equals secret" does.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from .content import Resource

SEED_COOKIE = "DemoRsSeed01S"
TOKEN_COOKIE = "DemoRsToken1T"
ALLOW_HEADER = "X-Sitecheck-Allow"
SCRIPT_PATH = "/tQrlMwxgEtCS/Jk6aVTYjhBeW.294cc83.js"


def _challenge(seed: str) -> bytes:
    return ("<!DOCTYPE html><html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">"
            f"<meta id=\"x9DemoMeta01\" content=\"{seed * 8}\" r='m'>"
            "<script type=\"text/javascript\" r='m'>$_ts=window['$_ts'];if(!$_ts)$_ts={};$_ts.nsd=24079;"
            f"$_ts.cd=\"{seed}qETErrAlE1WqckGEEaqtqGLkHO7trOgaqaLGxGGOqqLcc\";</script>"
            f"<script type=\"text/javascript\" charset=\"utf-8\" src=\"{SCRIPT_PATH}\" r='m'></script>"
            "</head><body></body></html><script>_$gW();</script>").encode()


class WafGate:
    """`gate(headers, host, path)`: the wall's answer, or None to let the request through to the site."""

    def __init__(self, allow_secret: str = "", key: bytes = b"sitecheck-demo-waf"):
        self.allow_secret = allow_secret
        self._key = key
        self.challenged = 0
        self.passed = 0

    def token_for(self, seed: str) -> str:
        """The token the challenge script would compute in a browser (tests use it to play the browser)."""
        return hmac.new(self._key, seed.encode(), hashlib.sha256).hexdigest()[:32]

    def __call__(self, headers: Mapping[str, str], host: str, path: str) -> Resource | None:
        if self.allow_secret and hmac.compare_digest(headers.get(ALLOW_HEADER, ""), self.allow_secret):
            self.passed += 1
            return None
        cookies = _cookies(headers.get("Cookie", ""))
        seed = cookies.get(SEED_COOKIE)
        if seed and hmac.compare_digest(cookies.get(TOKEN_COOKIE, ""), self.token_for(seed)):
            self.passed += 1
            return None
        self.challenged += 1
        seed = hashlib.sha256(f"{host}{path}{self.challenged}".encode()).hexdigest()[:24]
        return Resource(412, _challenge(seed), headers={
            "Set-Cookie": f"{SEED_COOKIE}={seed}; Path=/; HttpOnly",
            "Cache-Control": "no-store"})


def _cookies(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in header.split(";"):
        name, eq, value = part.strip().partition("=")
        if eq:
            out[name] = value
    return out
