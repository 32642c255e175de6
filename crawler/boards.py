"""The pages of the site's message boards that the crawl's limits would leave unread.

A board whose list pages show only 留言时间 and 状态 gives each reply date on the message's own
page, and only there can a late reply (a veto item) be seen.  A crawl bounded by `max_depth`
and `max_pages` often reaches a board's first list page but not its later list pages nor the
messages they list.  So when the spider reads a configured board's list page, the messages it
lists (found with the board's own selectors, as checks/interaction.py reads them) and the
board's further list pages are requested at high priority whatever their depth, up to
`max_message_pages` per board.  They are ordinary page requests: the same politeness gate,
scope, address guard and trap rules apply.  A message the crawl met first on some other page and
turned away there for its limits is asked for when its board lists it (the spider remembers what
its limits turned away, on sites with boards); what the cap leaves unread the interaction check
lists among the board's `unread_pages`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sitecheck.model import Element
from sitecheck.textparse.boards import Selectors, extract_messages
from sitecheck.textparse.urls import is_list_page

# Above ordinary pages (0), below homepages (100): a board's messages are read early in the crawl,
# before the pages that also link them can use up the crawl's page budget.
PRIORITY = 50


@dataclass(slots=True)
class Board:
    host_key: str
    name: str
    url: str
    selectors: Selectors
    cap: int
    requested: set[str] = field(default_factory=set)  # URLs this board's rule asked for, at most `cap`


class BoardPages:
    """The configured boards of a site, and which links of their list pages to fetch."""

    def __init__(self, boards: list[Board], normalise: Callable[[str], str | None]):
        self.boards = boards
        self._normalise = normalise
        self._hosts = {b.host_key for b in boards}

    @classmethod
    def for_site(cls, site, normalise: Callable[[str], str | None]) -> "BoardPages":
        boards = [Board(h.key, b["name"], b["url"], Selectors.from_board(b), b["max_message_pages"])
                  for h in site.hosts for b in h.gov.get("boards", [])]
        return cls(boards, normalise)

    def board_of(self, host_key: str | None, *urls: str) -> Board | None:
        """The board one of whose list pages this page is (by its URL or where it landed), or None."""
        if host_key not in self._hosts:
            return None
        for board in self.boards:
            if board.host_key == host_key and board.cap > 0 and any(is_list_page(board.url, u) for u in urls):
                return board
        return None

    def wanted(self, board: Board, tree, base_url: str, distinct: Iterable[tuple[str, str, Element]],
               taken: Callable[[str], bool]) -> list[str]:
        """The normalised URLs of the messages this list page lists and of the board's other list pages
        it links, not `taken` by the crawl already (requested, or on their way), as many as the board's
        cap still allows (messages first)."""
        room = board.cap - len(board.requested)
        if room <= 0:
            return []
        found: list[str] = []
        for msg in extract_messages(tree, board.selectors, base_url):
            url = msg.url and self._normalise(msg.url)
            if url:
                found.append(url)
        found.extend(url for url, _text, _element in distinct if is_list_page(board.url, url))
        out: list[str] = []
        for url in found:
            if url in board.requested or taken(url):
                continue
            board.requested.add(url)
            out.append(url)
            if len(out) >= room:
                break
        return out
