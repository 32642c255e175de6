"""What hides an element from a reader: one definition for the crawler and the checks.

The crawler flags links inside hidden elements (crawler/extract.py), which the
words check reports when they point to foreign sites (暗链, checks/words.py); any
other reader of inline styles asks this module too.  CSS allows
whitespace around the colon and any case; lxml has already decoded character
references in attribute values.
"""

from __future__ import annotations

import re

HIDING_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


def style_hides(style: str | None) -> bool:
    """Whether an inline style attribute hides its element."""
    return bool(style) and HIDING_STYLE.search(style) is not None
