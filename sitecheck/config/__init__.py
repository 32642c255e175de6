"""Configuration: site files, their schema, and where they are found."""

from .sitefile import HostConfig, SiteConfig, find_site_file, load_site
from .validate import ConfigError

__all__ = ["ConfigError", "HostConfig", "SiteConfig", "find_site_file", "load_site"]
