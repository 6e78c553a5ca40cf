"""The bundle's entry script: exactly the ``traymind`` console script (``app.cli:main``).

A script of its own keeps ``app.cli`` an ordinary module of the ``app`` package in the
bundle (PyInstaller runs its entry script as ``__main__``).
"""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
