"""The report as one self-contained HTML file: inline CSS, charts as inline SVG, no script at all.

Everything from the store (titles, anchor text, messages, URLs) is escaped by
Jinja2's autoescape; the SVG charts are built here with every text escaped too,
and only http(s) URLs become links.  A Content-Security-Policy meta tag forbids
scripts and remote loads even if something slipped through.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from . import i18n
from .data import group_spans
from .i18n import tr

TEMPLATES = Path(__file__).parent / "templates"
WIDTH, HEIGHT = 760, 230
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 18, 44
GOOD, BAD, MUTED, GRID, TRACK = "#2e7d32", "#c62828", "#b0b7c3", "#e3e7ee", "#f3dede"
MAX_MARKERS = 31  # beyond this many runs a line chart draws the line alone
SERIES_COLOURS = ("#1f5fa8", "#e07b00", "#7b3fa0", "#2e7d32")


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = i18n.format_number
    env.filters["pct"] = i18n.format_percent
    env.filters["href"] = safe_href
    return env


def safe_href(url: Any) -> str | None:
    """The URL if it is http(s) (a crawled `javascript:` URL must never become a link), else None."""
    try:
        return str(url) if urlsplit(str(url)).scheme in ("http", "https") else None
    except ValueError:
        return None


def render_html(report: dict[str, Any]) -> str:
    lang = report["lang"]
    stats = report["statistics"]
    charts = {
        "availability": availability_chart(stats["availability"]["days"], lang, stats["availability"]["floor"]),
        "broken": line_chart([r["date"] for r in stats["broken_links"]],
                             [(tr("stat.broken_homepage", lang), [r["homepage"] for r in stats["broken_links"]]),
                              (tr("stat.broken_other", lang), [r["other"] for r in stats["broken_links"]])],
                             tr("chart.broken", lang), lang, integer=True),
        "latency": line_chart([r["date"] for r in stats["response_times"]],
                              [("P50", [r["p50"] for r in stats["response_times"]]),
                               ("P90", [r["p90"] for r in stats["response_times"]]),
                               ("P95", [r["p95"] for r in stats["response_times"]])],
                              tr("chart.latency", lang), lang, unit="s"),
        "freshness": freshness_chart(stats["column_freshness"], lang),
        "reply": histogram_chart(stats["messages"]["histogram"], tr("chart.reply", lang), lang),
    }

    def t(key: str, **values: Any) -> str:
        return tr(key, lang, **values)

    template = _environment().get_template("report.html")
    return template.render(r=report, charts=charts, t=t, lang=lang, day=lambda d: i18n.format_day(d, lang),
                           moment=lambda ts: i18n.format_timestamp(ts, lang), paren=lambda x: i18n.paren(x, lang),
                           inspection=list(zip(report["inspection"], group_spans(report["inspection"]))))



def write_html(report: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(render_html(report), encoding="utf-8")
    return path


# --- SVG charts ---------------------------------------------------------------------------


def _svg(body: list[str], title: str, height: int = HEIGHT, width: int = WIDTH) -> Markup:
    label = escape(title)
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="chart" '
                  f'role="img" aria-label="{label}"><title>{label}</title>{"".join(body)}</svg>')


def _text(x: float, y: float, content: Any, anchor: str = "middle", size: int = 11, colour: str = "#444",
          extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{colour}"{extra}>'
            f'{escape(str(content))}</text>')


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def _no_data(title: str, lang: str, height: int = 90) -> Markup:
    return _svg([_text(WIDTH / 2, height / 2 + 4, tr("chart.no_data", lang), colour="#888", size=13)], title, height)


def _scale(maximum: float, integer: bool = False) -> tuple[float, float, int]:
    """(top, step, ticks) of a y axis from 0 with about four round steps."""
    step = _nice_max(maximum / 4) if maximum > 0 else 1.0
    if integer:
        step = max(1.0, float(math.ceil(step)))
    ticks = max(1, math.ceil(maximum / step - 1e-9))
    return step * ticks, step, ticks


def _y_axis(body: list[str], top_value: float, plot_h: float, fmt, ticks: int = 4, bottom_value: float = 0.0) -> None:
    for i in range(ticks + 1):
        value = bottom_value + (top_value - bottom_value) * i / ticks
        y = TOP + plot_h - plot_h * i / ticks
        body.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{GRID}"/>')
        body.append(_text(LEFT - 6, y + 4, fmt(value), anchor="end", size=10))


def _x_labels(body: list[str], labels: list[str], xs: list[float], lang: str) -> None:
    """Date labels under the plot, thinned so they never overlap."""
    if not labels:
        return
    every = max(1, math.ceil(len(labels) / 10))
    for i, (label, x) in enumerate(zip(labels, xs)):
        if i % every == 0 or i == len(labels) - 1 and (len(labels) - 1) % every > every / 2:
            body.append(_text(x, HEIGHT - BOTTOM + 16, _short_day(label, lang), size=10))


def _short_day(text: str, lang: str) -> str:
    try:
        d = date.fromisoformat(text)
    except (TypeError, ValueError):
        return str(text)
    return f"{d.month}月{d.day}日" if lang == "zh" else f"{d:%m-%d}"


def availability_chart(days: list[dict[str, Any]], lang: str, floor: float = 0.95) -> Markup:
    title = tr("chart.availability", lang)
    values = [d["availability"] for d in days if d["availability"] is not None]
    if not values:
        return _no_data(title, lang)
    low = min(min(values), floor)
    step = 0.05 if low >= 0.7 else 0.1 if low >= 0.4 else 0.2
    bottom = max(0.0, math.floor((low - 1e-6) / step) * step)  # a step below the worst day: bad days stand out
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    body: list[str] = []
    _y_axis(body, 1.0, plot_h, lambda v: f"{v * 100:.0f}%", ticks=round((1.0 - bottom) / step), bottom_value=bottom)
    slot = plot_w / len(days)
    xs = []
    for i, d in enumerate(days):
        x = LEFT + slot * i
        xs.append(x + slot / 2)
        tip = f"{d['date']}: " + (i18n.format_percent(d["availability"]) + f" ({d['failed']}/{d['probes']})"
                                   if d["availability"] is not None else tr("chart.no_data", lang))
        body.append(f'<rect x="{x + slot * 0.15:.1f}" y="{TOP}" width="{max(slot * 0.7, 1):.1f}" height="{plot_h}" '
                    f'fill="{TRACK}"/>')
        if d["availability"] is None:
            body.append(f'<rect x="{x + slot * 0.15:.1f}" y="{TOP + plot_h - 3:.1f}" width="{slot * 0.7:.1f}" '
                        f'height="3" fill="{MUTED}"><title>{escape(tip)}</title></rect>')
            continue
        h = plot_h * (d["availability"] - bottom) / (1.0 - bottom) if d["availability"] > bottom else 0
        colour = GOOD if d["availability"] >= floor else BAD
        body.append(f'<rect x="{x + slot * 0.15:.1f}" y="{TOP + plot_h - h:.1f}" width="{max(slot * 0.7, 1):.1f}" '
                    f'height="{max(h, 1):.1f}" fill="{colour}" class="{"ok" if colour == GOOD else "bad"}">'
                    f'<title>{escape(tip)}</title></rect>')
    y_floor = TOP + plot_h - plot_h * (floor - bottom) / (1.0 - bottom)
    body.append(f'<line x1="{LEFT}" y1="{y_floor:.1f}" x2="{WIDTH - RIGHT}" y2="{y_floor:.1f}" stroke="{BAD}" '
                f'stroke-dasharray="4 3"/>')
    body.append(_text(LEFT + 4, y_floor - 4, f"{floor * 100:.0f}%", anchor="start", size=10, colour=BAD,
                      extra=' stroke="#fff" stroke-width="3" paint-order="stroke"'))
    _x_labels(body, [d["date"] for d in days], xs, lang)
    return _svg(body, title)


def line_chart(labels: list[str], series: list[tuple[str, list[float | None]]], title: str, lang: str,
               unit: str = "", integer: bool = False) -> Markup:
    present = [v for _, values in series for v in values if v is not None]
    if not labels or not present:
        return _no_data(title, lang)
    top, _step, ticks = _scale(max(present), integer)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    body: list[str] = []
    _y_axis(body, top, plot_h, lambda v: f"{i18n.format_number(round(v, 2))}{unit}", ticks=ticks)
    n = len(labels)
    xs = [LEFT + plot_w * (i + 0.5) / n for i in range(n)]

    def y_of(v: float) -> float:
        return TOP + plot_h - plot_h * v / top

    for k, (name, values) in enumerate(series):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        points = [(x, y_of(v), v, label) for x, v, label in zip(xs, values, labels) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y, v, label in points if len(labels) <= MAX_MARKERS else ():
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                        f'<title>{escape(f"{name} {label}: {i18n.format_number(v, 3)}{unit}")}</title></circle>')
        lx = LEFT + 8 + k * 150
        body.append(f'<rect x="{lx}" y="{HEIGHT - 14}" width="12" height="4" fill="{colour}"/>')
        body.append(_text(lx + 16, HEIGHT - 9, name, anchor="start", size=11))
    _x_labels(body, labels, xs, lang)
    return _svg(body, title)


def histogram_chart(buckets: list[dict[str, Any]], title: str, lang: str) -> Markup:
    if not buckets or not any(b["count"] for b in buckets):
        return _no_data(title, lang)
    top, _step, ticks = _scale(max(b["count"] for b in buckets), integer=True)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    body: list[str] = []
    _y_axis(body, top, plot_h, i18n.format_number, ticks=ticks)
    slot = plot_w / len(buckets)
    for i, b in enumerate(buckets):
        h = plot_h * b["count"] / top
        x = LEFT + slot * i
        body.append(f'<rect x="{x + slot * 0.2:.1f}" y="{TOP + plot_h - h:.1f}" width="{slot * 0.6:.1f}" '
                    f'height="{h:.1f}" fill="{SERIES_COLOURS[0]}"><title>{escape(b["label"])}: {b["count"]}</title>'
                    f'</rect>')
        if b["count"]:
            body.append(_text(x + slot / 2, TOP + plot_h - h - 4, b["count"], size=11))
        body.append(_text(x + slot / 2, HEIGHT - BOTTOM + 16, b["label"], size=11))
    return _svg(body, title)


def freshness_chart(columns: list[dict[str, Any]], lang: str) -> Markup:
    """One bar per column: days since its newest item as a share of its window; the window is the red line."""
    title = tr("chart.freshness", lang)
    rows = [c for c in columns if c["window_days"]]
    if not rows:
        return _no_data(title, lang)
    label_w, bar_h, gap = 190, 16, 8
    height = TOP + len(rows) * (bar_h + gap) + 24
    plot_w = WIDTH - label_w - RIGHT - 70
    cap = 2.0  # bars stop at twice the window
    body: list[str] = []
    for i, c in enumerate(rows):
        y = TOP + i * (bar_h + gap)
        ratio = cap if c["date"] is None else min((c["age_days"] or 0) / c["window_days"], cap)
        colour = {"stale": BAD, "blank": BAD, "exempt": MUTED}.get(c["state"], GOOD)
        name = f"{c['column']}（{c['host_name'] or c['host']}）" if lang == "zh" else f"{c['column']} ({c['host']})"
        body.append(_text(label_w - 8, y + bar_h - 3, name, anchor="end", size=11))
        body.append(f'<rect x="{label_w}" y="{y}" width="{max(plot_w * ratio / cap, 2):.1f}" height="{bar_h}" '
                    f'fill="{colour}"><title>{escape(name)}</title></rect>')
        days = tr("days", lang) if lang == "zh" else "d"
        age = (tr(f"fresh.{c['state']}", lang) if c["date"] is None
               else f"{c['age_days']}/{c['window_days']}{days}")
        body.append(_text(label_w + plot_w + 6, y + bar_h - 3, f"{age}", anchor="start", size=11))
    x_window = label_w + plot_w / cap
    body.append(f'<line x1="{x_window:.1f}" y1="{TOP - 6}" x2="{x_window:.1f}" y2="{height - 18}" stroke="{BAD}" '
                f'stroke-dasharray="4 3"/>')
    body.append(_text(x_window, height - 6, tr("chart.window_line", lang), size=10, colour=BAD))
    return _svg(body, title, height=height)
