"""Wrong and forbidden words in page text, and hidden links (暗链).

All terms (shared lists from config/words plus the site's own) go into one
Aho-Corasick automaton built once, so each page's text is scanned in one pass
whatever the list length.  A match inside an allowed context (the correct form
when it contains the wrong one, or a listed phrase) is not reported.

Hidden links are anchors inside an element styled display:none /
visibility:hidden (or moved off screen) or carrying the `hidden` attribute (on
itself or an ancestor) that point outside the site.  The crawler flags them
while it reads the page's links (crawler/extract.py); whether one is 暗链 is
judged by its words and destination (sitecheck.textparse.hiddenlinks): spam
evidence is critical, a reviewed CMS credit, share panel or government host is
not reported, anything else is a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import ahocorasick
from lxml import etree

from sitecheck.config.schema import REQUIRED, Setting, table
from sitecheck.config.validate import ConfigError, Validator, compose
from sitecheck.model import Fact, Finding, Page, Severity
from sitecheck.scoring import config_dirs
from sitecheck.textparse import hiddenlinks

from .base import Check, Disabled, Output, RunView

WRONG = table("A wrong term and its correct form.", {
    "wrong": Setting("str", "The wrong term as it appears.", REQUIRED),
    "correct": Setting("str", "The correct form.", REQUIRED),
    "serious": Setting("bool", "A 严重表述错误 (names of the country, the party, leaders): veto evidence.", False),
    "allow": Setting("list", "Longer phrases in which the term is correct.", [], item=Setting("str", "phrase")),
})
WORD_FIELDS = {
    "wrong": Setting("list", "Wrong terms with their correct forms.", [], item=WRONG),
    "forbidden": Setting("list", "Terms that must never appear (gambling, porn, fraud ...).", [],
                         item=Setting("str", "term")),
    "allow": Setting("list", "Phrases in which any listed term is fine.", [], item=Setting("str", "phrase")),
}
WORDS_FILE = table("A shared word list (config/words/<name>.yaml).", WORD_FIELDS)

# Above this many terms the automaton alone is cheaper than a regex of them all (the regex tries
# every term that starts with the character it is at).
_PREFILTER_MAX_TERMS = 1000


@dataclass(frozen=True)
class _Term:
    kind: str  # "wrong" | "forbidden"
    term: str
    correct: str = ""
    serious: bool = False
    contexts: tuple[tuple[str, tuple[int, ...]], ...] = ()  # allowed phrase, offsets of the term in it


def _contexts(term: str, phrases: Iterable[str]) -> tuple[tuple[str, tuple[int, ...]], ...]:
    out = []
    for phrase in dict.fromkeys(phrases):
        offsets = tuple(m.start() for m in re.finditer(f"(?={re.escape(term)})", phrase))
        if offsets and phrase != term:
            out.append((phrase, offsets))
    return tuple(out)


def load_word_list(ref: str, config_dirs: list[Path]) -> dict:
    """A shared list by name (<config>/words/<name>.yaml) or by path relative to a config folder."""
    rel = Path(ref) if ref.endswith((".yaml", ".yml")) or "/" in ref else Path("words") / f"{ref}.yaml"
    candidates = [rel] if rel.is_absolute() else [d / rel for d in config_dirs]
    path = next((c for c in candidates if c.exists()), None)
    if path is None:
        raise ConfigError(candidates[0], None, "", f"no word list {ref!r}",
                          "lists are read from <config>/words/<name>.yaml")
    return Validator(path).table(compose(path), WORDS_FILE, "")


class WordsCheck(Check):
    name = "words"
    description = "Wrong and forbidden words in page text (one pass, Aho-Corasick) and hidden links to other sites."
    codes = {
        "words.wrong": "a wrong term (details: wrong, correct, context); critical when marked serious",
        "words.forbidden": "a forbidden term (serious_error evidence)",
        "link.hidden": "a hidden anchor to another site with evidence of spam (gambling, lottery, adult, SEO-farm "
                       "words or host): 暗链",
        "link.hidden_other": "a hidden anchor to another site that is neither a reviewed benign host nor spam",
    }
    options = {
        "lists": Setting("list", "Shared word lists: names under config/words or paths relative to the config "
                         "folder.", ["common"], item=Setting("str", "list name or path")),
        **WORD_FIELDS,
        "context_chars": Setting("int", "Characters of text shown either side of a match.", 12, min=0, max=200),
        "hidden_links": Setting("bool", "Report hidden links to other sites.", True),
        "hidden_allowed_domains": Setting("list", "Domains (with their subdomains) hidden links may point to "
                                          "without being reported, besides the reviewed list of CMS credits, "
                                          "statistics, share panels and government services "
                                          "(sitecheck/textparse/hiddenlinks.py); spam words are reported "
                                          "whatever the host.", ["gov.cn"], item=Setting("str", "domain")),
    }

    def __init__(self, site, options):
        super().__init__(site, options)
        dirs = config_dirs(site)
        lists = [load_word_list(ref, dirs) for ref in self.opts["lists"]] + [self.opts]
        allow = [phrase for data in lists for phrase in data["allow"]]
        terms: dict[str, list[_Term]] = {}
        for data in lists:
            for w in data["wrong"]:
                phrases = [w["correct"], *w["allow"], *allow]
                terms.setdefault(w["wrong"], []).append(
                    _Term("wrong", w["wrong"], w["correct"], w["serious"], _contexts(w["wrong"], phrases)))
            for f in data["forbidden"]:
                terms.setdefault(f, []).append(_Term("forbidden", f, contexts=_contexts(f, allow)))
        if not terms and not self.opts["hidden_links"]:
            raise Disabled("no word lists and hidden_links is off")
        self._automaton = None
        self._any_term = None
        if terms:
            self._automaton = ahocorasick.Automaton()
            for word, entries in terms.items():
                self._automaton.add_word(word, (word, tuple(dict.fromkeys(entries))))
            self._automaton.make_automaton()
            if len(terms) <= _PREFILTER_MAX_TERMS:
                # Most pages contain no listed term.  Asking a regex whether any term occurs at all
                # costs about half of walking the automaton over the text (docs/performance.md);
                # it finds one wherever a term occurs, so a page it passes over has no hit.
                self._any_term = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)))
        self._site_netlocs = {n for h in site.hosts for n in h.netlocs}
        self._pages: dict[str, int] = {}

    def on_page(self, page: Page) -> Iterable[Output]:
        self._pages[page.host_key] = self._pages.get(page.host_key, 0) + 1
        if self._automaton is not None:
            yield from self._scan_text(page)
        if self.opts["hidden_links"]:
            yield from self._hidden_links(page)

    def _scan_text(self, page: Page) -> Iterable[Output]:
        text = page.visible_text
        if self._any_term is not None and self._any_term.search(text) is None:
            return
        hits: dict[tuple[str, str], list] = {}  # (kind, term) -> [entry, count, first context]
        for end, (word, entries) in self._automaton.iter(text):
            start = end - len(word) + 1
            for entry in entries:
                if _allowed(text, start, entry.contexts):
                    continue
                hit = hits.setdefault((entry.kind, word), [entry, 0, self._snippet(text, start, end + 1)])
                hit[1] += 1
        for (kind, word), (entry, count, context) in hits.items():
            details = {"host": page.host_key, "count": count, "context": context}
            if kind == "wrong":
                severity = Severity.CRITICAL if entry.serious else Severity.WARNING
                yield Finding("words.wrong", severity, page.url, f"错误表述「{word}」，应为「{entry.correct}」：…{context}…",
                              self.name, page.host_key, page_url=page.url,
                              details={**details, "wrong": word, "correct": entry.correct, "serious": entry.serious})
            else:
                yield Finding("words.forbidden", Severity.CRITICAL, page.url, f"出现禁用词「{word}」：…{context}…",
                              self.name, page.host_key, page_url=page.url, details={**details, "term": word})

    def _snippet(self, text: str, start: int, end: int) -> str:
        n = self.opts["context_chars"]
        return text[max(0, start - n): end + n]

    def _hidden_links(self, page: Page) -> Iterable[Output]:
        reported: set[str] = set()
        allowed = tuple(self.opts["hidden_allowed_domains"])
        for url, text in _hidden_anchors(page):
            if url in reported or not self._foreign(url):
                continue
            reported.add(url)
            verdict = hiddenlinks.judge(url, text, allowed)
            if verdict.kind == "known":
                continue
            details = {"host": page.host_key, "href": url, "text": text, "element": "a",
                       "markup": _markup(page, url), "verdict": verdict.kind, "reason": verdict.reason,
                       "evidence": verdict.evidence}
            if verdict.kind == "spam":
                yield Finding("link.hidden", Severity.CRITICAL, url,
                              f"页面含隐藏的推广链接（暗链，{verdict.evidence}）：{text or url}",
                              self.name, page.host_key, page_url=page.url, details=details)
            else:
                yield Finding("link.hidden_other", Severity.WARNING, url,
                              f"页面含指向站外的隐藏链接（未见推广迹象）：{text or url}",
                              self.name, page.host_key, page_url=page.url, details=details)

    def _foreign(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https", "") or not parts.netloc:
            return False
        host = (parts.hostname or "").lower()
        return parts.netloc.lower() not in self._site_netlocs and host not in self._site_netlocs

    def on_finish(self, run: RunView) -> Iterable[Output]:
        for host_key, pages in sorted(self._pages.items()):
            yield Fact("words.scanned", {"pages": pages}, host_key, check=self.name)


def _allowed(text: str, start: int, contexts) -> bool:
    for phrase, offsets in contexts:
        for k in offsets:
            if start >= k and text.startswith(phrase, start - k):
                return True
    return False


def _hidden_anchors(page: Page) -> list[tuple[str, str]]:
    """(absolute URL, text) of the anchors the page hides, as the crawler flagged them."""
    return [(link.url, link.text) for link in page.links if link.hidden]


def _markup(page: Page, url: str) -> str:
    """The anchor's markup as written, so a finding can be shown to the webmaster."""
    try:
        for a in page.tree.iter("a"):
            href = (a.get("href") or "").strip()
            if href and urljoin(page.url, href) == url:
                return etree.tostring(a, encoding="unicode", with_tail=False)[:500]
    except (ValueError, etree.Error):
        pass
    return ""
