"""Pages of the demo site: a provincial department portal and three sub-sites as TRS WCM writes them.

`DemoSite(urls, today, ...)` renders every page once, relative to `today`, into
`Resource`s keyed by (host key, path); `lookup()` also answers the endless
trap pages, which cannot be rendered in advance.  The faults come from
`manifest.py`; the text here only dresses them as a real portal would.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html import escape
from urllib.parse import parse_qs, quote

from . import manifest as M


@dataclass
class Resource:
    """One answer of the server; the server applies `delay` and streams `stream_size` zero bytes."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    stream_size: int = 0


@dataclass(frozen=True)
class HostSpec:
    key: str
    title: str
    site_code: str
    icp: str
    beian: str | None  # 公安备案 number; None leaves the mark out
    conac_id: str
    organiser: str
    nav: tuple[tuple[str, str], ...]
    ext: str = "html"
    charset: str = "utf-8"
    jiucuo_base: str = "https://zfwzgl.www.gov.cn"
    jiucuo_code: str = ""  # site_code sent to the 找错 service, when it differs from the footer's


DEPARTMENT = "甘肃省演示工业和信息化厅"

HOSTS = {
    "portal": HostSpec(
        "portal", DEPARTMENT, "6200000031", "陇ICP备12001231号", "62010202000231",
        "0A5F3C2E81D14B6FE053012819AC31A1", "甘肃省演示工业和信息化厅办公室",
        (("首页", "/"), ("信息公开", "/xxgk/index.html"), ("工作动态", "/xwdt/index.html"),
         ("通知公告", "/tzgg/index.html"), ("政策文件", "/zcwj/index.html"), ("政策解读", "/zcjd/index.html"),
         ("政务服务", "/bsfw/index.html"), ("互动交流", "/hdjl/index.html"), ("专题专栏", "/ztzl/index.html"))),
    # G6: the 中小企业网 footer has no 公安备案 mark.
    "zxqy": HostSpec(
        "zxqy", "甘肃省演示中小企业网", "6200000032", "陇ICP备12001232号", None,
        "0A5F3C2E81D14B6FE053012819AC32A2", "甘肃省演示中小企业发展服务中心",
        (("首页", "/"), ("工作动态", "/gzdt/index.html"), ("通知公告", "/tzgg/index.html"),
         ("政策法规", "/zcfg/index.html"), ("政策解读", "/zcjd/index.html"), ("互动交流", "/hdjl/zrxx/index.html"))),
    # An older CMS: GBK pages (.shtml), and a 找错 link still on the outdated host (G6).
    "gbk": HostSpec(
        "gbk", "甘肃省演示无线电管理网", "6200000033", "陇ICP备12001233号", "62010202000233",
        "0A5F3C2E81D14B6FE053012819AC33A3", "甘肃省演示无线电管理办公室",
        (("首页", "/"), ("工作动态", "/gzdt/index.shtml"), ("通知公告", "/tzgg/index.shtml"),
         ("政策法规", "/zcfg/index.shtml"), ("主任信箱", "/hdjl/zrxx/index.shtml")),
        ext="shtml", charset="gbk", jiucuo_base="http://121.43.68.40"),
    # No interaction channel at all (G2); the 找错 link carries another site's code (G6).
    "qgw": HostSpec(
        "qgw", "甘肃省演示轻工网", "6200000034", "陇ICP备12001234号", "62010202000234",
        "0A5F3C2E81D14B6FE053012819AC34A4", "甘肃省演示轻工业发展中心",
        (("首页", "/"), ("行业动态", "/hydt/index.html"), ("通知公告", "/tzgg/index.html"),
         ("网站地图", "/wzdt/index.html")),
        jiucuo_code="6200000099"),
}

# --- text ----------------------------------------------------------------------------------

NEWS = (
    "全省工业和信息化工作推进会在兰州召开", "厅党组召开理论学习中心组学习会议", "全省制造业高质量发展现场观摩活动举行",
    "我厅组织开展安全生产专项检查", "全省数字经济重点项目集中签约", "厅领导赴定西市调研工业经济运行情况",
    "全省中小企业服务月活动启动", "我厅召开重点产业链链长制工作会议", "全省工业互联网平台建设现场会召开",
    "全省绿色制造体系建设培训班开班", "我厅举办企业家座谈会听取意见建议", "全省新型工业化推进大会召开",
    "厅领导带队赴天水市开展产业对接", "全省专精特新企业培育工作会议召开", "我厅开展节能监察专项行动",
    "全省工业运行监测分析会召开", "厅机关党委开展主题党日活动", "全省信息通信业发展座谈会举行",
    "我厅部署冬季工业企业安全生产工作", "全省食品工业高质量发展论坛举行", "厅领导赴酒泉市调研新能源装备产业",
    "全省工业和信息化系统统计培训会召开", "我厅召开年度目标责任考核工作部署会", "我厅组织企业参加兰洽会",
)
SME_NEWS = (
    "全省中小企业数字化转型推进会召开", "“一起益企”中小企业服务行动走进陇南", "全省中小企业融资对接会在兰州举行",
    "中小企业公共服务平台网络运行情况通报", "全省创业创新示范基地建设现场会召开", "中小企业经营管理人才培训班开班",
    "全省优质中小企业梯度培育工作推进", "中小企业特色产业集群培育座谈会举行",
)
RADIO_NEWS = (
    "全省无线电管理工作会议召开", "我办开展无线电频率使用情况专项检查", "高考期间无线电安全保障工作圆满完成",
    "全省无线电监测站建设推进会召开", "我办开展世界无线电日宣传活动", "全省无线电管理技术培训班开班",
    "我办开展航空无线电专用频率保护专项行动", "全省业余无线电台操作技术能力验证考试举行",
    "我办开展打击黑广播伪基站专项行动", "全省重大活动无线电安全保障演练举行", "我办召开无线电管理规划编制座谈会",
    "全省5G基站频率使用许可工作有序推进", "我办开展设台单位年度核验工作", "全省无线电监测设施运行维护检查完成",
    "我办走访重点设台单位征求意见", "全省无线电管理宣传月活动启动",
)
LIGHT_NEWS = (
    "全省轻工行业经济运行分析会召开", "陇原特色食品展销会在兰州开幕", "全省皮革行业转型升级座谈会举行",
    "轻工企业质量品牌提升行动推进会召开", "全省家具行业绿色发展论坛举行", "特色农产品加工企业对接会举行",
    "全省日化行业安全生产培训举行", "轻工行业增品种提品质创品牌专项行动启动",
)
NOTICES = (
    "关于开展{y}年度省级企业技术中心认定工作的通知", "关于征集{y}年工业和信息化重点项目的通知",
    "关于组织申报{y}年省级绿色工厂的通知", "关于公布{y}年第一批专精特新中小企业名单的公告",
    "关于开展工业企业安全生产大检查的通知", "关于举办全省工业和信息化系统业务培训班的通知",
    "关于做好{y}年冬季工业经济运行工作的通知", "关于公开征求工业领域数据安全管理办法意见的公告",
)
POLICIES = (
    "关于印发《加快推进新型工业化实施方案》的通知", "关于印发《中小企业梯度培育管理办法》的通知",
    "关于促进民营经济高质量发展的若干措施", "关于印发《工业领域碳达峰实施方案》的通知",
    "关于印发《软件和信息技术服务业发展规划》的通知", "关于印发《无线电频率使用管理办法》的通知",
)
INTERPRETATIONS = (
    "《加快推进新型工业化实施方案》政策解读", "一图读懂中小企业梯度培育管理办法", "《关于促进民营经济高质量发展的若干措施》解读",
    "专家解读工业领域碳达峰实施方案", "《软件和信息技术服务业发展规划》答记者问", "图解：制造业数字化转型行动计划",
)
PERSONNEL = ("{y}年公开遴选公务员公告", "厅属事业单位{y}年公开招聘工作人员公告", "拟任职干部任前公示", "{y}年度考试录用公务员拟录用人员公示")
PLANS = ("全省工业和信息化发展规划", "{y}年全厅工作要点", "全省信息通信业发展规划")
TOPIC = ("产业帮扶助力定点帮扶村脱贫摘帽", "厅帮扶工作队开展入户走访", "消费帮扶产品展销活动举行",
         "帮扶村特色产业发展座谈会召开", "脱贫攻坚帮扶工作总结")
PARAGRAPHS = (
    "会议强调，要坚持稳中求进工作总基调，完整准确全面贯彻新发展理念，扎实推动工业经济质的有效提升和量的合理增长。",
    "会议要求，各地各部门要压实工作责任，细化工作举措，加强协调调度，确保各项目标任务按期完成。",
    "据了解，今年以来全省规模以上工业增加值保持平稳增长，重点产业链运行总体稳定，企业生产经营状况持续向好。",
    "下一步，将进一步优化营商环境，强化要素保障，加大对中小企业的帮扶力度，推动惠企政策直达快享。",
    "活动期间，相关负责同志深入企业车间、项目现场，详细了解生产经营、项目建设和存在的困难问题。",
    "与会人员围绕产业发展、技术创新、人才引进等方面进行了深入交流，提出了意见建议。",
)


@dataclass(frozen=True)
class ColumnSpec:
    host: str
    dir: str
    name: str
    ages: tuple[int, ...]  # days before today of the ordinary items (special articles come from the manifest)
    pool: tuple[str, ...]
    date_fmt: str = "%Y-%m-%d"
    per_page: int = 20
    attach: str = ""  # every other ordinary article carries an attachment of this type


# The freshness faults (G4) are the ages here: portal 通知公告 200 days, zxqy 工作动态 30 days, zxqy 政策解读 blank.
COLUMNS = (
    ColumnSpec("portal", "/xwdt/", "工作动态", (0, 3, 4, 6, 8, 10, 12, 14, 16, 18, 21, 24, 27, 30, 33, 36, 40,
                                                45, 55, 60), NEWS, per_page=6),
    ColumnSpec("portal", "/tzgg/", "通知公告", (200, 215, 230, 260, 290, 320, 350, 400), NOTICES, "[%Y-%m-%d]",
               attach="docx"),
    ColumnSpec("portal", "/zcwj/", "政策文件", (9, 20, 45, 80, 120), POLICIES, "%Y年%m月%d日", attach="pdf"),
    ColumnSpec("portal", "/zcjd/", "政策解读", (1, 7, 15, 30, 60, 90), INTERPRETATIONS, "%Y/%m/%d"),
    ColumnSpec("portal", "/rsxx/", "人事信息", (3, 40, 100, 200), PERSONNEL),
    ColumnSpec("portal", "/ghjh/", "规划计划", (2, 150, 300), PLANS, attach="xlsx"),
    ColumnSpec("portal", "/ztzl/tpgj/", "脱贫攻坚专题", (1100, 1130, 1160, 1200, 1290), TOPIC),
    ColumnSpec("zxqy", "/gzdt/", "工作动态", (30, 33, 37, 41, 46, 52, 60, 70), SME_NEWS),
    ColumnSpec("zxqy", "/tzgg/", "通知公告", (1, 11, 25, 40, 70), NOTICES, "%Y年%m月%d日", attach="docx"),
    ColumnSpec("zxqy", "/zcfg/", "政策法规", (2, 20, 50, 90, 150), POLICIES, "[%Y-%m-%d]", attach="pdf"),
    ColumnSpec("zxqy", "/zcjd/", "政策解读", (), INTERPRETATIONS),
    ColumnSpec("gbk", "/gzdt/", "工作动态", (1, 2, 4, 6, 11, 20, 22, 25, 28, 31, 35, 40, 45, 50, 56, 70), RADIO_NEWS,
               "%Y/%m/%d", per_page=6),
    ColumnSpec("gbk", "/tzgg/", "通知公告", (1, 15, 30, 60, 100), NOTICES, "%Y/%m/%d"),
    ColumnSpec("gbk", "/zcfg/", "政策法规", (2, 45, 120, 200), POLICIES, "%Y/%m/%d", attach="pdf"),
    ColumnSpec("qgw", "/hydt/", "行业动态", (1, 3, 6, 10, 15, 22, 30, 45), LIGHT_NEWS, "[%Y-%m-%d]"),
    ColumnSpec("qgw", "/tzgg/", "通知公告", (2, 12, 30, 60, 90), NOTICES),
)
_ID_BASE = {"portal": 523000, "zxqy": 533000, "gbk": 543000, "qgw": 553000}

# The gbk homepage was last republished this many days ago (G5): it lists only what existed then.
GBK_HOMEPAGE_FROZEN_DAYS = 20

# Message boards of the sub-sites: all answered within days.  The portal's is manifest.PORTAL_BOARD (G3).
SUB_BOARDS = {
    "zxqy": {"msg-2001": (2, 1), "msg-2002": (16, 3), "msg-2003": (48, 2), "msg-2004": (95, 5),
             "msg-2005": (160, 4), "msg-2006": (260, 6)},
    "gbk": {"msg-3001": (5, 2), "msg-3002": (33, 4), "msg-3003": (88, 1), "msg-3004": (140, 6),
            "msg-3005": (230, 3)},
}
BOARD_TITLES = (
    "关于中小企业贷款贴息政策的咨询", "咨询专精特新企业申报条件", "关于工业用电价格的咨询", "企业技术改造项目补助何时拨付",
    "关于绿色工厂评价标准的咨询", "咨询企业技术中心认定流程", "反映园区企业用工招聘困难", "关于无线电台执照办理的咨询",
    "咨询软件企业认定相关政策", "关于工业企业安全生产培训的建议",
)

GUIDE_SECTIONS = ("事项名称", "设定依据", "申请条件", "办理材料", "办理地点", "办理时间", "联系电话", "办理流程")
GUIDES = {
    # G8: guide-001 leaves out 办理地点 and 联系电话.
    "guide-001": ("省级企业技术中心认定", {"办理地点", "联系电话"}),
    "guide-002": ("工业企业技术改造项目备案", set()),
}


@dataclass
class Article:
    column: ColumnSpec
    id: int
    title: str
    published: datetime
    special: str = ""  # key in manifest.ARTICLES

    @property
    def path(self) -> str:
        return M.article_path(self.column.dir, self.id, self.published.date(), HOSTS[self.column.host].ext)


def _published(day: date, article_id: int) -> datetime:
    return datetime(day.year, day.month, day.day, 8 + article_id % 9, article_id * 7 % 60)


# --- small real files --------------------------------------------------------------------


def _png(rgb: tuple[int, int, int] = (190, 30, 45), size: int = 4) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _pdf(text: str) -> bytes:
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for n, obj in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (n, obj))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % off for off in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _zip(parts: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), text.encode("utf-8"))
    return buf.getvalue()


_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats'
         '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocume'
         'nt/2006/relationships/officeDocument" Target="{target}"/></Relationships>')


def _docx(text: str) -> bytes:
    return _zip({
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/'
        'document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"'
        '/></Types>',
        "_rels/.rels": _RELS.format(target="word/document.xml"),
        "word/document.xml": '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats'
        f'.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{escape(text)}</w:t></w:r></w:p></w:body>'
        '</w:document>',
    })


def _xlsx(text: str) -> bytes:
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    return _zip({
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook'
        '.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
        'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml'
        '.worksheet+xml"/></Types>',
        "_rels/.rels": _RELS.format(target="xl/workbook.xml"),
        "xl/workbook.xml": f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{main}" xmlns:r="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/>'
        '</sheets></workbook>',
        "xl/_rels/workbook.xml.rels": _RELS.format(target="worksheets/sheet1.xml").replace(
            "relationships/officeDocument", "relationships/worksheet"),
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{main}"><sheetData><row '
        f'r="1"><c r="A1" t="inlineStr"><is><t>{escape(text)}</t></is></c></row></sheetData></worksheet>',
    })


PNG = _png()
ATTACHMENT_TYPES = {
    "pdf": ("application/pdf", lambda: _pdf("sitecheck demo attachment")),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", lambda: _docx("演示附件")),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", lambda: _xlsx("演示附件")),
}

STYLE = b"""body{margin:0;font:14px/1.8 "Microsoft YaHei",SimSun,sans-serif;color:#333}
a{color:#333;text-decoration:none}.w1200{width:1200px;margin:0 auto}.header{background:#b8120e;color:#fff}
.nav li,.list li{list-style:none}.nav li{display:inline-block;padding:0 18px}.list li span{float:right;color:#999}
.footer{background:#f2f2f2;text-align:center;padding:20px 0;color:#666}
"""

# TRS WCM writes this definition into every list page; the links it builds exist only in JavaScript.
PAGE_JS = """function createPageHTML(_nPageCount, _nCurrIndex, _sPageName, _sPageExt){
  if(_nPageCount == null || _nPageCount <= 1){ return; }
  var nCurrIndex = _nCurrIndex || 0;
  if(nCurrIndex == 0){ document.write("<span>首页</span>&nbsp;<span>上一页</span>&nbsp;"); }
  else {
    document.write("<a href=\\"" + _sPageName + "." + _sPageExt + "\\">首页</a>&nbsp;");
    var prev = nCurrIndex == 1 ? _sPageName + "." + _sPageExt : _sPageName + "_" + (nCurrIndex - 1) + "." + _sPageExt;
    document.write("<a href=\\"" + prev + "\\">上一页</a>&nbsp;");
  }
  if(nCurrIndex + 1 < _nPageCount){
    document.write("<a href=\\"" + _sPageName + "_" + (nCurrIndex + 1) + "." + _sPageExt + "\\">下一页</a>&nbsp;");
    document.write("<a href=\\"" + _sPageName + "_" + (_nPageCount - 1) + "." + _sPageExt + "\\">尾页</a>");
  }
  document.write("&nbsp;共" + _nPageCount + "页");
}"""

# The GBK sub-site's older template: container id first, record count last, defined in /js/page.js.
PAGE_DIV_JS = """function createPageHTML(divId, nPageCount, nCurrIndex, sPageName, sPageExt, nRecordCount){
  var html = [], div = document.getElementById(divId);
  if(!div || nPageCount <= 1){ return; }
  for(var i = 0; i < nPageCount; i++){
    var name = i == 0 ? sPageName + "." + sPageExt : sPageName + "_" + i + "." + sPageExt;
    html.push(i == nCurrIndex ? "<span>" + (i + 1) + "</span>" : "<a href='" + name + "'>" + (i + 1) + "</a>");
  }
  div.innerHTML = html.join(" ") + " 共" + nRecordCount + "条";
}
"""

ROBOTS = b"User-agent: *\nDisallow: /private/\n"


class DemoSite:
    """Every page of the demo, rendered for one `today` and one set of host URLs."""

    def __init__(self, urls: dict[str, str], today: date, slow_seconds: float = 1.5,
                 timeout_fault_seconds: float = 6.0):
        self.urls = urls
        self.today = today
        self.slow_seconds = slow_seconds
        self.timeout_fault_seconds = timeout_fault_seconds
        self.resources: dict[tuple[str, str], Resource] = {}
        self.articles: dict[tuple[str, str], list[Article]] = {}  # (host, column dir) -> newest first
        self.special: dict[str, Article] = {}
        for col in COLUMNS:
            self.articles[(col.host, col.dir)] = self._plan(col)
        for host in HOSTS:
            self._common(host)
        for col in COLUMNS:
            self._column(col)
        self._portal()
        self._zxqy()
        self._gbk()
        self._qgw()
        self._status_board("zxqy", M.STATUS_BOARD)
        self._external()

    # --- lookup -------------------------------------------------------------------------

    def lookup(self, host: str, path: str, query: str = "") -> Resource:
        """The answer for a request; unknown paths get the server's plain 404 page."""
        res = self.resources.get((host, path))
        if res is None and path.endswith("/") and host in HOSTS:
            res = self.resources.get((host, f"{path}index.{HOSTS[host].ext}"))
        if res is None and host == "portal":
            res = self._trap(path, parse_qs(query))
        return res or _plain(404, "404 Not Found")

    # --- the plan: which articles exist, when published -------------------------------

    def _plan(self, col: ColumnSpec) -> list[Article]:
        arts = []
        base = _ID_BASE[col.host] + COLUMNS.index(col) * 40
        for i, age in enumerate(col.ages):
            day = self.today - timedelta(days=age)
            title = col.pool[i % len(col.pool)].format(y=day.year)
            arts.append(Article(col, base + i, title, _published(day, base + i)))
        for key, spec in M.ARTICLES.items():
            if (spec["host"], spec["column"]) == (col.host, col.dir):
                day = self.today - timedelta(days=spec["age_days"])
                art = Article(col, spec["id"], SPECIAL_TITLES[key].format(y=day.year),
                              _published(day, spec["id"]), key)
                arts.append(art)
                self.special[key] = art
        return sorted(arts, key=lambda a: a.published, reverse=True)

    # --- page frame ------------------------------------------------------------------------

    def url(self, host: str, path: str = "/") -> str:
        return self.urls[host] + path.lstrip("/")

    def page(self, host: str, path: str, title: str, body: str, meta: dict[str, str] | None = None,
             head: str = "") -> None:
        self.resources[(host, path)] = self.render(host, path, title, body, meta, head)

    def render(self, host: str, path: str, title: str, body: str, meta: dict[str, str] | None = None,
               head: str = "") -> Resource:
        """An HTML page of a site host in its frame: header, nav, footer with the identity marks."""
        spec = HOSTS[host]
        charset = "gb2312" if spec.charset == "gbk" else "utf-8"
        metas = {"SiteName": spec.title, "SiteDomain": self.url(host).split("/")[2], "SiteIDCode": spec.site_code,
                 **(meta or {})}
        meta_html = "\n".join(f'<meta name="{k}" content="{escape(v)}">' for k, v in metas.items())
        full_title = spec.title if path == "/" else f"{title}_{spec.title}"
        nav = "".join(f'<li><a href="{p}">{t}</a></li>' for t, p in spec.nav)
        back = "" if host == "portal" else f'<a href="{self.url("portal")}">返回主站</a>'
        html = f"""<!DOCTYPE html>
<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset={charset}">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<title>{escape(full_title)}</title>
{meta_html}
<link rel="stylesheet" type="text/css" href="/css/style.css">
{head}</head>
<body>
<div class="top"><div class="w1200">{back}<a href="/search/index.{spec.ext}">站内搜索</a>
<a href="/wzdt/index.{spec.ext}">网站地图</a></div></div>
<div class="header"><div class="w1200"><a href="/"><img src="/images/logo.png" alt="{spec.title}"></a>
<form class="search" action="/search/index.{spec.ext}" method="get"><input type="text" name="q" placeholder="请输入关键词">
<input type="submit" value="搜索"></form></div></div>
<div class="nav"><ul class="w1200">{nav}</ul></div>
<div class="main w1200">
{body}
</div>
{self._footer(host, path)}
</body>
</html>
"""
        return _html(html, spec.charset)

    def _footer(self, host: str, path: str) -> str:
        spec = HOSTS[host]
        jiucuo = (f"{spec.jiucuo_base}/exposure/jiucuo.html?site_code={spec.jiucuo_code or spec.site_code}"
                  f"&amp;url={quote(self.url(host, path), safe='')}")
        beian = (f' <a href="http://www.beian.gov.cn/portal/registerSystemInfo?recordcode={spec.beian}"'
                 f' target="_blank"><img src="/images/ga.png" alt="">甘公网安备 {spec.beian}号</a>') if spec.beian else ""
        conac = ("%3Cspan id='_ideConac' %3E%3Ca href='https://bszs.conac.cn/sitename?method=show&id=" + spec.conac_id
                 + "' target='_blank'%3E%3Cimg src='https://dcs.conac.cn/image/red.png' border='0'%3E%3C/a%3E"
                 "%3C/span%3E"
                 "%3Cscript src='https://dcs.conac.cn/js/28/000/0000/" + spec.conac_id[:8]
                 + "/CA28000000" + spec.conac_id[:8] + "0001.js' type='text/javascript'%3E%3C/script%3E")
        credit = "兰州演示喆信网络科技有限公司" if host == "gbk" else "甘肃省演示信息中心"  # 喆: GBK, not GB2312
        return f"""<div class="footer"><div class="w1200">
<p><a href="/wzdt/index.{spec.ext}">网站地图</a></p>
<p>主办单位：{DEPARTMENT}　承办：{spec.organiser}　技术支持：{credit}</p>
<p>网站标识码：{spec.site_code}　<a href="https://beian.miit.gov.cn/" target="_blank">{spec.icp}</a>{beian}</p>
<div class="badges"><script type="text/javascript">document.write(unescape("{conac}"));</script>
<a class="jiucuo" href="{jiucuo}" target="_blank"><img src="/images/jiucuo.png" alt="">我为政府网站找错</a></div>
</div></div>"""

    def _common(self, host: str) -> None:
        for name in ("logo", "ga", "jiucuo", "banner"):
            self.resources[(host, f"/images/{name}.png")] = Resource(body=PNG, content_type="image/png")
        self.resources[(host, "/css/style.css")] = Resource(body=STYLE, content_type="text/css")
        self.resources[(host, "/robots.txt")] = Resource(body=ROBOTS, content_type="text/plain")
        ext = HOSTS[host].ext
        self.page(host, f"/search/index.{ext}", "站内搜索",
                  '<div class="search-result"><h2>站内搜索</h2><p>请输入关键词进行搜索。</p></div>')

    def _list_html(self, arts: list[Article], fmt: str, prefix: str = "./") -> str:
        """TRS list items; `prefix` is the column folder as seen from the linking page."""
        items = []
        for a in arts:
            short = a.title if len(a.title) <= 26 else a.title[:25] + "…"
            href = prefix + a.path[len(a.column.dir):]  # ./202611/t20261120_523001.html from the column
            items.append(f'<li><a href="{href}" target="_blank" title="{escape(a.title)}">{escape(short)}</a>'
                         f'<span>{a.published.strftime(fmt)}</span></li>')
        return "<ul>\n" + "\n".join(items) + "\n</ul>" if items else '<ul></ul>\n<p class="empty">暂无信息</p>'

    def _box(self, host: str, col_dir: str, fmt: str, limit: int = 6, max_date: date | None = None) -> str:
        """A homepage block listing a column's newest items (published by `max_date` when given)."""
        col = next(c for c in COLUMNS if (c.host, c.dir) == (host, col_dir))
        arts = [a for a in self.articles[(host, col_dir)] if max_date is None or a.published.date() <= max_date]
        more = f".{col_dir}index.{HOSTS[host].ext}"
        return (f'<div class="box"><div class="hd"><h3>{col.name}</h3><a class="more" href="{more}">更多&gt;&gt;</a>'
                f'</div>\n{self._list_html(arts[:limit], fmt, "." + col_dir)}</div>')

    # --- columns and articles --------------------------------------------------------------

    def _column(self, col: ColumnSpec) -> None:
        host, ext = col.host, HOSTS[col.host].ext
        arts = self.articles[(host, col.dir)]
        pages = max(1, -(-len(arts) // col.per_page))
        meta = _column_meta(host, col.name)
        for n in range(pages):
            chunk = arts[n * col.per_page:(n + 1) * col.per_page]
            name = "index" if n == 0 else f"index_{n}"
            if host == "gbk":
                head = '<script type="text/javascript" src="/js/page.js"></script>\n'
                paging = (f'<div class="page" id="page_div"></div>\n<script type="text/javascript">'
                          f"createPageHTML('page_div',{pages},{n},'index','{ext}',{len(arts)});</script>")
            else:
                head = ""
                paging = (f'<div class="page"><script type="text/javascript">\n{PAGE_JS}\n'
                          f'createPageHTML({pages}, {n}, "index", "{ext}");\n</script></div>')
            body = (f'<div class="crumb">当前位置：<a href="/">首页</a> &gt; <a href="./index.{ext}">{col.name}</a></div>\n'
                    f'<div class="list"><h2>{col.name}</h2>\n{self._list_html(chunk, col.date_fmt)}\n{paging}</div>')
            self.page(host, f"{col.dir}{name}.{ext}", col.name, body, meta, head)
        for i, art in enumerate(arts):
            self._article(art, i)

    def _article(self, art: Article, index: int) -> None:
        col, host = art.column, art.column.host
        spec = HOSTS[host]
        day = art.published.date()
        paragraphs = [f"本网讯（{day.month}月{day.day}日）{art.title}。"] + \
            [PARAGRAPHS[(art.id + k) % len(PARAGRAPHS)] for k in range(2)]
        attachments: list[tuple[str, str]] = []
        extra = ""
        if art.special:
            extra, attachments = self._special(art)
        elif col.attach and index % 2 == 0:
            attachments.append((f"{art.title}.{col.attach}", self._attachment(art, col.attach, 1)))
        if host == "gbk":
            paragraphs.append("（责任编辑：王堃）")  # 堃 is GBK but not GB2312
        text = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
        files = ""
        if attachments:
            files = '<div class="fj"><p>附件：</p><ul>' + "".join(
                f'<li><a href="{href}" target="_blank">{i}.{escape(label)}</a></li>'
                for i, (label, href) in enumerate(attachments, 1)) + "</ul></div>"
        stamp = art.published.strftime("%Y-%m-%d %H:%M")
        body = f"""<div class="crumb">当前位置：<a href="/">首页</a> &gt; <a href="../index.{spec.ext}">{col.name}</a></div>
<div class="article">
<h1 class="title">{escape(art.title)}</h1>
<div class="info"><span>发布时间：{stamp}</span> <span>来源：{spec.organiser}</span></div>
<div class="TRS_Editor">
{text}
{extra}
</div>
{files}
<div class="tools"><a href="javascript:window.print()">打印本页</a> <a href="javascript:window.close()">关闭窗口</a></div>
</div>"""
        meta = {"ColumnName": col.name, "ArticleTitle": art.title, "PubDate": stamp, "ContentSource": spec.organiser}
        self.page(host, art.path, art.title, body, meta)

    def _attachment(self, art: Article, kind: str, n: int) -> str:
        """Serve a small real file next to the article (TRS names them P0<date><id><n>); return its href."""
        name = f"P0{art.published:%Y%m%d}{art.id}{n:02d}.{kind}"
        ctype, make = ATTACHMENT_TYPES[kind]
        self.resources[(art.column.host, art.path.rsplit("/", 1)[0] + "/" + name)] = Resource(
            body=make(), content_type=ctype)
        return "./" + name

    def _image(self, art: Article) -> str:
        name = f"W0{art.published:%Y%m%d}{art.id}.png"
        self.resources[(art.column.host, art.path.rsplit("/", 1)[0] + "/" + name)] = Resource(
            body=PNG, content_type="image/png")
        return f'<p style="text-align:center"><img src="./{name}" alt=""></p>'

    def _special(self, art: Article) -> tuple[str, list[tuple[str, str]]]:
        """The body additions and attachments of an article that carries a planted fault."""
        ext = self.urls["external"]
        dead = self.urls["dead"]
        links: list[tuple[str, str]] = []
        attachments: list[tuple[str, str]] = []
        extra = ""
        if art.special == "portal-attachments":
            extra = self._image(art)
            attachments = [("实施方案.pdf", self._attachment(art, "pdf", 1)),
                           ("项目申报表.docx", self._attachment(art, "docx", 2)),
                           ("重点项目汇总表.xlsx", self._attachment(art, "xlsx", 3)),
                           ("补充说明.pdf", "/uploads/missing.pdf"),
                           ("全省工业统计数据包.zip", "/uploads/big.zip")]
        elif art.special == "portal-related-links":
            links = [("年度统计数据发布系统", "/fault/error.html"), ("企业网上申报平台", "/fault/unavailable.html"),
                     ("工业运行监测平台", "/fault/timeout.html"), ("原政务公开专栏", "/fault/moved"),
                     ("项目申报入口", "/fault/loop-a")]
        elif art.special == "portal-external-links":
            links = [("演示省政务服务网", ext + "ext/ok.html"), ("演示省统计局", ext + "ext/missing.html"),
                     ("演示省发展和改革委员会", ext + "ext/error.html"), ("原演示经济信息网", dead + "index.html"),
                     ("专题报道", "/fault/soft404.html"), ("数据查询", "/fault/busy.html"),
                     ("在线申报系统", "/fault/waf.html")]
        elif art.special == "portal-wrong-word":
            extra = "<p>会议集中学习了《中华人民共合国中小企业促进法》，并结合工作实际进行了交流研讨。</p>"
        elif art.special == "zxqy-wrong-word":
            extra = "<p>本次服务月活动由甘肃省工业和信息化局牵头，各市州中小企业主管部门具体组织实施。</p>"
        elif art.special == "gbk-forbidden-word":
            # Text injected into a tampered page: what the forbidden-word check must catch.
            extra = "<p>推荐阅读：某网络赌博平台注册即送彩金。</p>"
        if links:
            extra += '<div class="xglj"><p>相关链接：</p><ul>' + "".join(
                f'<li><a href="{href}" target="_blank">{text}</a></li>' for text, href in links) + "</ul></div>"
        return extra, attachments

    # --- portal ------------------------------------------------------------------------------

    def _portal(self) -> None:
        today = self.today
        hosts = "".join(f'<li><a href="{self.url(k)}" target="_blank">{HOSTS[k].title}</a></li>'
                        for k in ("zxqy", "gbk", "qgw"))
        ext = self.urls["external"]
        body = f"""<div class="banner"><img src="/images/banner.png" alt="{DEPARTMENT}"></div>
<div class="row">
{self._box("portal", "/xwdt/", "%Y-%m-%d")}
{self._box("portal", "/tzgg/", "[%Y-%m-%d]")}
</div>
<div class="row">
{self._box("portal", "/zcwj/", "%Y年%m月%d日")}
{self._box("portal", "/zcjd/", "%Y/%m/%d")}
</div>
<div class="row">
<div class="box xxgk"><h3><a href="./xxgk/index.html">信息公开</a></h3><ul>
<li><a href="./xxgk/zn.html">政府信息公开指南</a></li>
<li><a href="./xxgk/missing.html">政府信息公开工作年度报告</a></li>
<li><a href="./rsxx/index.html">人事信息</a></li><li><a href="./ghjh/index.html">规划计划</a></li></ul></div>
<div class="box zwfw"><h3><a href="./bsfw/index.html">政务服务</a></h3><ul>
<li><a href="./bsfw/bszn/index.html">办事指南</a></li></ul></div>
<div class="box hdjl"><h3><a href="./hdjl/index.html">互动交流</a></h3><ul>
<li><a href="./hdjl/zrxx/index.html">主任信箱</a></li></ul></div>
</div>
<div class="zt"><h3>专题专栏</h3><ul>
<li><a href="./ztzl/tpgj/index.html"><img src="/images/missing.png" alt="脱贫攻坚专题">脱贫攻坚专题</a></li>
<li><a href="./calendar/?y={today.year}&amp;m={today.month}">活动日历</a></li>
<li><a href="./news/list.html?sid=8f3a">要闻列表</a></li></ul></div>
<div class="subsites"><h3>子站导航</h3><ul>{hosts}</ul></div>
<div class="links"><h3>友情链接</h3><ul><li><a href="{ext}" target="_blank">演示省人民政府</a></li>
<li><a href="{ext}ext/partner.html" target="_blank">演示省工业经济联合会</a></li></ul></div>"""
        self.page("portal", "/", DEPARTMENT, body)
        self.resources[("portal", "/index.html")] = self.resources[("portal", "/")]
        self._landings()
        self._board("portal", M.PORTAL_BOARD)
        self._guides()
        self._faults()

    def _landings(self) -> None:
        def links(items):
            return "<ul>" + "".join(f'<li><a href="{href}">{text}</a></li>' for text, href in items) + "</ul>"

        self.page("portal", "/xxgk/index.html", "信息公开", "<h2>信息公开</h2>" + links([
            ("政府信息公开指南", "/xxgk/zn.html"), ("政策文件", "/zcwj/index.html"), ("人事信息", "/rsxx/index.html"),
            ("规划计划", "/ghjh/index.html"), ("工业经济运行统计报表", "/slow/report.html")]),
            _column_meta("portal", "信息公开", "导航"))
        self.page("portal", "/xxgk/zn.html", "政府信息公开指南",
                  '<div class="TRS_Editor"><h2>政府信息公开指南</h2><p>为了更好地提供政府信息公开服务，'
                  "特编制本指南。公民、法人或者其他组织可以通过本网站查阅主动公开的政府信息。</p></div>")
        self.page("portal", "/slow/report.html", "工业经济运行统计报表",
                  '<div class="TRS_Editor"><h2>工业经济运行统计报表</h2><p>本报表由统计系统实时生成。</p></div>')
        self.resources[("portal", "/slow/report.html")].delay = self.slow_seconds
        self.page("portal", "/bsfw/index.html", "政务服务", "<h2>政务服务</h2>" + links([
            ("办事指南", "/bsfw/bszn/index.html")]), _column_meta("portal", "政务服务", "导航"))
        self.page("portal", "/hdjl/index.html", "互动交流", "<h2>互动交流</h2>" + links([
            ("主任信箱", "/hdjl/zrxx/index.html")]), _column_meta("portal", "互动交流", "导航"))
        self.page("portal", "/ztzl/index.html", "专题专栏", "<h2>专题专栏</h2>" + links([
            ("脱贫攻坚专题", "/ztzl/tpgj/index.html")]), _column_meta("portal", "专题专栏", "导航"))
        self._sitemap("portal", [("内部资料", "/private/secret.html"), ("历史栏目归档", "/deep/a/")])
        # Disallowed by robots.txt: a crawl must not fetch it.
        self.page("portal", "/private/secret.html", "内部资料", "<h2>内部资料</h2><p>仅限内部使用。</p>")

    def _sitemap(self, host: str, extra: list[tuple[str, str]] = ()) -> None:
        spec = HOSTS[host]
        items = [(t, p) for t, p in spec.nav if p != "/"]
        items += [(c.name, f"{c.dir}index.{spec.ext}") for c in COLUMNS
                  if c.host == host and (c.name, f"{c.dir}index.{spec.ext}") not in items]
        items += list(extra)
        body = "<h2>网站地图</h2><ul>" + "".join(f'<li><a href="{p}">{t}</a></li>' for t, p in items) + "</ul>"
        self.page(host, f"/wzdt/index.{spec.ext}", "网站地图", body)

    def _board(self, host: str, messages: dict[str, tuple[int, int | None]]) -> None:
        ext = HOSTS[host].ext
        rows = []
        for n, (msg_id, (asked_ago, reply_days)) in enumerate(messages.items()):
            asked = self.today - timedelta(days=asked_ago)
            replied = asked + timedelta(days=reply_days) if reply_days is not None else None
            title = BOARD_TITLES[n % len(BOARD_TITLES)]
            number = msg_id.split("-")[1]
            status = "已回复" if replied else "未回复"
            rows.append(f'<li class="message" id="{msg_id}"><a class="title" href="./detail_{number}.{ext}">{title}</a>'
                        f'<span class="asked">{asked:%Y-%m-%d}</span>'
                        f'<span class="replied">{f"{replied:%Y-%m-%d}" if replied else ""}</span>'
                        f'<span class="status">{status}</span></li>')
            link = ""
            if host == "portal" and number == "1005":
                # A reply pointing into the department's intranet: sitecheck must refuse it (not in allow_networks).
                private = M.host_url(self.urls, "private")
                link = f'详情请登录<a href="{private}internal/admin.html">内部办公系统</a>查询。'
            reply = (f"<p>回复单位：{HOSTS[host].organiser}</p><p>回复时间：{replied:%Y-%m-%d}</p>"
                     f"<p>回复内容：您好！您反映的问题已收悉，现答复如下：相关政策请参阅本网政策文件栏目。{link}</p>"
                     if replied else "<p>回复内容：尚未回复</p>")
            self.page(host, f"/hdjl/zrxx/detail_{number}.{ext}", title,
                      f'<div class="msg-detail"><h2>{title}</h2><p>留言人：王**</p><p>留言时间：{asked:%Y-%m-%d}</p>'
                      f"<p>留言内容：请问{title.removeprefix('关于').removeprefix('咨询')}的具体要求是什么？</p>{reply}</div>")
        body = (f'<div class="crumb">当前位置：<a href="/">首页</a> &gt; 主任信箱</div>\n<div class="board"><h2>主任信箱</h2>'
                f'<p><a href="./write.{ext}">我要写信</a></p>\n<div class="thead"><span>留言标题</span><span>留言时间</span>'
                f'<span>回复时间</span><span>办理状态</span></div>\n<ul class="msglist">\n' + "\n".join(rows)
                + "\n</ul></div>")
        self.page(host, f"/hdjl/zrxx/index.{ext}", "主任信箱", body, _column_meta(host, "主任信箱", "互动交流"))
        self.page(host, f"/hdjl/zrxx/write.{ext}", "我要写信",
                  '<form class="write" action="./write.do" method="post"><p>标题：<input name="title"></p>'
                  '<p>内容：<textarea name="content"></textarea></p><p><input type="submit" value="提交"></p></form>')

    def _status_board(self, host: str, messages: dict[str, tuple[int, int | None]]) -> None:
        """A board whose list pages show only 留言时间 and 状态 (G3b): the reply date is on each message's
        own page.  Two list pages, the second written by TRS's `var countPage` script."""
        ext = HOSTS[host].ext
        folder = "/" + M.STATUS_BOARD_DIR
        rows = []
        for n, (msg_id, (asked_ago, reply_days)) in enumerate(messages.items()):
            asked = self.today - timedelta(days=asked_ago)
            replied = asked + timedelta(days=reply_days) if reply_days is not None else None
            title = BOARD_TITLES[(n + 3) % len(BOARD_TITLES)]
            number = msg_id.split("-")[1]
            rows.append(f'<li class="message" id="{msg_id}"><a class="title" href="./detail_{number}.{ext}">{title}</a>'
                        f'<span class="asked">{asked:%Y-%m-%d}</span>'
                        f'<span class="status">{"已回复" if replied else "办理中"}</span></li>')
            reply = (f"<p>回复单位：{HOSTS[host].organiser}</p><p>回复时间：{replied:%Y-%m-%d}</p>"
                     "<p>回复内容：您好！您的咨询已收悉，相关政策请参阅本网政策法规栏目。</p>"
                     if replied else "<p>办理状态：办理中</p>")
            self.page(host, f"{folder}detail_{number}.{ext}", title,
                      f'<div class="msg-detail"><h2>{title}</h2><p>留言人：李**</p><p>留言时间：{asked:%Y-%m-%d}</p>'
                      f"<p>留言内容：{title}，请予答复。</p>{reply}</div>")
        per_page = 3
        pages = [rows[i:i + per_page] for i in range(0, len(rows), per_page)]
        for current, page_rows in enumerate(pages):
            pager = (f"<script>\nvar currentPage = {current};//所在页从0开始\nvar countPage = {len(pages)}//共多少页\n"
                     'document.write("共"+countPage+"页&nbsp;");\n'
                     'if(currentPage>0) document.write("<a href=\\"index.' + ext + '\\">首页</a>");\n'
                     'if(currentPage<countPage-1) document.write("<a href=\\"index_" + (currentPage+1) + ".'
                     + ext + '\\">下一页</a>");\n</script>')
            body = (f'<div class="crumb">当前位置：<a href="/">首页</a> &gt; 咨询留言</div>\n<div class="board">'
                    f'<h2>咨询留言</h2>\n<div class="thead"><span>留言标题</span><span>留言时间</span>'
                    f'<span>状态</span></div>\n<ul class="msglist">\n' + "\n".join(page_rows)
                    + f"\n</ul>\n<div class=\"page\">{pager}</div></div>")
            name = "index" if current == 0 else f"index_{current}"
            self.page(host, f"{folder}{name}.{ext}", "咨询留言", body, _column_meta(host, "咨询留言", "互动交流"))

    def _guides(self) -> None:
        rows = []
        for key, (name, missing) in GUIDES.items():
            content = {
                "事项名称": name, "设定依据": "《中华人民共和国中小企业促进法》及省级相关管理办法。",
                "申请条件": "在本省依法设立、具有独立法人资格、近三年无重大违法记录的工业企业。",
                "办理材料": "申请表、营业执照复印件、上年度财务审计报告。",
                "办理地点": "兰州市城关区演示路1号政务服务大厅3号窗口。", "办理时间": "工作日上午9:00-12:00，下午14:30-17:30。",
                "联系电话": "0931-8888888", "办理流程": "网上申请、窗口受理、审核、公示、办结。",
            }
            sections = "\n".join(
                f'<div class="section"><h3>{label}</h3><div class="content">{content[label]}</div></div>'
                for label in GUIDE_SECTIONS if label not in missing)
            self.page("portal", f"/bsfw/bszn/{key}.html", f"{name}办事指南",
                      f'<div class="bszn"><h2>{name}办事指南</h2>\n{sections}\n</div>')
            rows.append(f'<li><a href="./{key}.html">{name}</a></li>')
        self.page("portal", "/bsfw/bszn/index.html", "办事指南", "<h2>办事指南</h2><ul>" + "".join(rows) + "</ul>",
                  _column_meta("portal", "办事指南", "政务服务"))

    def _faults(self) -> None:
        """Link-layer faults of the portal (manifest.BROKEN / THROTTLED / LARGE)."""
        r = self.resources
        r[("portal", "/fault/error.html")] = _plain(500, "500 Internal Server Error")
        r[("portal", "/fault/unavailable.html")] = _plain(503, "503 Service Temporarily Unavailable")
        self.page("portal", "/fault/timeout.html", "工业运行监测平台", "<h2>工业运行监测平台</h2>")
        r[("portal", "/fault/timeout.html")].delay = self.timeout_fault_seconds
        r[("portal", "/fault/loop-a")] = _redirect(302, "/fault/loop-b")
        r[("portal", "/fault/loop-b")] = _redirect(302, "/fault/loop-a")
        r[("portal", "/fault/moved")] = _redirect(301, "/fault/gone.html")
        self.page("portal", "/fault/soft404.html", "页面不存在",
                  '<div class="error"><h2>页面不存在</h2><p>抱歉，您访问的页面不存在或已被删除！</p></div>')
        r[("portal", "/fault/busy.html")] = _plain(429, "429 Too Many Requests", {"Retry-After": "2"})
        r[("portal", "/fault/waf.html")] = Resource(
            403, "<html><head><title>访问被拦截</title></head><body><h1>访问被拦截</h1>"
            "<p>您的访问请求疑似攻击行为，已被网站防火墙拦截。</p></body></html>".encode(), headers={"Server": "WAF"})
        r[("portal", "/uploads/big.zip")] = Resource(content_type="application/zip",
                                                      stream_size=M.BIG_ATTACHMENT_BYTES)

    def _trap(self, path: str, query: dict[str, list[str]]) -> Resource | None:
        """Endless but healthy pages (manifest.TRAPS), made on request."""
        if path in ("/calendar/", "/calendar/index.html"):
            try:
                year = min(max(int(query.get("y", [self.today.year])[0]), 1), 9999)
                month = min(max(int(query.get("m", [self.today.month])[0]), 1), 12)
            except ValueError:
                year, month = self.today.year, self.today.month
            prev = (year - 1, 12) if month == 1 else (year, month - 1)
            nxt = (year + 1, 1) if month == 12 else (year, month + 1)
            body = (f'<div class="calendar"><h2>活动日历 {year}年{month}月</h2><p>'
                    f'<a href="./?y={prev[0]}&amp;m={prev[1]}">上个月</a> '
                    f'<a href="./?y={nxt[0]}&amp;m={nxt[1]}">下个月</a></p><p>本月暂无活动安排。</p></div>')
            title = "活动日历"
        elif path == "/news/list.html":
            sid = query.get("sid", [""])[0][:4096]
            longer = sid + hashlib.md5(sid.encode()).hexdigest()[:4]
            body = (f'<h2>要闻列表</h2><p><a href="/xwdt/index.html">工作动态</a></p>'
                    f'<p><a href="./list.html?sid={longer}">刷新列表</a></p>')
            title = "要闻列表"
        elif path.startswith("/deep/") and path[len("/deep/"):].replace("a/", "") == "" and len(path) > 6:
            body = '<h2>历史栏目归档</h2><p><a href="./a/">下一级栏目</a></p>'
            title = "历史栏目归档"
        else:
            return None
        return self.render("portal", path, title, body)  # made per request, never stored

    # --- sub-sites ----------------------------------------------------------------------------

    def _subsite_home(self, host: str, boxes: list[str], extra: str = "") -> None:
        spec = HOSTS[host]
        self.page(host, "/", spec.title, '<div class="row">\n' + "\n".join(boxes) + f"\n</div>\n{extra}")
        self.resources[(host, f"/index.{spec.ext}")] = self.resources[(host, "/")]
        self._sitemap(host)

    def _zxqy(self) -> None:
        self._subsite_home("zxqy", [
            self._box("zxqy", "/tzgg/", "%Y年%m月%d日"), self._box("zxqy", "/zcfg/", "[%Y-%m-%d]"),
            self._box("zxqy", "/gzdt/", "%Y-%m-%d"), self._box("zxqy", "/zcjd/", "%Y-%m-%d")],
            '<div class="box"><h3>互动交流</h3><ul><li><a href="./hdjl/zrxx/index.html">主任信箱</a></li>'
            f'<li><a href="./{M.STATUS_BOARD_DIR}index.html">咨询留言</a></li></ul></div>')
        self._board("zxqy", SUB_BOARDS["zxqy"])

    def _gbk(self) -> None:
        frozen = self.today - timedelta(days=GBK_HOMEPAGE_FROZEN_DAYS)
        self._subsite_home("gbk", [
            self._box("gbk", "/gzdt/", "%Y/%m/%d", max_date=frozen),
            self._box("gbk", "/tzgg/", "%Y/%m/%d", max_date=frozen)],
            '<div class="box"><h3>互动交流</h3><ul><li><a href="./hdjl/zrxx/index.shtml">主任信箱</a></li></ul></div>')
        self.resources[("gbk", "/js/page.js")] = Resource(body=PAGE_DIV_JS.encode("gb18030"),
                                                          content_type="application/javascript")
        self._board("gbk", SUB_BOARDS["gbk"])

    def _qgw(self) -> None:
        casino = self.urls["external"] + "casino.html"
        # G7: a hidden link (暗链) slipped into the template.
        hidden = f'<div style="display:none"><a href="{casino}">娱乐城</a></div>'
        self._subsite_home("qgw", [self._box("qgw", "/hydt/", "[%Y-%m-%d]"),
                                   self._box("qgw", "/tzgg/", "%Y-%m-%d")], hidden)

    def _external(self) -> None:
        """The host outside the site: a few fine pages, one 404 and one 500 (by default)."""
        def simple(title: str) -> Resource:
            return Resource(body=(f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>"
                                  f"<body><h1>{title}</h1></body></html>").encode())

        r = self.resources
        r[("external", "/")] = simple("演示省人民政府")
        r[("external", "/ext/ok.html")] = simple("演示省政务服务网")
        r[("external", "/ext/partner.html")] = simple("演示省工业经济联合会")
        r[("external", "/casino.html")] = simple("娱乐城")
        r[("external", "/ext/error.html")] = _plain(500, "500 Internal Server Error")
        r[("external", "/robots.txt")] = Resource(body=ROBOTS, content_type="text/plain")


SPECIAL_TITLES = {
    "portal-attachments": "关于印发《全省制造业数字化转型行动计划》的通知",
    "portal-related-links": "我厅召开政务公开和网站建设工作推进会",
    "portal-external-links": "省直部门网站集约化建设工作座谈会召开",
    "portal-wrong-word": "厅党组理论学习中心组开展专题学习",
    "portal-pagination-only": "全省工业经济运行调度会召开",
    "zxqy-wrong-word": "关于开展{y}年中小企业服务月活动的通知",
    "gbk-forbidden-word": "我办开展无线电发射设备销售市场专项检查",
    "gbk-pagination-only": "全省无线电频谱监测年度报告发布",
}


def _column_meta(host: str, name: str, kind: str = "") -> dict[str, str]:
    """The meta tags a column page carries (政府网站发展指引)."""
    title = HOSTS[host].title
    return {"ColumnName": name, "ColumnDescription": f"{title}{name}栏目", "ColumnKeywords": f"{name},{title}",
            "ColumnType": kind or name}


def _html(html: str, charset: str) -> Resource:
    if charset == "gbk":
        html.encode("gbk")  # raises if a character is not GBK: the page must stay valid GBK
        # No charset in the header: the only declaration is the <meta> tag, as on the real sub-site.
        return Resource(body=html.encode("gb18030"), content_type="text/html")
    return Resource(body=html.encode("utf-8"))


def _plain(status: int, title: str, headers: dict[str, str] | None = None) -> Resource:
    """The web server's own error page (nginx style), not the CMS frame."""
    body = f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center><hr></body></html>"
    return Resource(status, body.encode(), headers=dict(headers or {}))


def _redirect(status: int, location: str) -> Resource:
    return Resource(status, b"", headers={"Location": location})
