"""Item pipeline: hands each finished fetch from the spider to the RunRecorder."""

from __future__ import annotations

from .spider import PageResult


class ResultPipeline:
    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item: PageResult, spider=None):
        self.crawler.spider.recorder.record(item.target, item.extra, item.page, item.links)
        # Drop the parsed page now: keeping it would hold the tree until Scrapy lets go of the item.
        item.page = None
        item.links = []
        return item
