"""`sitecheck demo serve` and `sitecheck demo run` (the quick start: serve the demo, crawl it, stop)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sitecheck.cmdline import python_module


def register(sub, common) -> None:
    demo = sub.add_parser("demo", help="the bundled demo site: a local replica of a government portal "
                                       "with planted faults",
                          description="Serve the demo portal (127.0.0.2-127.0.0.7, loopback only) or run "
                                      "the whole job against it.")
    demo.set_defaults(handler=main)
    dsub = demo.add_subparsers(dest="demo_command", metavar="ACTION", required=True)
    sp = dsub.add_parser("serve", help="serve the demo site until interrupted")
    sp.add_argument("--port", type=int, default=8801, help="port on every demo host (0: any free port)")
    sp.add_argument("--today", help="date the demo content is relative to (YYYY-MM-DD; default today)")
    sp.add_argument("--write-site", metavar="PATH", help="write a site file with the bound URLs here")
    sp.add_argument("--ready-file", metavar="PATH", help="write the bound URLs as JSON here once listening")
    sp.add_argument("-v", "--verbose", action="count", default=0)
    sp = dsub.add_parser("run", help="serve the demo, crawl it into the store, print the summary, stop",
                         description="The quick start: starts the demo site in a child process on a free "
                                     "port, runs 'sitecheck run' against it, and stops it.")
    common(sp, site=False)
    sp.add_argument("--port", type=int, default=0, help="port for the demo hosts (default: any free port)")
    sp.add_argument("--fail-on", default="critical", help="exit 1 at findings of this severity "
                                                          "(default critical: the demo is full of faults)")


def main(args: argparse.Namespace) -> int:
    if args.demo_command == "serve":
        from sitecheck.demo.server import serve_main

        argv = ["--port", str(args.port)]
        for flag, value in (("--today", args.today), ("--write-site", args.write_site),
                            ("--ready-file", args.ready_file)):
            if value:
                argv += [flag, value]
        return serve_main(argv)
    return run_demo(args)


def run_demo(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="sitecheck-demo-") as tmp:
        ready, site_file = Path(tmp) / "ready.json", Path(tmp) / "demo.yaml"
        server = subprocess.Popen([*python_module("sitecheck.cli"), "demo", "serve", "--port", str(args.port),
                                   "--ready-file", str(ready), "--write-site", str(site_file)],
                                  stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not ready.exists() and time.monotonic() < deadline:
                if server.poll() is not None:
                    print("error: the demo server could not start (is port in use? try --port 0)", file=sys.stderr)
                    return 2
                time.sleep(0.1)
            urls = json.loads(ready.read_text())["urls"]
            print(f"demo site serving: portal {urls['portal']}", flush=True)
            cmd = [*python_module("sitecheck.cli"), "run", "--config", str(site_file),
                   "--fail-on", args.fail_on]
            if args.db:
                cmd += ["--db", args.db]
            cmd += ["-v"] * args.verbose
            return subprocess.call(cmd, env=os.environ.copy())
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
