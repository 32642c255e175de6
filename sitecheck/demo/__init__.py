"""The demo site: a local replica of a provincial department portal with planted faults.

`DemoServer` serves it on loopback; `manifest` lists the faults a crawl must find.
"""

from .server import DemoServer, serve_main

__all__ = ["DemoServer", "serve_main"]
