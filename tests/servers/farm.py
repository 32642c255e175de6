"""A province of small generated sites on loopback addresses, served by one RecordingServer.

Site n lives at 127.0.3.n (up to 254 sites), on the recording server's one port, with its own
polite delay and a few pages.  Some sites carry problems, so that their findings differ: a
broken link on the homepage, a missing image, a page linking an attachment that answers 500.
`slow` sites take longer (more pages, a longer delay): the fault drills kill a worker in the
middle of one.  The same farm is built for every run of a test module (seeded), so a crawl by
distributed workers and a crawl one by one see the same sites.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from tests.servers.recording import RecordingServer
from tests.servers.recording import page_html as _html


@dataclass(frozen=True, slots=True)
class FarmSite:
    n: int
    address: str
    delay: float
    pages: int
    problem: str  # "", "broken", "image", "attachment"

    @property
    def key(self) -> str:
        return f"p{self.n:03d}"


def farm_sites(count: int, *, slow: int = 0, seed: int = 21) -> list[FarmSite]:
    """`count` sites; the first `slow` of them take several seconds to crawl."""
    rng = random.Random(seed)
    sites = []
    for n in range(1, count + 1):
        if n <= slow:
            sites.append(FarmSite(n, f"127.0.3.{n}", 0.4, 14, "broken"))
            continue
        problem = ("", "", "broken", "image", "attachment")[n % 5]
        sites.append(FarmSite(n, f"127.0.3.{n}", round(rng.uniform(0.05, 0.15), 2), rng.choice((1, 2)), problem))
    return sites


def serve_site(server: RecordingServer, site: FarmSite) -> None:
    a = site.address
    pages = [f"/news/{k}.html" for k in range(site.pages)]
    home_links = [*pages] + (["/missing.html"] if site.problem == "broken" else [])
    images = ["/img/logo.png"] + (["/img/gone.png"] if site.problem == "image" else [])
    server.route(a, "/", body=_html(f"站点{site.n}首页", home_links, images))
    for i, path in enumerate(pages):
        links = ["/", pages[(i + 1) % len(pages)]]
        if site.problem == "attachment" and i == 0:
            links.append("/files/report.pdf")
        server.route(a, path, body=_html(f"站点{site.n}文章{i}", links, ["/img/logo.png"]))
    server.route(a, "/img/logo.png", body=b"\x89PNG" + b"x" * 200, content_type="image/png")
    if site.problem == "attachment":
        server.route(a, "/files/report.pdf", status=500, body=b"error", content_type="text/plain")


def site_file(site: FarmSite, port: int) -> str:
    return f"""site: {site.key}
name: 站点{site.n}
hosts:
  - {{key: portal, name: 门户, url: "http://{site.address}:{port}/"}}
crawl: {{concurrency_per_host: 1, delay_seconds: {site.delay}, delay_jitter: 0, timeout_seconds: 5,
        retries: 0, robots: ignore, progress: "off", processes: 1, allow_networks: [127.0.0.0/8]}}
checks: {{links: {{}}}}
"""


class Farm:
    """The sites, their server and a config folder with one site file each."""

    def __init__(self, folder: Path, sites: list[FarmSite]):
        self.sites = sites
        self.server = RecordingServer([s.address for s in sites])
        self.config_dir = Path(folder)
        (self.config_dir / "sites").mkdir(parents=True, exist_ok=True)
        for site in sites:
            serve_site(self.server, site)
            (self.config_dir / "sites" / f"{site.key}.yaml").write_text(site_file(site, self.server.port),
                                                                         encoding="utf-8")

    def homepage_gets(self) -> dict[str, int]:
        """How many times each site's homepage was fetched: one per crawl of the site."""
        hits = self.server.by_host()
        return {s.key: sum(1 for h in hits.get(f"{s.address}:{self.server.port}", [])
                           if h.path == "/" and h.method == "GET") for s in self.sites}

    def close(self) -> None:
        self.server.close()
