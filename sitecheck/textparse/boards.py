"""Messages on a message board (主任信箱, 留言, 咨询), read with per-site CSS selectors.

Layouts differ per site, so every selector comes from the site file
(defaults in govschema.BOARD).  A message is answered when it shows a reply
date or an answered status (已回复, 已办结, 已答复 ...).  Boards whose list pages
show only 留言时间 and 状态 give the reply date on each message's own page
(`message_page`: 留言时间：… 回复时间：…).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import urljoin

from .dates import parse_date

_ANSWERED = re.compile(r"已(?:回复|答复|办结|处理|反馈|回应)|办结|回复完成")
_PENDING = re.compile(r"未(?:回复|答复|办结|处理)|待(?:回复|处理|办理)|办理中|处理中|正在办理|受理中")
_MAX_MESSAGES = 5000
_ASKED_LABEL = re.compile(r"(?:留言|提问|来信|咨询|写信|提交|诉求)\s*(?:时\s*间|日\s*期)\s*[:：]?")
_REPLIED_LABEL = re.compile(r"(?:回复|答复|办结|反馈|回信|处理|办理)\s*(?:时\s*间|日\s*期)\s*[:：]?")
_DATE_NEXT = re.compile(r"\s*[0-9０-９]")  # a label followed by its date, not by another field


@dataclass(frozen=True, slots=True)
class Selectors:
    item: str = "li.message, tr.message"
    title: str = ".title"
    asked: str = ".asked"
    replied: str = ".replied"
    status: str = ".status"

    @classmethod
    def from_board(cls, cfg: dict) -> "Selectors":
        """The selectors of a board table of the site file (govschema.BOARD)."""
        return cls(cfg["item_selector"], cfg["title_selector"], cfg["asked_selector"], cfg["replied_selector"],
                   cfg["status_selector"])


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    title: str
    url: str  # the message's own page, or "" when the list does not link it
    asked: date | None
    replied: date | None
    status: str

    @property
    def answered(self) -> bool:
        return self.replied is not None or (bool(_ANSWERED.search(self.status))
                                            and not _PENDING.search(self.status))

    @property
    def reply_days(self) -> int | None:
        if self.asked is None or self.replied is None:
            return None
        return (self.replied - self.asked).days


@dataclass(frozen=True, slots=True)
class MessagePage:
    """The dates a message's own page shows."""

    asked: date | None
    replied: date | None


def _labelled_date(text: str, label: re.Pattern) -> date | None:
    for m in label.finditer(text):
        if _DATE_NEXT.match(text, m.end()):
            found = parse_date(text[m.end(): m.end() + 40])
            if found is not None:
                return found
    return None


def message_page(text: str) -> MessagePage | None:
    """The asked and replied dates of a message page's visible text, or None when it shows no reply date."""
    try:
        replied = _labelled_date(text, _REPLIED_LABEL)
        if replied is None:
            return None
        return MessagePage(_labelled_date(text, _ASKED_LABEL), replied)
    except Exception:
        return None


def _text_of(item, selector: str) -> tuple[str, object | None]:
    if not selector:
        return "", None
    try:
        found = item.cssselect(selector)
    except Exception:
        return "", None
    if not found:
        return "", None
    return " ".join((found[0].text_content() or "").split()), found[0]


def _link_of(el, item, base_url: str) -> str:
    for node in (el, item):
        if node is None:
            continue
        anchors = [node] if node.tag == "a" else list(node.iter("a"))
        for a in anchors:
            href = (a.get("href") or "").strip()
            if href and not href.startswith(("javascript:", "#")):
                try:
                    return urljoin(base_url, href)
                except ValueError:
                    continue
    return ""


def _as_tree(doc):
    if isinstance(doc, bytes):
        doc = doc.decode("utf-8", "replace")
    if isinstance(doc, str):
        from sitecheck.htmltext import parse_document

        return parse_document(doc) if doc.strip() else None
    return doc


def extract_messages(doc, selectors: Selectors = Selectors(), base_url: str = "") -> list[Message]:
    """The messages listed on one board page (`doc`: markup or an lxml tree)."""
    try:
        root = _as_tree(doc)
        if root is None:
            return []
        items = root.cssselect(selectors.item)[:_MAX_MESSAGES]
    except Exception:
        return []
    out: list[Message] = []
    for n, item in enumerate(items):
        try:
            title, title_el = _text_of(item, selectors.title)
            asked_text, _ = _text_of(item, selectors.asked)
            replied_text, _ = _text_of(item, selectors.replied)
            status, _ = _text_of(item, selectors.status)
            url = _link_of(title_el, item, base_url)
            ident = (item.get("id") or item.get("data-id") or "").strip() or url or f"item-{n + 1}"
            out.append(Message(ident, title, url, parse_date(asked_text), parse_date(replied_text), status))
        except Exception:
            continue
    return out
