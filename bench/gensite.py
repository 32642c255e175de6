"""Generate a static government-portal-like site for the speed and memory benchmark.

    python bench/gensite.py --pages 20000 --out bench/work/site-20000 --ext-origin http://127.0.0.1:8081
    python bench/gensite.py --shape pages --pages 20000 --out bench/work/site-pages-20000

Two shapes of the same portal (--shape):

files (default)  about two images and attachments for every page (the shape of a
                 portal that publishes documents): most URLs are link checks.
pages            almost every URL is an HTML page (images, attachments, shared files
                 and other sites together at most 2 % of the URLs from 2,000 pages
                 up), every page with 40-50 links: most URLs are crawled pages.

The site looks like a TRS-built portal: a homepage, eight sections, columns
(栏目) with paginated lists of dated items (index.html, index_1.html ...), and
articles at /<section>/<column>/<yyyymm>/t<yyyymmdd>_<id>.html with their images
(W0....png/.gif) and attachments (P0....pdf/.docx/.xls) beside them.  Every HTML
page is 15-25 KB and carries 30-60 links (40-50 in the pages shape): navigation,
breadcrumb, list items, related articles, images, attachments, stylesheets and scripts, footer pages,
and links to a second loopback host standing in for other government sites.

About 1 % of the distinct link targets are missing on purpose (pages, images,
attachments and external pages, each linked from one to three live pages, two
of them from the homepage; in the pages shape, in the proportion 5:2:2:1 and
ordered so that even a small site has one of each kind).  They are listed in manifest.json, which is the
answer key the benchmark checks every tool against.

Layout of --out:
    www/        document root of the main host
    ext/        document root of the "external" host
    blobs/      the image and attachment bodies (files under www/ are hard links)
    manifest.json

Internal links are root-relative or relative, so the main host's port does not
matter; external links are absolute, so the site is generated for one
external origin (recorded in the manifest; regenerate for another).
Deterministic for a given (shape, pages, seed, ext-origin).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import struct
import time
import zipfile
import zlib
from io import BytesIO
from pathlib import Path

GENERATOR_VERSION = 4
SHAPES = ("files", "pages")
BROKEN_FRACTION = 0.01
_HREF = re.compile(r'\s(?:href|src)="([^"]+)"')
SITE_CODE = "6200000001"

SECTIONS = [("xxgk", "信息公开"), ("zwdt", "政务动态"), ("zcwj", "政策文件"), ("zcjd", "政策解读"),
            ("bsfw", "办事服务"), ("hdjl", "互动交流"), ("ztzl", "专题专栏"), ("jgzn", "机构职能")]
COLUMNS = [("tzgg", "通知公告"), ("gzdt", "工作动态"), ("zcfg", "政策法规"), ("jdhy", "解读回应"),
           ("rsxx", "人事信息"), ("ghjh", "规划计划"), ("tjxx", "统计信息"), ("czzj", "财政资金"),
           ("xzxk", "行政许可"), ("ssj", "双随机一公开"), ("jyta", "建议提案办理"), ("zbcg", "招标采购"),
           ("xwfb", "新闻发布会"), ("mtjj", "媒体聚焦"), ("jcdt", "基层动态"), ("bmdt", "部门动态"),
           ("tpxw", "图片新闻"), ("spxw", "视频新闻"), ("zxgh", "专项规划"), ("fggz", "法规规章")]
FOOTER = [("gywm", "关于我们"), ("wzdt", "网站地图"), ("lxwm", "联系我们"), ("flsm", "法律声明")]
EXT_FOOTER = [("中国政府网", 0), ("省人民政府", 1), ("国家发展改革委", 2), ("工业和信息化部", 3), ("省政务服务网", 4)]

WORDS = ("深入贯彻 落实 党中央 国务院 决策部署 高质量发展 营商环境 工业和信息化 数字经济 产业链 供应链 "
         "中小企业 专精特新 科技创新 绿色低碳 节能降耗 安全生产 政务服务 一网通办 放管服 改革 优化 "
         "推进 加快 构建 现代化 产业体系 新型工业化 智能制造 工业互联网 信息基础设施 5G 数据中心 "
         "项目建设 招商引资 稳增长 调结构 惠民生 防风险 重点任务 责任分工 督促检查 统筹协调 "
         "全省 各市州 有关部门 企业 群众 服务 保障 机制 制度 政策 措施 方案 意见 通知 办法 规定 "
         "实施 组织 开展 推动 提升 完善 健全 强化 落地 见效 成果 经验 做法 典型 示范 引领 带动").split()
TITLE_HEADS = ["关于", "关于印发", "关于开展", "关于做好", "关于进一步加强", "关于组织申报", "关于公布"]
TITLE_TAILS = ["的通知", "工作的通知", "实施方案", "的公告", "的公示", "工作要点", "的意见", "情况的报告"]


# --- binary bodies -----------------------------------------------------------------------


def _png(width: int, height: int, seed: int) -> bytes:
    rng = random.Random(seed)
    raw = b"".join(b"\x00" + bytes(rng.randrange(256) for _ in range(width * 3)) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))


def _gif(pad: int) -> bytes:
    # 1x1 GIF89a with a comment extension padding it to a realistic size.
    comment = b""
    left = pad
    while left > 0:
        n = min(255, left)
        comment += bytes([n]) + b"x" * n
        left -= n
    return (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff" + b"\x21\xfe" + comment + b"\x00"
            + b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b")


def _pdf(pad: int) -> bytes:
    body = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n" \
           b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    body += b"%" + b"0" * pad + b"\n"
    return body + b"trailer<</Root 1 0 R>>\n%%EOF\n"


def _docx(pad: int) -> bytes:
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        def entry(name: str) -> zipfile.ZipInfo:
            return zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))  # fixed: deterministic bytes

        z.writestr(entry("[Content_Types].xml"),
                   '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
                   '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.wordprocessingml.document.main+xml"/></Types>')
        z.writestr(entry("word/document.xml"),
                   '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.'
                   'org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>' + "附件" * (pad // 6)
                   + "</w:t></w:r></w:p></w:body></w:document>")
    return buf.getvalue()


def _xls(pad: int) -> bytes:
    # OLE2 compound-file signature and a zero-filled body: enough for a server and a link checker.
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * (512 - 8 + pad)


def _blobs() -> dict[str, list[bytes]]:
    return {
        "png": [_png(w, h, i) for i, (w, h) in enumerate([(40, 30), (64, 48), (80, 60), (120, 40)])],
        "gif": [_gif(p) for p in (1500, 4000, 9000)],
        "pdf": [_pdf(p) for p in (20_000, 60_000, 150_000)],
        "docx": [_docx(p) for p in (8_000, 30_000)],
        "xls": [_xls(p) for p in (10_000, 40_000)],
    }


# --- text ---------------------------------------------------------------------------------


class Text:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.paragraphs = []
        for _ in range(300):
            sentences = []
            for _ in range(rng.randint(3, 8)):
                sentences.append("".join(rng.choice(WORDS) for _ in range(rng.randint(4, 10))))
            p = "，".join(sentences) + "。"
            self.paragraphs.append((f"<p>{p}</p>\n", len(p.encode()) + 8))

    def title(self) -> str:
        r = self.rng
        head = r.choice(TITLE_HEADS)  # this order of draws keeps generated sites identical across versions
        return head + "".join(r.choice(WORDS) for _ in range(r.randint(2, 4))) + r.choice(TITLE_TAILS)

    def fill(self, nbytes: int) -> str:
        out, size = [], 0
        while size < nbytes:
            p, n = self.paragraphs[self.rng.randrange(len(self.paragraphs))]
            out.append(p)
            size += n
        return "".join(out)


# --- page templates --------------------------------------------------------------------------

HEAD = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="SiteName" content="基准测试省工业和信息化厅">
<meta name="SiteDomain" content="bench.gov.cn">
<meta name="SiteIDCode" content="{site_code}">
<meta name="ColumnName" content="{column}">
<meta name="ColumnType" content="{column_type}">
<meta name="ArticleTitle" content="{title}">
<meta name="PubDate" content="{pubdate}">
<meta name="ContentSource" content="基准测试省工业和信息化厅">
<meta name="Keywords" content="{column}">
<title>{title}_基准测试省工业和信息化厅</title>
<link rel="stylesheet" href="/css/common.css">
<link rel="stylesheet" href="/css/{css}.css">
<script src="/js/jquery.min.js"></script>
<script src="/js/common.js"></script>
</head>
<body>
<div class="top"><div class="w1200"><span class="date">{today}</span><a href="/wza/" title="无障碍浏览">无障碍</a>
<form class="search" method="get" onsubmit="return doSearch(this)"><input type="text" name="q" placeholder="请输入关键字"><button type="submit">搜索</button></form></div></div>
<div class="header w1200"><a href="/" title="首页"><img src="/images/logo.png" alt="基准测试省工业和信息化厅"></a></div>
<div class="nav"><ul class="w1200"><li><a href="/">首页</a></li>{nav}</ul></div>
"""

FOOT = """<div class="footer"><div class="w1200">
<div class="links"><span>相关链接：</span>{ext_footer}</div>
<p>{footer}</p>
<p>主办单位：基准测试省工业和信息化厅　地址：基准市城关区示例路1号　邮编：730000　联系电话：0931-0000000</p>
<p>网站标识码：{site_code}　<a href="/flsm/">ICP备00000000号</a>　公安机关备案号 62010000000000</p>
<p><a href="/jiucuo/" title="政府网站找错"><img src="/images/jiucuo.png" alt="政府网站找错"></a>
<a href="/dzjg/" title="党政机关"><img src="/images/dzjg.gif" alt="党政机关"></a></p>
</div></div>
</body>
</html>
"""


LINKS_MIN, LINKS_MAX = 40, 50  # links on every page of the pages shape


class Site:
    def __init__(self, pages: int, seed: int, ext_origin: str, shape: str = "files"):
        if shape not in SHAPES:
            raise ValueError(f"unknown shape {shape!r} (one of {', '.join(SHAPES)})")
        self.n = pages
        self.seed = seed
        self.shape = shape
        self.few_files = shape == "pages"
        # The pages shape keeps every page within 40-50 links: shorter lists and pager, at most 15
        # columns listed on a section page.
        self.per_list = 10 if self.few_files else 20
        self.pager_window = 1 if self.few_files else 4
        self.ext = ext_origin.rstrip("/")
        self.rng = random.Random(seed)
        self.text = Text(random.Random(seed + 1))
        self._plan()

    # -- structure ---------------------------------------------------------------------

    def _plan(self) -> None:
        rng = self.rng
        n_columns = max(8, min(120, round(self.n / 1000))) if self.few_files else max(8, round(self.n / 500))
        per_list = self.per_list
        fixed = 1 + len(SECTIONS) + len(FOOTER) + 3  # home, sections, footer pages, /wza/ /jiucuo/ /dzjg/
        budget = max(n_columns * 2, self.n - fixed)
        articles = math.floor(budget * per_list / (per_list + 1))
        self.columns = []
        per = [articles // n_columns + (1 if i < articles % n_columns else 0) for i in range(n_columns)]
        # Trim or pad so that articles + list pages == budget exactly.
        total = sum(per) + sum(max(1, math.ceil(a / per_list)) for a in per)
        i = 0
        while total != budget and i < 10 * n_columns:
            c = i % n_columns
            before = per[c] + max(1, math.ceil(per[c] / per_list))
            per[c] += 1 if total < budget else -1
            per[c] = max(per[c], 1)
            total += per[c] + max(1, math.ceil(per[c] / per_list)) - before
            i += 1
        for c in range(n_columns):
            slug, name = COLUMNS[c % len(COLUMNS)]
            if c >= len(COLUMNS):
                slug, name = f"{slug}{c // len(COLUMNS) + 1}", f"{name}（{c // len(COLUMNS) + 1}）"
            sec = SECTIONS[c % len(SECTIONS)][0]
            self.columns.append({"i": c, "slug": slug, "name": name, "sec": sec, "path": f"/{sec}/{slug}/",
                                 "articles": []})
        self.articles = []
        aid = 100000
        for col, count in zip(self.columns, per):
            dates = sorted((rng.randint(0, 7 * 365 - 1) for _ in range(count)), reverse=True)
            for d in dates:
                y, m, day = _date(d)
                ym, ymd = f"{y}{m:02d}", f"{y}{m:02d}{day:02d}"
                a = {"id": aid, "col": col["i"], "date": f"{y}-{m:02d}-{day:02d}", "ymd": ymd,
                     "dir": f"{col['path']}{ym}/", "name": f"t{ymd}_{aid}.html", "title": self.text.title()}
                a["url"] = a["dir"] + a["name"]
                if self.few_files:
                    imgs = rng.choices([0, 1], weights=[997, 3])[0]
                    atts = rng.choices([0, 1], weights=[997, 3])[0]
                else:
                    imgs = rng.choices([0, 1, 2, 3], weights=[2, 4, 3, 1])[0]
                    atts = rng.choices([0, 1, 2], weights=[5, 3, 2])[0]
                a["imgs"] = [f"W0{ymd}{aid}{k}.{rng.choice(('png', 'png', 'gif'))}" for k in range(imgs)]
                a["atts"] = [f"P0{ymd}{aid}{k}.{rng.choice(('pdf', 'pdf', 'docx', 'xls'))}" for k in range(atts)]
                col["articles"].append(len(self.articles))
                self.articles.append(a)
                aid += 1
        for col in self.columns:
            col["lists"] = max(1, math.ceil(len(col["articles"]) / per_list))
        n_ext = 5 + self.n // 2000 if self.few_files else 200 + self.n // 100  # five are in every footer
        self.ext_pool = [f"{self.ext}/www/site{k}/index.html" for k in range(n_ext)]
        self._plan_broken()

    def _plan_broken(self) -> None:
        rng = random.Random(self.seed + 2)
        n_assets = sum(len(a["imgs"]) + len(a["atts"]) for a in self.articles)
        shared = 14  # css, js, site images, /wza/ ... (counted loosely)
        n_pages = len(self.articles) + sum(c["lists"] for c in self.columns) + 1 + len(SECTIONS) + len(FOOTER) + 3
        targets = n_pages + n_assets + len(self.ext_pool) + shared
        n_broken = max(4, round(targets * BROKEN_FRACTION / (1 - BROKEN_FRACTION)))
        self.broken: list[dict] = []
        self.dead_links: dict[int, list[tuple[str, str, str]]] = {}  # article index -> (kind, href, text)
        self.home_dead: list[tuple[str, str, str]] = []
        if self.few_files:  # every kind present from the first four on, pages the most common
            kinds = ["page", "image", "attachment", "external", "page", "page", "image", "attachment", "page", "page"]
        else:
            kinds = ["page"] * 3 + ["image"] * 3 + ["attachment"] * 3 + ["external"]
        for i in range(n_broken):
            kind = kinds[i % len(kinds)]
            host = self.articles[rng.randrange(len(self.articles))]
            if kind == "page":
                path = f"{host['dir']}t{host['ymd']}_{900000000 + i}.html"
            elif kind == "image":
                path = f"{host['dir']}W0{host['ymd']}{900000000 + i}.png"
            elif kind == "attachment":
                path = f"{host['dir']}P0{host['ymd']}{900000000 + i}.{rng.choice(('pdf', 'doc', 'xlsx'))}"
            else:
                path = f"/www/gone{i}/index.html"
            url = (self.ext + path) if kind == "external" else path
            self.broken.append({"path": path, "host": "ext" if kind == "external" else "main", "kind": kind})
            text = self.text.title()
            referrers = rng.sample(range(len(self.articles)), k=min(len(self.articles), rng.randint(1, 3)))
            for r in referrers:
                self.dead_links.setdefault(r, []).append((kind, url, text))
            if i < 2:
                self.home_dead.append((kind, url, text))

    # -- rendering -----------------------------------------------------------------------

    def _head(self, title: str, column: str, column_type: str, pubdate: str, css: str) -> str:
        nav = "".join(f'<li><a href="/{s}/">{n}</a></li>' for s, n in SECTIONS)
        return HEAD.format(site_code=SITE_CODE, title=title, column=column, column_type=column_type,
                           pubdate=pubdate, css=css, today="2026年11月27日 星期五", nav=nav)

    def _foot(self) -> str:
        ext = "".join(f'<a href="{self.ext_pool[k]}" target="_blank">{n}</a>' for n, k in EXT_FOOTER)
        footer = "　|　".join(f'<a href="/{s}/">{n}</a>' for s, n in FOOTER)
        return FOOT.format(ext_footer=ext, footer=footer, site_code=SITE_CODE)

    def _more_links(self, parts: list[str], foot: str, rng: random.Random, heading: str = "推荐阅读") -> str:
        """The pages shape: a list of articles bringing the page to 40-50 links (empty in the files shape)."""
        if not self.few_files:
            return ""
        want = rng.randint(LINKS_MIN, LINKS_MAX) - len(_HREF.findall("".join(parts) + foot))
        if want <= 0:
            return ""
        items = "".join(f'<li><a href="{self.articles[j]["url"]}">{self.articles[j]["title"]}</a>'
                        f'<span>{self.articles[j]["date"]}</span></li>'
                        for j in rng.sample(range(len(self.articles)), k=min(len(self.articles), want)))
        return f'<div class="related"><h3>{heading}</h3><ul>{items}</ul></div>\n'

    def _pad(self, html_so_far: int, rng: random.Random) -> str:
        target = rng.randint(15_500, 24_500)
        return self.text.fill(max(0, target - html_so_far))

    def home(self) -> str:
        rng = random.Random(self.seed * 7 + 1)
        parts = [self._head("首页", "首页", "首页", "", "index")]
        if not self.few_files:
            parts.append('<div class="banner w1200">' + "".join(
                f'<img src="/images/banner{k}.png" alt="专题{k}">' for k in (1, 2, 3)) + "</div>\n")
        blocks, per_block = (3, 4) if self.few_files else (8, 5)
        for col in self.columns[:blocks]:
            items = "".join(f'<li><a href="{self.articles[i]["url"]}" title="{self.articles[i]["title"]}">'
                            f'{self.articles[i]["title"]}</a><span>{self.articles[i]["date"]}</span></li>'
                            for i in col["articles"][:per_block])
            parts.append(f'<div class="block"><h3><a href="{col["path"]}">{col["name"]}</a>'
                         f'<a class="more" href="{col["path"]}">更多</a></h3><ul>{items}</ul></div>\n')
        for kind, url, text in self.home_dead:
            tag = f'<img src="{url}" alt="{text}">' if kind == "image" else f'<a href="{url}">{text}</a>'
            parts.append(f'<div class="notice">{tag}</div>\n')
        foot = self._foot()
        parts.append(self._more_links(parts, foot, rng))
        size = _nbytes(parts) + _nbytes([foot])
        parts.append('<div class="intro">' + self._pad(size, rng) + "</div>\n")
        parts.append(foot)
        return "".join(parts)

    def section(self, s: int) -> str:
        sec, name = SECTIONS[s]
        rng = random.Random(self.seed * 7 + 100 + s)
        cols = [c for c in self.columns if c["sec"] == sec]
        parts = [self._head(name, name, "栏目", "", "list"),
                 f'<div class="crumb w1200">当前位置：<a href="/">首页</a> &gt; <a href="/{sec}/">{name}</a></div>\n',
                 '<div class="collist"><ul>']
        parts += [f'<li><a href="{c["path"]}">{c["name"]}</a></li>' for c in cols]
        parts.append("</ul></div>\n")
        for c in cols[:1 if self.few_files else max(1, 24 // max(1, len(cols)))]:
            items = "".join(f'<li><a href="{self.articles[i]["url"]}">{self.articles[i]["title"]}</a>'
                            f'<span>{self.articles[i]["date"]}</span></li>' for i in c["articles"][:3])
            parts.append(f'<div class="block"><h3>{c["name"]}</h3><ul>{items}</ul></div>\n')
        foot = self._foot()
        parts.append(self._more_links(parts, foot, rng))
        parts.append('<div class="intro">' + self._pad(_nbytes(parts) + _nbytes([foot]), rng) + "</div>\n")
        parts.append(foot)
        return "".join(parts)

    def list_page(self, col: dict, k: int) -> str:
        rng = random.Random(self.seed * 7919 + col["i"] * 1000 + k)
        sec_name = dict(SECTIONS)[col["sec"]]
        parts = [self._head(col["name"], col["name"], "列表", "", "list"),
                 f'<div class="crumb w1200">当前位置：<a href="/">首页</a> &gt; <a href="/{col["sec"]}/">{sec_name}</a>'
                 f' &gt; <a href="{col["path"]}">{col["name"]}</a></div>\n<div class="list"><ul>\n']
        per = self.per_list
        for i in col["articles"][k * per:(k + 1) * per]:
            a = self.articles[i]
            rel = "./" + a["dir"][len(col["path"]):] + a["name"]
            parts.append(f'<li><a href="{rel}" target="_blank" title="{a["title"]}">{a["title"]}</a>'
                         f'<span class="date">{a["date"]}</span></li>\n')
        parts.append("</ul></div>\n")
        last = col["lists"] - 1

        def href(p: int) -> str:
            return "./" if p == 0 else f"./index_{p}.html"

        pager = [f'<a href="{href(0)}">首页</a>']
        if k > 0:
            pager.append(f'<a href="{href(k - 1)}">上一页</a>')
        w = self.pager_window
        for p in range(max(0, k - w), min(last, k + w) + 1):
            pager.append(f"<span>{p + 1}</span>" if p == k else f'<a href="{href(p)}">{p + 1}</a>')
        if k < last:
            pager.append(f'<a href="{href(k + 1)}">下一页</a>')
        pager.append(f'<a href="{href(last)}">尾页</a>')
        parts.append(f'<div class="page">{"".join(pager)}<span>共{last + 1}页</span></div>\n')
        foot = self._foot()
        parts.append(self._more_links(parts, foot, rng))
        parts.append('<div class="intro">' + self._pad(_nbytes(parts) + _nbytes([foot]), rng) + "</div>\n")
        parts.append(foot)
        return "".join(parts)

    def article(self, idx: int) -> str:
        a = self.articles[idx]
        col = self.columns[a["col"]]
        rng = random.Random(self.seed * 104729 + idx)
        sec_name = dict(SECTIONS)[col["sec"]]
        parts = [self._head(a["title"], col["name"], "文章", a["date"], "article"),
                 f'<div class="crumb w1200">当前位置：<a href="/">首页</a> &gt; <a href="/{col["sec"]}/">{sec_name}</a>'
                 f' &gt; <a href="{col["path"]}">{col["name"]}</a></div>\n'
                 f'<div class="article w1200"><h1>{a["title"]}</h1>\n'
                 f'<div class="info">发布时间：{a["date"]}　来源：办公室　浏览次数：<span id="hits"></span></div>\n'
                 '<div class="TRS_Editor">\n']
        body_parts = []
        for name in a["imgs"]:
            body_parts.append(f'<p style="text-align:center"><img src="./{name}" alt="{a["title"]}" '
                              f'border="0" OLDSRC="{name}"></p>\n')
        for kind, url, text in self.dead_links.get(idx, ()):
            if kind == "image":
                body_parts.append(f'<p><img src="{url}" alt="{text}"></p>\n')
            else:
                body_parts.append(f'<p><a href="{url}">{text}</a></p>\n')
        n_ext = rng.choices([0, 1], weights=[4, 1])[0] if self.few_files else rng.choices([0, 1, 2, 3], weights=[3, 4, 2, 1])[0]
        for _ in range(n_ext):
            body_parts.append(f'<p>详见<a href="{rng.choice(self.ext_pool)}" target="_blank">相关网站</a>。</p>\n')
        parts += body_parts
        text_at = len(parts)
        parts.append("</div>\n")
        if a["atts"]:
            parts.append('<div class="appendix"><span>附件：</span><ul>')
            parts += [f'<li><a href="./{name}" OLDSRC="{name}">附件{k + 1}.{name.rsplit(".", 1)[1]}</a></li>'
                      for k, name in enumerate(a["atts"])]
            parts.append("</ul></div>\n")
        col_articles = col["articles"]
        pos = col_articles.index(idx) if len(col_articles) < 64 else _bisect_index(col_articles, idx)
        nav = []
        if pos > 0:
            p = self.articles[col_articles[pos - 1]]
            nav.append(f'<a href="{p["url"]}">上一篇：{p["title"]}</a>')
        if pos + 1 < len(col_articles):
            p = self.articles[col_articles[pos + 1]]
            nav.append(f'<a href="{p["url"]}">下一篇：{p["title"]}</a>')
        parts.append(f'<div class="prevnext">{"".join(nav)}</div>\n</div>\n')
        foot = self._foot()
        if self.few_files:
            parts.append(self._more_links(parts, foot, rng, "相关文章"))
        else:
            parts.append('<div class="related"><h3>相关文章</h3><ul>')
            for j in rng.sample(range(len(self.articles)), k=min(len(self.articles), rng.randint(5, 12))):
                r = self.articles[j]
                parts.append(f'<li><a href="{r["url"]}">{r["title"]}</a><span>{r["date"]}</span></li>')
            parts.append("</ul></div>\n")
        parts.append(foot)
        size = _nbytes(parts)
        parts.insert(text_at, self._pad(size, rng))
        return "".join(parts)

    def static_page(self, slug: str, name: str) -> str:
        rng = random.Random(self.seed * 13 + zlib.crc32(slug.encode()))
        parts = [self._head(name, name, "单页", "", "article"),
                 f'<div class="crumb w1200">当前位置：<a href="/">首页</a> &gt; {name}</div>\n<div class="content">\n']
        if slug == "wzdt":  # the site map lists every section and column (sections only in the pages shape)
            for s, sname in SECTIONS:
                cols = "" if self.few_files else "".join(
                    f'<a href="{c["path"]}">{c["name"]}</a> ' for c in self.columns if c["sec"] == s)
                parts.append(f'<dl><dt><a href="/{s}/">{sname}</a></dt><dd>{cols}</dd></dl>\n')
        foot = self._foot()
        parts.append(self._more_links(parts, foot, rng))
        parts.append(self._pad(_nbytes(parts) + _nbytes([foot]), rng))
        parts.append("</div>\n")
        parts.append(foot)
        return "".join(parts)


def _nbytes(parts: list[str]) -> int:
    return sum(len(p.encode("utf-8")) for p in parts)


def _bisect_index(seq: list[int], value: int) -> int:
    import bisect

    return bisect.bisect_left(seq, value)


def _date(day_offset: int) -> tuple[int, int, int]:
    import datetime

    d = datetime.date(2019, 1, 1) + datetime.timedelta(days=day_offset)
    return d.year, d.month, d.day


# --- writing ----------------------------------------------------------------------------------


def generate(pages: int, out: str | Path, *, seed: int = 1, ext_origin: str = "http://127.0.0.1:8081",
             shape: str = "files", quiet: bool = False) -> dict:
    """Write the site under `out` (replacing what is there) and return its manifest."""
    t0 = time.monotonic()
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    www, ext, blobs_dir = out / "www", out / "ext", out / "blobs"
    for d in (www, ext, blobs_dir):
        d.mkdir(parents=True)
    site = Site(pages, seed, ext_origin, shape)
    made_dirs: set[str] = set()
    linked: set[str] = {"/"}
    page_paths: set[str] = set()
    links_on_page: list[int] = []

    def write(path: str, text: str, root: Path = www, page: bool = True) -> int:
        if page:
            base = path.rsplit("/", 1)[0] + "/"
            hrefs = _HREF.findall(text)
            links_on_page.append(len(hrefs))
            page_paths.add(path)
            for href in hrefs:
                linked.add(base + href[2:] if href.startswith("./") else href)
        full = str(root) + (path + "index.html" if path.endswith("/") else path)
        d = full.rsplit("/", 1)[0]
        if d not in made_dirs:
            os.makedirs(d, exist_ok=True)
            made_dirs.add(d)
        data = text.encode("utf-8")
        with open(full, "wb") as fh:
            fh.write(data)
        return len(data)

    blob_paths: dict[str, list[str]] = {}
    for ext_name, bodies in _blobs().items():
        blob_paths[ext_name] = []
        for i, body in enumerate(bodies):
            p = blobs_dir / f"{ext_name}{i}.{ext_name}"
            p.write_bytes(body)
            blob_paths[ext_name].append(str(p))
    blob_rng = random.Random(seed + 3)

    def link_blob(path: str) -> None:
        full = str(www) + path
        d = full.rsplit("/", 1)[0]
        if d not in made_dirs:
            os.makedirs(d, exist_ok=True)
            made_dirs.add(d)
        os.link(blob_rng.choice(blob_paths[path.rsplit(".", 1)[1]]), full)

    sizes: list[int] = []
    sizes.append(write("/", site.home()))
    for s in range(len(SECTIONS)):
        sizes.append(write(f"/{SECTIONS[s][0]}/", site.section(s)))
    for slug, name in [*FOOTER, ("wza", "无障碍浏览"), ("jiucuo", "政府网站找错"), ("dzjg", "党政机关标识")]:
        sizes.append(write(f"/{slug}/", site.static_page(slug, name)))
    for col in site.columns:
        for k in range(col["lists"]):
            sizes.append(write(col["path"] + ("" if k == 0 else f"index_{k}.html"), site.list_page(col, k)))
    n_images = n_atts = 0
    for idx, a in enumerate(site.articles):
        sizes.append(write(a["url"], site.article(idx)))
        for name in a["imgs"]:
            link_blob(a["dir"] + name)
            n_images += 1
        for name in a["atts"]:
            link_blob(a["dir"] + name)
            n_atts += 1
    # Shared files: stylesheets, scripts, site images, robots.txt.
    for path in ("/css/common.css", "/css/index.css", "/css/list.css", "/css/article.css"):
        css = "body{margin:0;font:14px/1.8 'Microsoft YaHei'}\n.w1200{width:1200px;margin:0 auto}\n"
        write(path, page=False, text=css * 40)
    for path in ("/js/jquery.min.js", "/js/common.js"):
        write(path, page=False, text="/* bench */\nvar bench=function(){return 1};\n" * 200)
    for path in ("/images/logo.png", "/images/banner1.png", "/images/banner2.png", "/images/banner3.png",
                 "/images/jiucuo.png"):
        link_blob(path)
    link_blob("/images/dzjg.gif")
    write("/robots.txt", "User-agent: *\nDisallow:\n", page=False)
    # The external host: small pages without links (checked, never crawled).
    for url in site.ext_pool:
        path = url[len(site.ext):]
        write(path, f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>外部网站 {path}</title></head>"
                    f"<body><h1>外部网站</h1><p>{path}</p></body></html>\n", root=ext, page=False)
    write("/robots.txt", "User-agent: *\nDisallow:\n", root=ext, page=False)

    distinct = len(linked)
    occurrences = sum(links_on_page)
    # Everything a checker requests that is not an HTML page of the portal: images, attachments,
    # stylesheets, scripts and the other sites' pages, live or missing.
    dead_pages = {b["path"] for b in site.broken if b["kind"] == "page"}
    non_page = len(linked - page_paths - dead_pages)
    manifest = {
        "generator": "sitecheck bench/gensite.py", "version": GENERATOR_VERSION, "shape": shape, "seed": seed,
        "pages_requested": pages, "ext_origin": site.ext,
        "html_pages": len(sizes),
        "articles": len(site.articles), "columns": len(site.columns),
        "list_pages": sum(c["lists"] for c in site.columns),
        "images": n_images + 6, "attachments": n_atts, "external_urls": len(site.ext_pool),
        "broken_count": len(site.broken),
        "distinct_urls": distinct,  # distinct URLs a full checker requests (homepage included)
        "link_occurrences": occurrences,
        "links_per_page": round(occurrences / len(sizes), 1),
        "links_per_page_min": min(links_on_page), "links_per_page_max": max(links_on_page),
        "non_page_urls": non_page, "non_page_fraction": round(non_page / distinct, 4),
        "page_bytes": {"min": min(sizes), "max": max(sizes), "mean": round(sum(sizes) / len(sizes))},
        "site_code": SITE_CODE,
        "columns_sample": [{"name": c["name"], "path": c["path"]} for c in site.columns[:6]],
        "broken": site.broken,
        "generated_s": 0.0,
    }
    manifest["generated_s"] = round(time.monotonic() - t0, 1)
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    if not quiet:
        print(f"generated the {shape} shape: {manifest['html_pages']} pages, {distinct} distinct URLs "
              f"({100 * manifest['non_page_fraction']:.1f} % not pages), {manifest['links_per_page_min']}-"
              f"{manifest['links_per_page_max']} links a page, {len(site.broken)} broken, "
              f"in {manifest['generated_s']} s -> {out}")
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pages", type=int, default=20000)
    p.add_argument("--shape", choices=SHAPES, default="files", help="see above (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True)
    p.add_argument("--ext-origin", default="http://127.0.0.1:8081",
                   help="origin of the external host, as written into links (default: %(default)s)")
    args = p.parse_args(argv)
    generate(args.pages, args.out, seed=args.seed, ext_origin=args.ext_origin, shape=args.shape)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
