"""How the tray's own windows reach the embedded server's ``/v1``, and sign in to it.

The choice: an in-process owner credential (``server.security.owner_key``). One random
token per run lives only in this process's memory; before each request the window makes
sure the running server accepts it (a restart makes a new server, so it is attached
again). It works whatever the auth mode (locked, keys, unauthenticated local), does not
unlock the server for anyone else, and needs no key pasted in nor stored anywhere. Its
requests show in the status window as coming from "this app".

Why not one of the user's keys: keys are shown once and stored only as hashes, so the
app would have to keep a copy somewhere; and a key the user revokes or forgets about
should not be what makes the built-in chat work.
"""

from __future__ import annotations

from app.chat_client import Connection
from app.server_controller import ServerController
from server.runner import url_host
from server.security.owner_key import OwnerKey

WILDCARD_HOSTS = ("", "0.0.0.0", "::")


def local_base_url(host: str, port: int) -> str:
    """The ``/v1`` URL this computer reaches the server at (loopback for 0.0.0.0 and ::)."""
    reach = "127.0.0.1" if host in WILDCARD_HOSTS else host
    return f"http://{url_host(reach)}:{port}/v1"


class ChatAccess:
    """The connection the chat window uses; one per app, shared by its windows."""

    def __init__(self, controller: ServerController, owner: OwnerKey | None = None) -> None:
        self.controller = controller
        self._owner = owner or OwnerKey()

    def connection(self) -> Connection | None:
        """The running server's URL with this app's credential; None when it is not running."""
        handle = self.controller.handle
        if handle is None or handle.state is None:
            return None
        self._owner.attach(handle.state.authenticator)
        return Connection(local_base_url(handle.host, handle.port), self._owner.authorization())
