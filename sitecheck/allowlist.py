"""Does the owner's WAF allowlist let the monitor in?  One request per host, as the prober sends it.

`sitecheck check-config --probe` asks each configured homepage once, with the prober's User-Agent
and the site's credentials for that host (the allowlist header or cookie, docs/waf.md), and says
"not challenged" or "challenged by <product>" from the answer's status, headers and first bytes
(crawler/waf.py).  Redirects are followed only within the site's own hosts, so a credential never
goes anywhere else.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from sitecheck.crawler.waf import Wall, recognise

MAX_REDIRECTS = 5

Answer = tuple[int, dict[bytes, list[bytes]], bytes]  # status, lower-cased headers, first bytes


@dataclass(frozen=True)
class FirstAnswer:
    host_key: str
    url: str
    status: int | None
    wall: Wall | None
    error: str = ""
    credentials: bool = False

    @property
    def verdict(self) -> str:
        if self.error:
            return f"no answer ({self.error})"
        if self.wall is not None:
            return f"challenged by {self.wall.product} ({self.wall.evidence})"
        return f"not challenged (HTTP {self.status})"


def fetch_head(url: str, headers: Mapping[str, str], timeout: float = 15.0,
               ssl_context: ssl.SSLContext | None = None) -> Answer:
    """One GET as the prober sends it (sitecheck/probe, on libcurl): status, headers (lower-cased byte
    names), the first bytes of the body."""
    from sitecheck.probe.probe import fetch_answer

    return fetch_answer(url, headers, timeout, ssl_context)


def first_answers(site, fetch: Callable[[str, Mapping[str, str]], Answer] = fetch_head) -> list[FirstAnswer]:
    """Each host's homepage asked once; what came back."""
    from sitecheck.credentials import load_credentials
    from sitecheck.probe.probe import USER_AGENT, ProbeFailure

    credentials = load_credentials(site)  # a missing secret is the user's error to see, not a silent skip
    out = []
    for host in site.hosts:
        url, status, wall, error = host.url, None, None, ""
        try:
            for _hop in range(MAX_REDIRECTS + 1):
                netloc = urlsplit(url).netloc.lower()
                headers = {"User-Agent": USER_AGENT, "Accept": "text/html,*/*;q=0.8", **credentials.get(netloc, {})}
                status, answer_headers, body = fetch(url, headers)
                wall = recognise(status, answer_headers, body)
                location = (answer_headers.get(b"location") or [b""])[0].decode("latin-1")
                if wall is not None or not (300 <= status < 400 and location):
                    break
                following = urljoin(url, location)
                if site.host_for(urlsplit(following).netloc) is None:
                    break  # off the site: its homepage answered with a redirect, which is not a wall
                url = following
        except (OSError, ProbeFailure, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        out.append(FirstAnswer(host.key, url, status, wall, error, bool(credentials.get(host.netloc))))
    return out


def format_answers(answers: list[FirstAnswer]) -> str:
    lines = []
    for a in answers:
        via = " with credentials" if a.credentials else ""
        lines.append(f"  {a.host_key}: {a.url}{via}: {a.verdict}")
    return "\n".join(lines)
