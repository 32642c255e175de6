"""The container image: what the Dockerfile and the compose file promise, and a real build when podman
or buildah can run here.

The build needs the base image (docker.io/library/python:3.11-slim, or SITECHECK_TEST_BASE_IMAGE) and
PyPI for the dependencies; without registry access the build test is skipped and says which step
could not run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .test_install import copy_tree

ROOT = Path(__file__).resolve().parents[1]
BASE = os.environ.get("SITECHECK_TEST_BASE_IMAGE", "docker.io/library/python:3.11-slim")
NETWORK_TROUBLE = re.compile(r"no such host|Temporary failure in name resolution|Failed to establish a new "
                             r"connection|Network is unreachable|Could not find a version that satisfies|"
                             r"connection refused|i/o timeout", re.I)


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    return [(m.group(1).upper(), m.group(2).strip()) for m in
            re.finditer(r"^\s*([A-Za-z]+)\s+(.*)$", text, re.M) if not m.group(0).lstrip().startswith("#")]


def test_dockerfile_runs_serve_as_a_user_with_a_data_volume():
    steps = instructions()
    kinds = [k for k, _ in steps]
    assert steps[kinds.index("ARG")][1].endswith("-slim") and kinds[1] == "FROM"
    user = [v for k, v in steps if k == "USER"]
    assert user and user[-1] not in ("root", "0"), "the image must not run as root"
    assert '"/data"' in dict(steps)["VOLUME"]
    assert "SITECHECK_DB=/data/" in dict(steps)["ENV"] and "SITECHECK_CONFIG_DIR=/config" in dict(steps)["ENV"]
    assert dict(steps)["ENTRYPOINT"] == '["sitecheck"]' and dict(steps)["CMD"].startswith('["serve"')


def test_compose_runs_the_image_with_prometheus_and_grafana():
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    app = services["sitecheck"]
    assert (ROOT / "deploy" / app["build"]["context"] / app["build"]["dockerfile"]).resolve() == ROOT / "Dockerfile"
    assert app["command"][0] == "serve" and any(v.endswith(":/data") for v in app["volumes"])
    assert {"prometheus", "grafana"} <= set(services)


def _tool() -> str:
    # buildah first: with chroot isolation it builds and runs without a container runtime's cgroup
    # and rlimit set-up, which sandboxes (like this project's CI machine) often refuse.
    for name in ("buildah", "podman"):
        if shutil.which(name):
            return name
    pytest.skip("neither buildah nor podman is installed (Debian: apt-get install podman buildah)")


def _run(cmd: list[str], timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _last_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit {proc.returncode}"


@pytest.mark.e2e
def test_image_builds_and_runs(tmp_path):
    tool = _tool()
    if _run([tool, "images"], timeout=120).returncode:
        pytest.skip(f"{tool} cannot run here: {_last_line(_run([tool, 'images'], timeout=120))}")
    if _run([tool, "inspect", "--type", "image", BASE], timeout=60).returncode:
        pulled = _run([tool, "pull", BASE], timeout=300)
        if pulled.returncode:
            pytest.skip(f"no registry access: '{tool} pull {BASE}' failed ({_last_line(pulled)}); "
                        "set SITECHECK_TEST_BASE_IMAGE to a local image with Python 3.11+ and pip")
    copy_tree(ROOT, tmp_path / "src")
    tag = "localhost/sitecheck-test:latest"
    isolation = ["--isolation", "chroot"] if tool == "buildah" else []
    build = [tool, "bud", *isolation] if tool == "buildah" else [tool, "build"]
    built = _run([*build, "--ulimit", "nofile=1024:1024", "--build-arg", f"PYTHON_IMAGE={BASE}", "-t", tag,
                  str(tmp_path / "src")])
    if built.returncode and NETWORK_TROUBLE.search(built.stdout + built.stderr):
        pytest.skip(f"the image build could not download its dependencies: {_last_line(built)}")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    container = _run([tool, "from", tag] if tool == "buildah" else [tool, "create", tag], timeout=120).stdout.split()
    assert container, f"{tool} could not create a container of {tag}"
    name = container[-1]

    def inside(*cmd: str) -> subprocess.CompletedProcess:
        if tool == "buildah":
            return _run(["buildah", "run", *isolation, name, "--", *cmd], timeout=120)
        return _run(["podman", "run", "--rm", "--entrypoint", cmd[0], tag, *cmd[1:]], timeout=120)

    try:
        assert inside("sitecheck", "--version").stdout.startswith("sitecheck ")
        assert inside("id", "-u").stdout.strip() not in ("", "0"), "the image must run as a user, not root"
        checked = inside("sitecheck", "check-config", "--site", "demo")
        assert checked.returncode == 0 and "site-packages/sitecheck/bundled/config" in checked.stdout, checked.stderr
        served = inside("sitecheck", "serve", "--all", "--listen", "off")  # no site files mounted yet
        assert served.returncode == 2 and "no site files in /config/sites" in served.stderr, served.stderr
        config = _run([tool, "inspect", "--type", "image", "--format", "{{.Config.Cmd}} {{.Config.Volumes}}", tag]
                      if tool == "podman" else
                      [tool, "inspect", "--format", "{{.OCIv1.Config.Cmd}} {{.OCIv1.Config.Volumes}}", tag]).stdout
        assert "serve" in config and "/data" in config, config
    finally:
        _run([tool, "rm", name], timeout=120)
        _run([tool, "rmi", "-f", tag], timeout=120)
