"""One streamed answer on a worker thread, its events carried to the GUI thread by signal.

The worker only reads the HTTP stream and emits on this object, which lives on the GUI
thread; receivers connect with queued connections, so no widget is ever touched off
the GUI thread. ``cancel`` stops delivering at once; the thread ends at the next piece
of the stream (or when the server ends it, as it does at quit).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence

from PySide6.QtCore import QObject, Signal

from app.chat_client import ChatError, Connection, Delta, stream_chat

log = logging.getLogger(__name__)

UNEXPECTED = "The chat failed unexpectedly; the log has the details."


class ChatStream(QObject):
    """``delta(text, model)``, ``usage(Usage)``, ``failed(sentence, status)``, ``finished()``.

    ``status`` is the HTTP status of a refused request, 0 for any other failure.
    """

    delta = Signal(str, str)
    usage = Signal(object)
    failed = Signal(str, int)
    finished = Signal()

    def __init__(
        self,
        connection: Connection,
        model: str,
        messages: Sequence[Mapping[str, str]],
        session_id: str,
    ) -> None:
        super().__init__()
        self._args = (connection, model, [dict(m) for m in messages], session_id)
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traymind-chat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def wait(self, timeout: float) -> bool:
        """Join the worker (at quit); True when it has ended."""
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        connection, model, messages, session_id = self._args
        try:
            for event in stream_chat(connection, model, messages, session_id, self._cancel.is_set):
                if self._cancel.is_set():
                    break
                if isinstance(event, Delta):
                    self.delta.emit(event.text, event.model)
                else:
                    self.usage.emit(event)
        except ChatError as exc:
            if not self._cancel.is_set():
                self.failed.emit(str(exc), exc.status or 0)
        except Exception:
            log.exception("the chat stream failed")
            if not self._cancel.is_set():
                self.failed.emit(UNEXPECTED, 0)
        finally:
            self.finished.emit()
