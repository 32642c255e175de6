"""Bridge from a stored run to the indicator verdict (scoring itself is pure: sitecheck.scoring)."""

from __future__ import annotations

import logging
from typing import Any

from sitecheck.config import SiteConfig
from sitecheck.store import Store

log = logging.getLogger("sitecheck.verdicts")


def judge_run(store: Store, site: SiteConfig, run_id: int) -> dict[str, Any] | None:
    """Score a run against the site's rule set and store the verdict; None if scoring is unavailable."""
    try:
        from sitecheck import scoring
    except ImportError:
        return None
    return scoring.judge_stored_run(store, site, run_id) if hasattr(scoring, "judge_stored_run") else None
