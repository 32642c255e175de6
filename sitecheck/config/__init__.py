"""Configuration: site files, their schema, and where they are found."""

from .locate import bundled_config_dir, find_site_file, user_config_dir
from .sitefile import CrawlSettings, HostConfig, SiteConfig, load_site
from .validate import ConfigError

__all__ = ["ConfigError", "CrawlSettings", "HostConfig", "SiteConfig", "bundled_config_dir", "find_site_file",
           "load_site", "user_config_dir"]
