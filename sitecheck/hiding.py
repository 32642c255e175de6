"""What hides an element from a reader: one definition for the crawler and the checks.

The crawler flags links inside hidden elements (crawler/extract.py) and the words
check reports hidden links to foreign sites (暗链, checks/words.py); both ask the
same question of an inline style, so they must get the same answer.  CSS allows
whitespace around the colon and any case; lxml has already decoded character
references in attribute values.
"""

from __future__ import annotations

import re

HIDING_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


def style_hides(style: str | None) -> bool:
    """Whether an inline style attribute hides its element."""
    return bool(style) and HIDING_STYLE.search(style) is not None
