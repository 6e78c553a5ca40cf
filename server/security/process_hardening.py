"""Hardening the server process itself against the programs its tools start.

Tools such as ``shell`` and ``python`` run commands with the user's rights. On
Linux any process of the same user may read ``/proc/<pid>/environ`` and
``/proc/<pid>/mem`` of the server, which hold the client and provider keys.
Marking the server non-dumpable makes those files root-owned, so a same-user,
non-root process cannot read them, sandbox or not. Children are not affected:
``execve`` makes them dumpable again.
"""

from __future__ import annotations

import ctypes
import logging
import sys

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3

log = logging.getLogger(__name__)


def harden_server_process() -> bool:
    """Make this process's memory and environment unreadable to other same-user processes.

    Call once at server startup. Returns True when the protection is in place
    (Linux only; elsewhere a no-op returning False). Side effects: no core
    dumps, and debuggers must run as root to attach.
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_DUMPABLE, 0) failed: errno %d", ctypes.get_errno())
        return False
    return is_hardened()


def is_hardened() -> bool:
    """Whether this process is non-dumpable (Linux), i.e. ``harden_server_process`` took."""
    if not sys.platform.startswith("linux"):
        return False
    return ctypes.CDLL(None, use_errno=True).prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0
