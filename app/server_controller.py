"""The tray's one interface to the server: start, stop, restart, reload, status.

Why a controller between the UI and ``ServerHandle``: the handle's calls block
(binding, loading config, joining the uvicorn thread), so they run on a serial
background queue; the UI sees a phase (stopped, starting, running, stopping,
error), ``Problem`` sentences instead of exceptions, and status news as Qt signals
on the GUI thread (through ``StatusBridge``). The server never learns about Qt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import httpx
from PySide6.QtCore import QObject, QTimer, Signal

from app.background import Jobs
from app.status_bridge import StatusBridge
from app.status_text import plural
from server.config import ConfigError, locate_config
from server.keys.client_keys import KeyStore
from server.logging_setup import log_dir
from server.paths import resolve_data_dir
from server.runner import (
    PortInUse,
    ServeOptions,
    ServerHandle,
    StartupError,
    bind_socket,
    export_options,
)
from server.security.host_guard import is_loopback_host
from server.status import StatusHub

log = logging.getLogger(__name__)

Phase = Literal["stopped", "starting", "running", "stopping", "error"]
ProblemKind = Literal["port_in_use", "config", "reload", "provider", "other"]
PROBE_TIMEOUT = 3.0
ALIVE_CHECK_MS = 2000


@dataclass(frozen=True, slots=True)
class Problem:
    """Something a person must know: a failed start, a rejected reload, a warning."""

    kind: ProblemKind
    message: str
    config_path: Path | None = None
    free_port: int | None = None

    @property
    def headline(self) -> str:
        """The first line, for the tray's status line and notifications."""
        return self.message.splitlines()[0] if self.message else ""


def next_free_port(host: str, after: int, tries: int = 100) -> int | None:
    """The first port above ``after`` that ``host`` can listen on, or None."""
    for port in range(after + 1, min(after + 1 + tries, 65536)):
        try:
            bind_socket(host, port).close()
        except StartupError:
            continue
        return port
    return None


def describe_failure(exc: BaseException) -> Problem:
    """A start-up exception as one human sentence (and the one-click fix, when there is one)."""
    if isinstance(exc, PortInUse):
        return Problem(
            "port_in_use",
            f"Port {exc.port} on {exc.host} is already in use by another program.",
            free_port=next_free_port(exc.host, exc.port),
        )
    if isinstance(exc, ConfigError):
        return Problem("config", str(exc), config_path=exc.path)
    if isinstance(exc, StartupError | ValueError):
        return Problem("other", str(exc))
    log.error("the server could not start", exc_info=exc)
    return Problem("other", f"The server could not start: {exc}. See the log for details.")


def probe_provider(url: str) -> Problem | None:
    """Warn when no model answers; the server runs either way. Blocking: call off the GUI."""
    root = url.removesuffix("/v1")
    with httpx.Client(timeout=PROBE_TIMEOUT, trust_env=False) as client:
        try:
            health = client.get(f"{root}/api/health").json()
        except (httpx.HTTPError, ValueError):
            return None
        default = health.get("default_model") or {}
        if default.get("source") == "none":
            return Problem(
                "provider",
                "No model is connected: chats answer 503 until config.yaml names one "
                "(or Ollama / LM Studio runs on this computer). Open config to add one.",
            )
        base_url = default.get("base_url")
        if not base_url:
            return None
        try:
            client.get(f"{str(base_url).rstrip('/')}/models")
        except httpx.HTTPError:
            return Problem(
                "provider",
                f"The model provider at {base_url} does not answer; Traymind runs, "
                "but chats fail until it does.",
            )
    return None


class ServerController(QObject):
    """Owns the running ``ServerHandle`` and one ``StatusHub`` that outlives restarts."""

    phase_changed = Signal(str)
    status_changed = Signal()
    problem = Signal(object)  # a Problem: failed start, rejected reload or a warning
    reloaded = Signal()

    def __init__(self, options: ServeOptions, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._options = replace(options)
        self.hub = StatusHub()
        self._bridge = StatusBridge(self.hub)
        self._bridge.changed.connect(self.status_changed)
        self._bridge.changed.connect(self._follow_config_watcher)
        self._config_seen: dict[str, Any] | None = None
        self._jobs = Jobs(serial=True)
        self._probes = Jobs()
        self._handle: ServerHandle | None = None
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

    def keystore(self) -> KeyStore:
        """The running server's key store, else one opened on the same data dir.

        Raises ``KeyringUnavailable`` (a sentence naming the file fallback) or ``ValueError``.
        """
        handle = self.handle
        if handle is not None and handle.state is not None:
            for source in handle.state.authenticator.sources:
                if isinstance(source, KeyStore):
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
        if self._phase not in ("running", "error") or self._handle is None:
            return
        handle = self._handle
        self._set_phase("stopping")
        self._jobs.run(handle.stop, lambda _: self._stopped(handle), self._stop_failed)

    def restart(self, options: ServeOptions | None = None) -> None:
        """Stop (if running) and start again, with new options when given."""
        if options is not None:
            self._options = replace(options)
            if not self.loopback_only:
                self._options.allow_unauthenticated = False
        if self._phase in ("starting", "stopping"):
            self._jobs.run(lambda: None, lambda _: self._launch(self._handle))
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
        if self._handle is not None:
            self._handle.stop()
        self._bridge.close()
        self._phase = "stopped"

    # --- internals ---------------------------------------------------------------------

    def _launch(self, old: ServerHandle | None) -> None:
        export_options(self._options)  # the provider key lookup reads the same data dir
        handle = ServerHandle(replace(self._options), status=self.hub)
        self._handle = handle  # known at once, so a quit during start stops it

        def work() -> None:
            if old is not None:
                old.stop()
            handle.start()

        self.failure = None
        self._set_phase("starting")
        self._jobs.run(work, lambda _: self._started(handle), lambda e: self._failed(handle, e))

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
        elif (
            config.get("message") == "reloaded"
            and self.failure is not None
            and self.failure.kind in ("config", "reload")
        ):
            self.failure = None
            self.reloaded.emit()
        self.status_changed.emit()

    def _check_alive(self) -> None:
        handle = self._handle
        if self._phase == "running" and handle is not None and not handle.running:
            self.failure = Problem("other", "The server stopped unexpectedly; see the log.")
            self._set_phase("error")
            self.problem.emit(self.failure)
