"""Credentials for a site's own hosts, and keeping their values out of every output.

The site file names *where* secrets live (environment variables, a headers
file), never the secrets themselves.  `load_credentials` reads them at run
time and maps each configured netloc (host and aliases) to the headers to send
there - and only there: a credential must not follow a link or a redirect to
another host, which is why the key is the netloc, not the site.

Every error message names the variable, file or line number at fault, never a
value: error messages end up in logs, exports and bug reports.  `redact` and
`RedactingFilter` scrub the values from anything else that could leak them.
"""

from __future__ import annotations

import base64
import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

# RFC 9110 token characters: anything else in a header name is a typo or an injection.
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # tab is allowed inside values
# Framing and routing headers are the client's business; a file setting them breaks requests.
_FORBIDDEN = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_MIN_PART = 6  # derived fragments shorter than this are not redacted on their own (too common)

MASK = "***"


class CredentialError(Exception):
    """A credential could not be loaded; the message names the source, never the secret."""


class Credentials(dict):
    """netloc -> {header name: value}; `secrets` holds every value to scrub from output."""

    secrets: frozenset[str]

    def __init__(self, *args: Any, secrets: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.secrets = frozenset(s for s in secrets if s)

    def __repr__(self) -> str:  # a stray print() or debugger must not show values
        return f"Credentials({ {k: sorted(v) for k, v in self.items()} !r})"


def load_credentials(site, environ: Mapping[str, str] = os.environ) -> Credentials:
    """Headers to send per netloc, from the site's `auth` list (see sitefile.AUTH).

    Relative `headers_file` paths are relative to the site file.  Two auth
    entries may give the same host different headers, but not the same header.
    """
    out: dict[str, dict[str, str]] = {}
    origin: dict[tuple[str, str], int] = {}  # (netloc, header lower) -> auth index
    secrets: set[str] = set()
    hosts = {h.key: h for h in site.hosts}
    base = Path(site.path).parent if getattr(site, "path", None) else Path.cwd()

    for i, entry in enumerate(site.auth or []):
        where = f"auth[{i}]"
        headers: dict[str, str] = {}
        if entry.get("basic_user_env") or entry.get("basic_password_env"):
            headers["Authorization"] = _basic(entry, environ, where, secrets)
        if entry.get("headers_file"):
            for name, value in _read_headers_file(base / entry["headers_file"], where, secrets):
                if any(name.lower() == k.lower() for k in headers):
                    raise CredentialError(f"{where}: header {name} is given twice "
                                          f"(basic auth and {entry['headers_file']}, or twice in the file)")
                headers[name] = value
        if not headers:
            raise CredentialError(f"{where}: no credentials: set basic_user_env/basic_password_env "
                                  "or headers_file")
        for key in entry.get("hosts", []):
            host = hosts.get(key)
            if host is None:
                raise CredentialError(f"{where}: unknown host key {key!r}")
            for netloc in host.netlocs:
                target = out.setdefault(netloc, {})
                for name, value in headers.items():
                    first = origin.setdefault((netloc, name.lower()), i)
                    if first != i:
                        raise CredentialError(f"{where}: host {key!r} ({netloc}) already gets header "
                                              f"{name} from auth[{first}]")
                    target[name] = value
    return Credentials(out, secrets=secrets)


def _basic(entry: Mapping[str, Any], environ: Mapping[str, str], where: str, secrets: set[str]) -> str:
    user_var, password_var = entry.get("basic_user_env", ""), entry.get("basic_password_env", "")
    if not user_var or not password_var:
        given, missing = ("basic_user_env", "basic_password_env")[:: 1 if user_var else -1]
        raise CredentialError(f"{where}: {given} is set but {missing} is not; basic auth needs both")
    user, password = _env(environ, user_var, where), _env(environ, password_var, where)
    if ":" in user:
        raise CredentialError(f"{where}: the user name in ${user_var} contains ':', "
                              "which basic auth cannot carry")
    token = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
    secrets.update({password, token, f"Basic {token}"})
    return f"Basic {token}"


def _env(environ: Mapping[str, str], var: str, where: str) -> str:
    if var not in environ:
        raise CredentialError(f"{where}: environment variable {var} is not set")
    value = environ[var]
    if not value:
        raise CredentialError(f"{where}: environment variable {var} is empty")
    if _CONTROL.search(value):
        raise CredentialError(f"{where}: environment variable {var} contains control characters")
    return value


def _read_headers_file(path: Path, where: str, secrets: set[str]) -> list[tuple[str, str]]:
    """'Name: value' lines; blank lines and lines starting with # are skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CredentialError(f"{where}: headers file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise CredentialError(f"{where}: cannot read headers file {path}: {exc.strerror or exc}") from None
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    # split("\n") not splitlines(): splitlines also breaks on \x0b, \x1c, U+2028 ...
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r").strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition(":")
        name, value = name.strip(), value.strip()
        place = f"{where}: {path}, line {lineno}"
        if not sep or not _TOKEN.match(name):
            raise CredentialError(f"{place}: expected 'Name: value'")
        if name.lower() in _FORBIDDEN:
            raise CredentialError(f"{place}: header {name} cannot be set from a credentials file")
        if name.lower() in seen:
            raise CredentialError(f"{place}: header {name} is given twice")
        if not value:
            raise CredentialError(f"{place}: header {name} has no value")
        if _CONTROL.search(value):
            raise CredentialError(f"{place}: header {name} contains control characters")
        seen.add(name.lower())
        pairs.append((name, value))
        secrets.update(_secret_parts(value))
    return pairs


def _secret_parts(value: str) -> set[str]:
    """The value, and the pieces of it that a log line might show on their own."""
    parts = {value}
    scheme, _, token = value.partition(" ")
    if token and scheme.isalpha():  # "Bearer abc...", "Basic abc..."
        parts.add(token.strip())
    for cookie in value.split(";"):  # "a=1; JSESSIONID=abc..."
        _, eq, v = cookie.partition("=")
        if eq:
            parts.add(v.strip())
    return {p for p in parts if p == value or len(p) >= _MIN_PART}


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (and its percent-encoded form) replaced by ***."""
    pattern = _pattern(secrets)
    return pattern.sub(MASK, text) if pattern else text


def _pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    variants: set[str] = set()
    for s in secrets:
        if s:
            # surrogatepass: values from os.environ may hold lone surrogates (undecodable bytes)
            variants.update({s, quote(s, safe="", errors="surrogatepass"),
                             quote(s, safe="/:@", errors="surrogatepass")})
    if not variants:
        return None
    # Longest first, so a secret containing another is masked whole.
    return re.compile("|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True)))


class RedactingFilter(logging.Filter):
    """Scrubs secrets from log records (message, args, exception and stack text).

    Attach it to *handlers*: a filter on a logger does not see records that
    propagate from child loggers.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = {s for s in secrets if s}
        self._compiled = _pattern(self._secrets)

    def add(self, secrets: Iterable[str]) -> None:
        self._secrets.update(s for s in secrets if s)
        self._compiled = _pattern(self._secrets)

    def _scrub(self, text: str) -> str:
        return self._compiled.sub(MASK, text) if self._compiled else text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._compiled is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # bad format args: logging would print msg and args raw, so flatten them
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = self._scrub(message), None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when set, so pre-format it scrubbed.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self._scrub(record.stack_info)
        return True
