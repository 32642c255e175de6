"""Scrapy's engine with a direct route from a finished download to the spider's callback.

Scrapy hands every download result to its Scraper, which exists to run spider
middlewares and item pipelines over what a callback yields: per response it
queues the result, waits two event-loop turns (`_process_pending_io`), wraps
the callback's output in an async generator and a middleware chain, and starts
an asyncio queue with two tasks to drain it.  Our spider yields nothing to
Scrapy: `SiteSpider.on_response` and `on_error` record results and schedule
requests themselves and return None (crawler/spider.py says why), and the crawl
has no item pipeline and no spider middleware that reads responses.  For those
requests the engine calls the callback at once; everything else (a request
another component made with a callback of its own, output that is not None)
still goes through the Scraper.

What the Scraper did for a response and stays true here: the callback gets the
response with `response.request` set; an exception in a callback or errback is
logged and sent as Scrapy's `spider_error` signal with its stats
(`Scraper.handle_spider_error`); a download failure the errback does not
handle is logged as Scrapy logs it.  What is skipped is only machinery: the Scraper's
queue never holds these responses, so its backpressure (the size of responses
waiting for their callbacks) has nothing to count: each callback has run before
the next download result is looked at.

The route overrides one method of Scrapy's engine (`_handle_downloader_output`, not a public
API); `route_fits` checks its shape, and a Scrapy where it differs runs on its own engine.
tests/test_engine.py fails if the route stops being taken.
"""

from __future__ import annotations

import inspect
import logging

from scrapy.core.engine import ExecutionEngine
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.log import failure_to_exc_info, logformatter_adapter
from scrapy.utils.spider import iterate_spider_output
from twisted.python.failure import Failure

logger = logging.getLogger(__name__)


class SiteEngine(ExecutionEngine):
    def __init__(self, crawler, spider_closed_callback):
        super().__init__(crawler, spider_closed_callback)
        # A spider middleware that reads responses or callback errors would be skipped: then no
        # request takes the short route.
        try:
            methods = self.scraper.spidermw.methods
            self._shortcut = not any(methods["process_spider_input"]) and not any(methods["process_spider_exception"])
        except (AttributeError, KeyError):  # a Scrapy whose Scraper is built otherwise: its own route
            self._shortcut = False

    def _handle_downloader_output(self, result, request):
        spider = self.spider
        if (not self._shortcut or isinstance(result, Request) or spider is None
                or request.callback != spider.on_response or request.errback != spider.on_error):
            return super()._handle_downloader_output(result, request)
        if isinstance(result, Response):
            if result.request is None:
                result.request = request
            try:
                output = request.callback(result, **request.cb_kwargs)
            except Exception:  # noqa: BLE001 - as the Scraper: log it, signal spider_error, count it
                self.scraper.handle_spider_error(Failure(), request, result)
                return None
        else:  # the download failed
            result.request = request
            try:
                output = request.errback(result)
                if isinstance(output, Failure):
                    output.raiseException()
            except Exception as exc:  # noqa: BLE001 - the errback did not handle it: as the Scraper
                if not result.check(IgnoreRequest):
                    logkws = self.logformatter.download_error(result, request, spider)
                    logger.log(*logformatter_adapter(logkws), extra={"spider": spider},
                               exc_info=failure_to_exc_info(result))
                if exc is not result.value:
                    self.scraper.handle_spider_error(Failure(), request, result)
                return None
        if output is not None:  # not what our callbacks return, but Scrapy's route handles anything
            deferred_from_coro(self.scraper.handle_spider_output_async(iterate_spider_output(output), request, result))
        return None


def route_fits(hook=ExecutionEngine._handle_downloader_output) -> bool:
    """Whether this Scrapy's engine hands download results on the way SiteEngine overrides:
    `_handle_downloader_output(result, request)` (Scrapy 2.13 and later; before, it also took the
    spider).  Where it does not, the crawl runs on Scrapy's own engine, only slower."""
    try:
        return list(inspect.signature(hook).parameters) == ["self", "result", "request"]
    except (TypeError, ValueError):
        return False


class SiteCrawler(Crawler):
    """A Scrapy Crawler whose engine is SiteEngine (when this Scrapy's engine fits it)."""

    def _create_engine(self) -> ExecutionEngine:
        if not route_fits():
            return super()._create_engine()
        return SiteEngine(self, lambda _: self.stop_async())
