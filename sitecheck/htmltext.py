"""An HTML document read as a browser reads it, and its visible text: what a reader of the page sees."""

from __future__ import annotations

import re

from lxml import etree
from lxml import html as lxml_html

# libxml2 drops everything after the first `</html>`; a browser ignores that end tag and keeps
# reading into the body.  CMS templates that glue a header include (with its own `</html>`) onto
# the page leave one early, so every `</html>` is removed before parsing: the parser closes the
# document at the end of the text anyway.
_HTML_END = re.compile(r"</html\s*>", re.I)
_PARSER: lxml_html.HTMLParser | None = None

_INVISIBLE_TAGS = frozenset({"script", "style", "noscript", "template", "head", "title"})

# The text nodes outside invisible subtrees, in document order, each followed by a space, in one
# pass of libxslt (C): about 4x faster than walking the tree from Python.  The built-in templates
# recurse into elements and drop comments and processing instructions (whose tails are text nodes
# of the parent, so they are kept); the empty template drops an invisible element's whole subtree.
# The separating space stands for the " ".join of the walk below: whitespace is folded afterwards.
_STYLESHEET = b"""<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
<xsl:output method="text" encoding="utf-8"/>
<xsl:template match="script|style|noscript|template|head|title"/>
<xsl:template match="text()"><xsl:copy/><xsl:text> </xsl:text></xsl:template>
</xsl:stylesheet>"""
_TRANSFORM = None


def parse_document(text: str):
    """The lxml tree of a page's markup, the whole document however its templates closed it.

    Never raises: markup lxml rejects outright gives an empty document.
    """
    global _PARSER
    if _PARSER is None:
        _PARSER = lxml_html.HTMLParser(encoding="utf-8", huge_tree=False)
    if not text.strip():
        text = "<html></html>"
    elif "</" in text:
        text = _HTML_END.sub("", text)
    try:
        return lxml_html.document_fromstring(text.encode("utf-8", "replace"), parser=_PARSER)
    except Exception:  # noqa: BLE001 - lxml rejects some hostile documents outright
        return lxml_html.document_fromstring(b"<html></html>")


def visible_text(tree) -> str:
    """Concatenate text outside scripts, styles and comments, whitespace folded.

    The tree is not modified (checks share it).  libxslt stops at 3,000 nested templates;
    a tree nested deeper than that (the HTML parser stops at 256) is walked instead.
    """
    global _TRANSFORM
    text = None
    # A whole document only: the walk of a subtree would include the subtree's own tail.
    if isinstance(tree, etree._ElementTree) or (
            isinstance(tree, etree._Element) and tree.getparent() is None and tree.tail is None):
        try:
            if _TRANSFORM is None:
                _TRANSFORM = etree.XSLT(etree.XML(_STYLESHEET))
            text = str(_TRANSFORM(tree))
        except etree.Error:  # too deep for libxslt
            text = None
    if text is None:
        text = _walk(tree)
    # split() and re's \s agree on what whitespace is (str.isspace), so this is the
    # re.sub(r"\s+", " ", text).strip() it replaces, at a quarter of the cost.
    return " ".join(text.split())


def _walk(tree) -> str:
    """The same text by a linear walk: start/end events with a counter instead of ancestor lookups."""
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
    return " ".join(parts)
