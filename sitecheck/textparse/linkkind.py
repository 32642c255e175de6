"""What a link's URL and element say about its kind, where the extension alone misleads.

- `<link rel="search" href="/opensearch.xml">` (OpenSearch) and other `<link>` /
  `<script>` targets are resources of the page, whatever their extension: an
  `.xml` there is not an attachment a visitor downloads.
- A file served by a script (`downfile.jsp?filename=report.xls`,
  `download.do?fileName=…`, `DownLoad.aspx?id=…`) is an attachment although
  its path ends in `.jsp`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from sitecheck.model import Element, TargetKind

_DOCUMENT_EXTENSIONS = frozenset("doc docx pdf xls xlsx wps et dps ppt pptx zip rar 7z ofd ceb caj csv txt".split())
_IMAGE_EXTENSIONS = frozenset("png jpg jpeg gif bmp webp svg ico tif tiff".split())
# The last path segment of a download script: downfile.jsp, download.do, DownLoad.aspx, getFile.action ...
_DOWNLOAD_SCRIPT = re.compile(r"(?:down(?:load)?(?:file|attach\w*)?|get_?file|file_?down(?:load)?|attach\w*down\w*)"
                              r"\.(?:jsp|do|aspx?|ashx|php|action|cgi)$", re.I)
_FILE_PARAMS = frozenset({"filename", "file", "fname", "name", "path", "filepath", "fileurl", "attachment",
                          "attachname", "realname", "downfile"})


def _extension(name: str) -> str:
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(".", 1)[-1].lower() if "." in last else ""


def kind_hint(url: str, element: Element) -> TargetKind | None:
    """The kind a URL has whatever its extension says, or None when the extension decides. Never raises."""
    try:
        if element in (Element.LINK, Element.SCRIPT):
            return None if _extension(urlsplit(url).path) in _IMAGE_EXTENSIONS else TargetKind.RESOURCE
        if element is not Element.A or "?" not in url:  # most links: no urlsplit on the crawl's hot path
            return None
        parts = urlsplit(url)
        if _DOWNLOAD_SCRIPT.search(parts.path.rsplit("/", 1)[-1]):
            return TargetKind.ATTACHMENT
        for key, value in parse_qsl(parts.query):
            if key.lower() in _FILE_PARAMS and _extension(value) in _DOCUMENT_EXTENSIONS:
                return TargetKind.ATTACHMENT
        return None
    except ValueError:
        return None
