"""``python -m server``: the same as ``traymind serve``."""

import sys

from server.cli.main import serve_main

if __name__ == "__main__":
    sys.exit(serve_main())
