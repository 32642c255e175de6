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


def _tool() -> list[str]:
    for name in ("podman", "buildah"):
        if shutil.which(name):
            return [name]
    pytest.skip("neither podman nor buildah is installed (Debian: apt-get install podman)")


def _run(cmd: list[str], timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _last_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit {proc.returncode}"


@pytest.mark.e2e
def test_image_builds_and_runs(tmp_path):
    tool = _tool()
    info = _run([*tool, "info"], timeout=120)
    if info.returncode:
        pytest.skip(f"{tool[0]} cannot run here: {_last_line(info)}")
    if _run([*tool, "image", "exists", BASE], timeout=60).returncode:
        pulled = _run([*tool, "pull", BASE], timeout=300)
        if pulled.returncode:
            pytest.skip(f"no registry access: '{tool[0]} pull {BASE}' failed ({_last_line(pulled)}); "
                        "set SITECHECK_TEST_BASE_IMAGE to a local image with Python 3.11+ and pip")
    copy_tree(ROOT, tmp_path / "src")
    tag = "localhost/sitecheck-test:latest"
    build_cmd = ([*tool, "build"] if tool[0] == "podman" else [*tool, "bud"])
    built = _run([*build_cmd, "--build-arg", f"PYTHON_IMAGE={BASE}", "-t", tag, str(tmp_path / "src")])
    if built.returncode and NETWORK_TROUBLE.search(built.stdout + built.stderr):
        pytest.skip(f"the image build could not download its dependencies: {_last_line(built)}")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    if tool[0] != "podman":
        return  # buildah builds; running needs podman
    try:
        version = _run(["podman", "run", "--rm", tag, "--version"], timeout=120)
        assert version.stdout.startswith("sitecheck "), version.stderr
        uid = _run(["podman", "run", "--rm", "--entrypoint", "id", tag, "-u"], timeout=120)
        assert uid.stdout.strip() not in ("", "0"), uid.stderr
        checked = _run(["podman", "run", "--rm", tag, "check-config", "--site", "demo"], timeout=120)
        assert checked.returncode == 0 and "site-packages/sitecheck/bundled/config" in checked.stdout, checked.stderr
    finally:
        _run(["podman", "rmi", "-f", tag], timeout=120)
