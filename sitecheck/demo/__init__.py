"""The demo site: a local replica of a provincial department portal with planted faults.

`DemoServer` serves it on loopback; `manifest` lists the faults a crawl must find.
"""

from __future__ import annotations

__all__ = ["DemoServer", "serve_main"]


def __getattr__(name: str):
    # Loaded on first use: every `sitecheck` command imports this package to build its parser
    # (`sitecheck demo ...`), and the server with its generated content is ~0.05 s of import.
    if name in __all__:
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
