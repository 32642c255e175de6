"""The Celery application: broker from --broker / $SITECHECK_BROKER, settings for hours-long tasks.

`celery -A sitecheck.distributed.app worker` and `sitecheck worker` run the same app.
A crawl holds its task unacknowledged until it ends (late acknowledgement), so that a
worker that dies mid-crawl gives its task back to the broker:

* `task_acks_late` and `task_reject_on_worker_lost`: a task whose worker process died is
  returned to the queue, not acknowledged as failed;
* `worker_prefetch_multiplier = 1`: a worker holds one task at a time, and the queue keeps the
  rest for idle workers;
* Redis redelivers a task not acknowledged within `visibility_timeout`: it must be longer than
  any crawl (VISIBILITY_TIMEOUT_S); RabbitMQ instead closes a consumer holding a message past
  its server-side `consumer_timeout` (default 30 minutes), which the broker's configuration
  must raise (docs/distributed.md);
* the broker connection lost during a crawl does not stop the crawl
  (`worker_cancel_long_running_tasks_on_connection_loss = False`): its redelivered copy finds
  the night claimed in the store and exits.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from celery import Celery

BROKER_ENV = "SITECHECK_BROKER"
DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
QUEUE = "sitecheck.crawls"
CRAWL_TASK = "sitecheck.crawl_site"

VISIBILITY_TIMEOUT_S = 48 * 3600  # Redis only: longer than the longest crawl a night can hold
HEARTBEAT_S = 30.0  # how often a running crawl's claim is refreshed in the store
STALE_AFTER_S = 300.0  # a claim not refreshed for this long belongs to a dead worker


def broker_url(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """--broker, else $SITECHECK_BROKER, else a RabbitMQ on this machine."""
    env = os.environ if environ is None else environ
    return explicit or env.get(BROKER_ENV) or DEFAULT_BROKER


def make_app(broker: str | None = None, environ: Mapping[str, str] | None = None) -> Celery:
    env = os.environ if environ is None else environ
    app = Celery("sitecheck", broker=broker_url(broker, env), set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=1,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a broker restart must not end the worker
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        task_ignore_result=True,
        # The worker's own settings, from the environment `sitecheck worker` sets from its options.
        sitecheck_db=env.get("SITECHECK_DB") or None,
        sitecheck_config_dir=env.get("SITECHECK_CONFIG_DIR") or None,
        sitecheck_heartbeat_s=float(env.get("SITECHECK_HEARTBEAT_S") or HEARTBEAT_S),
        sitecheck_stale_after_s=float(env.get("SITECHECK_STALE_AFTER_S") or STALE_AFTER_S),
    )
    from . import tasks

    tasks.register(app)
    return app


app = make_app()
