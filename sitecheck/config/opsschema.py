"""Operations settings of a site file: schedule, availability probes, notifications.

Merged into the site-file table by sitefile.py.  Owned by the probe/serve feature.
"""

from __future__ import annotations

from .schema import Setting, table

OPS_FIELDS: dict[str, Setting] = {}
