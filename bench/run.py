"""The speed and memory benchmark: sitecheck against LinkChecker, linkinator and a plain Scrapy spider.

    python bench/run.py --pages 20000
    python bench/run.py --shape pages --pages 20000 --pages 100000 --tools sitecheck,linkinator
    python bench/run.py --pages 20000 --tools sitecheck --profile

For each site size: generate the site of the chosen shape (bench/gensite.py
--shape files|pages; kept and reused while the manifest matches), serve it with nginx on two loopback ports (the portal
and an "external" host), then run each tool in turn on the same site and
measure wall time, URLs checked per second, CPU seconds per 1,000 pages
(user+sys of the tool's whole process tree), peak RSS of the process tree, and
the broken links it reported against the generated answer key.  Every tool
gets the same limit of requests in flight (--concurrency N; the site is one
host, so it is also the per-host limit) and no delay.  Prints a table and
writes one results file per shape and size, bench/results-<shape>-<pages>.json
(--out), which bench/report.py turns into the tables of docs/performance.md.

A tool that cannot be installed or fails is reported with its error; the
others still run.  Nothing here contacts an address outside 127.0.0.0/8.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import gensite  # noqa: E402

ALL_TOOLS = ("sitecheck", "linkinator", "linkchecker", "scrapy")
LINKINATOR_VERSION = "6.3"
LINKCHECKER_VERSION = "10.6.0"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

CONCURRENCY = 32  # requests in flight, for every tool (--concurrency)
# Keys of sitecheck's site file the benchmark sets itself: the same limit as the other tools, per host
# and in total, and no delay (the site file's default delay would make this a test of politeness).
FIXED_CRAWL_KEYS = ("concurrency", "concurrency_per_host", "delay_seconds")


def sitecheck_crawl(concurrency: int) -> dict:
    return {"concurrency": concurrency, "concurrency_per_host": concurrency, "delay_seconds": 0}


class ToolError(Exception):
    pass


# --- measuring a process tree -----------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.extend(int(c) for c in fh.read().split())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return out


def _tree_rss(root: int) -> int:
    """Bytes resident in the descendants of `root` (root itself excluded: it is the measuring wrapper)."""
    total, stack = 0, _children(root)
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm") as fh:
                total += int(fh.read().split()[1]) * PAGE_SIZE
        except (FileNotFoundError, ProcessLookupError):
            continue
        stack.extend(_children(pid))
    return total


CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_PIDS: list[int] = []  # nginx master: its CPU is the server's, not the tool's


def _busy_s() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK  # user nice system irq softirq steal


def _tree_cpu_s(root: int) -> float:
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/stat") as fh:
                f = fh.read().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / CLK_TCK
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        stack.extend(_children(pid))
    return total


def measure(cmd: list[str], *, stdout: Path, stderr: Path, timeout: float, cwd: Path | None = None,
            env: dict | None = None, poll: float = 0.2) -> dict:
    """Run `cmd` under a small wrapper that reports its children's rusage; poll the tree's RSS meanwhile.

    Also notes how busy the machine was besides the tool: the server's CPU and everything else's
    (`other_cpu_s`: another job on the machine makes the figures unreliable).
    """
    report = stdout.with_suffix(".rusage.json")
    busy0, server0 = _busy_s(), sum(_tree_cpu_s(p) for p in SERVER_PIDS)
    report.unlink(missing_ok=True)
    wrapper = [sys.executable, str(Path(__file__).resolve()), "--_measure", str(report), "--", *cmd]
    peak = 0
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        proc = subprocess.Popen(wrapper, stdout=out, stderr=err, cwd=cwd, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        timed_out = False
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc.pid))
            if time.monotonic() > deadline:
                timed_out = True
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                break
            time.sleep(poll)
    if timed_out:
        raise ToolError(f"timed out after {timeout:.0f} s")
    try:
        r = json.loads(report.read_text())
    except (OSError, ValueError):
        raise ToolError(f"the measuring wrapper failed (exit {proc.returncode}); see {stderr}") from None
    # ru_maxrss is the largest single process; the polled sum covers multi-process tools.
    r["peak_rss_mb"] = round(max(peak, r["maxrss_kb"] * 1024) / 2**20, 1)
    r["peak_rss_polled_mb"] = round(peak / 2**20, 1)
    r["cpu_s"] = round(r["user_s"] + r["sys_s"], 2)
    r["server_cpu_s"] = round(sum(_tree_cpu_s(p) for p in SERVER_PIDS) - server0, 1)
    r["other_cpu_s"] = round(max(0.0, _busy_s() - busy0 - r["cpu_s"] - r["server_cpu_s"]), 1)
    r["loadavg_end"] = os.getloadavg()[0]
    r["command"] = shlex.join(cmd)
    return r


def _measure_main(report: str, cmd: list[str]) -> int:
    """Wrapper mode: run cmd, then write its wall time and RUSAGE_CHILDREN (whole reaped tree)."""
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(cmd)
    except OSError as exc:
        print(f"cannot start {cmd[0]}: {exc}", file=sys.stderr)
        return 127

    def forward(signum, _frame):
        proc.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    rc = proc.wait()
    wall = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    Path(report).write_text(json.dumps({"rc": rc, "wall_s": round(wall, 2), "user_s": round(ru.ru_utime, 2),
                                        "sys_s": round(ru.ru_stime, 2), "maxrss_kb": ru.ru_maxrss}))
    return 0


# --- serving ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


NGINX_CONF = """\
worker_processes 2;
worker_rlimit_nofile 65536;
daemon off;
pid {run}/nginx.pid;
error_log {run}/nginx-error.log crit;
{user}
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    types {{ application/vnd.openxmlformats-officedocument.wordprocessingml.document docx; }}
    default_type application/octet-stream;
    access_log off;
    log_not_found off;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    keepalive_timeout 65;
    client_body_temp_path {run}/tmp/body;
    proxy_temp_path {run}/tmp/proxy;
    fastcgi_temp_path {run}/tmp/fastcgi;
    uwsgi_temp_path {run}/tmp/uwsgi;
    scgi_temp_path {run}/tmp/scgi;
    # LinkChecker only lifts its per-host rate limit (0.1-0.6 s between requests) when a
    # response carries a header named "LinkChecker" (linkcheck/checker/httpurl.py).
    add_header LinkChecker 1 always;
    server {{ listen 127.0.0.1:{main}; root {www}; index index.html; }}
    server {{ listen 127.0.0.1:{ext}; root {extroot}; index index.html; }}
}}
"""


class Nginx:
    def __init__(self, site_dir: Path, run_dir: Path, main_port: int, ext_port: int):
        self.site_dir, self.run_dir = site_dir, run_dir
        self.main_port, self.ext_port = main_port, ext_port
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Nginx":
        if not Path(NGINX).exists():
            raise ToolError("nginx is not installed (apt-get install nginx)")
        (self.run_dir / "tmp").mkdir(parents=True, exist_ok=True)
        conf = self.run_dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(
            run=self.run_dir, user="user root;" if os.geteuid() == 0 else "",
            main=self.main_port, ext=self.ext_port, www=self.site_dir / "www", extroot=self.site_dir / "ext"))
        err = open(self.run_dir / "nginx-stderr.log", "wb")
        self.proc = subprocess.Popen([NGINX, "-p", str(self.run_dir), "-c", str(conf), "-e",
                                      str(self.run_dir / "nginx-error.log")],
                                     stdout=err, stderr=err, start_new_session=True)
        SERVER_PIDS[:] = [self.proc.pid]
        deadline = time.monotonic() + 10
        for port in (self.main_port, self.ext_port):
            while True:
                if self.proc.poll() is not None:
                    raise ToolError("nginx exited: " + (self.run_dir / "nginx-stderr.log").read_text()[-500:])
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise ToolError(f"nginx did not listen on 127.0.0.1:{port}") from None
                    time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        SERVER_PIDS.clear()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful stop of master and workers
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def prepare_site(pages: int, seed: int, workdir: Path, shape: str = "files") -> tuple[Path, dict, int]:
    """The generated site for (shape, pages, seed), regenerated when absent or its external port is taken."""
    site_dir = workdir / f"site-{shape}-{pages}-s{seed}"
    manifest_path = site_dir / "manifest.json"
    if manifest_path.exists():
        m = json.loads(manifest_path.read_text(encoding="utf-8"))
        port = urlsplit(m["ext_origin"]).port
        if (m.get("version") == gensite.GENERATOR_VERSION and m.get("shape") == shape
                and port and port_free(port)):
            return site_dir, m, port
    port = free_port()
    m = gensite.generate(pages, site_dir, seed=seed, ext_origin=f"http://127.0.0.1:{port}", shape=shape)
    return site_dir, m, port


# --- the tools ---------------------------------------------------------------------------------------


class Context:
    def __init__(self, args, pages: int, manifest: dict, site_dir: Path, run_dir: Path, main: str, ext: str):
        self.args, self.pages, self.manifest = args, pages, manifest
        self.site_dir, self.run_dir, self.main, self.ext = site_dir, run_dir, main, ext
        self.workdir = Path(args.workdir)
        self.tools_dir = Path(args.tools_dir or args.workdir)

    @property
    def start_url(self) -> str:
        return self.main + "/"

    def known_broken(self) -> set[str]:
        return {(self.ext if b["host"] == "ext" else self.main) + b["path"] for b in self.manifest["broken"]}


def write_site_file(ctx: Context, path: Path, gov: bool = True) -> None:
    import yaml

    n = ctx.manifest["html_pages"]
    host = {"key": "portal", "name": "基准测试门户网站", "url": ctx.start_url}
    if gov:
        host["site_code"] = ctx.manifest["site_code"]
        host["columns"] = [{"name": c["name"], "url": ctx.main + c["path"], "category": "通知公告"}
                           for c in ctx.manifest["columns_sample"]]
    crawl = {
        "max_pages": n * 2 + 100,
        "max_depth": 100,
        "max_pages_per_pattern": n * 2 + 100,
        "timeout_seconds": 30,
        "allow_networks": ["127.0.0.0/8"],
        "progress": "off",
        **(ctx.args.sitecheck_crawl or {}),
        **sitecheck_crawl(ctx.args.concurrency),
    }
    doc = {"site": "bench", "name": "基准测试省工业和信息化厅", "hosts": [host], "crawl": crawl}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


SITECHECK_TREE: Path | None = None  # --sitecheck-tree: run sitecheck from this source tree instead


PATCHES: list[str] = []  # --patch: experiments that stand in for a proposed source change


def sitecheck_program() -> str:
    """The installed `sitecheck` program, as users run it: the one beside this Python first (a venv
    need not be activated), else the one on PATH."""
    here = Path(sys.executable).parent / "sitecheck"
    found = str(here) if here.exists() else shutil.which("sitecheck")
    if not found:
        raise ToolError("the sitecheck program is not installed (pip install -e .) beside "
                        f"{sys.executable} or on PATH")
    return found


def sitecheck_cmd(*args: str, scrapy_settings: dict | None = None) -> list[str]:
    if scrapy_settings or SITECHECK_TREE or PATCHES:
        # The launcher below: sitecheck from another tree and/or with extra Scrapy settings or patches.
        return [sys.executable, str(Path(__file__).resolve()), "--_sitecheck",
                json.dumps({"tree": str(SITECHECK_TREE or ""), "settings": scrapy_settings or {},
                            "patches": PATCHES}), *args]
    return [sitecheck_program(), *args]


# Loads the packages of a source tree the way pyproject.toml maps them (sitecheck/, crawler/ and
# checks/ as sitecheck, sitecheck.crawler and sitecheck.checks). Run here, and, as sitecustomize on
# PYTHONPATH, at the start of every Python process sitecheck starts: a process it starts with
# `python -m sitecheck...` would otherwise import the installed copy.
_TREE_LOADER = """
import importlib.util, os, sys

def _load(name, folder):
    spec = importlib.util.spec_from_file_location(name, os.path.join(folder, "__init__.py"),
                                                  submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)

_tree = os.environ.get("SITECHECK_BENCH_TREE")
if _tree:
    _load("sitecheck", os.path.join(_tree, "sitecheck"))
    _load("sitecheck.crawler", os.path.join(_tree, "crawler"))
    _load("sitecheck.checks", os.path.join(_tree, "checks"))
"""


def _use_tree(tree: Path) -> None:
    """Import sitecheck (and its crawler/ and checks/ packages) from `tree`, a checkout of the repo,
    here and in the processes sitecheck starts."""
    # One fixed folder, rewritten each time (the loader reads the tree from the environment), rather
    # than a new temporary folder per run left behind.
    loader_dir = Path(tempfile.gettempdir()) / "sitecheck-bench-tree-loader"
    loader_dir.mkdir(exist_ok=True)
    (loader_dir / "sitecustomize.py").write_text(_TREE_LOADER, encoding="utf-8")
    os.environ["SITECHECK_BENCH_TREE"] = str(tree)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(loader_dir), os.environ.get("PYTHONPATH")) if p)
    os.environ["SITECHECK_CONFIG_DIR"] = str(tree / "config")
    exec(compile(_TREE_LOADER, "sitecheck-tree-loader", "exec"), {"__name__": "sitecheck_tree_loader"})


def _quiet_log() -> None:
    """Stand-in for: no per-request "Crawled"/"Scraped" DEBUG records (a LogFormatter returning None, or the
    "scrapy" logger's level raised): cli.py filters at the handler, so Scrapy builds each record for nothing."""
    from scrapy.logformatter import LogFormatter

    LogFormatter.crawled = lambda self, *a, **k: None
    LogFormatter.scraped = lambda self, *a, **k: None


def _no_generator_check() -> None:
    """Stand-in for: pass one long-lived bound method as every request's callback (e.g. self._cb =
    self.on_response in __init__).  Scrapy caches its "generator with return value" check in a weak cache
    keyed by the callback; a fresh bound method per request misses it and re-parses the source with ast."""
    import scrapy.core.scraper

    scrapy.core.scraper.warn_on_generator_with_return_value = lambda *a, **k: None


EXPERIMENTS = {"quiet_log": _quiet_log, "no_generator_check": _no_generator_check}


def _sitecheck_main(spec: dict, argv: list[str]) -> int:
    """Launcher mode: `sitecheck` from another tree and/or with extra Scrapy settings (no source edits)."""
    if spec.get("tree"):
        _use_tree(Path(spec["tree"]))
    extra = spec.get("settings") or {}
    for name in spec.get("patches") or ():
        EXPERIMENTS[name]()
    from sitecheck.cli import main as cli_main
    from sitecheck.crawler import runner

    base = runner.scrapy_settings

    def patched(site, log_level="WARNING"):
        settings = base(site, log_level)
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(settings.get(key), dict):
                settings[key] = {**settings[key], **value}
            else:
                settings[key] = value
        return settings

    runner.scrapy_settings = patched
    from sitecheck import cli

    if hasattr(cli, "entry"):  # exit as the `sitecheck` program does (a tree from before entry() has none)
        cli.entry(argv)  # does not return
    return cli_main(argv)


def run_sitecheck(ctx: Context) -> dict:
    d = ctx.run_dir / "sitecheck"
    d.mkdir(parents=True, exist_ok=True)
    site_file, db = d / "bench.yaml", d / "bench.sqlite3"
    for p in d.glob("bench.sqlite3*"):
        p.unlink()
    write_site_file(ctx, site_file)
    check = subprocess.run(sitecheck_cmd("check-config", str(site_file)), capture_output=True, text=True, cwd=ROOT)
    if check.returncode != 0:  # the government keys changed under us: fall back to the crawl keys only
        print(f"  note: site file with government keys rejected ({check.stderr.strip()[:200]}); "
              "retrying without them")
        write_site_file(ctx, site_file, gov=False)
        check = subprocess.run(sitecheck_cmd("check-config", str(site_file)), capture_output=True, text=True, cwd=ROOT)
        if check.returncode != 0:
            raise ToolError("sitecheck rejected the generated site file: " + check.stderr.strip()[:500])
    cmd = sitecheck_cmd("run", "--config", str(site_file), "--db", str(db), "--progress", "off",
                        scrapy_settings=ctx.args.scrapy_settings)
    if ctx.args.profile:
        prof = d / "profile.speedscope.json"
        cmd = [shutil.which("py-spy") or "py-spy", "record", "--format", "speedscope", "--rate", "100",
               "--subprocesses", "-o", str(prof), "--", *cmd]
    r = measure(cmd, stdout=d / "run.out", stderr=d / "run.err", timeout=ctx.args.timeout, cwd=ROOT)
    if r["rc"] not in (0, 1):  # 1 = findings at or above --fail-on: expected, the site has broken links
        raise ToolError(f"sitecheck run exited {r['rc']}: " + (d / "run.err").read_text()[-800:])
    export = d / "export.json"
    ex = subprocess.run(sitecheck_cmd("export", "--config", str(site_file), "--db", str(db), "--format", "json",
                                      "-o", str(export)), capture_output=True, text=True, cwd=ROOT)
    if ex.returncode != 0:
        raise ToolError("sitecheck export failed: " + ex.stderr[-800:])
    doc = json.loads(export.read_text(encoding="utf-8"))
    if doc["run"]["status"] != "complete":
        raise ToolError(f"sitecheck's run ended {doc['run']['status']} (exit {r['rc']}): "
                        + (d / "run.err").read_text()[-500:])
    broken = {f["url"] for f in doc["findings"]
              if f["code"] in ("link.broken", "link.broken_homepage", "site.homepage_down")}
    r["sitecheck_source"] = (f"tree {SITECHECK_TREE}" if SITECHECK_TREE else
                             "repo " + machine_commit())
    r.update(urls_checked=doc["run"]["targets"], pages_crawled=doc["run"]["pages"], status=doc["run"]["status"],
             broken=broken, findings=len(doc["findings"]),
             db_mb=round(sum(p.stat().st_size for p in d.glob("bench.sqlite3*")) / 2**20, 1))
    if ctx.args.profile:
        r["profile"] = str(prof)
        r["profile_top"] = profile_top(prof, 20, SITECHECK_TREE)
        r["profile_second_thread"] = profile_top(prof, 10, SITECHECK_TREE, rank=1)
    return r


def run_scrapy(ctx: Context) -> dict:
    d = ctx.run_dir / "scrapy"
    d.mkdir(parents=True, exist_ok=True)
    out = d / "plain.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(HERE / "plain_spider.py"), "--start", ctx.start_url, "--out", str(out),
           "--concurrency", str(ctx.args.concurrency)]
    r = measure(cmd, stdout=d / "run.out", stderr=d / "run.err", timeout=ctx.args.timeout, cwd=ROOT)
    if r["rc"] != 0 or not out.exists():
        raise ToolError(f"plain spider exited {r['rc']}: " + (d / "run.err").read_text()[-800:])
    doc = json.loads(out.read_text())
    r.update(urls_checked=doc["checked"], pages_crawled=doc["pages"], broken={b["url"] for b in doc["broken"]})
    return r


def ensure_linkinator(workdir: Path, install: bool = True) -> Path:
    exe = workdir / "node_modules" / ".bin" / "linkinator"
    if exe.exists():
        return exe
    if not install:
        raise ToolError(f"linkinator is not installed in {workdir} (and --no-install)")
    npm = shutil.which("npm")
    if not npm:
        raise ToolError("npm is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "package.json").exists():
        (workdir / "package.json").write_text('{"name": "sitecheck-bench-tools", "private": true}\n')
    print(f"  installing linkinator@{LINKINATOR_VERSION} into {workdir} ...", flush=True)
    p = subprocess.run([npm, "install", "--no-audit", "--no-fund", f"linkinator@{LINKINATOR_VERSION}"],
                       cwd=workdir, capture_output=True, text=True)
    if p.returncode != 0 or not exe.exists():
        raise ToolError("npm install linkinator failed: " + p.stderr[-500:])
    return exe


def run_linkinator(ctx: Context) -> dict:
    exe = ensure_linkinator(ctx.tools_dir, not ctx.args.no_install)
    d = ctx.run_dir / "linkinator"
    d.mkdir(parents=True, exist_ok=True)
    # The package's own bin script (what `npx linkinator` runs), without npx's npm process in the tree.
    # Its --concurrency is global; the site is one host (the other host gets a few checks), so it is
    # also the per-host limit, the same as sitecheck's.
    cmd = [str(exe), ctx.start_url, "--recurse", "--concurrency", str(ctx.args.concurrency), "--format", "json"]
    r = measure(cmd, stdout=d / "out.json", stderr=d / "run.err", timeout=ctx.args.timeout)
    try:
        doc = json.loads((d / "out.json").read_text(encoding="utf-8"))
    except ValueError:
        raise ToolError(f"linkinator exited {r['rc']} without JSON: " + (d / "run.err").read_text()[-500:]) from None
    links = doc.get("links", [])
    r.update(urls_checked=len({link["url"] for link in links if link.get("state") != "SKIPPED"}),
             broken={link["url"] for link in links if link.get("state") == "BROKEN"})
    return r


def ensure_linkchecker(workdir: Path, install: bool = True) -> Path:
    venv = workdir / "lcvenv"
    exe = venv / "bin" / "linkchecker"
    if exe.exists():
        return exe
    if not install:
        raise ToolError(f"LinkChecker is not installed in {venv} (and --no-install)")
    print(f"  installing linkchecker=={LINKCHECKER_VERSION} into {venv} ...", flush=True)
    p = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
    if p.returncode == 0:
        p = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"linkchecker=={LINKCHECKER_VERSION}"],
                           capture_output=True, text=True)
    if p.returncode != 0 or not exe.exists():
        raise ToolError("installing linkchecker failed: " + p.stderr[-500:])
    return exe


LINKCHECKERRC = """\
[checking]
threads={threads}
# Unthrottled: with the server's LinkChecker header the per-host wait is 1/x .. 6/x seconds.
maxrequestspersecond=100000
timeout=30
[filtering]
checkextern=1
[output]
status=0
warnings=0
"""


def run_linkchecker(ctx: Context) -> dict:
    exe = ensure_linkchecker(ctx.tools_dir, not ctx.args.no_install)
    d = ctx.run_dir / "linkchecker"
    d.mkdir(parents=True, exist_ok=True)
    rc_file, csv_out = d / "linkcheckerrc", d / "out.csv"
    rc_file.write_text(LINKCHECKERRC.format(threads=ctx.args.concurrency))
    csv_out.unlink(missing_ok=True)
    # Run as root, LinkChecker drops its privileges (to nobody) before writing its output: give it a
    # world-writable folder of its own (the work folder may sit under a private 0700 directory).
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="sitecheck-bench-lc-"))
    scratch.chmod(0o777)
    env = dict(os.environ, HOME=str(scratch), XDG_CONFIG_HOME=str(scratch), XDG_DATA_HOME=str(scratch))
    cmd = [str(exe), "-f", str(rc_file), "--check-extern", "--no-status", "--no-warnings", "-r", "-1",
           "-F", f"csv/utf-8/{scratch / 'out.csv'}", "-o", "text", ctx.start_url]
    try:
        r = measure(cmd, stdout=d / "run.out", stderr=d / "run.err", timeout=ctx.args.timeout, env=env)
        if (scratch / "out.csv").exists():
            shutil.move(str(scratch / "out.csv"), csv_out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not csv_out.exists():
        raise ToolError(f"linkchecker exited {r['rc']} without output: " + (d / "run.err").read_text()[-500:])
    import csv
    import re

    broken = set()
    with open(csv_out, encoding="utf-8", newline="") as fh:
        rows = [line for line in fh if not line.startswith("#")]
    for row in csv.DictReader(rows, delimiter=";"):
        if row.get("valid", "").strip().lower() in ("false", "0"):
            broken.add(row.get("url") or row.get("urlname"))
    m = re.search(r"in (\d+) URLs? checked", (d / "run.out").read_text(encoding="utf-8", errors="replace"))
    if not m:
        raise ToolError("linkchecker printed no summary: " + (d / "run.err").read_text()[-500:])
    r.update(urls_checked=int(m.group(1)), broken=broken)
    return r


RUNNERS = {"sitecheck": run_sitecheck, "linkinator": run_linkinator, "linkchecker": run_linkchecker,
           "scrapy": run_scrapy}


# --- profile ------------------------------------------------------------------------------------


def profile_top(path: Path, n: int = 20, tree: Path | None = None, rank: int = 0) -> dict:
    """Hot spots of the crawling thread from a py-spy speedscope profile.

    sitecheck does its work on one thread (the reactor's); the thread pool's
    threads are reported as totals only.  Functions are keyed by name and file
    (py-spy records one frame per line).  Returns the top `n` functions by self
    time with their inclusive time, self time by package, and the inclusive time
    of sitecheck's own functions and of the main Scrapy stages.
    """
    doc = json.loads(Path(path).read_text())
    frames = doc["shared"]["frames"]
    threads = {p["name"]: round(sum(p.get("weights", [])), 1) for p in doc["profiles"]}
    # The busiest thread is the main process's reactor; when sitecheck starts a second process
    # (py-spy --subprocesses), its busiest thread is usually the second, summarised on its own.
    ranked = sorted(doc["profiles"], key=lambda p: -sum(p.get("weights", [])))
    main = ranked[rank:rank + 1]
    markers = [*([str(tree) + "/"] if tree else []), "site-packages/", "lib/python3.11/", str(ROOT) + "/"]

    def where(i: int) -> str:
        file = frames[i].get("file") or ""
        for marker in markers:
            if marker in file:
                return file.split(marker, 1)[1]
        return file

    key_of = [(fr.get("name") or "?", where(i)) for i, fr in enumerate(frames)]
    self_w: dict[tuple, float] = {}
    total_w: dict[tuple, float] = {}
    grand = 0.0
    for prof in main:
        for stack, w in zip(prof.get("samples", []), prof.get("weights", [])):
            grand += w
            if not stack:
                continue
            leaf = key_of[stack[-1]]
            self_w[leaf] = self_w.get(leaf, 0.0) + w
            for k in {key_of[f] for f in stack}:
                total_w[k] = total_w.get(k, 0.0) + w
    grand = grand or 1.0
    pct = lambda w: round(100 * w / grand, 1)  # noqa: E731
    top = [{"function": k[0], "where": k[1], "self_pct": pct(w), "total_pct": pct(total_w[k])}
           for k, w in sorted(self_w.items(), key=lambda kv: -kv[1])[:n]]
    packages: dict[str, float] = {}
    for (name, file), w in self_w.items():
        if file.startswith(("crawler/", "checks/", "sitecheck/")):
            key = "sitecheck " + file
        else:
            key = file.split("/", 1)[0].removesuffix(".py") or "?"
        packages[key] = packages.get(key, 0.0) + w
    by_package = {k: pct(v) for k, v in sorted(packages.items(), key=lambda kv: -kv[1])[:16]}
    own = [{"function": f"{k[0]} ({k[1]})", "total_pct": pct(w)}
           for k, w in sorted(total_w.items(), key=lambda kv: -kv[1])
           if k[1].startswith(("crawler/", "checks/", "sitecheck/")) and k[0] not in ("main", "cmd_run", "<module>")]
    return {"thread": main[0]["name"] if main else "", "main_thread_s": round(grand, 1), "threads_s": threads,
            "top": top, "by_package_pct": by_package,
            "sitecheck_inclusive": own[:20]}


def print_profile(prof: dict) -> None:
    print(f"\nprofile of thread {prof.get('thread', '')} ({prof['main_thread_s']} s sampled; "
          f"all threads: {prof['threads_s']})")
    print(f"{'self %':>7} {'total %':>8}  function (file:line)")
    for t in prof["top"]:
        print(f"{t['self_pct']:>7.1f} {t['total_pct']:>8.1f}  {t['function']}  ({t['where']})")
    print("self time by package: " + ", ".join(f"{k} {v}%" for k, v in prof["by_package_pct"].items()))
    print("inclusive time of sitecheck's own functions:")
    for t in prof["sitecheck_inclusive"]:
        print(f"{t['total_pct']:>7.1f}%  {t['function']}")


# --- the table -----------------------------------------------------------------------------------


def score(r: dict, ctx: Context) -> dict:
    known = ctx.known_broken()
    found = set(r.pop("broken", set()))
    pages = ctx.manifest["html_pages"]
    r["urls_per_s"] = round(r["urls_checked"] / r["wall_s"], 1) if r["wall_s"] else None
    r["site_urls_per_s"] = round(ctx.manifest["distinct_urls"] / r["wall_s"], 1) if r["wall_s"] else None
    r["cpu_s_per_1k_pages"] = round(r["cpu_s"] / pages * 1000, 2)
    r["broken_found"] = len(found & known)
    r["broken_known"] = len(known)
    r["broken_missed"] = sorted(known - found)[:20]
    r["broken_missed_count"] = len(known - found)
    r["broken_extra"] = sorted(found - known)[:20]
    r["broken_extra_count"] = len(found - known)
    r["exact"] = found == known
    return r


def median_run(runs: list[dict]) -> dict:
    """The run with the median wall time among those that worked (the lower middle of an even
    number), else the last failure: the table's row for a tool run several rounds."""
    ok = sorted((r for r in runs if "error" not in r), key=lambda r: r["wall_s"])
    return ok[(len(ok) - 1) // 2] if ok else runs[-1]


def ratios(results: dict) -> dict:
    sc = results.get("sitecheck")
    out = {}
    if not sc or "error" in sc:
        return out
    for tool, r in results.items():
        if tool == "sitecheck" or "error" in r:
            continue
        out[tool] = {
            "throughput": round(sc["urls_per_s"] / r["urls_per_s"], 2) if r.get("urls_per_s") else None,
            "cpu": (round(sc["cpu_s_per_1k_pages"] / r["cpu_s_per_1k_pages"], 2)
                    if r.get("cpu_s_per_1k_pages") else None),
            "peak_rss": round(sc["peak_rss_mb"] / r["peak_rss_mb"], 2) if r.get("peak_rss_mb") else None,
        }
    return out


def format_table(size_results: dict) -> str:
    lines = []
    for pages, block in sorted(size_results.items(), key=lambda kv: int(kv[0])):
        m = block["site"]
        lines.append(f"\n== {m.get('shape', 'files')} shape, {pages} pages: {m['html_pages']} HTML pages, "
                     f"{m['distinct_urls']} distinct URLs ({100 * m.get('non_page_fraction', 0):.1f} % not pages), "
                     f"{m['broken_count']} known broken, {m['links_per_page']} links/page ==")
        if block.get("round_ratios"):
            lines.append(f"(each tool's median run by wall time, of {len(block['round_ratios'])} interleaved rounds)")
        head = (f"{'tool':<12} {'wall s':>8} {'URLs':>8} {'URL/s':>8} {'CPU s/1k pg':>11} {'peak RSS MB':>11} "
                f"{'broken found/known':>18} {'missed':>6} {'extra':>6}")
        lines += [head, "-" * len(head)]
        for tool, r in block["tools"].items():
            if "error" in r:
                lines.append(f"{tool:<12} ERROR: {r['error'][:150]}")
                continue
            lines.append(f"{tool:<12} {r['wall_s']:>8.1f} {r['urls_checked']:>8} {r['urls_per_s']:>8.1f} "
                         f"{r['cpu_s_per_1k_pages']:>11.2f} {r['peak_rss_mb']:>11.1f} "
                         f"{str(r['broken_found']) + '/' + str(r['broken_known']):>18} "
                         f"{r['broken_missed_count']:>6} {r['broken_extra_count']:>6}")
        fmt = lambda v: "n/a" if v is None else f"{v:.2f}x"  # noqa: E731
        for tool, q in block.get("ratios", {}).items():
            lines.append(f"sitecheck / {tool:<11} throughput {fmt(q['throughput'])}, CPU per page "
                         f"{fmt(q['cpu'])}, peak RSS {fmt(q['peak_rss'])}")
        peers = sorted({tool for rr in block.get("round_ratios", []) for tool in rr})
        for tool in peers:
            each = [rr[tool]["throughput"] for rr in block["round_ratios"] if rr.get(tool, {}).get("throughput")]
            if each:
                middle = statistics.median(each)
                lines.append(f"sitecheck / {tool:<11} throughput by round {' '.join(fmt(v) for v in each)} "
                             f"(median {fmt(middle)})")
    return "\n".join(lines)


def machine_commit() -> str:
    """The repo's commit, with a mark when crawler/, sitecheck/ or checks/ have uncommitted changes."""
    def git(*a):
        try:
            return subprocess.run(["git", *a], capture_output=True, text=True, cwd=ROOT, timeout=20).stdout.strip()
        except Exception:  # noqa: BLE001
            return ""
    dirty = git("status", "--porcelain", "--", "crawler", "sitecheck", "checks")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if dirty else "")


def machine() -> dict:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        mem = int(open("/proc/meminfo").readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass

    def version(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
        except Exception:  # noqa: BLE001
            return None

    import scrapy

    def git(*a):
        try:
            return subprocess.run(["git", *a], capture_output=True, text=True, cwd=ROOT, timeout=20).stdout.strip()
        except Exception:  # noqa: BLE001
            return ""

    dirty = [line[3:] for line in git("status", "--porcelain", "--", "crawler", "sitecheck", "checks").splitlines()]
    return {"sitecheck_commit": git("rev-parse", "--short", "HEAD"), "sitecheck_uncommitted": dirty,
            "cpu": cpu, "cores": os.cpu_count(), "mem_mb": mem, "os": platform.platform(),
            "python": platform.python_version(), "scrapy": scrapy.__version__,
            "node": version(["node", "--version"]),
            "nginx": (subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip()
                      if Path(NGINX).exists() else None)}


# --- main ------------------------------------------------------------------------------------------


def results_path(template: str, shape: str, pages: int) -> Path:
    return Path(template.format(shape=shape, pages=pages))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_measure"]:
        return _measure_main(argv[1], argv[3:])
    if argv[:1] == ["--_sitecheck"]:
        return _sitecheck_main(json.loads(argv[1]), argv[2:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pages", type=int, action="append", help="site size (repeatable; default 20000)")
    p.add_argument("--shape", choices=gensite.SHAPES, default="files",
                   help="files: two images and attachments for every page; pages: almost every URL an HTML "
                        "page, 40-50 links a page (bench/gensite.py; default: %(default)s)")
    p.add_argument("--concurrency", type=int, default=CONCURRENCY,
                   help="requests in flight for every tool (sitecheck: concurrency and concurrency_per_host; "
                        "linkinator --concurrency; the plain spider's CONCURRENT_REQUESTS(_PER_DOMAIN); "
                        "LinkChecker's threads); default %(default)s")
    p.add_argument("--tools", default=",".join(ALL_TOOLS), help="comma-separated subset of " + ",".join(ALL_TOOLS))
    p.add_argument("--workdir", default=str(HERE / "work"), help="generated sites, installs, outputs")
    p.add_argument("--tools-dir", help="where linkinator (node_modules) and LinkChecker (lcvenv) are installed "
                                        "(default: the workdir)")
    p.add_argument("--no-install", action="store_true",
                   help="do not install missing peers (npm / pip); report them as errors instead")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default=str(HERE / "results-{shape}-{pages}.json"),
                   help="results file per shape and size, overwritten ({shape} and {pages} are filled in; "
                        "default: bench/results-{shape}-{pages}.json)")
    p.add_argument("--timeout", type=float, default=3 * 3600, help="per tool run, seconds")
    p.add_argument("--merge", action="store_true",
                   help="update the results file in place: tools run now replace their earlier figures, "
                        "the others are kept (e.g. to re-run one tool on a quieter machine)")
    p.add_argument("--rounds", type=int, default=1,
                   help="run the tools this many times, interleaved (a b a b ...); the table shows each tool's "
                        "median run and the ratio of every round: this machine's speed drifts (the same code took "
                        "28-50 s at 20k pages in one session), so one run of each can mislead")
    p.add_argument("--profile", action="store_true", help="run sitecheck under py-spy and print its hot spots")
    p.add_argument("--sitecheck-crawl", type=json.loads, default=None, metavar="JSON",
                   help='extra crawl keys for the generated site file, e.g. \'{"timeout_seconds": 10}\' '
                        "(not " + ", ".join(FIXED_CRAWL_KEYS) + ": see --concurrency)")
    p.add_argument("--sitecheck-tree", metavar="DIR",
                   help="run sitecheck from this checkout (e.g. `git archive <commit> | tar -x -C DIR`) "
                        "instead of the installed one, to measure a fixed commit while the repo changes")
    p.add_argument("--patch", action="append", default=[], choices=sorted(EXPERIMENTS),
                   help="EXPERIMENT: apply a monkeypatch standing in for a proposed change (see README)")
    p.add_argument("--scrapy-settings", type=json.loads, default=None, metavar="JSON",
                   help="EXPERIMENT: Scrapy settings added to sitecheck's own (via a launcher, no source "
                        "edits), to try a proposal, e.g. '{\"CONCURRENT_ITEMS\": 1}'; recorded in the results")
    args = p.parse_args(argv)
    global SITECHECK_TREE
    SITECHECK_TREE = Path(args.sitecheck_tree).resolve() if args.sitecheck_tree else None
    PATCHES[:] = args.patch
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    if args.concurrency < 1:
        p.error("--concurrency must be at least 1")
    fixed = sorted(set(args.sitecheck_crawl or {}) & set(FIXED_CRAWL_KEYS))
    if fixed:
        p.error(f"--sitecheck-crawl may not set {', '.join(fixed)}: every tool runs at --concurrency, no delay")
    sizes = args.pages or [20000]
    if len(set(sizes)) > 1 and "{pages}" not in args.out:
        p.error("--out needs {pages} in it when there are several --pages (one results file per size)")
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(tools) - set(ALL_TOOLS)
    if unknown:
        p.error("unknown tools: " + ", ".join(sorted(unknown)))
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    args.workdir = str(workdir)
    started = dt.datetime.now().astimezone()
    header = {"started": started.isoformat(timespec="seconds"), "machine": machine(),
              "command": "python bench/run.py " + shlex.join(argv), "shape": args.shape,
              "concurrency": args.concurrency, "sitecheck_crawl": {**(args.sitecheck_crawl or {}),
                                                                   **sitecheck_crawl(args.concurrency)},
              "scrapy_settings_experiment": args.scrapy_settings,
              "sitecheck_tree": args.sitecheck_tree, "patches_experiment": args.patch}
    printed: dict[str, dict] = {}
    written: list[Path] = []
    for pages in sizes:
        print(f"== {args.shape} shape, site of {pages} pages", flush=True)
        site_dir, manifest, ext_port = prepare_site(pages, args.seed, workdir, args.shape)
        main_port = free_port()
        while main_port == ext_port:
            main_port = free_port()
        run_dir = workdir / f"run-{args.shape}-{pages}"
        run_dir.mkdir(parents=True, exist_ok=True)
        ctx = Context(args, pages, manifest, site_dir, run_dir, f"http://127.0.0.1:{main_port}",
                      f"http://127.0.0.1:{ext_port}")
        out = results_path(args.out, args.shape, pages)
        previous = json.loads(out.read_text(encoding="utf-8")) if args.merge and out.exists() else None
        block = {"site": {k: v for k, v in manifest.items() if k not in ("broken", "columns_sample")},
                 "tools": {}}
        if previous and str(pages) in previous.get("sizes", {}):
            block["tools"] = dict(previous["sizes"][str(pages)]["tools"])
        runs: dict[str, list[dict]] = {tool: [] for tool in tools}
        with Nginx(site_dir, run_dir, main_port, ext_port):
            for round_no, tool in ((n, t) for n in range(1, args.rounds + 1) for t in tools):
                print(f"-- {tool} ..." if args.rounds == 1 else f"-- {tool} (round {round_no}/{args.rounds}) ...",
                      flush=True)
                try:
                    r = score(RUNNERS[tool](ctx), ctx)
                    print(f"   {r['wall_s']:.1f} s, {r['urls_checked']} URLs, {r['urls_per_s']} URL/s, "
                          f"{r['cpu_s_per_1k_pages']} CPU s/1k pages, {r['peak_rss_mb']} MB, "
                          f"broken {r['broken_found']}/{r['broken_known']} (+{r['broken_extra_count']} extra); "
                          f"nginx {r['server_cpu_s']} CPU s, other processes {r['other_cpu_s']} CPU s",
                          flush=True)
                    if r.get("profile_top"):
                        print_profile(r["profile_top"])
                        print("\nsecond busiest thread (another process's, when sitecheck started one):")
                        print_profile(r["profile_second_thread"])
                except Exception as exc:  # noqa: BLE001 - one failing tool must not stop the others
                    r = {"error": f"{type(exc).__name__}: {exc}"}
                    print(f"   ERROR: {r['error']}", flush=True)
                r["run_at"] = dt.datetime.now().astimezone().isoformat(timespec="seconds")
                r["round"] = round_no
                runs[tool].append(r)
        for tool in tools:
            block["tools"][tool] = median_run(runs[tool])
        block["ratios"] = ratios(block["tools"])
        if args.rounds > 1:
            block["runs"] = runs
            block["round_ratios"] = [ratios({tool: runs[tool][i] for tool in tools}) for i in range(args.rounds)]
        results = {**header, "pages": pages, "tools": tools, "sizes": {str(pages): block}}
        if previous:
            results["tools"] = sorted(set(previous.get("tools", [])) | set(tools))
            results["first_started"] = previous.get("first_started", previous.get("started"))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=sorted), encoding="utf-8")
        written.append(out)
        printed[str(pages)] = block
    memory = memory_targets(printed)
    print(format_table(printed))
    if memory:
        print("\nmemory targets:", json.dumps(memory))
    for out in written:
        print(f"wrote {out}")
    return 0


def memory_targets(sizes: dict) -> dict:
    """sitecheck's peak RSS at 100,000 pages against the limit, and its growth over 20,000 pages."""
    small, big = sizes.get("20000", {}).get("tools", {}), sizes.get("100000", {}).get("tools", {})
    sc_small, sc_big = small.get("sitecheck", {}), big.get("sitecheck", {})
    if "peak_rss_mb" in sc_big:
        t = {"peak_rss_100k_mb": sc_big["peak_rss_mb"], "limit_mb": 300, "ok_300mb": sc_big["peak_rss_mb"] <= 300}
        if "peak_rss_mb" in sc_small:
            t["growth_100k_over_20k"] = round(sc_big["peak_rss_mb"] / sc_small["peak_rss_mb"], 2)
            t["ok_growth"] = t["growth_100k_over_20k"] <= 1.5
        return t
    return {}


if __name__ == "__main__":
    raise SystemExit(main())
