"""Per-host government data in the site file: columns, message boards, required entries, marks.

Kept apart from the crawl settings because it is what the government checks
read; `HOST_GOV_FIELDS` is merged into each host's table in `sitefile.py`.
"""

from __future__ import annotations

from .schema import REQUIRED, Setting, table

COLUMN = table("A column (栏目) whose freshness is checked.", {
    "name": Setting("str", "Column name as shown on the site, e.g. 通知公告.", REQUIRED),
    "url": Setting("url", "The column's first list page.", REQUIRED),
    "category": Setting("str", "Update category; its window comes from the rule set "
                        "(动态要闻 14 days, 通知公告/政策文件 6 months, 人事/规划计划/... 1 year).", "动态要闻"),
    "no_update_expected": Setting("bool", "A finished topic (历史专题): never reported stale.", False),
})

BOARD = table("A message board (主任信箱, 留言, 咨询) whose replies are checked.", {
    "name": Setting("str", "Board name, e.g. 主任信箱.", REQUIRED),
    "url": Setting("url", "The board's first list page.", REQUIRED),
    "item_selector": Setting("str", "CSS selector of one message in the list.", "li.message, tr.message"),
    "title_selector": Setting("str", "CSS selector (inside an item) of the title.", ".title"),
    "asked_selector": Setting("str", "CSS selector of the date asked.", ".asked"),
    "replied_selector": Setting("str", "CSS selector of the date replied (empty when unanswered).", ".replied"),
    "status_selector": Setting("str", "CSS selector of the status (已回复/办理中/未回复).", ".status"),
})

ENTRY = table("Something the homepage must offer (a column or entry).", {
    "name": Setting("str", "Entry name, e.g. 决策公开.", REQUIRED),
    "patterns": Setting("list", "Regular expressions matched against link text and URL on the homepage; "
                        "defaults to the name itself.", [], item=Setting("regex", "pattern")),
})

HOST_GOV_FIELDS: dict[str, Setting] = {
    "site_code": Setting("str", "网站标识码 expected in the footer (10 digits, or bm + 8 digits).", "",
                         pattern=r"(\d{10}|bm\d{8})?"),
    "columns": Setting("list", "Columns checked for freshness.", [], item=COLUMN),
    "boards": Setting("list", "Message boards checked for reply times.", [], item=BOARD),
    "entries": Setting("list", "Columns and entries the homepage must offer.", [], item=ENTRY),
    "guides": Setting("list", "Regular expressions for URLs of service-guide pages (办事指南).", [],
                      item=Setting("regex", "URL pattern")),
}


def cross_check_gov(v, root, site, find) -> None:
    """Cross-field rules of the government data (e.g. column names unique per host)."""
    for i, host in enumerate(site.hosts):
        names: set[str] = set()
        for j, col in enumerate(host.gov.get("columns", [])):
            if col["name"] in names:
                raise v.error(find(root, "hosts", i, "columns", j, "name"), f"hosts[{i}].columns[{j}].name",
                              f"duplicate column {col['name']!r}")
            names.add(col["name"])
