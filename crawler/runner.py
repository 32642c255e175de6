"""Run one crawl of one site in this process: Scrapy settings from the site file, then record.

Scrapy's reactor cannot restart within a process, so each crawl (and each test
crawl) runs in a process of its own; `sitecheck run` is that process.
"""


from __future__ import annotations

import logging
import os

from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import default_settings as _scrapy_defaults

from sitecheck.config import SiteConfig
from sitecheck.credentials import RedactingFilter, load_credentials
from sitecheck.recorder import RunRecorder, RunSummary, utc_clock
from sitecheck.gcpolicy import tuned_for_crawl
from sitecheck.store import Store, queue_dir

from .download import handler_path
from .spider import SiteSpider
from .targets import RemoteRecorder

REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

# Scrapy 2.19 replaced RANDOMIZE_DOWNLOAD_DELAY (and warns on every crawl that sets it) by a jitter magnitude.
_NO_DELAY_JITTER = ({"DOWNLOAD_DELAY_JITTER": 0} if hasattr(_scrapy_defaults, "DOWNLOAD_DELAY_JITTER")
                    else {"RANDOMIZE_DOWNLOAD_DELAY": False})

# Scrapy imports every extension named in EXTENSIONS, even one set to None, to read its priority;
# RemoteControl (Scrapy 2.19) imports aiohttp's web server at every start for a port we never open.
_EXTENSIONS_BASE = {path: order for path, order in _scrapy_defaults.EXTENSIONS_BASE.items()
                    if not path.endswith(".RemoteControl")}


def scrapy_settings(site: SiteConfig, log_level: str = "WARNING") -> dict:
    """Scrapy settings from the site file (plain values only: Scrapy deep-copies settings).

    Politeness is not Scrapy's here: every request, pages and link targets alike, passes the
    transport's per-host gate (crawler/politeness.py), so Scrapy's own delay is off and its
    per-host concurrency is the same number (it then never hands the gate more pages than it
    could start).  Redirects, retries and de-duplication are the spider's (crawler/policy.py).
    """
    c = site.crawl
    return {
        "BOT_NAME": "sitecheck",
        "USER_AGENT": c.user_agent,  # read by the robots.txt parser; the transport sends it
        "ROBOTSTXT_OBEY": c.robots == "obey",
        "CONCURRENT_REQUESTS": c.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": c.concurrency_per_host,
        "DOWNLOAD_DELAY": 0,  # the transport's gate keeps the delay, for every kind of request
        **_NO_DELAY_JITTER,
        "AUTOTHROTTLE_ENABLED": False,  # the gate backs off for every request, not only Scrapy's
        "DOWNLOAD_TIMEOUT": c.timeout_seconds,
        "DOWNLOAD_MAXSIZE": c.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_ENABLED": False,  # the fetch policy retries (crawler/policy.py), for pages and targets alike
        "REDIRECT_ENABLED": False,  # the spider follows redirects itself (guard on every hop)
        "METAREFRESH_ENABLED": False,
        "DUPEFILTER_CLASS": "scrapy.dupefilters.BaseDupeFilter",  # the spider de-duplicates
        # Scrapy starts CONCURRENT_ITEMS tasks for every response's output (default 100); the
        # spider's callbacks return nothing, so one is enough.
        "CONCURRENT_ITEMS": 1,
        "DEPTH_PRIORITY": 1,  # breadth first: homepage links are judged early
        "SCHEDULER_DISK_QUEUE": "sitecheck.crawler.frontier.CompactFifoDiskQueue",
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        # Scrapy's counters in a plain dict: its own collectors cost a wrapped method lookup per call
        "STATS_CLASS": "sitecheck.crawler.stats.CrawlStats",
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,  # Scrapy 2.19 opens an HTTP control port by default: no open ports
        "LOGSTATS_INTERVAL": 0,
        "LOG_LEVEL": log_level,
        "DEFAULT_REQUEST_HEADERS": {},  # the transport sets what every request carries
        "HTTPPROXY_ENABLED": False,  # the transport reads the proxy environment, for every request
        "COOKIES_ENABLED": True,  # session-bound CMSs
        "TWISTED_REACTOR": REACTOR,
        "LOG_INSTALL_ROOT_HANDLER": False,
        # http and https through the one transport; no other scheme is ever fetched (crawler/urls.py
        # drops them), so their handlers, and the HTTP client the S3 one would import, stay unloaded.
        "DOWNLOAD_HANDLERS": {"http": handler_path(), "https": handler_path(),
                              "s3": None, "ftp": None, "file": None, "data": None},
        "DOWNLOADER_MIDDLEWARES": {
            # Scrapy's cookie middleware asks tldextract for the public suffix list, which by default
            # downloads it from public hosts: ours uses the snapshot tldextract ships.
            "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
            "sitecheck.crawler.cookies.CookiesMiddleware": 700,
            "scrapy.downloadermiddlewares.downloadtimeout.DownloadTimeoutMiddleware": None,
            "scrapy.downloadermiddlewares.defaultheaders.DefaultHeadersMiddleware": None,
            "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": None,
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,  # scope is the spider's job
            "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,  # credentials: the transport
            "scrapy.downloadermiddlewares.stats.DownloaderStats": None,
        },
        "SPIDER_MIDDLEWARES": {
            "scrapy.spidermiddlewares.referer.RefererMiddleware": None,
            "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
            "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
            "scrapy.spidermiddlewares.httperror.HttpErrorMiddleware": None,  # every status is handled
        },
        "EXTENSIONS": {
            "sitecheck.crawler.progress.Progress": 500,
            "scrapy.extensions.telnet.TelnetConsole": None,
            "scrapy.extensions.memusage.MemoryUsage": None,
            "scrapy.extensions.feedexport.FeedExporter": None,
        },
        "EXTENSIONS_BASE": _EXTENSIONS_BASE,
        "SITECHECK_PROGRESS": c.progress,
    }


def run_crawl(site: SiteConfig, store: Store, *, clock=utc_clock, log_level: str = "WARNING",
              progress: str | None = None, run_id: int | None = None) -> RunSummary:
    """Crawl `site` once, record everything in `store`, return the summary."""
    return run_crawls([(site, store)], clock=clock, log_level=log_level, progress=progress, run_ids=[run_id])[0]


def run_crawls(jobs: list[tuple[SiteConfig, Store]], *, clock=utc_clock, log_level: str = "WARNING",
               progress: str | None = None, run_ids: list[int | None] | None = None) -> list[RunSummary]:
    """Crawl several sites at once in this process, each with its own politeness limits.

    Every site gets its own Scrapy crawler (own settings, own transport and politeness gate) and
    its own recorder; they share the reactor, so writes to the store stay serial.  A crawl records
    into a run of its own, or into the run of `run_ids` at its position when one is given (a run
    a distributed worker claimed for it, sitecheck.distributed).
    """
    process = CrawlerProcess({"TWISTED_REACTOR": REACTOR, "REMOTE_CONTROL_ENABLED": False,
                              "LOG_LEVEL": log_level,
                              "LOG_INSTALL_ROOT_HANDLER": False})  # cli.py configures logging
    running = []
    run_ids = run_ids or [None] * len(jobs)
    for i, ((site, store), run_id) in enumerate(zip(jobs, run_ids, strict=True)):
        settings = scrapy_settings(site, log_level)
        if progress:
            settings["SITECHECK_PROGRESS"] = progress
        if len(jobs) > 1:
            settings["SITECHECK_PROGRESS"] = "log" if settings["SITECHECK_PROGRESS"] != "off" else "off"
        credentials = load_credentials(site)  # before the run starts: a missing secret is a config error
        for handler in logging.root.handlers:
            handler.addFilter(RedactingFilter(credentials.secrets))
        if uses_record_process(site, single=len(jobs) == 1):
            # Two cores: the checks, the store and some page reading go to a second process.
            recorder = RemoteRecorder(store, site, clock=clock, run_id=run_id)
        else:
            recorder = RunRecorder(store, site, clock=clock, run_id=run_id)
        # The request queue lives on disk, so memory stays flat however large the site is.
        settings["JOBDIR"] = str(queue_dir(store.path, recorder.run_id))
        crawler = Crawler(SiteSpider, settings, init_reactor=(i == 0))  # the first installs the reactor
        outcome: dict[str, str] = {}
        crawler.signals.connect(_remember_reason(outcome), signal=signals.spider_closed, weak=False)
        process.crawl(crawler, site=site, recorder=recorder, credentials=credentials)
        running.append((crawler, recorder, outcome))
    # Scrapy lowered the loggers' levels while configuring; raise them again so that the
    # per-request debug lines are not even built (the handler filter would drop them anyway).
    if logging.getLevelName(log_level) > logging.DEBUG:
        logging.getLogger("scrapy").setLevel(logging.WARNING)
        logging.getLogger("twisted").setLevel(logging.WARNING)
        logging.getLogger("protego").setLevel(logging.WARNING)
    with tuned_for_crawl():
        process.start()
    summaries = []
    for crawler, recorder, outcome in running:
        reason = outcome.get("reason", "unknown")
        status = "complete" if reason == "finished" else "incomplete"
        try:
            stats = crawler.stats.get_stats() if crawler.stats else {}
        except RuntimeError:  # Scrapy 2.19: the crawl never started (Scrapy logged why); no stats to keep
            stats = {}
        keep = {k: v for k, v in stats.items() if isinstance(v, (int, float, str)) and k.startswith(
            ("elapsed", "robotstxt/"))}
        spider = crawler.spider
        if spider is not None:
            keep["politeness_backoffs"] = sum(b.times for b in spider.politeness.backoffs.values())
            recorder.record_crawl(spider.traps(), spider.backoffs())
        summaries.append(recorder.finish(status, error="" if status == "complete" else f"crawl ended: {reason}",
                                         stats=keep))
    return summaries


def uses_record_process(site: SiteConfig, single: bool, cpus: int | None = None) -> bool:
    """Whether the checks and the store run in a second process.

    With a delay the crawl is bound by the delay, not the CPU, so a second process would only
    add overhead; several sites in one process share its reactor, and each would need its own.
    """
    wanted = site.crawl.processes
    if wanted == 0:
        cpus = cpus if cpus is not None else (os.cpu_count() or 1)
        wanted = 2 if single and site.crawl.delay_seconds == 0 and cpus >= 2 else 1
    return wanted == 2 and site.path is not None


def _remember_reason(outcome: dict[str, str]):
    def closed(spider, reason):
        outcome["reason"] = reason
    return closed
