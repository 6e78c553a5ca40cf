"""One Traymind per user and data folder: a second launch wakes the first one up.

Why a local socket: QLocalServer is a Unix socket (a named pipe on Windows) that
disappears with its process, so a crash leaves nothing that blocks the next start;
a stale socket file is detected (nobody answers) and removed. The name is derived
from the user and the data folder, so two data folders may run side by side, and a
second launch with the same folder reaches the first before starting any server.
"""

from __future__ import annotations

import getpass
import hashlib
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

SHOW = b"show"
CONNECT_TIMEOUT_MS = 1000


def instance_name(data_dir: Path) -> str:
    digest = hashlib.sha256(f"{getpass.getuser()}\0{data_dir}".encode()).hexdigest()[:12]
    return f"traymind-{digest}"


def forward(name: str, message: bytes = SHOW) -> bool:
    """Tell a running instance ``message``; False when none is listening."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    socket.write(message + b"\n")
    socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
    socket.disconnectFromServer()
    if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
        socket.waitForDisconnected(CONNECT_TIMEOUT_MS)
    return True


class SingleInstance(QObject):
    """The first instance's listener; ``message`` carries what a later launch asked for."""

    message = Signal(str)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)

    def claim(self) -> bool:
        """Become the instance: False when another one answers (it has been told to show)."""
        if forward(self.name):
            return False
        QLocalServer.removeServer(self.name)  # nobody answered: a stale socket, if any
        if self._server.listen(self.name):
            return True
        return not forward(self.name)  # lost a race with a simultaneous launch

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        while socket.canReadLine():
            text = bytes(socket.readLine().data()).decode("utf-8", "replace").strip()
            if text:
                self.message.emit(text)

    def close(self) -> None:
        self._server.close()
