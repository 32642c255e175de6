"""Generated docs stay in step with the settings tables; every check and command is documented, and
what the README names (commands, options, config keys, files, links) exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sitecheck.checks import registry
from sitecheck.config.schema import to_markdown_rows
from sitecheck.config.sitefile import SITE_FILE
from sitecheck.docs import generated_files, key_paths

ROOT = Path(__file__).resolve().parents[1]


def test_generated_files_are_up_to_date():
    for rel, text in generated_files().items():
        on_disk = (ROOT / rel).read_text(encoding="utf-8")
        assert on_disk == text, f"{rel} is stale: run 'sitecheck config-docs'"


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


README = ROOT / "README.md"
TOP_DIRS = ("sitecheck/", "crawler/", "checks/", "config/", "dashboards/", "deploy/", "schemas/", "docs/",
            "bench/", "scripts/", "tests/")


def _code_spans(text: str) -> list[str]:
    fenced = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
    lines = [line for block in fenced for line in block.splitlines()]
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return lines + inline


def _subparsers(parser):
    return next(a for a in parser._actions if a.dest in ("command", "demo_command")).choices


def test_readme_is_short():
    assert len(README.read_bytes()) < 15_000, "the README is for readers: details belong in docs/"


def test_every_command_and_option_the_readme_names_exists():
    from sitecheck.cli import build_parser

    commands = _subparsers(build_parser())
    seen = 0
    for span in _code_spans(README.read_text(encoding="utf-8")):
        span = span.split(" #")[0].replace("\\|", " ")  # a comment; json\|csv: alternatives in a table
        for m in re.finditer(r"\bsitecheck ([a-z-]+)((?: +[^ |/]+)*)", span):
            name, rest = m.group(1), m.group(2).split()
            assert name in commands, f"README names 'sitecheck {name}', which is not a command"
            parser = commands[name]
            if name == "demo" and rest and rest[0] in _subparsers(parser):
                parser, rest = _subparsers(parser)[rest[0]], rest[1:]
            options = {o for a in parser._actions for o in a.option_strings}
            for token in rest:
                if token.startswith("--"):
                    assert token.split("=")[0] in options, f"'sitecheck {name}' has no option {token}"
            seen += 1
    assert seen >= 20


def test_every_config_key_the_readme_names_exists():
    keys = key_paths()
    top = {k.split(".")[0] for k in keys}
    named = [s for s in _code_spans(README.read_text(encoding="utf-8"))
             if re.fullmatch(r"[a-z_]+(\.[a-z_<>]+)+", s) and s.split(".")[0] in top]
    assert len(named) >= 3
    for key in named:
        assert key in keys, f"README names config key {key!r}, which the site file does not have"


@pytest.mark.parametrize("doc", ["README.md", "docs/architecture.md", "docs/performance.md", "bench/README.md"])
def test_files_and_links_the_docs_name_exist(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    generated = [line.strip().strip("/") for line in (ROOT / ".gitignore").read_text().splitlines()
                 if line.startswith("/")]  # folders the tools create, such as bench/work/
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if not target.startswith(("http://", "https://")):
            assert (ROOT / doc).parent.joinpath(target).exists(), f"{doc} links to missing {target}"
    for span in _code_spans(text):
        for path in re.findall(r"(?<![\w/.~-])((?:%s)[\w./@<>*…-]*)" % "|".join(map(re.escape, TOP_DIRS)), span):
            path = path.rstrip(".")
            if any(c in path for c in "<>*…") or "{" in span or path.startswith(tuple(generated)):
                continue
            assert (ROOT / path).exists() or (ROOT / path).is_symlink(), f"{doc} names {path}, which does not exist"
