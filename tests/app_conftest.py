"""Fixtures for the tray app's tests: a real TraymindApp around a real embedded server.

Load with ``pytest_plugins = ("tests.app_conftest",)`` from a ``tests/test_app_*.py``
module. Qt runs offscreen; the app gets temporary folders for its settings file,
autostart entry and logs through its constructor, and records what it would have
opened in the desktop's programs instead of launching them.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication

from app.application import TraymindApp
from app.autostart import Autostart
from app.settings import Settings, SettingsFile
from app.single_instance import SingleInstance, instance_name
from server.paths import resolve_data_dir
from server.providers.tls import tls_context
from server.runner import ServeOptions
from tests.harness import BASE_ENV, agent_config, environment, write_config

START_TIMEOUT_MS = 10_000


def server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "traymind-server" and t.is_alive()]


@dataclass
class Harness:
    """One running app and the folders it was given."""

    app: TraymindApp
    root: Path
    config_path: Path
    settings_file: SettingsFile
    autostart: Autostart
    opened: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        url = self.app.controller.url
        assert url is not None, f"not running: {self.app.controller.phase}"
        return url

    def menu_action(self, text: str) -> QAction:
        """The menu as it is when opened now (aboutToShow rebuilds it), and one action of it."""
        self.app.menu.menu.aboutToShow.emit()
        action = self.app.menu.action(text)
        assert action is not None, [a.text() for a in self.app.menu.menu.actions()]
        return action

    def menu_texts(self) -> list[str]:
        self.app.menu.menu.aboutToShow.emit()
        return [a.text() for a in self.app.menu.menu.actions() if a.text()]

    @staticmethod
    def server_threads() -> list[threading.Thread]:
        return server_threads()

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url.removesuffix("/v1"), timeout=10, trust_env=False, verify=tls_context()
        )


@pytest.fixture
def tray_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The tests' environment (file key store, no model probing, logs in tmp) for the test."""
    values = {**BASE_ENV, "TRAYMIND_LOG_DIR": str(tmp_path / "logs"), "TRAYMIND_CONFIG": ""}
    with environment(values):
        yield values


AppFactory = Callable[..., Harness]


@pytest.fixture
def make_app(qtbot, qapp: QApplication, tmp_path: Path, tray_env) -> Iterator[AppFactory]:
    """Build and start apps; every one is quit at the end, leaving no server thread.

    ``options`` replace fields of the default ``ServeOptions`` (the test's config, a
    free port, a temporary data dir), as the command line would.
    """
    made: list[Harness] = []
    stack = ExitStack()

    def build(
        config: Mapping[str, object] | str | None = None,
        *,
        options: Mapping[str, object] | None = None,
        settings: Settings | None = None,
        env: Mapping[str, str] | None = None,
        wait: bool = True,
    ) -> Harness:
        root = tmp_path / f"app{len(made)}"
        root.mkdir()
        config_path = write_config(root, agent_config(None) if config is None else config)
        settings_file = SettingsFile(root / "settings.json")
        if settings is not None:
            settings_file.save(settings)
        autostart = Autostart(root / "autostart")
        opened: list[Path] = []
        if env:
            stack.enter_context(environment(env))

        def opener(path: Path) -> bool:
            opened.append(path)
            return True

        serve_options = replace(
            ServeOptions(config=str(config_path), port=0, data_dir=str(root / "data")),
            **(options or {}),
        )
        instance = SingleInstance(instance_name(resolve_data_dir(serve_options.data_dir)))
        assert instance.claim()
        app = TraymindApp(
            qapp,
            serve_options,
            settings_file=settings_file,
            autostart=autostart,
            opener=opener,
            instance=instance,
        )
        harness = Harness(app, root, config_path, settings_file, autostart, opened)
        made.append(harness)
        app.start()
        if wait:
            qtbot.waitUntil(
                lambda: app.controller.phase in ("running", "error"), timeout=START_TIMEOUT_MS
            )
        return harness

    yield build
    for harness in made:
        harness.app.quit()
    stack.close()
    assert server_threads() == []
