"""`python -m sitecheck.demo serve [--port N] [--today D] [--write-site PATH] [--ready-file PATH]`."""

import sys

from .server import serve_main

sys.exit(serve_main(sys.argv[1:]))
