"""Files sitecheck reads at run time, shipped inside the package.

The folders here (config, dashboards, schemas, deploy) are symbolic links to the
top-level folders of the source tree, so an editable install reads the tree and
a built wheel carries copies (pyproject.toml lists them as package data).  Code
finds them through `path()`, never relative to the current directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def path(*parts: str) -> Path:
    """A bundled file or folder, e.g. path("config", "sites", "demo.yaml")."""
    root = files(__name__)
    if not isinstance(root, Path):  # a zip import: the data would need extracting first
        raise RuntimeError(f"sitecheck must be installed as files, not imported from {root}")
    return root.joinpath(*parts)
