"""Many sites over many machines: one site's nightly crawl is one Celery task.

The unit of work is exactly `sitecheck run --site KEY`, run as a child process of a worker
(Scrapy's reactor cannot restart in one process).  The store, not the broker, decides who
crawls: `dispatch` records each (site, night) as queued and sends a task; the worker that
receives it claims the night in the store (`Store.claim_night`), crawls, beats a heartbeat
while the child runs, and closes the night.  A duplicate delivery finds the night claimed or
done and exits without crawling; a sweeper puts the nights of dead workers back in the queue
and sends their tasks again.  docs/distributed.md describes deployment.

    app       the Celery application and its settings (broker from $SITECHECK_BROKER)
    crawl     claim -> child crawl -> heartbeat -> finish, with no Celery in it
    tasks     the `crawl_site` task over `crawl`
    dispatch  enqueue and send a night's tasks; the sweeper
    cli       `sitecheck dispatch` and `sitecheck worker`
"""
