"""Per-host government data in the site file: columns, message boards, required entries, marks.

Kept apart from the crawl settings because it is what the government checks
read; `HOST_GOV_FIELDS` is merged into each host's table in `sitefile.py`.
"""

from __future__ import annotations

from .rules import find_rules, load_rules
from .schema import REQUIRED, Setting, table

COLUMN = table("A column (栏目) whose freshness is checked.", {
    "name": Setting("str", "Column name as shown on the site, e.g. 通知公告.", REQUIRED),
    "url": Setting("url", "The column's first list page.", REQUIRED),
    "category": Setting("str", "Update category; its window comes from the rule set "
                        "(动态要闻 14 days, 通知公告/政策文件 6 months, 人事/规划计划/... 1 year).", "动态要闻"),
    "no_update_expected": Setting("bool", "A finished topic (历史专题): never reported stale.", False),
    "list_selector": Setting("str", "CSS selector of the list on the column page; by default the whole page. "
                             "Set it when the page has undated items outside the list.", ""),
    "item_selector": Setting("str", "CSS selector of one item (a linked title with a date).", "li, tr"),
})

BOARD = table("A message board (主任信箱, 留言, 咨询) whose replies are checked.", {
    "name": Setting("str", "Board name, e.g. 主任信箱.", REQUIRED),
    "url": Setting("url", "The board's first list page; its index_N / ?page=N pages are read too.", REQUIRED),
    "item_selector": Setting("str", "CSS selector of one message in the list.", "li.message, tr.message"),
    "title_selector": Setting("str", "CSS selector (inside an item) of the title.", ".title"),
    "asked_selector": Setting("str", "CSS selector of the date asked.", ".asked"),
    "replied_selector": Setting("str", "CSS selector of the date replied (empty when unanswered).", ".replied"),
    "status_selector": Setting("str", "CSS selector of the status (已回复/办理中/未回复).", ".status"),
    "max_message_pages": Setting("int", "Most pages requested for this board whatever max_depth and max_pages "
                                 "say, first in the crawl: the messages its list pages list (each one's page "
                                 "shows the reply date) and its further list pages; past the cap they follow "
                                 "the crawl's ordinary limits. 0 turns this off.", 500, min=0),
})

ENTRY = table("Something the homepage must offer (a column or entry).", {
    "name": Setting("str", "Entry name, e.g. 决策公开.", REQUIRED),
    "patterns": Setting("list", "Regular expressions matched against link text and URL on the homepage "
                        "(and, for search, form actions and input labels); defaults to built-in patterns "
                        "for well-known names, else the name itself.", [], item=Setting("regex", "pattern")),
})

HOST_GOV_FIELDS: dict[str, Setting] = {
    "site_code": Setting("str", "网站标识码 expected in the footer (10 digits, or bm + 8 digits).", "",
                         pattern=r"(\d{10}|bm\d{8})?",
                         pattern_hint="10 digits for local sites (Gansu codes start 62), or bm + 8 digits"),
    "columns": Setting("list", "Columns checked for freshness.", [], item=COLUMN),
    "boards": Setting("list", "Message boards checked for reply times.", [], item=BOARD),
    "entries": Setting("list", "Columns and entries the homepage must offer.", [], item=ENTRY),
    "guides": Setting("list", "Regular expressions for URLs of service-guide pages (办事指南).", [],
                      item=Setting("regex", "URL pattern")),
}

_SELECTOR_KEYS = {"columns": ("list_selector", "item_selector"),
                  "boards": ("item_selector", "title_selector", "asked_selector", "replied_selector",
                             "status_selector")}


def cross_check_gov(v, root, site, find) -> None:
    """Cross-field rules: names unique per host, selectors valid, categories known to the rule set."""
    categories = _rule_categories(site)
    for i, host in enumerate(site.hosts):
        for kind in ("columns", "boards", "entries"):
            names: set[str] = set()
            for j, row in enumerate(host.gov.get(kind, [])):
                if row["name"] in names:
                    raise v.error(find(root, "hosts", i, kind, j, "name"), f"hosts[{i}].{kind}[{j}].name",
                                  f"duplicate {kind[:-1]} {row['name']!r}")
                names.add(row["name"])
                for key in _SELECTOR_KEYS.get(kind, ()):
                    problem = _selector_problem(row[key])
                    if problem:
                        raise v.error(find(root, "hosts", i, kind, j, key), f"hosts[{i}].{kind}[{j}].{key}",
                                      f"invalid CSS selector {row[key]!r}: {problem}")
        if categories is None:
            continue
        for j, col in enumerate(host.gov.get("columns", [])):
            if col["category"] not in categories:
                raise v.error(find(root, "hosts", i, "columns", j, "category"),
                              f"hosts[{i}].columns[{j}].category", f"unknown category {col['category']!r}",
                              f"categories of rule set {site.rules!r}: " + ", ".join(categories))


def _selector_problem(selector: str) -> str:
    if not selector:
        return ""
    try:
        from lxml.cssselect import CSSSelector

        CSSSelector(selector, translator="html")
    except Exception as exc:  # cssselect raises several error types
        return str(exc) or type(exc).__name__
    return ""


def _rule_categories(site) -> list[str] | None:
    """Category names and aliases of the site's rule set; None when the rule set is not found
    (loading it is then the scorer's error to report, not the site file's)."""
    path = find_rules(site)
    if path is None:
        return None
    rules = load_rules(path)
    if not rules.categories:
        return None
    return [*rules.categories, *(a for c in rules.categories.values() for a in c["aliases"])]
