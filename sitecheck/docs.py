"""Generated documentation: docs/config.md and schemas/site.schema.json come from the settings tables.

`sitecheck config-docs` rewrites them; tests/test_docs.py fails when they are out of date,
so the docs always cover every key (and the README names only keys that exist).
"""

from __future__ import annotations

import json
from pathlib import Path

from sitecheck.checks import registry
from sitecheck.config.schema import table, to_json_schema, to_markdown_rows
from sitecheck.config.sitefile import SITE_FILE

HEADER = "| key | type | default | meaning |\n|---|---|---|---|"


def keys_markdown() -> str:
    return "\n".join([HEADER, *to_markdown_rows(SITE_FILE.fields)])


def checks_markdown(level: str = "###") -> str:
    parts = ["Enable checks by name under `checks:`; each takes the options below. Omitting `checks:` runs "
             "every built-in check with its defaults.", ""]
    for name in sorted(registry.BUILTIN_CHECKS):
        cls = registry.load(name)
        parts += [f"{level} `{name}`", "", cls.description, ""]
        if cls.options:
            parts += [HEADER, *to_markdown_rows(cls.options, f"checks.{name}."), ""]
        else:
            parts += ["No options.", ""]
        if cls.codes:
            parts += ["| finding code | meaning |", "|---|---|"]
            parts += [f"| `{code}` | {meaning} |" for code, meaning in cls.codes.items()]
            parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def config_markdown() -> str:
    return "\n".join([
        "# Site file reference", "",
        "Generated from the settings table by `sitecheck config-docs`; do not edit by hand.",
        "A site file is YAML (UTF-8). Unknown keys are errors. Validate with `sitecheck check-config`.",
        "Editors can complete and validate it with `schemas/site.schema.json`: `sitecheck init` writes a",
        "`# yaml-language-server: $schema=...` first line pointing at the installed copy.", "",
        "## Keys", "", keys_markdown(), "", "## Checks", "", checks_markdown()])


def site_json_schema() -> dict:
    root = to_json_schema(SITE_FILE)
    checks = {}
    for name in sorted(registry.BUILTIN_CHECKS):
        cls = registry.load(name)
        checks[name] = to_json_schema(table(cls.description, cls.options))
        checks[name]["type"] = ["object", "null"]
    root["properties"]["checks"] = {"description": SITE_FILE.fields["checks"].doc, "type": "object",
                                    "properties": checks, "additionalProperties": False}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://sitecheck.example/schemas/site.schema.json", "title": "sitecheck site file", **root}


def generated_files() -> dict[str, str]:
    return {
        "docs/config.md": config_markdown() + "\n",
        "schemas/site.schema.json": json.dumps(site_json_schema(), ensure_ascii=False, indent=2) + "\n",
    }


def write_generated(root: Path) -> list[Path]:
    written = []
    for rel, text in generated_files().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def key_paths() -> set[str]:
    """Every key of a site file as a dotted path (`crawl.delay_seconds`, `hosts.columns.category`,
    `checks.words.lists`), with and without list markers, for checking what other docs name."""
    paths: set[str] = set()
    rows = to_markdown_rows(SITE_FILE.fields)
    for name in registry.BUILTIN_CHECKS:
        rows += to_markdown_rows(registry.load(name).options, f"checks.{name}.")
    for row in rows:
        path = row.split("`")[1]
        paths.update({path, path.replace("[]", ""), path.replace(".<name>", "")})
    return paths
