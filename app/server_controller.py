"""The tray's one interface to the server: start, stop, restart, reload, status.

Why a controller between the UI and ``ServerHandle``: the handle's calls block
(binding, loading config, joining the uvicorn thread), so they run on a serial
background queue; the UI sees a phase (stopped, starting, running, stopping,
error), ``Problem`` sentences instead of exceptions, and status news as Qt signals
on the GUI thread (through ``StatusBridge``). The server never learns about Qt.

A new port while serving is a move, not a restart: the new server starts first and
the old one stops only once the new one listens, so a port that turns out to be
taken (or any other start-up failure) leaves Traymind serving where it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from PySide6.QtCore import QObject, QTimer, Signal

from app.background import Jobs
from app.server_problems import Problem, describe_failure, probe_provider, runtime_problems
from app.status_bridge import StatusBridge
from app.status_text import plural
from server.approvals.broker import ApprovalBroker
from server.config import ConfigError, locate_config
from server.keys.client_keys import KeyStore
from server.logging_setup import log_dir
from server.paths import resolve_data_dir
from server.postgres.key_store import PostgresKeyStore
from server.runner import ServeOptions, ServerHandle, export_options
from server.security.host_guard import is_loopback_host
from server.status import StatusHub

log = logging.getLogger(__name__)

Phase = Literal["stopped", "starting", "running", "stopping", "error"]
ALIVE_CHECK_MS = 2000


class ServerController(QObject):
    """Owns the running ``ServerHandle`` and one ``StatusHub`` that outlives restarts."""

    phase_changed = Signal(str)
    status_changed = Signal()
    problem = Signal(object)  # a Problem: failed start, rejected reload or a warning
    reloaded = Signal()
    reloaded_from_disk = Signal()  # the server followed an edit of config.yaml by itself
    approvals_changed = Signal()  # a tool call started waiting for approval, or was decided
    runtime_problem = Signal(str)  # a new problem while running (told once), as a sentence

    def __init__(self, options: ServeOptions, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._options = replace(options)
        self.hub = StatusHub()
        self._bridge = StatusBridge(self.hub)
        self._bridge.changed.connect(self.status_changed)
        self._bridge.changed.connect(self._follow_config_watcher)
        self._bridge.changed.connect(self._follow_runtime_problems)
        self.problems: dict[str, str] = {}  # what is wrong while running (server_problems)
        self.approvals = ApprovalBroker()  # like the hub, it outlives restarts
        self._approvals_bridge = StatusBridge(self.approvals, interval_ms=50)
        self._approvals_bridge.changed.connect(self.approvals_changed)
        self._config_seen: dict[str, Any] | None = None
        self._jobs = Jobs(serial=True)
        self._probes = Jobs()
        self._handle: ServerHandle | None = None
        self._moving: ServerHandle | None = None  # the new server of a move, until it listens
        self._phase: Phase = "stopped"
        self.failure: Problem | None = None
        self.warning: Problem | None = None
        self._alive = QTimer(self)
        self._alive.setInterval(ALIVE_CHECK_MS)
        self._alive.timeout.connect(self._check_alive)
        self._alive.start()

    # --- what the UI reads -------------------------------------------------------------

    @property
    def options(self) -> ServeOptions:
        return replace(self._options)

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def url(self) -> str | None:
        handle = self._handle
        return handle.url if handle is not None and self._phase == "running" else None

    @property
    def handle(self) -> ServerHandle | None:
        """The running handle (None unless running): for tests and the status window."""
        return self._handle if self._phase == "running" else None

    @property
    def loopback_only(self) -> bool:
        return is_loopback_host(self._options.host)

    def snapshot(self) -> dict[str, Any]:
        return self.hub.snapshot()

    def active_sessions(self) -> int:
        return self.hub.active_sessions()

    def auth_mode(self) -> str | None:
        handle = self.handle
        return handle.state.authenticator.mode() if handle and handle.state else None

    def key_sources(self) -> list[str]:
        """Where accepted keys come from, e.g. ``environment (OPENAI_COMPAT_API_KEYS)``."""
        handle = self.handle
        if handle is None or handle.state is None:
            return []
        found = []
        for source in handle.state.authenticator.sources:
            if isinstance(source, KeyStore):
                found.append(f"{source.describe_backend()}: {plural(len(source.list()), 'key')}")
            elif source.has_keys():
                found.append("environment (OPENAI_COMPAT_API_KEYS)")
        return found

    def model_label(self, name: str) -> str:
        """``default: llama3.2 (openai at http://...)`` for an agent's model name."""
        handle = self._handle
        state = handle.state if handle is not None else None
        if state is None:
            return name
        model = state.generation.config.models.get(name)
        if model is not None:
            where = f" at {model.base_url}" if model.base_url else ""
            return f"{name}: {model.id} ({model.provider}{where})"
        found = state.generation.runtime.default_model if name == "default" else None
        if found is None:
            return name
        if found.id is None:
            return f"{name}: none found"
        return f"{name}: {found.id} ({found.source}, {found.base_url})"

    def config_path(self) -> Path:
        handle = self._handle
        if handle is not None and handle.state is not None and handle.state.config_path:
            return handle.state.config_path
        return locate_config(self._options.config)

    def data_dir(self) -> Path:
        return resolve_data_dir(self._options.data_dir)

    @staticmethod
    def logs_dir() -> Path:
        return log_dir()

    def keystore(self) -> KeyStore | PostgresKeyStore:
        """The running server's key store (the shared database's with ``storage``), else
        one opened on the same data dir.

        Raises ``KeyringUnavailable`` (a sentence naming the file fallback) or ``ValueError``.
        """
        handle = self.handle
        if handle is not None and handle.state is not None:
            for source in handle.state.authenticator.sources:
                if isinstance(source, KeyStore | PostgresKeyStore):
                    return source
        return KeyStore.open(self.data_dir(), self._options.keystore)

    # --- unauthenticated local access --------------------------------------------------

    @property
    def allow_unauthenticated(self) -> bool:
        return bool(self._options.allow_unauthenticated)

    def set_allow_unauthenticated(self, on: bool) -> bool:
        """Apply at once (the next request sees it); refused beyond loopback. The new value."""
        on = on and self.loopback_only
        self._options.allow_unauthenticated = on
        handle = self.handle
        if handle is not None and handle.state is not None:
            handle.state.authenticator.allow_unauthenticated = on
            self.hub.set_server(auth=handle.state.authenticator.mode())
        return on

    def keys_changed(self) -> None:
        """A key was created or revoked here: refresh the auth mode shown."""
        mode = self.auth_mode()
        if mode is not None:
            self.hub.set_server(auth=mode)

    # --- start, stop, restart, reload --------------------------------------------------

    def _set_phase(self, phase: Phase) -> None:
        if phase != self._phase:
            self._phase = phase
            self.phase_changed.emit(phase)
            self.status_changed.emit()

    def start(self) -> None:
        """Start in the background; ``phase_changed`` says how it went."""
        if self._phase in ("starting", "running", "stopping"):
            return
        self._launch(self._handle)  # a failed or dead previous handle is cleaned up first

    def stop(self) -> None:
        if self._after_move(self.stop):
            return
        if self._phase not in ("running", "error") or self._handle is None:
            return
        handle = self._handle
        self._set_phase("stopping")
        self._jobs.run(handle.stop, lambda _: self._stopped(handle), self._stop_failed)

    def restart(self, options: ServeOptions | None = None) -> None:
        """Stop (if running) and start again, with new options when given.

        Running, a new port moves the server instead: the old one serves until the new
        one listens, and keeps serving if it cannot (``problem`` says why).
        """
        if self._after_move(lambda: self.restart(options)):
            return
        previous = replace(self._options)
        if options is not None:
            self._options = replace(options)
            if not self.loopback_only:
                self._options.allow_unauthenticated = False
        if self._phase in ("starting", "stopping"):
            self._jobs.run(lambda: None, lambda _: self._launch(self._handle))
            return
        old = self._handle
        port = self._options.port
        if self._phase == "running" and old is not None and port not in (previous.port, old.port):
            self._move(old, previous)  # a new port (a restart on port 0 is not a move)
            return
        self._launch(self._handle)

    def reload_config(self) -> None:
        """Re-read config.yaml; a bad edit keeps the old config running (``problem``)."""
        handle = self.handle
        if handle is None:
            self.start()
            return
        self._jobs.run(handle.reload, lambda _: self._reloaded(), self._reload_failed)

    def shutdown(self) -> None:
        """Stop now and wait (at quit): nothing of the server is left running after it."""
        self._alive.stop()
        self._jobs.wait()
        self._probes.wait()
        for handle in (self._handle, self._moving):
            if handle is not None:
                handle.stop()
        self._bridge.close()
        self._approvals_bridge.close()
        self._phase = "stopped"

    # --- internals ---------------------------------------------------------------------

    def _launch(self, old: ServerHandle | None) -> None:
        export_options(self._options)  # the provider key lookup reads the same data dir
        handle = ServerHandle(replace(self._options), status=self.hub, approvals=self.approvals)
        self._handle = handle  # known at once, so a quit during start stops it

        def work() -> None:
            if old is not None:
                old.stop()
            handle.start()

        self.failure = None
        self._set_phase("starting")
        self._jobs.run(work, lambda _: self._started(handle), lambda e: self._failed(handle, e))

    def _after_move(self, then: Callable[[], None]) -> bool:
        """While a move is under way, run ``then`` once it is over (True), else False."""
        if self._moving is None:
            return False
        self._jobs.run(lambda: None, lambda _: then())  # serial: after the move's outcome
        return True

    def _move(self, old: ServerHandle, previous: ServeOptions) -> None:
        export_options(self._options)
        handle = ServerHandle(replace(self._options), status=self.hub, approvals=self.approvals)
        self._moving = handle

        def work() -> None:
            try:
                handle.start()  # raises while the old server still serves: it is left as is
            except BaseException:
                handle.stop()
                raise
            old.stop()
            state = handle.state
            self.hub.set_server(  # the old server's stop said "stopped"; the new one serves
                state="running",
                url=handle.url,
                listen=f"{handle.host}:{handle.port}",
                auth=state.authenticator.mode() if state is not None else None,
            )

        self._jobs.run(
            work,
            lambda _: self._moved(handle),
            lambda e: self._move_failed(handle, old, previous, e),
        )

    def _moved(self, handle: ServerHandle) -> None:
        self._moving = None
        self._handle = handle
        self.failure = None
        self._started(handle)
        self.status_changed.emit()

    def _move_failed(
        self, handle: ServerHandle, old: ServerHandle, previous: ServeOptions, error: BaseException
    ) -> None:
        self._moving = None
        if self._options == handle.options:
            self._options = previous
        export_options(self._options)
        problem = describe_failure(error)
        message = f"{problem.message} Traymind keeps serving on {old.url}."
        self.failure = Problem(problem.kind, message, config_path=problem.config_path)
        log.warning("%s", message)
        self.problem.emit(self.failure)
        self.status_changed.emit()

    def _started(self, handle: ServerHandle) -> None:
        if handle is not self._handle:
            return
        log.info("Traymind serving %s", handle.url)
        self.warning = None
        self._set_phase("running")
        self._probes.run(lambda: probe_provider(handle.url), self._probed)

    def _failed(self, handle: ServerHandle, error: BaseException) -> None:
        if handle is not self._handle:
            return
        self.failure = describe_failure(error)
        log.warning("the server did not start: %s", self.failure.message)
        self.hub.set_server(state="error")
        self._set_phase("error")
        self.problem.emit(self.failure)

    def _stopped(self, handle: ServerHandle) -> None:
        if handle is self._handle:
            self._set_phase("stopped")

    def _stop_failed(self, error: BaseException) -> None:
        log.error("stopping the server failed", exc_info=error)
        self._set_phase("stopped")

    def _probed(self, warning: Problem | None) -> None:
        if self._phase != "running":
            return
        self.warning = warning
        if warning is not None:
            log.warning("%s", warning.message)
            self.problem.emit(warning)
        self.status_changed.emit()

    def _reloaded(self) -> None:
        log.info("config reloaded")
        self.failure = None
        self.reloaded.emit()
        self.status_changed.emit()
        handle = self.handle
        if handle is not None:  # the model may have changed: check it again
            self._probes.run(lambda: probe_provider(handle.url), self._probed)

    def _reload_failed(self, error: BaseException) -> None:
        if isinstance(error, ConfigError):
            message = f"{error}\nThe previous config keeps running."
            problem = Problem("reload", message, config_path=error.path)
        else:
            problem = Problem("reload", f"Reloading the config failed: {error}.")
        log.warning("%s", problem.message)
        self.failure = problem
        self.problem.emit(problem)
        self.status_changed.emit()

    def _follow_config_watcher(self) -> None:
        """The server reloads config.yaml when it changes: mirror what that did in the tray."""
        config = self.hub.snapshot().get("config")
        if not isinstance(config, dict) or config == self._config_seen:
            return
        self._config_seen = dict(config)
        if config.get("state") == "error":
            message = f"{config.get('message', '')}\nThe previous config keeps running."
            path = config.get("path")
            self.failure = Problem("reload", message, config_path=Path(path) if path else None)
            self.problem.emit(self.failure)
        elif config.get("message") == "reloaded":  # the file changed (here, a terminal, an editor)
            if self.failure is not None and self.failure.kind in ("config", "reload"):
                self.failure = None
                self.reloaded.emit()
            self.reloaded_from_disk.emit()  # open windows show what the server now serves
        self.status_changed.emit()

    def _follow_runtime_problems(self) -> None:
        """Each problem that appears is told once; one that clears may be told again later."""
        found = runtime_problems(self.hub.snapshot()) if self._phase == "running" else {}
        new = [message for key, message in found.items() if key not in self.problems]
        self.problems = found
        for message in new:
            log.warning("%s", message)
            self.runtime_problem.emit(message)

    def _check_alive(self) -> None:
        handle = self._handle
        if self._moving is not None:
            return  # the old server stops on purpose once the new one listens
        if self._phase == "running" and handle is not None and not handle.running:
            self.failure = Problem("other", "The server stopped unexpectedly; see the log.")
            self._set_phase("error")
            self.problem.emit(self.failure)
