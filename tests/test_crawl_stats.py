"""The crawl's stats collector (crawler/stats.py) keeps Scrapy's Stats Collector API."""

from __future__ import annotations

import types
import warnings

from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.misc import load_object

from sitecheck.config import load_site
from sitecheck.crawler.runner import scrapy_settings
from sitecheck.crawler.stats import CrawlStats


def _calls(stats) -> dict:
    stats.inc_value("scheduler/enqueued")
    stats.inc_value("scheduler/enqueued", 2)
    stats.inc_value("downloader/response_count", start=10)
    stats.set_value("start_time", "t0")
    stats.max_value("max_depth", 3)
    stats.max_value("max_depth", 1)
    stats.min_value("min_latency", 0.5)
    stats.min_value("min_latency", 0.2)
    assert stats.get_value("missing", "default") == "default"
    assert stats.get_value("scheduler/enqueued") == 3
    return dict(stats.get_stats())


def test_the_same_calls_give_the_same_stats_as_scrapys_own_collector():
    crawler = types.SimpleNamespace(settings=Settings(), spider=None)  # what the collectors read of it
    scrapys = MemoryStatsCollector(crawler)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecation path taken by either
        expected = _calls(scrapys)
        ours = CrawlStats(crawler)
        ours.open_spider()
        _calls(ours)
        ours.close_spider(reason="finished")  # as Scrapy 2.19 calls it
        ours.close_spider(object(), "finished")  # as Scrapy 2.13 does
        ours = dict(ours.get_stats())
    assert ours == expected == {"scheduler/enqueued": 3, "downloader/response_count": 11, "start_time": "t0",
                                "max_depth": 3, "min_latency": 0.2}


def test_older_callers_passing_the_spider_still_work():
    stats = CrawlStats()
    stats.inc_value("x", spider=object())
    stats.set_value("y", 1, spider=object())
    stats.set_stats({**stats.get_stats(spider=object()), "z": 2}, spider=object())
    assert stats.get_stats() == {"x": 1, "y": 1, "z": 2}
    stats.clear_stats()
    assert stats.get_stats() == {}


def test_the_crawls_settings_name_it(tmp_path):
    """Scrapy builds the collector from STATS_CLASS when a crawl starts; a real crawl's stats reach
    the run record through it (tests/test_e2e_demo.py reads elapsed_time_seconds from there)."""
    site_file = tmp_path / "s.yaml"
    site_file.write_text("site: s\nname: 测试\nhosts:\n  - {key: p, name: 门户, url: 'http://127.0.0.1:1/'}\n",
                         encoding="utf-8")
    assert load_object(scrapy_settings(load_site(site_file))["STATS_CLASS"]) is CrawlStats
