"""Availability probes, the rolling unreachable figures, notifications and the scheduler (`sitecheck serve`)."""

from .probe import (ProbeResult, availability, availability_for, probe_site, probe_summary, probe_targets,
                    probe_url)

__all__ = ["ProbeResult", "availability", "availability_for", "probe_site", "probe_summary", "probe_targets",
           "probe_url"]
