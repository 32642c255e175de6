"""Interaction (互动交流): an effective channel on every host, and message boards answered in time.

The veto rule: no effective online consultation channel (信访 and 纪检举报 do not
count), or within the past year a message left unanswered for more than three
months.  Boards are read with the per-host selectors of the site file; their
list pages (index_N, ?page=N) are read too, messages keyed by id so a message
seen on two pages counts once.  Where the list shows no reply date (only 留言时间
and 状态), the reply date is read from the message's own page (`message_page`),
which the crawl fetches whatever its depth, up to the board's max_message_pages
(crawler/boards.py); messages whose page was not fetched are counted in
board.stats as `reply_date_unknown` with their URLs as `unread_pages`.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from dataclasses import replace

from sitecheck.config.schema import Setting
from sitecheck.model import Element, Fact, Finding, Page, Severity
from sitecheck.scoring import rules_for_site
from sitecheck.textparse.boards import Message, MessagePage, Selectors, extract_messages, message_page
from sitecheck.textparse.dates import china_today
from sitecheck.textparse.urls import is_list_page, normalise

from .base import Check, Output, RunView

_MAX_MESSAGES_PER_BOARD = 20_000
_MAX_MESSAGE_PAGES = 50_000
_MAX_UNREAD_LISTED = 20
_REPLY_WORDS = ("回复", "答复", "办结", "反馈", "回信")


class _Board:
    def __init__(self, host_key: str, cfg: dict):
        self.host_key = host_key
        self.name = cfg["name"]
        self.url = cfg["url"]
        self.selectors = Selectors.from_board(cfg)
        self.pages = 0
        self.messages: dict[str, Message] = {}


class InteractionCheck(Check):
    name = "interaction"
    description = "An effective interaction channel on every host; message boards answered within the limit."
    codes = {
        "interaction.no_channel": "a host's homepage offers no effective interaction channel (信访/举报 do not count)",
        "interaction.unanswered": "a message asked within the past year is unanswered for longer than the limit",
        "interaction.late_reply": "a message was answered within the past year, later than the limit",
        "interaction.board_missing": "a configured message board was never crawled",
        "interaction.board_empty": "a message board page was crawled but no message was read (check the selectors)",
    }
    options = {
        "channel_patterns": Setting("list", "Link text (regex) of an interaction channel on the homepage.",
                                    [r"信箱", r"留言", r"咨询", r"互动交流", r"政民互动", r"在线访谈", r"征集调查",
                                     r"意见征集", r"网上调查", r"12345"], item=Setting("regex", "pattern")),
        "exclude_patterns": Setting("list", "Link text (regex) of channels that do not count.",
                                    [r"信访", r"举报", r"纪检", r"纪委", r"监察"], item=Setting("regex", "pattern")),
        "reply_days": Setting("int", "Days a reply may take; default: the rule set's interaction_poor "
                              "window (90).", None, min=1),
        "lookback_days": Setting("int", "Messages asked (or answered) this many days back are judged; default: "
                                 "the rule set's (365).", None, min=1),
        "message_facts": Setting("bool", "Record every message as a board.message fact.", True),
    }

    def __init__(self, site, options):
        super().__init__(site, options)
        rules = rules_for_site(site)
        self.reply_days = self.opts["reply_days"] or rules.veto_param("interaction_poor", "window_days", 90)
        self.lookback = self.opts["lookback_days"] or rules.veto_param("interaction_poor", "lookback_days", 365)
        self._channel = [re.compile(p) for p in self.opts["channel_patterns"]]
        self._exclude = [re.compile(p) for p in self.opts["exclude_patterns"]]
        self._boards = [_Board(h.key, b) for h in site.hosts for b in h.gov.get("boards", [])]
        self._board_urls = {normalise(b.url) for b in self._boards}
        self._board_hosts = {b.host_key for b in self._boards}
        self._message_pages: dict[str, MessagePage] = {}  # normalised URL -> dates read on the page
        self._channels: dict[str, str | None] = {}  # host -> text of the channel link found (None: none)
        self._homepage: dict[str, str] = {}

    def on_page(self, page: Page) -> Iterable[Output]:
        if page.is_homepage and not self._channels.get(page.host_key):
            self._channels[page.host_key] = self._find_channel(page)
            self._homepage[page.host_key] = page.url
        listed = False
        for board in self._boards:
            if board.host_key == page.host_key and (is_list_page(board.url, page.url)
                                                     or is_list_page(board.url, page.final_url)):
                listed = True
                board.pages += 1
                for msg in extract_messages(page.tree, board.selectors, page.url):
                    if len(board.messages) < _MAX_MESSAGES_PER_BOARD:
                        board.messages.setdefault(msg.id, msg)
        if not listed and page.host_key in self._board_hosts:
            self._read_message_page(page)
        return ()

    def _read_message_page(self, page: Page) -> None:
        """Keep the dates of a page that shows a reply date: it may be a listed message's own page
        (the crawl reaches pages in no fixed order, so they are matched to messages at the end)."""
        if len(self._message_pages) >= _MAX_MESSAGE_PAGES or not any(w in page.html for w in _REPLY_WORDS):
            return
        found = message_page(page.visible_text)
        if found is not None:
            for url in {page.url, page.final_url}:
                self._message_pages[normalise(url)] = found

    def _with_page_dates(self, msg: Message) -> tuple[Message, bool]:
        """The message with the reply date its own page shows, when the list shows none."""
        if msg.replied is not None or not msg.url:
            return msg, False
        found = self._message_pages.get(normalise(msg.url))
        if found is None:
            return msg, False
        return replace(msg, asked=msg.asked or found.asked, replied=found.replied), True

    def _find_channel(self, page: Page) -> str | None:
        for link in page.links:
            if link.element != Element.A:
                continue
            text = link.text or ""
            if normalise(link.url) in self._board_urls:
                return text or link.url
            if any(p.search(text) for p in self._channel) and not any(p.search(text) for p in self._exclude):
                return text
        return None

    def on_finish(self, run: RunView) -> Iterable[Output]:
        for host in self.site.hosts:
            if host.key not in self._channels:
                continue  # homepage never crawled: no evidence either way
            via = self._channels[host.key]
            yield Fact("interaction.channel", {"found": via is not None, "via": via}, host.key, check=self.name)
            if via is None:
                yield Finding("interaction.no_channel", Severity.CRITICAL, self._homepage[host.key],
                              "首页未发现有效的互动交流渠道（如领导信箱、咨询留言；信访、举报渠道不计）",
                              self.name, host.key, details={"host": host.key})
        today = china_today(run.now)
        for board in self._boards:
            yield from self._judge_board(board, today)

    def _judge_board(self, board: _Board, today) -> Iterable[Output]:
        where = {"host": board.host_key, "board": board.name}
        if board.pages == 0:
            yield Finding("interaction.board_missing", Severity.WARNING, board.url,
                          f"留言板「{board.name}」未能抓取", self.name, board.host_key, details=where)
            return
        if not board.messages:
            yield Finding("interaction.board_empty", Severity.INFO, board.url,
                          f"留言板「{board.name}」未读取到留言（请核对选择器配置）", self.name, board.host_key,
                          details=where)
        answered = unanswered = late = 0
        reply_times: list[int] = []
        unread: list[str] = []
        for listed in board.messages.values():
            msg, from_page = self._with_page_dates(listed)
            if msg.answered and msg.replied is None:
                unread.append(msg.url or f"{board.url}#{msg.id}")
            url = msg.url or f"{board.url}#{msg.id}"
            if self.opts["message_facts"]:
                yield Fact("board.message", {
                    "board": board.name, "title": msg.title, "url": url, "status": msg.status,
                    "asked": msg.asked.isoformat() if msg.asked else None,
                    "replied": msg.replied.isoformat() if msg.replied else None, "reply_days": msg.reply_days,
                    "replied_from": "message_page" if from_page else ("list" if msg.replied else None),
                }, board.host_key, key=msg.id, check=self.name)
            details = {**where, "id": msg.id, "title": msg.title,
                       "asked": msg.asked.isoformat() if msg.asked else None, "limit_days": self.reply_days,
                       "replied_from": "message_page" if from_page else "list"}
            if msg.answered:
                answered += 1
                if msg.reply_days is not None:
                    reply_times.append(msg.reply_days)
                    recent = (today - msg.replied).days <= self.lookback
                    if msg.reply_days > self.reply_days and recent:
                        late += 1
                        yield Finding("interaction.late_reply", Severity.CRITICAL, url,
                                      f"「{board.name}」留言「{msg.title}」{msg.reply_days} 天后才回复"
                                      f"（超过 {self.reply_days} 天）", self.name, board.host_key,
                                      details={**details, "replied": msg.replied.isoformat(),
                                               "reply_days": msg.reply_days})
                continue
            unanswered += 1
            if msg.asked is None:
                continue
            age = (today - msg.asked).days
            if self.reply_days < age <= self.lookback:
                yield Finding("interaction.unanswered", Severity.CRITICAL, url,
                              f"「{board.name}」留言「{msg.title}」已 {age} 天未回复（超过 {self.reply_days} 天）",
                              self.name, board.host_key, details={**details, "age_days": age,
                                                                  "status": msg.status})
        yield Fact("board.stats", {
            "count": len(board.messages), "answered": answered, "unanswered": unanswered, "late": late,
            "median_reply_days": statistics.median(reply_times) if reply_times else None,
            "pages": board.pages, "reply_date_unknown": len(unread),
            "unread_pages": sorted(unread)[:_MAX_UNREAD_LISTED],
        }, board.host_key, key=board.name, check=self.name)
