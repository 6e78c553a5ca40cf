"""The one interface to a running server: start, stop, reload, status.

Used by ``traymind serve`` and by the tray app alike. The socket is bound here,
before uvicorn starts, so a port in use is a clear error instead of a uvicorn
thread that exits silently; uvicorn then runs in a background thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import uvicorn

from server.api import create_app, publish_when_resolved
from server.approvals.broker import ApprovalBroker
from server.approvals.remember import remember_always
from server.config import Config, ConfigError, load_config, locate_config
from server.config.schema import STORAGE_URL_ENV
from server.config.watch import ConfigWatcher
from server.knowledge import KnowledgeService
from server.mcp.pool import McpPool
from server.memory import MemoryService
from server.paths import prepare_data_dir, resolve_data_dir
from server.postgres.credentials import with_password
from server.postgres.database import describe
from server.postgres.history_store import PostgresHistoryStore
from server.postgres.index_store import PostgresIndexStore
from server.postgres.memory_store import PostgresMemoryStore
from server.postgres.session_locks import PostgresSessionLocks
from server.security.auth import Authenticator, EnvironmentKeys, KeySource, env_flag
from server.security.connection_guard import ConnectionLimits, connection_cap, raise_open_file_limit
from server.security.host_guard import is_loopback_host
from server.security.process_hardening import harden_server_process
from server.security.throttle import AuthThrottle
from server.sessions import HistoryStore, SessionLocks, StorageError
from server.sessions.store import SessionStore
from server.state import Generation, ServerState
from server.status import StatusHub

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
STOP_TIMEOUT = 4.0


class StartupError(Exception):
    """The server could not start; the message is one sentence for a person."""


class PortInUse(StartupError):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            f"Port {port} on {host} is already in use; choose another with --port "
            "(or stop the program using it)."
        )
        self.host = host
        self.port = port


@dataclass(slots=True)
class ServeOptions:
    """Options of ``traymind serve``; None means the environment or the default decides."""

    config: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: str | None = None
    keystore: str | None = None
    allow_unauthenticated: bool | None = None


def export_options(options: ServeOptions) -> None:
    """This process serves with these options: parts that read the environment see them too
    (the provider key lookup reads ``TRAYMIND_DATA_DIR`` and ``TRAYMIND_KEYSTORE``)."""
    if options.data_dir:
        os.environ["TRAYMIND_DATA_DIR"] = str(options.data_dir)
    if options.keystore:
        os.environ["TRAYMIND_KEYSTORE"] = options.keystore


def bind_socket(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"Cannot listen on '{host}': {exc.strerror}.") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name != "nt":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
            raise PortInUse(host, port) from None
        raise StartupError(f"Cannot listen on {host}:{port}: {exc.strerror}.") from None
    sock.setblocking(False)
    return sock


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def key_sources(
    data_dir: Path, keystore: str | None, status: StatusHub, storage_url: str | None = None
) -> list[KeySource]:
    """Environment keys, plus the keyring (or file) store when it can be used; with a
    PostgreSQL ``storage_url``, the database's keys instead (shared by every replica)."""
    from server.keys.backends import KeyringUnavailable, KeyStoreError
    from server.keys.client_keys import KeyStore

    sources: list[KeySource] = [EnvironmentKeys.from_environ()]
    if storage_url:
        from server.postgres.key_store import PostgresKeyStore

        try:
            shared = PostgresKeyStore.open(storage_url)
        except KeyStoreError as exc:
            raise StartupError(str(exc)) from None
        shared.report = lambda state, message: status.set_extra(
            "keystore", {"state": state, "message": message}
        )
        sources.append(shared)
        status.set_extra("keystore", {"state": "ok", "message": shared.describe_backend()})
        return sources
    try:
        sources.append(KeyStore.open(data_dir, keystore))
        status.set_extra("keystore", {"state": "ok", "message": sources[-1].describe_backend()})
    except KeyringUnavailable as exc:
        log.warning("%s", exc)
        status.set_extra("keystore", {"state": "unavailable", "message": str(exc)})
    return sources


def checked_storage_url(url: str | None) -> str | None:
    """``$TRAYMIND_STORAGE_URL``, which may hold the password (the environment is one of its
    documented places), checked for its scheme; the sentence never repeats the value."""
    if not url:
        return None
    if not url.startswith(("postgresql://", "postgres://")):
        raise StartupError(
            f"{STORAGE_URL_ENV} is not usable: it must be a "
            "postgresql://user@host:port/database URL."
        )
    try:
        describe(url)
    except StorageError as exc:
        raise StartupError(f"{STORAGE_URL_ENV} is not usable. {exc.message}") from None
    return url


def check_exposure(host: str, authenticator: Authenticator) -> None:
    """Listening beyond loopback needs a key, and never goes with unauthenticated access."""
    if is_loopback_host(host):
        return
    if authenticator.allow_unauthenticated:
        raise StartupError(
            f"Refusing to listen on {host} with unauthenticated access on: other machines could "
            "use your agents. Listen on 127.0.0.1, or turn unauthenticated access off."
        )
    if not authenticator.has_keys():
        raise StartupError(
            f"Listening on {host} (beyond this machine) needs at least one API key: create one "
            "with `traymind keys create --label NAME` or set OPENAI_COMPAT_API_KEYS."
        )


def _release(state: ServerState) -> None:
    """Close what a server that never served opened (the stores, the key sources' threads
    and connections), so a retry finds them free."""
    state.store.close()
    if state.memory is not None:
        state.memory.close()
    state.authenticator.flush()


class ServerHandle:
    """A server in a background thread, as one object."""

    def __init__(
        self,
        options: ServeOptions,
        status: StatusHub | None = None,
        approvals: ApprovalBroker | None = None,
    ) -> None:
        """``status`` and ``approvals`` may outlive this server (the tray keeps both across
        restarts); by default the server has its own."""
        self.options = options
        self.status = status or StatusHub()
        self.approvals = approvals or ApprovalBroker()
        self.state: ServerState | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.host = options.host
        self.port = options.port
        self._watcher: ConfigWatcher | None = None

    @property
    def url(self) -> str:
        return f"http://{url_host(self.host)}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _build_state(self) -> ServerState:
        harden_server_process()  # tool processes must not read our environment or memory
        config_path = locate_config(self.options.config)
        config = load_config(config_path)
        for warning in config.warnings:
            log.warning("%s", warning)
        data_dir = resolve_data_dir(self.options.data_dir)
        try:
            prepare_data_dir(data_dir)
        except OSError as exc:
            raise StartupError(
                f"Cannot open the session store: the data folder {data_dir} cannot be made "
                f"({exc.strerror}). Check that it is writable, or choose another with --data-dir."
            ) from None
        storage_url = checked_storage_url(os.environ.get(STORAGE_URL_ENV)) or config.storage.url
        store: SessionStore
        if storage_url:
            try:
                store = PostgresHistoryStore(
                    with_password(
                        storage_url,
                        config.storage.password_keyring,
                        self.options.keystore,
                        data_dir,
                    )
                )
                store.open()
            except StorageError as exc:
                raise StartupError(exc.message) from None
        else:
            store = HistoryStore(data_dir / "sessions.sqlite3")
            try:
                store.open()
            except StorageError as exc:
                raise StartupError(
                    f"{exc.message} Check that the data folder is writable and the disk not "
                    "full, or choose another with --data-dir."
                ) from None
        try:
            return self._state_around(config, config_path, data_dir, store)
        except BaseException:
            store.close()
            raise

    def _state_around(
        self, config: Config, config_path: Path | None, data_dir: Path, store: SessionStore
    ) -> ServerState:
        """Everything else the server holds, around an open session store."""
        allow = self.options.allow_unauthenticated
        if allow is None:
            allow = env_flag(os.environ.get("OPENAI_COMPAT_ALLOW_UNAUTHENTICATED"))
        # replicas share one PostgreSQL database: keys, memory and turn locks live there too
        shared = store.url if isinstance(store, PostgresHistoryStore) else None
        authenticator = Authenticator(
            key_sources(data_dir, self.options.keystore, self.status, shared),
            allow_unauthenticated=allow,
            throttle=AuthThrottle(
                config.server.auth_failure_limit, config.server.auth_failure_window_seconds
            ),
        )
        try:
            check_exposure(self.options.host, authenticator)
        except BaseException:
            authenticator.flush()  # a database key store's poller and connection
            raise
        indexes = partial(PostgresIndexStore, shared) if shared else None
        knowledge = KnowledgeService(config, data_dir, self.status, indexes=indexes)
        memory = MemoryService.open(
            data_dir, config.embeddings_model, PostgresMemoryStore(shared) if shared else None
        )
        locks = PostgresSessionLocks(shared) if shared else SessionLocks()
        if config_path is not None:
            self.approvals.on_always = lambda pending: remember_always(config_path, pending)
        mcp_pool = McpPool()
        return ServerState(
            generation=Generation.of(
                config, self.status, knowledge, memory, self.approvals, mcp_pool
            ),
            approvals=self.approvals,
            mcp_pool=mcp_pool,
            locks=locks,
            knowledge=knowledge,
            memory=memory,
            authenticator=authenticator,
            store=store,
            status=self.status,
            config_path=config_path,
            data_dir=data_dir,
            max_running=config.server.max_concurrent_runs,
            max_queued=config.server.max_queued_runs,
        )

    def start(self) -> None:
        """Load config, bind, serve; returns once the socket accepts connections."""
        state = self._build_state()
        try:
            sock = bind_socket(self.options.host, self.options.port)
        except BaseException:
            _release(state)  # a port in use must not leave the stores open behind it
            raise
        self.port = sock.getsockname()[1]
        self.state = state
        settings = state.generation.config.server
        limits = ConnectionLimits(
            header_timeout=settings.header_timeout_seconds,
            body_timeout=settings.body_timeout_seconds,
            max_connections=connection_cap(raise_open_file_limit()),
        )
        proxies = settings.trusted_proxies
        config = uvicorn.Config(
            create_app(state),
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
            ws="none",
            http=limits.protocol_class(),
            # X-Forwarded-For only from proxies the user named: else anyone on loopback
            # could forge the address that throttling and the log rely on.
            proxy_headers=bool(proxies),
            forwarded_allow_ips=list(proxies) or None,
        )
        server = uvicorn.Server(config)
        self._server = server
        started = threading.Event()

        def run() -> None:
            loop_factory = config.get_loop_factory() or asyncio.new_event_loop
            loop = loop_factory()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(server.serve(sockets=[sock]))
            except BaseException:
                log.exception("the server stopped with an error")
            finally:
                started.set()
                loop.close()
                sock.close()
                state.store.close()

        self._thread = threading.Thread(target=run, name="traymind-server", daemon=True)
        self._thread.start()
        while not started.wait(0.01):
            if server.started:
                break
        if not server.started:
            self._thread.join(STOP_TIMEOUT)
            _release(state)
            raise StartupError("The server failed to start; see the log for details.")
        self.status.set_server(
            state="running",
            url=self.url,
            listen=f"{self.host}:{self.port}",
            auth=state.authenticator.mode(),
        )
        self.status.set_extra(
            "config", {"state": "ok", "path": str(state.config_path), "message": "loaded"}
        )
        if state.config_path is not None:
            self._watcher = ConfigWatcher(state.config_path, self._reload_from_disk)
            self._watcher.start()
        if state.knowledge is not None:
            state.knowledge.start()  # returns at once: bases sync and index in the background

    def _reload_from_disk(self) -> None:
        """The file changed: reload it, or report why the old config keeps serving."""
        state = self.state
        path = str(state.config_path) if state else ""
        try:
            self.reload()
        except ConfigError as exc:
            log.warning(
                "config.yaml changed but is invalid; the previous config keeps serving:\n%s", exc
            )
            self.status.set_extra("config", {"state": "error", "path": path, "message": str(exc)})
            return
        log.info("config reloaded from %s", path)
        self.status.set_extra(  # "at": each reload is news, even with the same path and words
            "config", {"state": "ok", "path": path, "message": "reloaded", "at": time.time()}
        )

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop promptly: open streams are ended with a sentence, then uvicorn exits."""
        server, thread, loop, state = self._server, self._thread, self._loop, self.state
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if server is None or thread is None:
            return
        if loop is not None and state is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(state.interrupt_all, "the server is shutting down")
        server.should_exit = True
        thread.join(timeout * 0.75)
        if state is not None:
            state.authenticator.flush()
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout * 0.25)
        self._server = self._thread = self._loop = None
        if state is not None and state.knowledge is not None:
            state.knowledge.stop()
        if state is not None and state.memory is not None:
            state.memory.close()
        self.status.set_server(state="stopped")

    def task_count(self) -> int:
        """Asyncio tasks alive on the server's loop (leak checks and diagnostics)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return 0

        async def count() -> int:
            return len(asyncio.all_tasks())

        return asyncio.run_coroutine_threadsafe(count(), loop).result(5)

    def reload(self) -> Config:
        """Re-read config.yaml; the new config serves new requests, live sessions go on.

        Raises ``ConfigError`` and keeps the old config when the file is invalid.
        """
        state, loop = self.state, self._loop
        assert state is not None and state.config_path is not None
        config = load_config(state.config_path)
        if config.storage != state.generation.config.storage:
            log.warning(
                "storage changed in %s: the server keeps its database until it restarts",
                state.config_path,
            )
        if state.knowledge is not None:
            state.knowledge.update(config)
        if state.memory is not None:
            state.memory.update(config.embeddings_model)
        generation = Generation.of(
            config, self.status, state.knowledge, state.memory, state.approvals, state.mcp_pool
        )

        def swap() -> None:
            old = state.generation
            state.generation = generation
            state.approvals.config_reloaded()
            stopping = asyncio.ensure_future(old.runtime.stop())  # the old config's MCP servers
            state.background.add(stopping)
            stopping.add_done_callback(state.background.discard)
            asyncio.get_running_loop().create_task(publish_when_resolved(state))
            state.authenticator.throttle.limit = config.server.auth_failure_limit
            state.authenticator.throttle.window = config.server.auth_failure_window_seconds
            generation.runtime.start()
            state.publish_agents()

        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(swap)
        return config
