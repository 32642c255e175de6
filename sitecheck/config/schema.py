"""Schema primitives: one table of settings drives validation, JSON Schema and docs.

A `Setting` describes one key: its type, default, documentation and limits.
Tables nest (`fields`), lists hold items (`item`), and `map` is a free-keyed
mapping whose values all follow `item`.  The site-file table lives in
`sitecheck.config.sitefile`; each check declares its own options table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REQUIRED = object()  # sentinel: the key must be given

TYPES = ("str", "int", "float", "bool", "url", "cidr", "cron", "regex", "list", "table", "map", "any")


@dataclass(frozen=True)
class Setting:
    type: str
    doc: str
    default: Any = None
    choices: tuple = ()
    item: "Setting | None" = None  # for list and map
    fields: dict[str, "Setting"] = field(default_factory=dict)  # for table
    min: float | None = None
    max: float | None = None
    pattern: str | None = None  # for str: a regex the value must match in full
    pattern_hint: str = ""  # what the pattern means, in words, for error messages
    example: Any = None

    def __post_init__(self) -> None:
        assert self.type in TYPES, self.type

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def table(doc: str, fields: dict[str, Setting], default: Any = None) -> Setting:
    return Setting("table", doc, default=default if default is not None else {}, fields=fields)


def defaults_of(fields: dict[str, Setting]) -> dict[str, Any]:
    """The value of a table when none of its keys are given."""
    out: dict[str, Any] = {}
    for key, s in fields.items():
        if s.required:
            continue
        if s.type == "table":
            out[key] = defaults_of(s.fields)
        elif isinstance(s.default, (list, dict)):
            out[key] = type(s.default)(s.default)
        else:
            out[key] = s.default
    return out


# --- JSON Schema -----------------------------------------------------------------

_JSON_TYPES = {"str": "string", "url": "string", "cidr": "string", "cron": "string", "regex": "string",
               "int": "integer", "float": "number", "bool": "boolean"}


def to_json_schema(s: Setting) -> dict[str, Any]:
    out: dict[str, Any] = {"description": s.doc}
    if s.type in _JSON_TYPES:
        out["type"] = _JSON_TYPES[s.type]
        if s.type == "float":
            out["type"] = "number"
        if s.type == "url":
            out["format"] = "uri"
        if s.pattern:
            out["pattern"] = f"^(?:{s.pattern})$"
    elif s.type == "list":
        out["type"] = "array"
        if s.item:
            out["items"] = to_json_schema(s.item)
    elif s.type == "table":
        out["type"] = "object"
        out["additionalProperties"] = False
        out["properties"] = {k: to_json_schema(v) for k, v in s.fields.items()}
        req = [k for k, v in s.fields.items() if v.required]
        if req:
            out["required"] = req
    elif s.type == "map":
        out["type"] = "object"
        if s.item:
            out["additionalProperties"] = to_json_schema(s.item)
    if s.choices:
        out["enum"] = list(s.choices)
    if s.min is not None:
        out["minimum"] = s.min
    if s.max is not None:
        out["maximum"] = s.max
    if s.default is not REQUIRED and s.default not in (None, {}, []) and s.type != "table":
        out["default"] = s.default
    return out


# --- Markdown docs -----------------------------------------------------------------


def to_markdown_rows(fields: dict[str, Setting], prefix: str = "") -> list[str]:
    """One table row per key (nested keys dotted), for docs/config.md."""
    rows: list[str] = []
    for key, s in fields.items():
        path = f"{prefix}{key}"
        kind = s.type
        if s.type == "list" and s.item:
            kind = f"list of {s.item.type}"
        if s.choices:
            kind += " (" + " \\| ".join(map(str, s.choices)) + ")"
        if s.required:
            default = "**required**"
        elif s.type == "table":
            default = ""
        else:
            default = f"`{s.default!r}`" if s.default not in (None, "") else ""
        doc = s.doc.replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{path}` | {kind} | {default} | {doc} |")
        if s.type == "table":
            rows.extend(to_markdown_rows(s.fields, path + "."))
        elif s.type == "list" and s.item is not None and s.item.type == "table":
            rows.extend(to_markdown_rows(s.item.fields, path + "[]."))
        elif s.type == "map" and s.item is not None and s.item.type == "table":
            rows.extend(to_markdown_rows(s.item.fields, path + ".<name>."))
    return rows
