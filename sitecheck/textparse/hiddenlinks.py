"""Is a hidden link 暗链?  Judged by its words and its destination, never by hiding alone.

Government templates hide links for ordinary reasons: the CMS vendor's credit
(Hanweb's `Produced By 大汉网络`), statistics and share panels injected by script
(bShare, Baidu share), a legacy 找错 entry to the old national platform's IP.
暗链 is hidden promotion of unrelated sites: gambling, lottery, adult content,
SEO farms.  So a hidden link is

- "spam" when its text or host carries that evidence (critical),
- "known" when its host is on the reviewed list below or the site's own list (not reported),
- "other" otherwise: it points elsewhere, no evidence either way (a warning at most).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

# Reviewed hosts (a host matches itself and its subdomains) -> why a hidden link to it is benign.
KNOWN_HOSTS: dict[str, str] = {
    "gov.cn": "government site",
    "hanweb.com": "CMS credit (大汉网络)",
    "trs.com.cn": "CMS credit (拓尔思 TRS)",
    "trs.cn": "CMS credit (拓尔思 TRS)",
    "ucap.com.cn": "CMS credit (开普 UCAP)",
    "kaipuyun.cn": "government-service platform (开普云 找错/普查)",
    "conac.cn": "government-service platform (党政机关标识)",
    "121.43.68.40": "legacy government platform (old national 找错 service)",
    "bshare.cn": "share panel (bShare)",
    "jiathis.com": "share panel (JiaThis)",
    "share.baidu.com": "share panel (Baidu share)",
    "addthis.com": "share panel (AddThis)",
    "tongji.baidu.com": "statistics (Baidu)",
    "hm.baidu.com": "statistics (Baidu)",
    "cnzz.com": "statistics (CNZZ)",
    "51.la": "statistics (51.la)",
    "webscan.360.cn": "security badge (360)",
    "isc.org.cn": "accessibility badge (适老化)",
}

# Words of hidden promotion, in link text or a decoded URL.
SPAM_WORDS = (
    "博彩", "赌博", "赌场", "娱乐城", "百家乐", "彩票", "时时彩", "六合彩", "老虎机", "棋牌", "真人娱乐", "体育投注",
    "投注", "下注", "葡京", "威尼斯人", "太阳城", "皇冠体育", "菠菜", "色情", "成人电影", "成人网站", "av女优",
    "裸聊", "约炮", "黄色网站", "代孕", "代开发票", "办证", "私服", "蜘蛛池", "快速排名", "seo优化", "发外链",
)
# Host words of gambling, adult and SEO-farm domains (checked as whole labels or label prefixes).
_SPAM_HOST = re.compile(
    r"(?:^|[.-])(?:casino|bet\d*|bet365|poker|baccarat|bocai|caipiao|lottery|porn|xxx|sex|av\d*|"
    r"seo|zhizhuchi|amjs|pujing|hg\d{2,}|vns\d*)(?:[.-]|\d|$)", re.I)
_SPAM_WORD = re.compile("|".join(re.escape(w) for w in SPAM_WORDS), re.I)


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: str  # "spam" | "known" | "other"
    reason: str  # why, in words a webmaster can check
    evidence: str = ""  # the word or host that decided


def host_of(url: str) -> str:
    try:
        return (urlsplit(url if "//" in url else "//" + url).hostname or "").lower()
    except ValueError:
        return ""


def host_matches(host: str, domain: str) -> bool:
    domain = domain.lower().strip(".")
    return bool(domain) and (host == domain or host.endswith("." + domain))


def judge(url: str, text: str, allowed: tuple[str, ...] = ()) -> Verdict:
    """The verdict on one hidden link; `allowed` are the site's own benign domains. Never raises."""
    try:
        host = host_of(url)
        words = _SPAM_WORD.search(f"{text} {unquote(url)}")
        if words:
            return Verdict("spam", "spam words in the link", words.group(0))
        spam_host = _SPAM_HOST.search(host)
        if spam_host:
            return Verdict("spam", "host of a gambling, adult or SEO-farm site", host)
        for domain in allowed:
            if host_matches(host, domain):
                return Verdict("known", "allowed by the site file", domain)
        for domain, why in KNOWN_HOSTS.items():
            if host_matches(host, domain):
                return Verdict("known", why, domain)
        return Verdict("other", "points to another site, no sign of spam", host)
    except Exception:  # noqa: BLE001 - hostile text must not stop a check
        return Verdict("other", "unreadable link", "")
