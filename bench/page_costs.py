"""What reading one page costs, piece by piece, on the benchmark site's own pages.

    python bench/page_costs.py [--site bench/work/site-pages-20000-s1] [--sample 400]

Reads a sample of the generated site's HTML pages (make the site with
`python bench/gensite.py --shape pages --pages 20000 --out DIR`, or let `bench/run.py` make it)
and prints the CPU per page of each piece of the crawl's page path, as the crawl runs them:
the page's one reading (lexbor: title, headings, visible text, raw links), the links made
absolute, the whole `read_page`, the message that lends a page to the record process, and the
record process's `RunRecorder.record` (every check and the store, on the page as the record
process has it for a page it did not read).  For comparison, lxml's parse of the same pages: the
tree the few structural checks build for the pages they look at.  A profile of
the checks follows.  Writes only a scratch store under a temporary directory.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sitecheck.config import load_site
from sitecheck.crawler.extract import extract_links
from sitecheck.crawler.pageparse import PageRules, occurrences, read_page
from sitecheck.crawler.targets import encode_message, page_state
from sitecheck.htmltext import parse_document, read_markup
from sitecheck.model import Page, Reason, Target, TargetKind
from sitecheck.recorder import RunRecorder
from sitecheck.store import Store

sys.path.insert(0, str(Path(__file__).parent))
from run import Context, write_site_file  # noqa: E402 - the site file the benchmark itself crawls with

MAIN = "http://127.0.0.1:8080"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--site", default="bench/work/site-pages-20000-s1", help="a site made by bench/gensite.py")
    ap.add_argument("--sample", type=int, default=400, help="pages to read (default 400)")
    args = ap.parse_args()
    www = Path(args.site) / "www"
    files = sorted(www.rglob("*.html"))
    if not files:
        raise SystemExit(f"no pages under {www}: make the site with bench/gensite.py first")
    random.seed(1)
    sample = [(f"{MAIN}/{f.relative_to(www)}", f.read_bytes()) for f in random.sample(files, min(args.sample,
                                                                                                  len(files)))]
    with tempfile.TemporaryDirectory(prefix="sitecheck-page-costs-") as tmp:
        manifest = json.loads((Path(args.site) / "manifest.json").read_text(encoding="utf-8"))
        options = argparse.Namespace(sitecheck_crawl=None, concurrency=32, workdir=tmp, tools_dir=None)
        ctx = Context(options, manifest["html_pages"], manifest, Path(args.site), Path(tmp), MAIN, MAIN)
        write_site_file(ctx, Path(tmp) / "bench.yaml")
        site = load_site(Path(tmp) / "bench.yaml")
        rules = PageRules.for_site(site)

        def page(url: str, body: bytes) -> Page:
            return Page(url=url, html=body.decode("utf-8"), host_key="portal", site="bench", final_url=url,
                        status=200, depth=1, is_homepage=False, encoding="utf-8", decode_problem="",
                        content_type="text/html", latency_s=0.01, size=len(body),
                        fetched_at=datetime.now(timezone.utc), body=body)

        def timed(name: str, work) -> None:
            start = time.process_time()
            for url, body in sample:
                work(url, body)
            print(f"{name:44s} {(time.process_time() - start) / len(sample) * 1e3:6.3f} ms CPU a page")

        readings = {url: read_markup(body.decode("utf-8")) for url, body in sample}
        read = {}
        timed("reading (read_markup: lexbor)", lambda url, body: read_markup(body.decode("utf-8")))
        timed("links made absolute (extract_links)", lambda url, body: extract_links(readings[url], url))
        timed("for comparison: lxml's parse (parse_document)",
              lambda url, body: parse_document(body.decode("utf-8")))

        def read_one(url, body):
            p = page(url, body)
            read[url] = (p, read_page(p, url, rules))
        timed("read_page (all of the above and more)", read_one)
        timed("the message lending a page (encoded)", lambda url, body: encode_message(
            ("record", (), {}, page_state(read[url][0]), occurrences(read[url][1], url, False))))

        store = Store(Path(tmp) / "bench.sqlite3")
        recorder = RunRecorder(store, site)

        def record(url, body):
            p, distinct = read[url]
            fresh = page(url, body)  # the record process's copy: links and title, no reading
            fresh.links, fresh.title = p.links, p.title
            fresh.__dict__["visible_text"] = p.visible_text  # sent along with the page
            target = Target(url, TargetKind.PAGE, Reason.OK, status=200, final_url=url, latency_s=0.01,
                            size=len(body), content_type="text/html", method="GET", host_key="portal")
            recorder.record(target, {"depth": 1, "is_homepage": False, "fetched_at": p.fetched_at,
                                     "title": p.title}, fresh, occurrences(distinct, url, False))
        timed("checks and store (RunRecorder.record)", record)
        profile = cProfile.Profile()
        profile.enable()
        for url, body in sample:
            record(url, body)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(15)
        store.close()


if __name__ == "__main__":
    main()
