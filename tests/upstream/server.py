"""`Upstream`: a real loopback OpenAI-compatible server run by uvicorn in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn

from .app import UpstreamApp
from .replies import Reply
from .state import RecordedRequest, UpstreamState

CHAT_PATH = "/v1/chat/completions"


class Upstream:
    """A scripted LLM provider on 127.0.0.1. `start()` it, point a client at `base_url`."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, loop: str = "asyncio", http: str = "auto"
    ) -> None:
        """`loop` and `http` are uvicorn's choices ("auto": uvloop, httptools where installed)."""
        self._host = host
        self._port = port
        self._loop_kind = loop
        self._http_kind = http
        self._state = UpstreamState()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._app: UpstreamApp | None = None
        self._bound_port: int | None = None

    # Lifecycle

    def start(self, timeout: float = 10.0) -> Upstream:
        """Bind the port and return once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("Upstream already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        self._bound_port = sock.getsockname()[1]
        self._app = UpstreamApp(self._state)
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            loop=self._loop_kind,
            http=self._http_kind,
            access_log=False,
            log_config=None,  # leave the process's logging configuration alone
            timeout_graceful_shutdown=2,
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._run, args=(self._server, sock), name="upstream", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("Upstream failed to start")
            time.sleep(0.005)
        return self

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            await server.serve(sockets=[sock])

        try:
            with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
                runner.run(serve())
        finally:
            sock.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop promptly: pending and streaming answers are cut, then the server exits."""
        server, thread, loop, app = self._server, self._thread, self._loop, self._app
        if server is None or thread is None:
            return
        if loop is not None and app is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(app.closing.set)
        server.should_exit = True
        thread.join(timeout)
        self._server = self._thread = self._loop = self._app = None

    def __enter__(self) -> Upstream:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Address

    @property
    def port(self) -> int:
        """The bound port."""
        if self._bound_port is None:
            raise RuntimeError("Upstream not started")
        return self._bound_port

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/v1`, what an OpenAI client takes as `base_url`."""
        return f"http://{self._host}:{self.port}/v1"

    # Script

    def script(self, *replies: Reply) -> None:
        """Queue replies: each chat completion request consumes the next one."""
        self._state.script(replies)

    @property
    def pending(self) -> int:
        """Scripted replies not consumed yet."""
        return self._state.pending()

    @property
    def default(self) -> Reply:
        """The reply used when the script is empty."""
        return self._state.default

    @default.setter
    def default(self, reply: Reply) -> None:
        self._state.default = reply

    @property
    def responder(self) -> Callable[[dict[str, Any], Reply], Reply] | None:
        """Chooses the reply from the request when the script is empty (``agentic``)."""
        return self._state.responder

    @responder.setter
    def responder(self, responder: Callable[[dict[str, Any], Reply], Reply] | None) -> None:
        self._state.responder = responder

    @property
    def models(self) -> list[str]:
        """Model ids listed by `GET /v1/models`."""
        return self._state.models

    @models.setter
    def models(self, ids: list[str]) -> None:
        self._state.models = list(ids)

    # Observations

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in order (a snapshot)."""
        return self._state.records()

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Only the `POST /v1/chat/completions` requests."""
        return [
            r
            for r in self._state.records()
            if r.method == "POST" and r.path.rstrip("/") == CHAT_PATH
        ]

    @property
    def messages_requests(self) -> list[RecordedRequest]:
        """Only the Anthropic ``POST /v1/messages`` requests."""
        return [r for r in self._state.records() if r.method == "POST" and r.path == "/v1/messages"]

    @property
    def cancelled(self) -> int:
        """Streaming responses whose client disconnected before the stream finished."""
        return self._state.cancelled

    @property
    def active_streams(self) -> int:
        """Streaming responses open right now."""
        return self._state.active_streams

    def clear(self) -> None:
        """Empty the script, the records and the cancelled count."""
        self._state.clear()

    def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01
    ) -> bool:
        """Poll `predicate` until it holds (True) or `timeout` passes (False)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(interval)
        return True
