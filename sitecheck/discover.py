"""`sitecheck discover`: what a site's homepages lead to, as a draft site file for the webmaster.

A shallow crawl (the homepages and the pages one click away) through the ordinary crawler, so the
site file's politeness, credentials (the WAF allowlist header) and the address guard apply, into
a throw-away store.  A check of its own (`InventoryCheck`, enabled for this crawl only) records
what each page says about itself: column metas (ColumnName, code, the platform's channelId), board
candidates, and the homepage's footer marks read from live markup (comments removed, so a stale
copied footer is not taken for the site's own).  The draft lists only what was seen; categories
are guesses from the column names and say so.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import tempfile
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sitecheck import platforms
from sitecheck.checks.base import Check, Output
from sitecheck.model import Fact, Page
from sitecheck.platforms import gansu
from sitecheck.textparse.marks import site_code_valid

CHECK_NAME = "discover"
_BOARD = re.compile(r"信箱|留言|互动|咨询|投诉|建议|hdjl", re.I)
# Column name -> category of the rule set (a guess the draft marks as such).
_CATEGORY_GUESS = (
    (re.compile(r"经济运行|月度|月报"), "经济运行"),
    (re.compile(r"通知|公告|公示"), "通知公告"),
    (re.compile(r"政策|法规|文件|解读|规章"), "政策文件"),
    (re.compile(r"人事|任免|招聘|录用"), "人事信息"),
    (re.compile(r"规划|计划"), "规划计划"),
    (re.compile(r"统计|数据"), "统计信息"),
    (re.compile(r"财政|预算|决算"), "财政信息"),
    (re.compile(r"领导"), "领导信息"),
    (re.compile(r"机构|职能"), "机构信息"),
)


class InventoryCheck(Check):
    """Records, as facts, what each page within the shallow crawl says about itself (no findings)."""

    name = CHECK_NAME
    description = "Inventory for `sitecheck discover`: column metas, board candidates, footer marks."

    def on_page(self, page: Page) -> Iterable[Output]:
        meta = page.meta
        channel = meta.get("channelId", "").strip().lower()
        row: dict[str, Any] = {"url": page.final_url or page.url, "title": page.title, "depth": page.depth,
                               "column": meta.get("ColumnName", ""), "code": meta.get("code", ""),
                               "channel_id": channel if re.fullmatch(r"[0-9a-f]{32}", channel) else "",
                               "article": gansu.is_article(page), "site_id_code": meta.get("SiteIDCode", "")}
        if page.is_homepage:
            row["homepage"] = True
            row["marks"] = gansu.footer_marks(page.html)
            row["links"] = [(link.url, " ".join((link.text or "").split())) for link in page.links
                            if link.text and _BOARD.search(f"{link.text} {link.url}")][:50]
        yield Fact("discover.page", row, page.host_key, key=row["url"], check=self.name)


def register(sub, common) -> None:
    sp = sub.add_parser("discover", help="list a site's columns, channel ids, boards and footer marks; "
                                         "write a draft site file",
                        description="Crawl the homepages of a site and the pages one click away (politely, "
                                    "with the site file's credentials), list the columns (name, URL, channelId), "
                                    "message boards and footer marks found, and with --write PATH write them "
                                    "as a site file for the webmaster to review. Nothing is stored.")
    common(sp, db=False)
    sp.add_argument("--write", metavar="PATH", help="write the draft site file here")
    sp.add_argument("--depth", type=int, default=1, choices=(1, 2), help="clicks from the homepage (default 1)")
    sp.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from sitecheck.allowlist import first_answers, format_answers
    from sitecheck.cmdline import site_from_args

    site = site_from_args(args)
    answers = first_answers(site)  # a walled site shows nothing but its wall: say so before crawling
    if all(a.wall is not None or a.error for a in answers):
        print(f"{site.name} ({site.key}): no homepage answered without a challenge; nothing to discover\n"
              f"{format_answers(answers)}\nallowlist the monitor first (docs/waf.md), then run discover again")
        return 1
    found = discover(site, depth=args.depth)
    print(format_inventory(found))
    if args.write:
        path = Path(args.write)
        path.write_text(draft_site_file(site, found), encoding="utf-8")
        print(f"wrote {path} (review it, then: sitecheck check-config {path})")
    return 0


def discover(site, depth: int = 1) -> dict[str, Any]:
    """Crawl `site` `depth` clicks deep into a temporary store; what the pages said, by host."""
    from sitecheck.checks import registry
    from sitecheck.crawler.runner import run_crawl
    from sitecheck.store import Store

    # The inventory check exists for this crawl only; the crawl runs in this one process
    # (processes: 1), where the table entry is seen.
    registry.BUILTIN_CHECKS.setdefault(CHECK_NAME, f"{__name__}:InventoryCheck")
    shallow = dataclasses.replace(site, checks={CHECK_NAME: {}, "waf": {}},
                                  crawl=dataclasses.replace(site.crawl, max_depth=depth, processes=1, progress="off"))
    with tempfile.TemporaryDirectory(prefix="sitecheck-discover-") as tmp:
        with Store(Path(tmp) / "discover.sqlite3") as store:
            summary = run_crawl(shallow, store, progress="off")
            facts = store.facts(summary.run_id)
    return inventory(site, facts)


def inventory(site, facts: list[Fact]) -> dict[str, Any]:
    """Columns, boards and marks per host from the inventory facts of a shallow crawl."""
    profile = platforms.for_site(site)
    hosts: dict[str, dict[str, Any]] = {h.key: {"host": h, "columns": [], "boards": [], "marks": None,
                                               "first_answer": None, "pages": 0} for h in site.hosts}
    channels_seen = False
    for fact in facts:
        entry = hosts.get(fact.host_key or "")
        if entry is None:
            continue
        if fact.name == "crawl.first_answer":
            entry["first_answer"] = fact.value
        if fact.name != "discover.page":
            continue
        row = fact.value
        entry["pages"] += 1
        channels_seen = channels_seen or bool(row["channel_id"])
        if row.get("homepage"):
            entry["marks"] = {**row["marks"], "meta_site_code": row["site_id_code"]}
            for url, text in row["links"]:
                _add(entry["boards"], {"name": text[:20], "url": url})
            continue
        name = row["column"] or row["title"].split(" - ")[0].split("_")[0].strip()
        if row["article"] or not name:
            continue
        if _BOARD.search(f"{name} {row['url']}"):
            _add(entry["boards"], {"name": name, "url": row["url"]})
        elif row["column"] or row["channel_id"]:
            _add(entry["columns"], {"name": name, "url": row["url"], "channel_id": row["channel_id"],
                                    "code": row["code"], "category": guess_category(name)})
    detected = profile.NAME if profile else (gansu.NAME if channels_seen else None)
    return {"site": site, "hosts": list(hosts.values()), "platform": detected,
            "platform_configured": profile is not None}


def _add(rows: list[dict], row: dict) -> None:
    if all(r["url"] != row["url"] and r["name"] != row["name"] for r in rows):
        rows.append(row)


def guess_category(name: str) -> str:
    for pattern, category in _CATEGORY_GUESS:
        if pattern.search(name):
            return category
    return "动态要闻"


def format_inventory(found: dict[str, Any]) -> str:
    site = found["site"]
    lines = [f"{site.name} ({site.key}): what the homepages and the pages one click away show"]
    if found["platform"]:
        how = "configured" if found["platform_configured"] else "detected (pages carry meta channelId)"
        lines.append(f"platform: {found['platform']} ({how})")
    for entry in found["hosts"]:
        host = entry["host"]
        lines.append("")
        lines.append(f"[{host.key}] {host.name} {host.url} — {entry['pages']} pages read")
        first = entry["first_answer"] or {}
        if first.get("challenged"):
            lines.append(f"  first request: challenged by {first.get('product')} — allowlist the monitor "
                         "(docs/waf.md); nothing else could be read")
        marks = entry["marks"]
        if marks:
            lines.append(f"  footer: 网站标识码 {marks['site_code'] or '-'} (找错 sitecode {marks['jiucuo_site_code'] or '-'}, "
                         f"meta SiteIDCode {marks['meta_site_code'] or '-'}), {marks['icp'] or 'no ICP'}, "
                         f"{marks['beian'] or 'no 公网安备'}, conac {marks['conac'] or '-'}")
        lines.append(f"  columns ({len(entry['columns'])}):")
        for col in entry["columns"]:
            extra = f"  channelId {col['channel_id']}" if col["channel_id"] else ""
            lines.append(f"    {col['name']:<10} {col['url']}{extra}")
        lines.append(f"  boards ({len(entry['boards'])}):")
        for board in entry["boards"]:
            lines.append(f"    {board['name']:<10} {board['url']}")
    return "\n".join(lines)


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid YAML double-quoted scalar


def draft_site_file(site, found: dict[str, Any], now: datetime | None = None) -> str:
    """The draft: the site's identity and credentials kept, hosts with what was found."""
    now = now or datetime.now(timezone.utc)
    out = [f"# Draft written by `sitecheck discover` on {now.date().isoformat()} from what the homepages and",
           "# the pages one click away showed. Review every line: categories are guesses from column names;",
           "# boards need their message-list selectors before they can be enabled.",
           f"site: {site.key}", f"name: {_q(site.name)}", f"rules: {site.rules}"]
    if found["platform"]:
        note = "" if found["platform_configured"] else "  # detected: pages carry meta channelId"
        out.append(f"platform: {found['platform']}{note}")
    out.append("hosts:")
    for entry in found["hosts"]:
        host, marks = entry["host"], entry["marks"] or {}
        out += [f"  - key: {host.key}", f"    name: {_q(host.name)}", f"    url: {_q(host.url)}"]
        if host.aliases:
            out.append(f"    aliases: [{', '.join(_q(a) for a in host.aliases)}]")
        code = marks.get("site_code") or ""
        if site_code_valid(code):
            out.append(f'    site_code: "{code}"  # footer 网站标识码; 找错 sitecode {marks.get("jiucuo_site_code") or "-"}')
        elif host.gov.get("site_code"):
            out.append(f'    site_code: "{host.gov["site_code"]}"  # from the site file: not read from the footer')
        if marks:
            out.append(f"    # footer: {marks.get('icp') or 'no ICP'}, {marks.get('beian') or 'no 公网安备'}, "
                       f"conac {marks.get('conac') or '-'}")
        if entry["columns"]:
            out.append("    columns:")
            for col in entry["columns"]:
                ident = ", ".join(x for x in (f"channelId {col['channel_id']}" if col["channel_id"] else "",
                                              f"code {col['code']}" if col["code"] else "") if x)
                out.append(f"      - {{name: {_q(col['name'])}, url: {_q(col['url'])}, category: {col['category']}}}"
                           f"  # category guessed{'; ' + ident if ident else ''}")
        if entry["boards"]:
            out.append("    # boards found (set item/title/asked/replied selectors, then enable):")
            for board in entry["boards"]:
                out.append(f"    # - {{name: {_q(board['name'])}, url: {_q(board['url'])}}}")
    if site.auth:
        base = Path(site.path).parent if site.path else Path.cwd()
        out.append("auth:")
        for cred in site.auth:
            fields = [f"hosts: [{', '.join(cred['hosts'])}]"]
            for key in ("basic_user_env", "basic_password_env"):
                if cred.get(key):
                    fields.append(f"{key}: {cred[key]}")
            if cred.get("headers_file"):
                fields.append(f"headers_file: {_q(str((base / cred['headers_file']).resolve()))}")
            out.append(f"  - {{{', '.join(fields)}}}")
    if site.crawl.exclude:
        out.append("crawl:")
        out.append("  exclude:")
        out += [f"    - {_q(p)}" for p in site.crawl.exclude]
    return "\n".join(out) + "\n"
