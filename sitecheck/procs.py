"""Starting sitecheck's own child processes so that they run the installed sitecheck."""

from __future__ import annotations

import sys


def python_module_argv(module: str) -> list[str]:
    """`python -P -m MODULE`: -P keeps the current directory off sys.path, so a source checkout
    that happens to be the working directory (`COPY . /app; WORKDIR /app; pip install .`) cannot
    shadow the installed package in the child."""
    return [sys.executable, "-P", "-m", module]
