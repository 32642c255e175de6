"""Generated docs stay in step with the settings tables; every check and command is documented."""

from __future__ import annotations

from pathlib import Path

from sitecheck.checks import registry
from sitecheck.config.schema import to_markdown_rows
from sitecheck.config.sitefile import SITE_FILE
from sitecheck.docs import generated_files

ROOT = Path(__file__).resolve().parents[1]


def test_generated_files_are_up_to_date():
    for rel, text in generated_files().items():
        on_disk = (ROOT / rel).read_text(encoding="utf-8")
        assert on_disk == text, f"{rel} is stale: run 'sitecheck config-docs'"


def test_readme_generated_sections_are_up_to_date():
    from sitecheck.docs import fill_readme

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "<!-- config-keys:start -->" in readme and "<!-- checks:start -->" in readme
    assert fill_readme(readme) == readme, "README.md is stale: run 'sitecheck config-docs'"


def test_config_docs_cover_every_key_and_check():
    doc = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    for row in to_markdown_rows(SITE_FILE.fields):
        assert row in doc
    for name in registry.BUILTIN_CHECKS:
        cls = registry.load(name)
        assert f"### `{name}`" in doc
        for code in cls.codes:
            assert f"`{code}`" in doc


def test_readme_names_the_two_commands_and_every_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
    from sitecheck.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in sub.choices:
        assert f"sitecheck {name}" in readme, f"README does not mention 'sitecheck {name}'"
