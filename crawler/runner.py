"""Run one crawl of one site in this process: Scrapy settings from the site file, then record.

Scrapy's reactor cannot restart within a process, so each crawl (and each test
crawl) runs in a process of its own; `sitecheck run` is that process.
"""

from __future__ import annotations

import logging
import os
import urllib.request

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.settings import default_settings as _scrapy_defaults
from scrapy.statscollectors import MemoryStatsCollector

from sitecheck.config import SiteConfig
from sitecheck.credentials import RedactingFilter, load_credentials
from sitecheck.recorder import RunRecorder, RunSummary, utc_clock
from sitecheck.gcpolicy import tuned_for_crawl
from sitecheck.store import Store, queue_dir

from .classify import REQUEST_HEADERS
from .engine import SiteCrawler
from .spider import SiteSpider
from .targets import RemoteRecorder, shared_delay

# Retry connection-level failures only: a timeout is not retried, so a dead link
# costs one timeout and never turns into a slow success.
# Measured on the 2,000-page benchmark site: the epoll reactor is no faster (12.6 s vs 12.0 s CPU).
REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

RETRY_EXCEPTIONS = [
    "scrapy.exceptions.DownloadConnectionRefusedError",  # raised by crawler/download.py
    "scrapy.exceptions.ResponseDataLossError",
    "twisted.internet.error.ConnectionRefusedError",
    "twisted.internet.error.ConnectionDone",
    "twisted.internet.error.ConnectionLost",
    "twisted.internet.error.ConnectError",
    "twisted.web._newclient.ResponseFailed",
]


# Scrapy 2.19 replaced RANDOMIZE_DOWNLOAD_DELAY (and warns on every crawl that sets it) by a jitter magnitude.
_NO_DELAY_JITTER = ({"DOWNLOAD_DELAY_JITTER": 0} if hasattr(_scrapy_defaults, "DOWNLOAD_DELAY_JITTER")
                    else {"RANDOMIZE_DOWNLOAD_DELAY": False})


_EXTENSIONS_BASE = {path: order for path, order in _scrapy_defaults.EXTENSIONS_BASE.items()
                    if not path.endswith(".RemoteControl")}


class PlainStatsCollector(MemoryStatsCollector):
    """Scrapy's stats collector without the attribute hook Scrapy 2.19 added to warn about a
    deprecated `spider` argument: it ran Python code on every read of a method (~8 stats calls a
    request; 0.7 s of the main process's CPU in a 20k-page profile). The methods are the same."""

    __getattribute__ = object.__getattribute__


def scrapy_settings(site: SiteConfig, log_level: str = "WARNING") -> dict:
    """Scrapy settings from the site file (plain values only: Scrapy deep-copies settings)."""
    c = site.crawl
    return {
        "BOT_NAME": "sitecheck",
        "USER_AGENT": c["user_agent"],
        "ROBOTSTXT_OBEY": c["robots"] == "obey",
        "CONCURRENT_REQUESTS": c["concurrency"],
        "CONCURRENT_REQUESTS_PER_DOMAIN": c["concurrency_per_host"],
        "DOWNLOAD_DELAY": c["delay_seconds"],
        # Scrapy re-draws the random jitter each time its delay timer fires, which stretches the real
        # interval ~25 % beyond the setting (measured by bench/multisite.py); an exact delay is as polite.
        **_NO_DELAY_JITTER,
        "DOWNLOAD_TIMEOUT": c["timeout_seconds"],
        "DOWNLOAD_MAXSIZE": c["max_page_bytes"],
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_ENABLED": c["retries"] > 0,
        "RETRY_TIMES": c["retries"],
        "RETRY_HTTP_CODES": [502, 503, 504],
        "RETRY_EXCEPTIONS": RETRY_EXCEPTIONS,
        "REDIRECT_ENABLED": False,  # the spider follows redirects itself (guard on every hop)
        "METAREFRESH_ENABLED": False,
        "DUPEFILTER_CLASS": "scrapy.dupefilters.BaseDupeFilter",  # the spider de-duplicates
        # Scrapy starts CONCURRENT_ITEMS asyncio tasks for every response's output (default 100);
        # our pipeline is synchronous, so one is enough. This alone was ~40% of the crawl's CPU.
        "CONCURRENT_ITEMS": 1,
        "DEPTH_PRIORITY": 1,  # breadth first: homepage links are judged early
        "SCHEDULER_DISK_QUEUE": "sitecheck.crawler.frontier.CompactFifoDiskQueue",
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        "TELNETCONSOLE_ENABLED": False,
        "STATS_CLASS": "sitecheck.crawler.runner.PlainStatsCollector",
        # Scrapy's check for `return value` in generator callbacks caches by bound method in a
        # weak dictionary, so it re-reads and re-parses the callback's source on every response.
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        "REMOTE_CONTROL_ENABLED": False,  # Scrapy 2.19 opens an HTTP control port by default: no open ports
        "LOGSTATS_INTERVAL": 0,
        "LOG_LEVEL": log_level,
        # Added at download time by middleware, so queued requests stay small.
        "DEFAULT_REQUEST_HEADERS": dict(REQUEST_HEADERS),
        # Scrapy's proxy middleware only matters when the environment names a proxy; otherwise it is
        # one more hop per request.
        "HTTPPROXY_ENABLED": bool(urllib.request.getproxies()),
        "COOKIES_ENABLED": True,  # session-bound CMSs; costs ~3 % CPU
        "TWISTED_REACTOR": REACTOR,
        "LOG_INSTALL_ROOT_HANDLER": False,
        # libcurl on the wire (crawler/download.py): ~0.4 ms less CPU per page than Scrapy's handler.
        "DOWNLOAD_HANDLERS": {"http": "sitecheck.crawler.download.PageDownloadHandler",
                              "https": "sitecheck.crawler.download.PageDownloadHandler"},
        # Every middleware costs a few coroutine hops per request; keep only what the crawl uses.
        "DOWNLOADER_MIDDLEWARES": {
            "sitecheck.crawler.guard.AddressGuardMiddleware": 50,
            "sitecheck.crawler.guard.CredentialsMiddleware": 60,  # also timeout, User-Agent, default headers
            "scrapy.downloadermiddlewares.downloadtimeout.DownloadTimeoutMiddleware": None,
            "scrapy.downloadermiddlewares.defaultheaders.DefaultHeadersMiddleware": None,
            "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": None,
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,  # scope is the spider's job
            "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,  # credentials: our middleware
            "scrapy.downloadermiddlewares.stats.DownloaderStats": None,
        },
        "SPIDER_MIDDLEWARES": {
            "scrapy.spidermiddlewares.referer.RefererMiddleware": None,
            "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
            "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
            "scrapy.spidermiddlewares.httperror.HttpErrorMiddleware": None,  # every status is handled
            "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
        },
        "EXTENSIONS": {
            "sitecheck.crawler.progress.Progress": 500,
            "scrapy.extensions.telnet.TelnetConsole": None,
            "scrapy.extensions.memusage.MemoryUsage": None,
            "scrapy.extensions.feedexport.FeedExporter": None,
        },
        # Scrapy imports every extension named in EXTENSIONS, even one set to None, to read its
        # priority. RemoteControl is off (REMOTE_CONTROL_ENABLED) but its module imports aiohttp's web
        # server: 0.18 s of every run's start (`python -X importtime`), when one core does all the
        # work. So it leaves the base list instead and is never imported.
        "EXTENSIONS_BASE": _EXTENSIONS_BASE,
        "SITECHECK_PROGRESS": c["progress"],
    }


def run_crawl(site: SiteConfig, store: Store, *, clock=utc_clock, log_level: str = "WARNING",
              progress: str | None = None) -> RunSummary:
    """Crawl `site` once, record everything in `store`, return the summary."""
    return run_crawls([(site, store)], clock=clock, log_level=log_level, progress=progress)[0]


def run_crawls(jobs: list[tuple[SiteConfig, Store]], *, clock=utc_clock, log_level: str = "WARNING",
               progress: str | None = None) -> list[RunSummary]:
    """Crawl several sites at once in this process, each with its own politeness limits.

    Every site gets its own Scrapy crawler (own settings: concurrency, delay,
    timeout) and its own recorder; they share the reactor, so writes to the
    store stay serial.
    """
    process = CrawlerProcess({"TWISTED_REACTOR": REACTOR, "REMOTE_CONTROL_ENABLED": False,
                              # Scrapy's own HTTP client (the lenient fallback) connects where the
                              # address guard checked, as libcurl and aiohttp do (crawler/download.py)
                              "TWISTED_DNS_RESOLVER": "sitecheck.crawler.download.PinnedTwistedResolver",
                              "LOG_LEVEL": log_level,
                              "LOG_INSTALL_ROOT_HANDLER": False})  # cli.py configures logging
    running = []
    for i, (site, store) in enumerate(jobs):
        settings = scrapy_settings(site, log_level)
        if progress:
            settings["SITECHECK_PROGRESS"] = progress
        if len(jobs) > 1:
            settings["SITECHECK_PROGRESS"] = "log" if settings["SITECHECK_PROGRESS"] != "off" else "off"
        credentials = load_credentials(site)  # before the run starts: a missing secret is a config error
        for handler in logging.root.handlers:
            handler.addFilter(RedactingFilter(credentials.secrets))
        main_slots, worker_slots = split_concurrency(site, single=len(jobs) == 1)
        settings["CONCURRENT_REQUESTS_PER_DOMAIN"] = main_slots
        if worker_slots:
            # Two cores: non-page targets, the checks and the store go to a second process.
            recorder = RemoteRecorder(store, site, clock=clock, concurrency_per_host=worker_slots)
            settings["DOWNLOAD_DELAY"] = shared_delay(site)
        else:
            recorder = RunRecorder(store, site, clock=clock)
        # The request queue lives on disk, so memory stays flat however large the site is.
        settings["JOBDIR"] = str(queue_dir(store.path, recorder.run_id))
        crawler = SiteCrawler(SiteSpider, settings, init_reactor=(i == 0))  # the first installs the reactor
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
        stats = crawler.stats.get_stats() if crawler.stats else {}
        keep = {k: v for k, v in stats.items() if isinstance(v, (int, float, str)) and k.startswith(
            ("retry/count", "elapsed", "robotstxt/"))}
        recorder.record_traps(crawler.spider.traps() if crawler.spider else [])
        summaries.append(recorder.finish(status, error="" if status == "complete" else f"crawl ended: {reason}",
                                         stats=keep))
    return summaries


def split_concurrency(site: SiteConfig, single: bool, cpus: int | None = None) -> tuple[int, int]:
    """(per-host slots of the main process, of the target worker; 0 = no worker).

    The two processes share each host's budget, so politeness is the same with
    one process or two.  With a delay the crawl is bound by the delay, not the
    CPU, so a second process would only add overhead.
    """
    c = site.crawl
    per_host = c["concurrency_per_host"]
    wanted = c["processes"]
    if wanted == 0:
        cpus = cpus if cpus is not None else (os.cpu_count() or 1)
        wanted = 2 if single and c["delay_seconds"] == 0 and cpus >= 2 and per_host >= 2 else 1
    if wanted == 1 or per_host < 2 or site.path is None:
        return per_host, 0
    return per_host - per_host // 2, per_host // 2


def _remember_reason(outcome: dict[str, str]):
    def closed(spider, reason):
        outcome["reason"] = reason
    return closed
