"""Strict YAML validation that names the file, the line and the key path of every error.

We compose the YAML into nodes (which carry line numbers) and convert node by
node against a `Setting`, so an error can point at the exact line.  Unknown
keys are rejected with the list of valid ones and a did-you-mean hint.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .schema import Setting


class ConfigError(Exception):
    """A configuration problem, located: file, line, key path, message, hint."""

    def __init__(self, file: str | Path, line: int | None, key: str, message: str, hint: str = ""):
        self.file = str(file)
        self.line = line
        self.key = key
        self.message = message
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        key = f" {self.key}:" if self.key else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}:{key} {self.message}{hint}"


def compose(path: Path) -> yaml.Node | None:
    """Read and compose a YAML file, turning read/decode/syntax errors into ConfigError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, None, "", f"cannot read file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(path, line, "", "file is not valid UTF-8",
                          "save the site file as UTF-8 (GBK/ANSI editors often default otherwise)") from None
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(path, line, "", f"invalid YAML: {problem}",
                          "check indentation and quoting near this line") from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, None, "", f"invalid YAML: {exc}") from None


def find_node(node: yaml.Node, *keys: str | int) -> yaml.Node | None:
    """The node at a key path (or the deepest one that exists), for pointing errors at the right line."""
    for key in keys:
        if isinstance(key, int) and isinstance(node, yaml.SequenceNode) and key < len(node.value):
            node = node.value[key]
        elif isinstance(node, yaml.MappingNode):
            for k, val in node.value:
                if k.value == key:
                    node = val
                    break
            else:
                return node
        else:
            return node
    return node


class Validator:
    """Converts a YAML node tree into plain Python values checked against a Setting."""

    def __init__(self, file: str | Path):
        self.file = str(file)

    def error(self, node: yaml.Node | None, key: str, message: str, hint: str = "") -> ConfigError:
        line = node.start_mark.line + 1 if node is not None else None
        return ConfigError(self.file, line, key, message, hint)

    def convert(self, node: yaml.Node | None, s: Setting, key: str) -> Any:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
            if s.required:
                raise self.error(node, key, "a value is required")
            if s.type == "table":
                return self.table(None, s, key)
            return s.default
        kind = s.type
        if kind == "table":
            return self.table(node, s, key)
        if kind == "list":
            if not isinstance(node, yaml.SequenceNode):
                raise self.error(node, key, f"expected a list, got {_describe(node)}",
                                 "write items as '- item' lines or [a, b]")
            items = [self.convert(n, s.item, f"{key}[{i}]") if s.item else self.plain(n)
                     for i, n in enumerate(node.value)]
            if s.min is not None and len(items) < s.min:
                raise self.error(node, key, f"needs at least {s.min:g} item{'s' if s.min != 1 else ''}")
            return items
        if kind == "map":
            if not isinstance(node, yaml.MappingNode):
                raise self.error(node, key, f"expected a mapping, got {_describe(node)}")
            out: dict[str, Any] = {}
            for knode, vnode in node.value:
                name = self.key_name(knode, key)
                if name in out:
                    raise self.error(knode, f"{key}.{name}", "duplicate key")
                out[name] = self.convert(vnode, s.item, f"{key}.{name}") if s.item else self.plain(vnode)
            return out
        if kind == "any":
            return self.plain(node)
        return self.scalar(node, s, key)

    def key_name(self, knode: yaml.Node, parent: str) -> str:
        if not isinstance(knode, yaml.ScalarNode):
            raise self.error(knode, parent, "mapping keys must be plain names")
        return str(knode.value)

    def table(self, node: yaml.Node | None, s: Setting, key: str) -> dict[str, Any]:
        given: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        if node is not None:
            if not isinstance(node, yaml.MappingNode):
                raise self.error(node, key or "(top level)", f"expected a mapping, got {_describe(node)}",
                                 "write 'key: value' lines")
            for knode, vnode in node.value:
                name = self.key_name(knode, key)
                path = f"{key}.{name}" if key else name
                if name in given:
                    raise self.error(knode, path, "duplicate key", "each key may appear once")
                if name not in s.fields:
                    raise self.error(knode, path, "unknown key", _unknown_hint(name, s.fields))
                given[name] = (knode, vnode)
        out: dict[str, Any] = {}
        for name, sub in s.fields.items():
            path = f"{key}.{name}" if key else name
            if name in given:
                out[name] = self.convert(given[name][1], sub, path)
            elif sub.required:
                raise self.error(node, path, "missing required key", f"add '{name}:' ({sub.doc})")
            elif sub.type == "table":
                out[name] = self.table(None, sub, path)
            else:
                out[name] = sub.default if not isinstance(sub.default, (list, dict)) else type(sub.default)(sub.default)
        return out

    def plain(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return _scalar_value(node)
        if isinstance(node, yaml.SequenceNode):
            return [self.plain(n) for n in node.value]
        return {self.key_name(k, ""): self.plain(v) for k, v in node.value}

    def scalar(self, node: yaml.Node, s: Setting, key: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(node, key, f"expected {_TYPE_WORDS.get(s.type, 'a ' + s.type)}, got {_describe(node)}")
        value = _scalar_value(node)
        kind = s.type
        if kind == "bool":
            if not isinstance(value, bool):
                raise self.error(node, key, f"expected true or false, got {node.value!r}")
        elif kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.error(node, key, f"expected a whole number, got {node.value!r}")
            self._check_bounds(node, key, s, value)
        elif kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.error(node, key, f"expected a number, got {node.value!r}")
            value = float(value)
            self._check_bounds(node, key, s, value)
        else:  # string-like
            if isinstance(value, (dict, list)) or value is None:
                raise self.error(node, key, f"expected a {kind}, got {node.value!r}")
            value = str(node.value)
            if kind == "url":
                parts = urlsplit(value)
                if parts.scheme not in ("http", "https") or not parts.hostname:
                    raise self.error(node, key, f"not an http(s) URL: {value!r}",
                                     "write the full address, e.g. http://gxt.gansu.gov.cn/")
            elif kind == "cidr":
                try:
                    ipaddress.ip_network(value, strict=False)
                except ValueError:
                    raise self.error(node, key, f"not an IP network: {value!r}",
                                     "use CIDR notation such as 10.1.0.0/16 or 127.0.0.1/32") from None
            elif kind == "regex":
                try:
                    re.compile(value)
                except re.error as exc:
                    raise self.error(node, key, f"invalid regular expression: {exc}") from None
            elif kind == "cron":
                from croniter import croniter

                if not croniter.is_valid(value):
                    raise self.error(node, key, f"invalid cron expression: {value!r}",
                                     "five fields: minute hour day-of-month month day-of-week, e.g. '30 1 * * *'")
            if s.pattern and not re.fullmatch(s.pattern, value):
                raise self.error(node, key, f"{value!r} is not of the expected form",
                                 s.pattern_hint or f"it must match {s.pattern}")
        if s.choices and value not in s.choices:
            raise self.error(node, key, f"{node.value!r} is not one of: {', '.join(map(str, s.choices))}")
        return value

    def _check_bounds(self, node, key, s: Setting, value) -> None:
        if s.min is not None and value < s.min:
            raise self.error(node, key, f"must be at least {s.min:g}, got {value:g}")
        if s.max is not None and value > s.max:
            raise self.error(node, key, f"must be at most {s.max:g}, got {value:g}")


_TYPE_WORDS = {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false",
               "url": "a URL", "cidr": "an IP network", "cron": "a cron expression", "regex": "a regular expression"}


def _scalar_value(node: yaml.ScalarNode) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node)
    finally:
        loader.dispose()


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return repr(node.value)


def _unknown_hint(name: str, fields: dict[str, Setting]) -> str:
    close = difflib.get_close_matches(name, list(fields), n=1)
    valid = ", ".join(fields)
    return (f"did you mean '{close[0]}'? " if close else "") + f"valid keys: {valid}"
