"""The report as a Word file, the form departments submit (python-docx).

Chinese text needs its own font slot: Word picks the font of a CJK character
from `w:rFonts/@w:eastAsia`, and python-docx's `font.name` sets only the Latin
slots, while the built-in heading styles point at theme fonts that override an
explicit name.  `_set_fonts` therefore writes all four slots and drops the
theme attributes, on every style and on the document defaults.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from . import i18n
from .data import group_spans
from .i18n import tr

LATIN_FONT = "Times New Roman"
BODY_FONT = "宋体"  # SimSun
HEADING_FONT = "黑体"  # SimHei
RED = RGBColor(0xC6, 0x28, 0x28)
GREEN = RGBColor(0x2E, 0x7D, 0x32)
MAX_RUN_ROWS = 16  # more runs than this: one row per week in the Word file (the HTML has them all)
_THEME_ATTRS = ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme")


# --- fonts and small building blocks ------------------------------------------------------------


def _set_fonts(rpr_parent, east_asia: str, latin: str = LATIN_FONT) -> None:
    """Write the Latin and East Asian font slots on an element that can hold a w:rPr."""
    rpr = rpr_parent.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in _THEME_ATTRS:
        fonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attr), latin)
    fonts.set(qn("w:eastAsia"), east_asia)


def _set_lang(rpr_parent) -> None:
    rpr = rpr_parent.get_or_add_rPr()
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:eastAsia"), "zh-CN")


def _setup_styles(doc) -> None:
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    if defaults is not None:
        rpr_default = defaults.find(qn("w:rPrDefault"))
        if rpr_default is not None and rpr_default.find(qn("w:rPr")) is not None:
            fonts = rpr_default.find(qn("w:rPr")).find(qn("w:rFonts"))
            if fonts is not None:
                for attr in _THEME_ATTRS:
                    fonts.attrib.pop(qn(attr), None)
                for attr in ("w:ascii", "w:hAnsi", "w:cs"):
                    fonts.set(qn(attr), LATIN_FONT)
                fonts.set(qn("w:eastAsia"), BODY_FONT)
    for style in doc.styles:
        element = style.element
        if not hasattr(element, "get_or_add_rPr"):
            continue
        heading = style.name.startswith(("Heading", "Title"))
        _set_fonts(element, HEADING_FONT if heading else BODY_FONT)
        if heading:
            style.font.color.rgb = RGBColor(0, 0, 0)
            style.font.bold = style.name != "Title"
    normal = doc.styles["Normal"]
    normal.font.size = Pt(12)  # 小四
    _set_lang(normal.element)
    for name, size in (("Title", 20), ("Heading 1", 16), ("Heading 2", 14), ("Heading 3", 12)):
        doc.styles[name].font.size = Pt(size)


def _run(paragraph, text: str, *, bold: bool = False, size: float | None = None, colour: RGBColor | None = None,
         font: str = BODY_FONT):
    run = paragraph.add_run(text)
    _set_fonts(run._element, font)
    run.bold = bold or None
    if size:
        run.font.size = Pt(size)
    if colour is not None:
        run.font.color.rgb = colour
    return run


def _para(doc_or_cell, text: str = "", **kw):
    p = doc_or_cell.add_paragraph()
    if text:
        _run(p, text, **kw)
    return p


def _heading(doc, text: str, level: int = 1) -> None:
    h = doc.add_heading(level=level)
    _run(h, text, font=HEADING_FONT)


def _cell(cell, text: Any, *, bold: bool = False, size: float = 10.5, colour: RGBColor | None = None,
          align=None) -> None:
    p = cell.paragraphs[0]
    if text is not None and text != "":  # an empty run would survive a merge as a blank line
        _run(p, str(text), bold=bold, size=size, colour=colour)
    if align is not None:
        p.alignment = align


def _cell_line(cell, text: str, size: float = 9) -> None:
    _run(cell.add_paragraph(), text, size=size)


def _repeat_header(row) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    tr_pr.append(flag)


def _table(doc, headers: list[str], widths_cm: list[float] | None = None, size: float = 10.5):
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, headers):
        _cell(cell, text, bold=True, size=size, align=WD_ALIGN_PARAGRAPH.CENTER)
    _repeat_header(table.rows[0])
    if widths_cm:
        table.autofit = False
        for column, width in zip(table.columns, widths_cm):
            column.width = Cm(width)
    return table


def _add_row(table, values: list[Any], *, size: float = 10.5, right: set[int] = frozenset(), bold: bool = False,
             colours: dict[int, RGBColor] | None = None):
    cells = table.add_row().cells
    for i, (cell, value) in enumerate(zip(cells, values)):
        _cell(cell, value, size=size, bold=bold, colour=(colours or {}).get(i),
              align=WD_ALIGN_PARAGRAPH.RIGHT if i in right else None)
    return cells


def _fix_widths(table) -> None:
    """Copy the grid's column widths onto every cell: Word sizes columns by the cells' widths."""
    widths = [column.width for column in table.columns]
    if not all(widths):
        return
    for row in table.rows:
        col = 0
        for tc in row._tr.tc_lst:
            span = tc.grid_span
            tc.width = sum(widths[col:col + span])
            col += span


def _key_values(doc, rows: list[tuple[str, Any]], widths: tuple[float, float] = (5.0, 9.0)):
    table = doc.add_table(rows=0, cols=2)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for key, value in rows:
        cells = table.add_row().cells
        _cell(cells[0], key, bold=True)
        if isinstance(value, tuple):
            _cell(cells[1], value[0], bold=True, colour=value[1])
        else:
            _cell(cells[1], value)
    table.autofit = False
    for column, width in zip(table.columns, widths):
        column.width = Cm(width)
    _fix_widths(table)
    return table


def _weekly(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """At most MAX_RUN_ROWS rows: else the last run of each ISO week."""
    if len(rows) <= MAX_RUN_ROWS:
        return rows, False
    last: dict[tuple[int, int], dict[str, Any]] = {}
    for row in rows:
        last[date.fromisoformat(row["date"]).isocalendar()[:2]] = row
    return list(last.values()), True


# --- the document ---------------------------------------------------------------------------


def build_docx(report: dict[str, Any]):
    lang = report["lang"]
    doc = Document()
    _setup_styles(doc)
    section = doc.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2.0))
    section.top_margin = section.bottom_margin = Cm(2.2)

    title = doc.add_paragraph(style="Title")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(title, report["title"], font=HEADING_FONT, size=20)
    sub = _para(doc, report["site"]["name"], size=14)
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER

    _summary(doc, report, lang)
    _inspection(doc, report, lang)
    _rectification_summary(doc, report, lang)
    _comparison(doc, report, lang)
    _statistics(doc, report, lang)
    _rectification_annex(doc, report, lang)
    return doc


def write_docx(report: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    build_docx(report).save(str(path))
    return path


def _summary(doc, report: dict[str, Any], lang: str) -> None:
    result = report["result"]
    colour = GREEN if result["value"] == "合格" else RED
    score = result["score"]
    rows: list[tuple[str, Any]] = [
        (tr("field.site", lang), report["site"]["name"] + i18n.paren(report["site"]["key"], lang)),
        (tr("field.period", lang), report["period"]["text"] + i18n.paren(report["period"]["label"], lang)),
        (tr("field.result", lang), (result["label"], colour)),
        (tr("field.score", lang),
         f"{i18n.format_number(score)} / 100{tr('estimate', lang)}" if score is not None else "—"),
        (tr("field.runs", lang), str(report["runs"]["count"])),
    ]
    if result.get("rules_title"):
        rows.append((tr("field.rules", lang), result["rules_title"]))
    rows += [(tr("field.as_of", lang), i18n.format_day(report["period"]["as_of"], lang)),
             (tr("field.generated", lang), i18n.format_timestamp(report["generated_at"], lang))]
    _key_values(doc, rows)


def _inspection(doc, report: dict[str, Any], lang: str) -> None:
    _heading(doc, tr("section.inspection", lang))
    headers = [tr(k, lang) for k in ("col.level1", "col.level2", "col.criterion", "col.finding", "col.points",
                                     "col.measure")]
    table = _table(doc, headers, [1.6, 2.0, 3.2, 4.7, 2.4, 3.1])
    spans = group_spans(report["inspection"])
    for row, span in zip(report["inspection"], spans):
        points = row["points_text"] + (tr("estimate", lang) if row["estimate"] and row["points"] else "")
        colour = RED if row["status"] in ("veto", "deducted") else None
        cells = _add_row(table, [row["level1"] if span else "", row["level2"], row["criterion"], row["finding"],
                                 points, row["measure"]], colours={4: colour} if colour else None, right={4})
        for url in row["examples"]:
            _cell_line(cells[3], url)
    first = 1
    for span in spans:  # one merged 一级指标 cell per group, as submitted tables have
        if span > 1:
            table.cell(first, 0).merge(table.cell(first + span - 1, 0))
        first += span or 0
    result = report["result"]
    total = table.add_row().cells
    merged = total[0].merge(total[3])
    _cell(merged, tr("row.total", lang, result=result["label"], score=i18n.format_number(result["score"])), bold=True)
    _cell(total[4], i18n.format_number(result["points_total"]), bold=True, align=WD_ALIGN_PARAGRAPH.RIGHT)
    _fix_widths(table)
    _para(doc, tr("estimate.note", lang), size=9)


def _rectification_summary(doc, report: dict[str, Any], lang: str) -> None:
    rect = report["rectification"]
    _heading(doc, tr("section.rectification", lang))
    _para(doc, rect["summary"]["text"])
    if not rect["items"]:
        return
    table = _table(doc, [tr("cmp.problem", lang), tr("status.fixed", lang), tr("status.open", lang)], [8.0, 3.0, 3.0])
    for entry in rect["by_code"]:
        _add_row(table, [entry["label"], entry["fixed"], entry["open"]], right={1, 2})
    _fix_widths(table)
    _para(doc, tr("annex.see", lang))


def _comparison(doc, report: dict[str, Any], lang: str) -> None:
    c = report["comparison"]
    _heading(doc, tr("section.comparison", lang))
    if not c["available"]:
        _para(doc, c["text"])
        return
    trend = lambda key: tr(f"trend.{key}", lang)  # noqa: E731
    current = tr("cmp.current", lang) + i18n.paren(report["period"]["label"], lang)
    previous = tr("cmp.previous", lang) + i18n.paren(c["previous_period"]["label"], lang)
    table = _table(doc, [tr("cmp.indicator", lang), current, previous, tr("cmp.trend", lang)], [6.0, 3.5, 3.5, 2.5])
    _add_row(table, [tr("cmp.result", lang), c["result"]["current_text"], c["result"]["previous_text"],
                     trend(c["result"]["trend"])])
    _add_row(table, [tr("cmp.score", lang), i18n.format_number(c["score"]["current"]),
                     i18n.format_number(c["score"]["previous"]), trend(c["score"]["trend"])])
    for ind in c["indicators"]:
        _add_row(table, [ind["title"], ind["current_text"], ind["previous_text"], trend(ind["trend"])],
                 colours={3: RED} if ind["trend"] == "worse" else None)
    _fix_widths(table)
    _heading(doc, tr("sub.comparison_codes", lang), 2)
    table = _table(doc, [tr("cmp.problem", lang), tr("cmp.current", lang), tr("cmp.previous", lang),
                         tr("cmp.change", lang), tr("cmp.trend", lang)], [6.0, 2.5, 2.5, 2.5, 2.5])
    for row in c["codes"]:
        _add_row(table, [row["label"], row["current"], row["previous"], f"{row['change']:+d}", trend(row["trend"])],
                 right={1, 2, 3}, colours={4: RED} if row["trend"] == "worse" else None)
    _fix_widths(table)
    _para(doc, tr("cmp.note", lang), size=9)


def _statistics(doc, report: dict[str, Any], lang: str) -> None:
    s = report["statistics"]
    _heading(doc, tr("section.statistics", lang))

    pub = s["publications"]
    _heading(doc, tr("sub.publications", lang), 2)
    _para(doc, pub["note"], size=9)
    table = _table(doc, [tr("stat.category", lang), tr("stat.count", lang)], [8.0, 3.0])
    for row in pub["by_category"]:
        _add_row(table, [row["category"], row["count"]], right={1})
    _add_row(table, [tr("stat.unassigned", lang), pub["unassigned"]], right={1})
    _add_row(table, [tr("stat.total", lang), pub["total"]], right={1}, bold=True)
    _fix_widths(table)
    if pub["by_column"]:
        _para(doc, tr("sub.publications_by_column", lang), bold=True)
        table = _table(doc, [tr("stat.host", lang), tr("stat.column", lang), tr("stat.category", lang),
                             tr("stat.count", lang)], [4.0, 4.5, 3.5, 2.5])
        for row in pub["by_column"]:
            _add_row(table, [row["host_name"], row["column"], row["category"], row["count"]], right={3})
        _fix_widths(table)

    m = s["messages"]
    _heading(doc, tr("sub.messages", lang), 2)
    if m["note"]:
        _para(doc, m["note"], size=9)
    if m["source"] == "board.message":
        _key_values(doc, [(tr("stat.received", lang), str(m["received"])),
                          (tr("stat.answered", lang), str(m["answered"])),
                          (tr("stat.unanswered", lang), str(m["unanswered"])),
                          (tr("stat.replied", lang), str(m["replied"])),
                          (tr("stat.median_reply", lang), i18n.format_number(m["median_reply_days"])),
                          (m["over_limit_label"], str(m["over_limit"]))])
    elif m["boards"]:
        table = _table(doc, [tr("stat.board", lang), tr("stat.received", lang), tr("stat.answered", lang),
                             tr("stat.unanswered", lang), tr("stat.median_reply", lang)], [4.5, 2.5, 2.5, 2.5, 3.0])
        for b in m["boards"]:
            _add_row(table, [b["board"], i18n.format_number(b["count"]), i18n.format_number(b["answered"]),
                             i18n.format_number(b["unanswered"]), i18n.format_number(b["median_reply_days"])],
                     right={1, 2, 3, 4})
        _fix_widths(table)

    a = s["availability"]
    _heading(doc, tr("sub.availability", lang), 2)
    if not a["probes"]:
        _para(doc, tr("stat.availability_none", lang))
    else:
        rows = [(tr("stat.probes", lang), str(a["probes"])), (tr("stat.failed", lang), str(a["failed"])),
                (tr("stat.availability", lang), i18n.format_percent(a["availability"])),
                (tr("stat.days_below", lang, floor=i18n.format_percent(a["floor"], 0)), str(a["days_below"]))]
        if a["worst_week"]:
            w = a["worst_week"]
            rows.append((tr("stat.worst_week", lang),
                         i18n.format_percent(w["ratio"]) + i18n.paren(f"{w['start']} – {w['end']}", lang)))
        _key_values(doc, rows)
        bad = [d for d in a["days"] if d["availability"] is not None and d["availability"] < a["floor"]]
        if bad:
            _para(doc, tr("stat.bad_days", lang, floor=i18n.format_percent(a["floor"], 0)), bold=True)
            table = _table(doc, [tr("stat.date", lang), tr("stat.probes", lang), tr("stat.failed", lang),
                                 tr("stat.availability", lang)], [4.0, 3.0, 3.0, 3.0])
            for d in bad:
                _add_row(table, [d["date"], d["probes"], d["failed"], i18n.format_percent(d["availability"])],
                         right={1, 2, 3})
            _fix_widths(table)

    _heading(doc, tr("sub.broken_links", lang), 2)
    rows, thinned = _weekly(s["broken_links"])
    if thinned:
        _para(doc, tr("stat.weekly_note", lang), size=9)
    table = _table(doc, [tr("stat.date", lang), tr("stat.broken_homepage", lang), tr("stat.broken_other", lang),
                         tr("stat.homepage_down", lang)], [3.5, 3.5, 3.5, 3.5])
    for row in rows:
        _add_row(table, [row["date"], row["homepage"], row["other"], row["homepage_down"]], right={1, 2, 3})
    _fix_widths(table)

    _heading(doc, tr("sub.response_times", lang), 2)
    rows, thinned = _weekly(s["response_times"])
    if thinned:
        _para(doc, tr("stat.weekly_note", lang), size=9)
    table = _table(doc, [tr(k, lang) for k in ("stat.date", "stat.pages", "stat.p50", "stat.p90", "stat.p95",
                                               "stat.max", "stat.homepage_latency")],
                   [2.6, 1.8, 2.2, 2.2, 2.2, 2.2, 2.2], size=9.5)
    for row in rows:
        _add_row(table, [row["date"], row["pages"], *(i18n.format_number(row[k], 3) for k in
                                                      ("p50", "p90", "p95", "max", "homepage"))],
                 right={1, 2, 3, 4, 5, 6}, size=9.5)
    _fix_widths(table)

    _heading(doc, tr("sub.freshness", lang), 2)
    if not s["column_freshness"]:
        _para(doc, tr("stat.freshness_none", lang))
        return
    table = _table(doc, [tr(k, lang) for k in ("stat.host", "stat.column", "stat.category", "stat.newest", "stat.age",
                                               "stat.window", "stat.state")],
                   [2.6, 2.8, 2.4, 2.6, 1.8, 2.0, 2.4], size=9.5)
    for c in s["column_freshness"]:
        _add_row(table, [c["host_name"], c["column"], c["category"] or "—", c["date"] or "—",
                         i18n.format_number(c["age_days"]), i18n.format_number(c["window_days"]),
                         tr(f"fresh.{c['state']}", lang)], right={4, 5}, size=9.5,
                 colours={6: RED} if c["state"] in ("stale", "blank") else None)
    _fix_widths(table)


def _rectification_annex(doc, report: dict[str, Any], lang: str) -> None:
    """The full problem list, in a landscape section: URLs need the width."""
    items = report["rectification"]["items"]
    if not items:
        return
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    _heading(doc, tr("annex.rectification", lang))
    headers = [tr(k, lang) for k in ("rect.no", "rect.problem", "rect.url", "rect.found_on", "rect.where",
                                     "rect.first_seen", "rect.last_seen", "rect.status")]
    table = _table(doc, headers, [1.2, 3.0, 5.5, 5.4, 2.8, 2.1, 2.1, 3.6], size=9)
    for it in items:
        where = (it["host_name"] or it["host"] or "—") + (f" / {it['column']}" if it["column"] else "")
        status = (tr("rect.fixed_on", lang, date=it["fixed_on"]) if it["status"] == "fixed"
                  else tr("status.open", lang))
        refs = [f"{r['page']}" + (f"「{r['text']}」" if r["text"] else "") for r in it["found_on"]]
        cells = _add_row(table, [it["no"], it["label"], it["url"], refs[0] if refs else "—", where,
                                 it["first_seen"], it["last_seen"], status], size=9, right={0},
                         colours={7: GREEN if it["status"] == "fixed" else RED})
        for ref in refs[1:]:
            _cell_line(cells[3], ref, size=9)
        if it["found_on_total"] > len(refs) and refs:
            _cell_line(cells[3], tr("rect.more_referrers", lang, count=it["found_on_total"]), size=8)
        if it["message"]:
            _cell_line(cells[1], it["message"], size=8)
    _fix_widths(table)
