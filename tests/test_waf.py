"""WAF recognition from one answer, and the per-host decision to stop crawling."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitecheck.crawler.waf import Wall, WallWatch, recognise

SAMPLES = Path(__file__).resolve().parents[1] / ".." / "shared" / "samples" / "gansu-platform"

RUISHU_412 = (
    b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">"
    b"<meta id=\"13JnD7t9MzWf\" content=\"" + b"rX93gZ" * 40 + b"\" r='m'>"
    b"<script type=\"text/javascript\" r='m'>$_ts=window['$_ts'];if(!$_ts)$_ts={};$_ts.nsd=24079;"
    b"$_ts.cd=\"qETErrAlE1WqckGEEaqtqGLkHO7trOgaqaLGxGGOqqLccGW5ia\";</script>"
    b"<script type=\"text/javascript\" charset=\"utf-8\" src=\"/tQrlMwxgEtCS/Jk6aVTYjhBeW.294cc83.js\" r='m'>"
    b"</script></head><body></body></html><script>_$gW();</script>"
)
JIASULE_521 = (b"<script>document.cookie=('_')+('_')+('j')+('s')+('l')+('_')+('c')+('l')+('e')+('a')+('r')"
               b"+('a')+('n')+('c')+('e')+('_')+('s')+('=')+(+!+[]+'')+'718590950.375|0|BNVMH65p';"
               b"location.href=location.pathname+location.search</script>")
ALIYUN_405 = ("<html><head><title>405</title></head><body><div>很抱歉，由于您访问的URL有可能对网站造成安全威胁，"
              "您的访问被阻断。</div><img src=\"https://errors.aliyun.com/images/TB1TpamHpXXXXaJXXXXeB7nYVXX-104-162.png\">"
              "</body></html>").encode()
ALIYUN_SC = (b"<html><script>\nvar arg1='1A2B3C4D5E6F7A8B9C0D1E2F3A4B5C6D7E8F9A0B';\n"
             b"function setCookie(name,value){document.cookie=name+'='+value;}\n"
             b"setCookie('acw_sc__v2', x);document.location.reload();</script></html>")
TENCENT_403 = ("<html><head><title>501</title></head><body>腾讯云Web应用防火墙（WAF）拦截了您的请求"
               "<iframe src=\"https://waf-static.tencent.com/501page.html?id=abc\"></iframe></body></html>").encode()
SAFEDOG_PAGE = (b"<html><head><title>\xe7\xbd\x91\xe7\xab\x99\xe9\x98\xb2\xe7\x81\xab\xe5\xa2\x99</title></head>"
                b"<body><img src=\"http://404.safedog.cn/images/safedogsite/head.png\"></body></html>")
CHUANGYU_403 = ("<html><body>创宇盾提示您：当前访问疑似黑客攻击，已被网站管理员设置为拦截"
                "<a href=\"https://help.365cyd.com/cyd-error-help.html?code=403\">帮助</a></body></html>").encode()
CLOUDFLARE_403 = (b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
                  b"<script src=\"/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1\"></script></body></html>")
GENERIC_202 = (b"<html><script>document.cookie='wzws_cid=5c1d2f; path=/';"
               b"window.location.href='/index.html';</script></html>")


def h(**pairs) -> dict[bytes, list[bytes]]:
    out: dict[bytes, list[bytes]] = {}
    for name, value in pairs.items():
        values = value if isinstance(value, list) else [value]
        out[name.replace("_", "-").encode()] = [v.encode() for v in values]
    return out


CASES = [
    # (id, status, headers, body, expected product or None, evidence fragment)
    ("ruishu 412 challenge page", 412, h(set_cookie="NfBCSins2OywS=60Dz4h; Path=/; HttpOnly"),
     RUISHU_412, "瑞数 Ruishu", "HTTP 412"),
    ("ruishu 412 HEAD, seed cookie only", 412, h(set_cookie=["4hP44ZykCTt5S=60q.f; Path=/", "acw_tc=abc; Path=/"]),
     b"", "瑞数 Ruishu", "4hP44ZykCTt5S"),
    ("ruishu 202 variant", 202, h(), RUISHU_412, "瑞数 Ruishu", "HTTP 202"),
    ("jiasule 521 document.cookie", 521, h(set_cookie="__jsluid_s=c9bf2381199315a3; max-age=31536000; path=/"),
     JIASULE_521, "加速乐 Jiasule", "HTTP 521"),
    ("jiasule 521 HEAD cookie", 521, h(set_cookie="__jsluid_h=7f08cc72bf598a0c; path=/"), b"", "加速乐 Jiasule",
     "__jsluid_h"),
    ("jiasule server header", 403, h(server="jiasule-WAF"), b"", "加速乐 Jiasule", "jiasule-waf"),
    ("chuangyu block page", 403, h(server="nginx"), CHUANGYU_403, "创宇盾 Chuangyu", "365cyd.com"),
    ("chuangyu jsluid 403", 403, h(set_cookie="__jsluid_s=baa238ebe6e9c00f; path=/"), b"<html>403</html>",
     "创宇盾 Chuangyu", "__jsluid_s"),
    ("aliyun 405 block page", 405, h(server="Tengine", set_cookie="aliyungf_tc=AQAAAI; Path=/"), ALIYUN_405,
     "阿里云 WAF", "errors.aliyun.com"),
    ("aliyun acw_sc__v2 challenge at 200", 200, h(set_cookie="acw_tc=2f6a1fd1; path=/"), ALIYUN_SC, "阿里云 WAF",
     "acw_sc__v2"),
    ("aliyun cookie on 403", 403, h(set_cookie="acw_tc=2f6a1fd1; path=/"), b"", "阿里云 WAF", "acw_tc"),
    ("tencent block page", 403, h(), TENCENT_403, "腾讯云 WAF", "HTTP 403"),
    ("safedog block page", 200, h(), SAFEDOG_PAGE, "安全狗 Safedog", "404.safedog.cn"),
    ("safedog server", 403, h(server="Safedog/4.0"), b"", "安全狗 Safedog", "Safedog"),
    ("safedog x-powered-by", 406, h(x_powered_by="WAF/2.0"), b"", "安全狗 Safedog", "WAF/2.0"),
    ("cloudflare cf-mitigated", 403, h(cf_mitigated="challenge", server="cloudflare"), CLOUDFLARE_403,
     "Cloudflare", "cf-mitigated"),
    ("cloudflare body", 503, h(server="cloudflare"), CLOUDFLARE_403, "Cloudflare", "challenge-platform"),
    ("unknown 202 cookie challenge", 202, h(), GENERIC_202, "unknown", "document.cookie"),
    ("unknown 412 with script", 412, h(), b"<html><script src='/x/y.js'></script></html>", "unknown", "HTTP 412"),
    # Not walls
    ("plain 403", 403, h(server="nginx"), b"<html><body><h1>403 Forbidden</h1></body></html>", None, ""),
    ("plain 412 empty", 412, h(), b"", None, ""),
    ("plain 200", 200, h(server="nginx"), b"<html><title>x</title><body><a href='/a'>a</a></body></html>", None, ""),
    ("200 page behind aliyun (acw_tc)", 200, h(set_cookie="acw_tc=2f6a1fd1; path=/"), b"<html><body>ok</body></html>",
     None, ""),
    ("200 with ruishu bootstrap", 200, h(), RUISHU_412 + b"<body><a href='/x'>x</a></body>", None, ""),
    ("404 with document.cookie", 404, h(), GENERIC_202, None, ""),
    ("521 without markers (origin down behind a CDN)", 521, h(), b"<html>Web server is down</html>", None, ""),
    ("202 accepted json", 202, h(content_type="application/json"), b'{"queued": true}', None, ""),
]


@pytest.mark.parametrize("status,headers,body,product,evidence", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_recognise(status, headers, body, product, evidence):
    wall = recognise(status, headers, body)
    if product is None:
        assert wall is None
    else:
        assert wall is not None and wall.product == product
        assert evidence.lower() in wall.evidence.lower()
        assert len(wall.evidence) < 120


@pytest.mark.parametrize("name", ["jyt_list_c110634_zwgklist_20251124.html", "fzgg_article_tzgg_174084153_20250327.html"])
def test_real_platform_pages_at_200_are_not_walls(name):
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"sample {path} not present")
    body = path.read_bytes()
    assert b"$_ts" in body[:16384]  # the Ruishu bootstrap is there ...
    assert recognise(200, {b"content-type": [b"text/html"]}, body[:8192]) is None  # ... and it is not a wall
    # The same head at 412 is the challenge.
    assert recognise(412, {}, body[:8192]).product == "瑞数 Ruishu"


def test_wall_is_frozen_and_hashable():
    wall = Wall("瑞数 Ruishu", "HTTP 412")
    with pytest.raises(AttributeError):
        wall.product = "x"  # type: ignore[misc]
    assert {wall: 1}[Wall("瑞数 Ruishu", "HTTP 412")] == 1


RS = Wall("瑞数 Ruishu", "HTTP 412; $_ts challenge script")

WATCH_CASES = [
    # (id, max_walls, sequence of (host, wall?), expected observe() results, expected walled hosts)
    ("three walls stop the host", 3, [("a", RS), ("a", RS), ("a", RS), ("a", None)], [False, False, True, True], {"a"}),
    ("an unchallenged answer resets the count", 3, [("a", RS), ("a", RS), ("a", None), ("a", RS), ("a", RS)],
     [False, False, False, False, False], set()),
    ("hosts are counted apart", 2, [("a", RS), ("b", RS), ("a", None), ("b", RS), ("a", RS)],
     [False, False, False, True, False], {"b"}),
    ("max 1 stops at the first wall", 1, [("a", RS)], [True], {"a"}),
    ("no walls, no stop", 3, [("a", None)] * 5, [False] * 5, set()),
]


@pytest.mark.parametrize("max_walls,seq,results,walled", [c[1:] for c in WATCH_CASES], ids=[c[0] for c in WATCH_CASES])
def test_wallwatch(max_walls, seq, results, walled):
    watch = WallWatch(max_walls=max_walls)
    assert [watch.observe(host, wall) for host, wall in seq] == results
    assert set(watch.walled_hosts()) == walled
    for wall in watch.walled_hosts().values():
        assert wall == RS


def test_wallwatch_reports_first_wall_and_rejects_zero():
    watch = WallWatch()
    first = Wall("加速乐 Jiasule", "HTTP 521; cookie __jsluid_s")
    for wall in (first, RS, RS):
        watch.observe("www", wall)
    assert watch.walled_hosts() == {"www": first}
    with pytest.raises(ValueError):
        WallWatch(0)


def test_wall_error_round_trip():
    from sitecheck.crawler.waf import wall_error, wall_from_error

    wall = Wall("安全狗 Safedog", "HTTP 403; Server: safedog/4.0")
    assert wall_error(wall) == "waf: 安全狗 Safedog: HTTP 403; Server: safedog/4.0"
    assert wall_from_error(wall_error(wall)) == wall
    assert wall_from_error("HTTP 403") is None and wall_from_error("") is None
