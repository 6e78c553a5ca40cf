"""``python -m server.cli COMMAND ...``: the headless command line without the tray."""

import sys

from server.cli.main import main

sys.exit(main())
