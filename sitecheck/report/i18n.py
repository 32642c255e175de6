"""Words of the report in Chinese (the default: the report is submitted in Chinese) and English.

Every string the report writes itself comes from here as (zh, en); text taken
from the store (finding messages, page titles, column names) is shown as it is.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

LANGS = ("zh", "en")

TEXT: dict[str, tuple[str, str]] = {
    # --- headings and fields ---------------------------------------------------------
    "title.quarter": ("网站季度自查报告", "Website quarterly self-inspection report"),
    "title.range": ("网站自查报告", "Website self-inspection report"),
    "field.site": ("网站名称", "Website"),
    "field.period": ("检查期间", "Inspection period"),
    "field.result": ("检查结果", "Result"),
    "field.score": ("估算得分", "Estimated score"),
    "field.runs": ("检查次数", "Inspection runs"),
    "field.latest_run": ("最近一次检查", "Latest run"),
    "field.rules": ("检查指标", "Indicator rules"),
    "field.generated": ("报告生成时间", "Generated"),
    "field.as_of": ("数据截至", "Data as of"),
    "section.inspection": ("一、检查情况", "1. Inspection"),
    "section.rectification": ("二、问题整改情况", "2. Rectification"),
    "annex.rectification": ("附件：问题整改清单", "Annex: rectification list"),
    "annex.see": ("问题明细详见附件《问题整改清单》。", "Every problem is listed in the annex."),
    "rect.by_code": ("按问题类型", "By problem type"),
    "stat.weekly_note": ("检查次数较多，下表列出每周最后一次检查。", "Many runs: the table shows each week's last run."),
    "stat.bad_days": ("可用率低于 {floor} 的日期", "Days below {floor}"),
    "section.comparison": ("三、与上期对比", "3. Comparison with the previous period"),
    "section.statistics": ("四、统计数据", "4. Statistics"),
    "sub.publications": ("（一）信息发布数量", "4.1 Items published"),
    "sub.publications_by_column": ("按栏目统计", "By column"),
    "sub.messages": ("（二）互动交流（留言办理）", "4.2 Messages"),
    "sub.availability": ("（三）首页可用性", "4.3 Homepage availability"),
    "sub.broken_links": ("（四）链接可用性", "4.4 Broken links"),
    "sub.response_times": ("（五）响应时间", "4.5 Response times"),
    "sub.freshness": ("（六）栏目更新情况", "4.6 Column freshness"),
    "sub.reply_times": ("留言回复用时分布", "Message reply times"),
    "sub.comparison_codes": ("问题数量对比（按问题类型）", "Problems by type"),
    # --- inspection table ---------------------------------------------------------
    "col.level1": ("一级指标", "Indicator"),
    "col.level2": ("二级指标", "Item"),
    "col.criterion": ("考察点", "What is checked"),
    "col.finding": ("检查情况/存在的问题", "Findings / problems"),
    "col.points": ("扣分", "Deduction"),
    "col.measure": ("问题整改对策", "Rectification"),
    "level1.veto": ("单项否决指标", "Veto items"),
    "row.total": ("合计：检查结果 {result}；估算得分 {score}", "Total: result {result}; estimated score {score}"),
    "points.veto": ("否决", "veto"),
    "points.none": ("—", "—"),
    "estimate": ("（估算）", " (estimate)"),
    "estimate.note": ("注：扣分与得分按公开报道口径估算，部分分值未经正式确认。",
                      "Note: points and score are estimates; some point values are reported, not confirmed."),
    "criterion.deduction": ("{title}：每处扣{each}分，最多扣{max}分", "{title}: {each} point(s) each, at most {max}"),
    "criterion.deduction_nomax": ("{title}：每处扣{each}分", "{title}: {each} point(s) each"),
    "finding.ok": ("未发现问题。", "No problem found."),
    "finding.veto": ("存在问题：", "Problem: "),
    "finding.evidence": ("{label}：{count}{unit}（阈值 {threshold}）", "{label}: {count} {unit} (threshold {threshold})"),
    "finding.below": ("{label}：{count}{unit}，未达否决阈值 {threshold}",
                      "{label}: {count} {unit}, below the veto threshold {threshold}"),
    "finding.no_data": ("无数据：", "No data: "),
    "finding.no_data_default": ("本期未采集到相关数据。", "No data was collected for this item."),
    "finding.vetoed_runs": ("本期 {runs} 次检查中有 {vetoed} 次触发否决。", " Vetoed in {vetoed} of {runs} runs this period."),
    "finding.count": ("发现 {count} 处问题。", "{count} problem(s) found."),
    "finding.examples": ("例如：", "For example:"),
    "finding.more": ("等，共 {count} 处，详见整改清单。", "… {count} in all; see the rectification list."),
    "unit.item": ("项", "item(s)"),
    "unit.times": ("次", "time(s)"),
    # --- results and statuses -------------------------------------------------------
    "result.合格": ("合格", "Qualified"),
    "result.不合格": ("不合格", "Unqualified"),
    "result.none": ("无数据", "No data"),
    "status.pass": ("通过", "pass"),
    "status.veto": ("否决", "veto"),
    "status.no_data": ("无数据", "no data"),
    "status.open": ("未整改", "open"),
    "status.fixed": ("已整改", "fixed"),
    "trend.better": ("好转", "better"),
    "trend.worse": ("变差", "worse"),
    "trend.same": ("持平", "same"),
    "trend.n/a": ("无法比较", "n/a"),
    "fresh.ok": ("正常", "up to date"),
    "fresh.stale": ("超期未更新", "stale"),
    "fresh.blank": ("空白栏目", "blank"),
    "fresh.exempt": ("无需更新", "no update expected"),
    # --- rectification list ------------------------------------------------------
    "rect.summary": ("本期共发现问题 {total} 个，已整改 {fixed} 个，未整改 {open} 个（其中本期新发现 {new} 个，"
                     "上期遗留 {carried} 个）。",
                     "{total} problems this period: {fixed} fixed, {open} open ({new} new this period, "
                     "{carried} carried over)."),
    "rect.none": ("本期未发现问题。", "No problem found this period."),
    "rect.no": ("序号", "No."),
    "rect.problem": ("问题类型", "Problem"),
    "rect.url": ("问题地址", "URL at fault"),
    "rect.found_on": ("所在页面", "Linked from"),
    "rect.where": ("站点/栏目", "Host / column"),
    "rect.first_seen": ("首次发现", "First seen"),
    "rect.last_seen": ("最近发现", "Last seen"),
    "rect.status": ("整改状态", "Status"),
    "rect.fixed_on": ("已整改（{date}）", "fixed ({date})"),
    "rect.new": ("本期新发现", "new"),
    "rect.more_referrers": ("等 {count} 个页面", "and {count} pages in all"),
    # --- comparison -------------------------------------------------------------------
    "cmp.none": ("上期（{period}）无检查记录，无法对比。", "No runs in the previous period ({period}): nothing to compare."),
    "cmp.indicator": ("指标", "Indicator"),
    "cmp.current": ("本期", "This period"),
    "cmp.previous": ("上期", "Previous period"),
    "cmp.change": ("变化", "Change"),
    "cmp.trend": ("趋势", "Trend"),
    "cmp.result": ("检查结果", "Result"),
    "cmp.score": ("估算得分", "Estimated score"),
    "cmp.problem": ("问题类型", "Problem"),
    "cmp.note": ("问题数量为各期最后一次检查时存在的问题数。", "Counts are problems present in each period's last run."),
    # --- statistics -------------------------------------------------------------------
    "stat.category": ("栏目类别", "Category"),
    "stat.column": ("栏目", "Column"),
    "stat.host": ("站点", "Host"),
    "stat.count": ("发布数量", "Items"),
    "stat.total": ("合计", "Total"),
    "stat.unassigned": ("未归入配置栏目", "Not under a configured column"),
    "stat.publications_note": ("按每篇文章页面显示的发布日期（无则取 PubDate 元数据，再无则取网址中的日期）"
                               "统计本期发布的信息，按其所在的配置栏目归类。",
                               "Articles published in the period by the date each page shows (else its PubDate "
                               "meta tag, else the date in its URL), grouped by the configured column they sit "
                               "under."),
    "stat.board": ("留言板", "Board"),
    "stat.received": ("本期收到留言", "Received"),
    "stat.answered": ("其中已回复", "of which answered"),
    "stat.unanswered": ("其中未回复", "of which unanswered"),
    "stat.replied": ("本期回复留言", "Replied this period"),
    "stat.median_reply": ("回复用时中位数（天）", "Median reply time (days)"),
    "stat.over_limit": ("超过 {days} 天未回复或回复", "Over {days} days to answer"),
    "stat.messages_none": ("本期未采集到留言数据。", "No message data this period."),
    "stat.messages_stats_only": ("未采集到逐条留言，以下为最近一次检查时留言板的统计。",
                                 "No individual messages recorded; board totals from the latest run."),
    "stat.probes": ("监测次数", "Probes"),
    "stat.failed": ("失败次数", "Failed"),
    "stat.availability": ("可用率", "Availability"),
    "stat.days_below": ("可用率低于 {floor} 的天数", "Days below {floor}"),
    "stat.worst_week": ("最差连续7天失败率", "Worst 7-day failure ratio"),
    "stat.availability_none": ("本期无首页监测数据（需启用定时探测）。", "No homepage probes in the period."),
    "stat.date": ("日期", "Date"),
    "stat.run": ("检查", "Run"),
    "stat.broken_homepage": ("首页不可用链接", "Broken on homepages"),
    "stat.broken_other": ("其他页面不可用链接", "Broken elsewhere"),
    "stat.homepage_down": ("首页无法访问", "Homepage down"),
    "stat.pages": ("页面数", "Pages"),
    "stat.p50": ("中位数（秒）", "Median (s)"),
    "stat.p90": ("P90（秒）", "P90 (s)"),
    "stat.p95": ("P95（秒）", "P95 (s)"),
    "stat.max": ("最慢（秒）", "Slowest (s)"),
    "stat.homepage_latency": ("首页（秒）", "Homepage (s)"),
    "stat.newest": ("最新信息日期", "Newest item"),
    "stat.age": ("距今天数", "Age (days)"),
    "stat.window": ("更新要求（天）", "Window (days)"),
    "stat.state": ("状态", "State"),
    "stat.freshness_none": ("未配置栏目或未采集到栏目数据。", "No configured columns or no column data."),
    "stat.bucket": ("回复用时", "Reply time"),
    "chart.availability": ("首页每日可用率", "Homepage availability per day"),
    "chart.broken": ("不可用链接数（每次检查）", "Broken links per run"),
    "chart.latency": ("页面响应时间（每次检查）", "Page response times per run"),
    "chart.freshness": ("栏目距最近更新天数 / 更新要求", "Column age relative to its window"),
    "chart.reply": ("留言回复用时分布", "Message reply times"),
    "chart.no_data": ("无数据", "no data"),
    "chart.window_line": ("更新要求", "window"),
    "days": ("天", "days"),
}

# What each finding code means, for the rectification list and the comparison.
CODES: dict[str, tuple[str, str]] = {
    "site.homepage_down": ("首页无法访问", "Homepage down"),
    "link.broken_homepage": ("首页链接不可用", "Broken link on a homepage"),
    "link.broken": ("链接不可用", "Broken link"),
    "link.rate_limited": ("服务器限流", "Rate limited"),
    "link.blocked": ("访问被拦截", "Blocked by a bot wall"),
    "link.not_checked": ("未检查", "Not checked"),
    "link.hidden": ("暗链", "Hidden link"),
    "link.hidden_other": ("隐藏链接（非推广）", "Hidden link to another site (no spam)"),
    "crawl.blocked_by_waf": ("网站防护拦截了监测访问", "Blocked by the site's WAF"),
    "crawl.allowlisted": ("监测白名单生效", "Monitor allowlisted"),
    "crawl.backoff": ("服务器繁忙，已放慢抓取", "Crawl slowed down for a busy server"),
    "crawl.trap": ("疑似爬虫陷阱，已跳过", "Crawler trap skipped"),
    "page.slow": ("页面响应慢", "Slow page"),
    "column.stale": ("栏目更新不及时", "Column not updated"),
    "column.blank": ("空白栏目", "Blank column"),
    "column.unreachable": ("栏目页面无法访问", "Column page unreachable"),
    "column.unknown": ("栏目更新情况无法读取", "Column items could not be read"),
    "homepage.stale": ("首页不更新", "Homepage not updated"),
    "interaction.no_channel": ("无有效互动交流渠道", "No interaction channel"),
    "interaction.unanswered": ("留言超期未回复", "Message unanswered too long"),
    "interaction.late_reply": ("留言回复超期", "Message answered late"),
    "interaction.board_missing": ("留言板未能抓取", "Message board not crawled"),
    "interaction.board_empty": ("留言板未读取到留言", "No messages read from a board"),
    "entry.missing": ("首页功能栏目缺失", "Homepage entry missing"),
    "entry.broken": ("功能栏目链接不可用", "Homepage entry broken"),
    "mark.missing": ("网站标识缺失", "Identity mark missing"),
    "mark.invalid": ("网站标识不规范", "Identity mark invalid"),
    "mark.site_code_mismatch": ("网站标识码不一致", "Site code mismatch"),
    "mark.jiucuo_outdated_host": ("找错入口使用旧地址", "找错 entry on the outdated host"),
    "mark.meta_missing": ("网页元数据缺失", "Page metadata missing"),
    "words.wrong": ("错别字、不规范表述", "Wrong wording"),
    "words.forbidden": ("禁用词", "Forbidden words"),
    "guide.incomplete": ("办事指南要素不全", "Service guide incomplete"),
}

# 问题整改对策 per veto item / deduction item of the rule set.
MEASURES: dict[str, tuple[str, str]] = {
    "veto.unreachable": ("排查服务器、网络及安全防护设备，保障首页稳定可访问；建立首页可用性监测和告警机制，故障及时处置。",
                         "Check servers, network and protection devices; monitor the homepage and act on alerts."),
    "veto.homepage_stale": ("建立首页内容更新机制，确保首页2周内有新信息发布，首页条目标注发布日期。",
                            "Publish on the homepage at least every two weeks and date every item."),
    "veto.columns_stale": ("对未更新栏目及时补充内容；确无内容的栏目予以整合或关停，已结束的专题归档。",
                           "Update stale columns; merge or close empty ones; archive ended topics."),
    "veto.interaction_poor": ("确保互动交流渠道有效可用，对群众留言在规定时限内答复并公开答复内容。",
                              "Keep a working channel; answer messages in time and publish the replies."),
    "veto.service_useless": ("完善办事服务入口，补齐办事指南要素（事项名称、设定依据、申请条件、办理材料、办理地点、办理时间、联系电话、办理流程）。",
                             "Provide a service entry and complete every service guide's elements."),
    "veto.serious_error": ("立即删除或更正相关内容，排查网页篡改和暗链，严格落实信息发布审核制度。",
                           "Remove or correct it at once; check for tampering and hidden links."),
    "deduction.homepage_links": ("逐一修复或删除首页不可用链接，图片、附件和外部链接一并核查。",
                                 "Fix or remove every broken homepage link, attachments included."),
    "deduction.page_links": ("修复或删除不可用链接，建立链接定期巡检机制。",
                             "Fix or remove broken links; check links regularly."),
    "deduction.columns_stale": ("按栏目类别明确更新周期，落实专人负责，及时更新。",
                                "Set an update cycle per column category and a person responsible."),
    "deduction.columns_blank": ("对空白栏目补充内容，或予以整合、撤并。", "Fill blank columns, or merge or close them."),
    "deduction.wrong_words": ("更正错别字和不规范表述，加强发布前审校。", "Correct the wording; proofread before publishing."),
    "deduction.guides": ("逐项补齐办事指南要素。", "Complete the elements of every service guide."),
    "deduction.entries": ("在首页增设缺失的功能栏目或入口。", "Add the missing entries to the homepage."),
    "deduction.entries_broken": ("修复首页功能栏目链接。", "Repair the homepage entries' links."),
    "deduction.marks": ("按《政府网站发展指引》规范设置网站标识码、ICP备案、公安机关备案和“我为政府网站找错”入口。",
                        "Set the site code, ICP and police filings and the 找错 entry as the guidelines require."),
    "deduction.meta": ("按规范补充网页元数据（SiteName、SiteDomain、SiteIDCode、ColumnName、ArticleTitle、PubDate 等）。",
                       "Add the required page metadata (SiteName, SiteIDCode, ColumnName, ArticleTitle, PubDate ...)."),
    "generic": ("针对上述问题逐项整改，整改完成后复查。", "Rectify each problem above and check again afterwards."),
    "no_data": ("完善监测配置，使该指标能够被检查。", "Configure the checks so that this item can be judged."),
    "none": ("—", "—"),
}


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r} (valid: {', '.join(LANGS)})")
    return lang


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def tr(key: str, lang: str = "zh", **values: Any) -> str:
    """The text for `key` in `lang`, with `{placeholders}` filled."""
    pair = TEXT.get(key)
    text = _pick(pair, lang) if pair else key
    return text.format(**values) if values else text


def code_label(code: str, lang: str = "zh") -> str:
    pair = CODES.get(code)
    return _pick(pair, lang) if pair else code


def measure(key: str, lang: str = "zh") -> str:
    return _pick(MEASURES.get(key) or MEASURES["generic"], lang)


def result_label(result: str | None, lang: str = "zh") -> str:
    return tr(f"result.{result}", lang) if result in ("合格", "不合格") else tr("result.none", lang)


def paren(text: object, lang: str = "zh") -> str:
    """`（text）` after Chinese, ` (text)` after English."""
    return f" ({text})" if lang == "en" else f"（{text}）"


def format_day(day: str | None, lang: str = "zh") -> str:
    """`2026-10-01` -> 2026年10月1日 (zh) or unchanged (en)."""
    if not day:
        return "—"
    if lang == "en":
        return day
    y, m, d = day[:10].split("-")
    return f"{int(y)}年{int(m)}月{int(d)}日"


def format_timestamp(text: str | None, lang: str = "zh") -> str:
    """An ISO instant as Beijing wall time: `2027-01-05 11:00（北京时间）`."""
    if not text:
        return "—"
    from .period import SHANGHAI

    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    return f"{local} (Beijing time)" if lang == "en" else f"{local}（北京时间）"


def format_period(start: str, end: str, lang: str = "zh") -> str:
    if lang == "en":
        return f"{start} to {end}"
    return f"{format_day(start)}至{format_day(end)}"


def format_number(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.{digits}f}".rstrip("0").rstrip(".")


def format_percent(ratio: float | None, digits: int = 2) -> str:
    return "—" if ratio is None else f"{ratio * 100:.{digits}f}%"
