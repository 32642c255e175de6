"""The `crawl_site` task: one site's crawl for one night (sitecheck.distributed.crawl)."""

from __future__ import annotations

import argparse
import logging
import os
import socket
from datetime import date

from celery import Celery

from sitecheck.cmdline import open_store
from sitecheck.store import store_location as location

from . import crawl, metrics
from .app import CRAWL_TASK

log = logging.getLogger("sitecheck.distributed")


def store_location(db: str | None) -> str:
    """The store a worker and its crawl children open, as a --db argument: --db / $SITECHECK_DB, else
    the default SQLite file."""
    return location(db).argument


def open_db(db: str | None, readonly: bool = False):
    return open_store(argparse.Namespace(db=store_location(db)), readonly=readonly)


def register(app: Celery) -> None:
    # A task that raises (the store unreachable while claiming, say) is sent again later rather than
    # acknowledged and lost: its night would stay queued with no task to run it.  Retrying is safe:
    # the claim decides whether the copy crawls.  100 retries, backing off to 5 minutes, span a night.
    @app.task(name=CRAWL_TASK, bind=True, shared=False, acks_late=True, reject_on_worker_lost=True,
              ignore_result=True, autoretry_for=(Exception,), retry_backoff=5, retry_backoff_max=300,
              retry_jitter=True, max_retries=100)
    def crawl_site(self, site_key: str, night: str) -> dict:
        conf = self.app.conf
        worker = f"{self.request.hostname or socket.gethostname()}:{os.getpid()}"
        with open_db(conf.sitecheck_db) as store, metrics.RUNNING.track_inprogress():
            outcome = crawl.crawl_night(store, site_key, date.fromisoformat(night),
                                        db=store_location(conf.sitecheck_db),
                                        config_dir=conf.sitecheck_config_dir, worker=worker,
                                        heartbeat_s=conf.sitecheck_heartbeat_s,
                                        stale_after_s=conf.sitecheck_stale_after_s)
        metrics.count(outcome)
        return {"site": outcome.site, "night": night, "run_id": outcome.run_id, "status": outcome.status}
