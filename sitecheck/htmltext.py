"""Visible text of an HTML tree: what a reader of the page sees."""

from __future__ import annotations

import re

from lxml import etree

_INVISIBLE_TAGS = frozenset({"script", "style", "noscript", "template", "head", "title"})
_SPACE = re.compile(r"\s+")


def visible_text(tree) -> str:
    """Concatenate text outside scripts, styles and comments, whitespace folded.

    Walks start/end events with a counter instead of looking up ancestors, so a
    page nested 10,000 elements deep costs linear time.
    """
    parts: list[str] = []
    hidden_depth = 0
    for event, el in etree.iterwalk(tree, events=("start", "end", "comment", "pi")):
        tag = el.tag if isinstance(el.tag, str) else None
        if event == "start":
            if tag in _INVISIBLE_TAGS:
                hidden_depth += 1
            elif hidden_depth == 0 and tag is not None and el.text:
                parts.append(el.text)
        elif event == "end":
            if tag in _INVISIBLE_TAGS:
                hidden_depth -= 1
            if hidden_depth == 0 and el.tail:
                parts.append(el.tail)
        elif hidden_depth == 0 and el.tail:  # comment / processing instruction
            parts.append(el.tail)
    return _SPACE.sub(" ", " ".join(parts)).strip()
