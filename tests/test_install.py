"""It must show: the built wheel works on its own, wherever it is run from.

Builds the wheel from a copy of the tracked files (what a fresh clone has), installs it into a
fresh virtual environment and runs the user's first commands there: from a folder outside the
checkout, and from inside the checkout (where a `sitecheck/` folder sits in the current
directory and must not shadow the installed package).  The dependencies are not downloaded
again: the new environment sees the running interpreter's site-packages through a .pth file
(a plain path line, so the editable install's import hook there is not loaded).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]


def tracked_files(root: Path) -> list[str]:
    if shutil.which("git") and (root / ".git").exists():
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True).stdout
        return [p for p in out.decode().split("\0") if p]
    pytest.skip("not a git checkout: cannot tell which files a clone would have")


def copy_tree(root: Path, dest: Path) -> None:
    for rel in tracked_files(root):
        src, dst = root / rel, dest / rel
        if not src.exists() and not src.is_symlink():  # deleted in the working tree
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)


def dependency_paths() -> list[str]:
    paths = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        paths.append(site.getusersitepackages())
    return [p for p in dict.fromkeys(paths) if Path(p).is_dir()]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("install")
    clone = tmp / "clone"
    copy_tree(ROOT, clone)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"),
                            str(clone)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    wheel = next((tmp / "dist").glob("sitecheck-*.whl"))
    venv = tmp / "venv"
    # No pip inside (ensurepip is not everywhere): the running pip installs into it (--python).
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "zz-sitecheck-test-deps.pth").write_text("\n".join(dependency_paths()) + "\n")
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                          "--no-deps", "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return {"tmp": tmp, "clone": clone, "venv": venv, "purelib": Path(purelib)}


def sitecheck(env: dict, cwd: Path, *args: str, ok=(0,)) -> subprocess.CompletedProcess:
    proc = subprocess.run(["sitecheck", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode in ok, f"sitecheck {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.parametrize("where", ["outside", "inside"])
def test_the_wheel_runs_the_first_commands(installed, where):
    tmp = installed["tmp"] / where
    tmp.mkdir()
    cwd = installed["clone"] if where == "inside" else tmp
    home = tmp / "home"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SITECHECK_", "XDG_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), PATH=f"{installed['venv'] / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               SITECHECK_DB=str(tmp / "data" / "sitecheck.sqlite3"))
    where_from = subprocess.run(["python", "-P", "-c", "import sitecheck.crawler, sitecheck.bundled as b; "
                                 "print(sitecheck.crawler.__file__); print(b.path('config'))"],
                                cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert all(p.startswith(str(installed["purelib"])) for p in where_from), where_from

    demo = sitecheck(env, cwd, "demo", "run", ok=(0, 1))  # 1: the demo's planted faults were found
    assert re.search(r"run \d+: complete, \d+ pages", demo.stdout), demo.stdout

    # The bundled demo site file names port 8801; a served copy on a free port goes into the
    # user's config directory, where `--site demo` finds it before the bundled one.
    config_home = home / ".config" / "sitecheck"
    (config_home / "sites").mkdir(parents=True)
    server = subprocess.Popen(["sitecheck", "demo", "serve", "--port", "0", "--write-site",
                               str(config_home / "sites" / "demo.yaml"), "--ready-file", str(tmp / "ready.json")],
                              cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(tmp / "ready.json", server)
        run = sitecheck(env, cwd, "run", "--site", "demo", ok=(0, 1))
    finally:
        server.terminate()
        server.wait(20)
    summary = re.search(r"run (\d+): complete, (\d+) pages, (\d+) URLs", run.stdout)
    assert summary, run.stdout

    sitecheck(env, cwd, "score", "--site", "demo", ok=(0, 1))  # 1: 不合格, as the demo must be
    reports = sitecheck(env, cwd, "report", "--site", "demo", "--out", str(tmp / "reports"))
    assert len(reports.stdout.split()) == 3 and all(Path(p).stat().st_size > 1000 for p in reports.stdout.split())
    export = json.loads(sitecheck(env, cwd, "export", "--site", "demo").stdout)
    assert export["run"]["id"] == int(summary.group(1))
    assert (export["run"]["pages"], export["run"]["targets"]) == (int(summary.group(2)), int(summary.group(3)))

    checked = sitecheck(env, cwd, "check-config", "--site", "gxt").stdout
    assert str(installed["purelib"]) in checked  # the bundled example, found in the package
    sitecheck(env, cwd, "init", "--site", "mine", "--url", "https://www.example.gov.cn/")
    assert "ok:" in sitecheck(env, cwd, "check-config").stdout  # every site in the user's config dir


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the demo server did not start"
        time.sleep(0.1)
