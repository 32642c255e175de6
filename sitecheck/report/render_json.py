"""The report data structure written as JSON: the same dict the Word and HTML files are rendered from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=1) + "\n"


def write_json(report: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(render_json(report), encoding="utf-8")
    return path
