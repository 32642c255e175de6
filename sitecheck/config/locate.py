"""Where configuration is found: the user's config directory first, then the files bundled with sitecheck.

The user's directory is --config-dir, else $SITECHECK_CONFIG_DIR, else
$XDG_CONFIG_HOME/sitecheck (~/.config/sitecheck).  It holds sites/<key>.yaml and,
optionally, indicators/ and words/; anything not found there is looked up in the
bundled config (the demo and example site files, the national rule set, the
shared word lists).  Nothing depends on the current directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from sitecheck import bundled

from .validate import ConfigError

ENV_VAR = "SITECHECK_CONFIG_DIR"


def bundled_config_dir() -> Path:
    return bundled.path("config")


def user_config_dir(explicit: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """--config-dir, $SITECHECK_CONFIG_DIR, or $XDG_CONFIG_HOME/sitecheck (default ~/.config/sitecheck)."""
    environ = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if environ.get(ENV_VAR):
        return Path(environ[ENV_VAR])
    base = environ.get("XDG_CONFIG_HOME") or Path(environ.get("HOME") or Path.home()) / ".config"
    return Path(base) / "sitecheck"


def site_files(config_dir: Path) -> list[Path]:
    return sorted((config_dir / "sites").glob("*.yaml"))


def find_site_file(site_key: str, config_dir: Path) -> Path:
    """<config_dir>/sites/<key>.yaml, else the bundled site file of that key."""
    searched = [Path(config_dir), bundled_config_dir()]
    for d in searched:
        path = d / "sites" / f"{site_key}.yaml"
        if path.exists():
            return path
    known = sorted({p.stem for d in searched for p in site_files(d)})
    raise ConfigError(searched[0] / "sites" / f"{site_key}.yaml", None, "", f"no site file for site {site_key!r}",
                      "known sites: " + (", ".join(known) or "none")
                      + "; write one with 'sitecheck init', or pass --config PATH")


def config_dirs(site) -> list[Path]:
    """Where a site's rule sets and word lists are looked for: the config folder its site file is in
    (<dir>/sites/x.yaml -> <dir>, when that has indicators/ or words/), then the bundled config."""
    dirs: list[Path] = []
    if getattr(site, "path", None) is not None:
        site_path = Path(site.path).resolve()  # relative paths would be joined twice by callers
        for candidate in (site_path.parent.parent, site_path.parent):
            if (candidate / "indicators").is_dir() or (candidate / "words").is_dir():
                dirs.append(candidate.resolve())
                break
    fallback = bundled_config_dir().resolve()
    return dirs if fallback in dirs else [*dirs, fallback]
