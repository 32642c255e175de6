"""sitecheck: a website-health monitor for Chinese government portals."""

__version__ = "0.1.0"
