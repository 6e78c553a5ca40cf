"""A server that fails to start closes what it opened, so the retry (or the tray) finds it free."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from server.runner import PortInUse, ServeOptions, ServerHandle
from tests.harness import agent_config, write_config


def open_files_under(folder: Path) -> list[str]:
    """Paths under ``folder`` this process holds open (Linux's /proc)."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            held.append(target)
    return held


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux's /proc")
def test_a_port_in_use_leaves_no_store_open(tmp_path: Path) -> None:
    config = write_config(tmp_path, agent_config(None, general={}))
    data = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for _ in range(3):  # the tray retries; nothing may pile up
            handle = ServerHandle(ServeOptions(config=str(config), port=port, data_dir=str(data)))
            with pytest.raises(PortInUse):
                handle.start()
    assert (data / "sessions.sqlite3").exists()  # it was opened, then closed again
    assert open_files_under(data) == []
    handle = ServerHandle(ServeOptions(config=str(config), port=0, data_dir=str(data)))
    handle.start()
    try:
        assert any(p.endswith("sessions.sqlite3") for p in open_files_under(data))
    finally:
        handle.stop()
