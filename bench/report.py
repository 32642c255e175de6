"""The benchmark's tables for docs/performance.md, from the results files bench/run.py writes.

    python bench/report.py                                  # print the tables of bench/results-*.json
    python bench/report.py bench/results-pages-20000.json   # only these files
    python bench/report.py --write docs/performance.md      # replace the tables in the doc

One table per results file, that is per shape and size (run.py writes
bench/results-<shape>-<pages>.json): for each tool the URLs it checked, wall
seconds, URLs per second, CPU seconds, peak RSS, the planted broken links it
found against the known ones, and its URLs per second as a multiple of
linkinator's; above the table, the site, the date, commit and machine, the
limit every tool ran at and the command that measures it again.

--write replaces what lies between the two marker lines below in the document
(they must be there; the rest of the document is left alone):

    <!-- bench-tables:begin -->
    <!-- bench-tables:end -->
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BEGIN, END = "<!-- bench-tables:begin -->", "<!-- bench-tables:end -->"
SHAPE_ORDER = ("files", "pages")
LABELS = {"sitecheck": "sitecheck", "linkinator": "linkinator 6.3", "linkchecker": "LinkChecker 10.6",
          "scrapy": "plain Scrapy spider"}
MEMORY_LIMIT_MB = 300  # the target for sitecheck at 100,000 pages


def _n(v: float | int, digits: int = 0) -> str:
    return f"{v:,.{digits}f}"


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def load(paths: list[Path]) -> list[tuple[Path, dict]]:
    """(path, results) of each file that holds one shape and size, in the doc's order."""
    out = []
    for path in paths:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if len(doc.get("sizes", {})) != 1:
            raise SystemExit(f"{path}: expected the figures of one site size (bench/run.py writes one file "
                             f"per shape and size), found {sorted(doc.get('sizes', {}))}")
        out.append((path, doc))

    def order(item):
        doc = item[1]
        shape = doc.get("shape", "files")
        return (SHAPE_ORDER.index(shape) if shape in SHAPE_ORDER else len(SHAPE_ORDER), shape,
                int(next(iter(doc["sizes"]))))

    return sorted(out, key=order)


def table(path: Path, doc: dict) -> str:
    pages, block = next(iter(doc["sizes"].items()))
    site, tools = block["site"], block["tools"]
    shape = doc.get("shape", site.get("shape", "files"))
    m = doc.get("machine", {})
    lines = [f"### {shape} shape, {_n(int(pages))} pages",
             "",
             f"{_n(site['distinct_urls'])} distinct URLs, {_n(site['html_pages'])} of them HTML pages "
             f"({100 * site.get('non_page_fraction', 0):.1f} % not pages), {site['links_per_page']} links a page, "
             f"{_n(site['broken_count'])} broken on purpose. Measured {doc['started'][:10]} at commit "
             f"{m.get('sitecheck_commit', '?')}" + (" with uncommitted changes" if m.get("sitecheck_uncommitted") else "")
             + f" on {m.get('cores', '?')} cores {m.get('cpu', '')}, Python {m.get('python', '?')}, "
             f"Scrapy {m.get('scrapy', '?')}, node {m.get('node') or '?'}; every tool at "
             f"{doc.get('concurrency', '?')} requests in flight on the one host, no delay.",
             ""]
    rounds = len(block.get("round_ratios", []))
    if rounds:
        lines += [f"Each tool's median run of {rounds} interleaved rounds.", ""]
    lines += [f"`{doc.get('command', 'python bench/run.py')}` → `{_shown(path)}`", "",
              "| tool | URLs | wall s | URLs/s | CPU s | peak RSS | broken found / known | × linkinator |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    base = tools.get("linkinator", {}).get("urls_per_s")
    for tool, r in tools.items():
        label = LABELS.get(tool, tool)
        if "error" in r:
            lines.append(f"| {label} | failed: {r['error'][:120].replace('|', '/')} | | | | | | |")
            continue
        ratio = f"{r['urls_per_s'] / base:.2f}×" if base and r.get("urls_per_s") else "n/a"
        lines.append(f"| {label} | {_n(r['urls_checked'])} | {r['wall_s']:.1f} | {_n(r['urls_per_s'])} | "
                     f"{r['cpu_s']:.1f} | {r['peak_rss_mb']:.0f} MB | {_n(r['broken_found'])} / "
                     f"{_n(r['broken_known'])} | {ratio} |")
    if rounds and base:
        each = [rr["linkinator"]["throughput"] for rr in block["round_ratios"]
                if rr.get("linkinator", {}).get("throughput")]
        if each:
            lines += ["", "sitecheck's URLs/s over linkinator's by round: " + ", ".join(f"{v:.2f}×" for v in each)]
    sc = tools.get("sitecheck", {})
    if int(pages) >= 100_000 and "peak_rss_mb" in sc:
        verdict = "within" if sc["peak_rss_mb"] <= MEMORY_LIMIT_MB else "over"
        lines += ["", f"sitecheck's peak RSS {sc['peak_rss_mb']:.0f} MB: {verdict} the {MEMORY_LIMIT_MB} MB limit."]
    return "\n".join(lines)


def render(paths: list[Path]) -> str:
    return "\n\n".join(table(path, doc) for path, doc in load(paths)) + "\n"


def replace_between_markers(text: str, generated: str) -> str:
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(f"the document needs one line {BEGIN} and, after it, one line {END}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{generated}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="*", type=Path, help="results files (default: bench/results-*.json)")
    p.add_argument("--write", type=Path, metavar="DOC", help="replace the tables between the markers in DOC")
    args = p.parse_args(argv)
    paths = args.results or sorted(HERE.glob("results-*.json"))
    if not paths:
        p.error("no results files (run bench/run.py first, or name them)")
    generated = render(paths)
    if not args.write:
        sys.stdout.write(generated)
        return 0
    try:
        text = replace_between_markers(args.write.read_text(encoding="utf-8"), generated)
    except ValueError as exc:
        print(f"{args.write}: {exc}", file=sys.stderr)
        return 2
    args.write.write_text(text, encoding="utf-8")
    print(f"wrote {len(paths)} table(s) into {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
