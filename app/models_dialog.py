"""The Models… dialog: pick a provider, test it, choose the ``default`` model, save.

Listing models and saving run in the background (a provider may be slow or far
away); saving writes config.yaml through ``model_setup`` and reloads it live. A typed
API key goes to the OS keyring (or the chosen 0600 file fallback) under the name
``default``; config.yaml only gets ``api_key_keyring: default``.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.background import Jobs
from app.icons import app_icon
from app.model_setup import (
    KEY_NAME,
    PRESETS,
    Preset,
    default_entry,
    list_models,
    save_default_model,
)
from app.server_controller import ServerController
from server.keys.backends import KeyringUnavailable
from server.keys.provider_keys import check_provider_keyring

KEY_NOTE = (
    "The key itself never goes in config.yaml: set {env} in the environment or in the .env "
    "file beside config.yaml."
)
STORED_NOTE = (
    "The key you typed is kept in the OS keyring (or the key file you chose instead); "
    "config.yaml only names it."
)
NO_KEYRING = (
    "No usable OS keyring, so a key cannot be stored here: name the environment variable "
    "that holds it under Key variable instead."
)


class ModelsDialog(QDialog):
    """One provider at a time: its URL, the variable holding its key, and its models."""

    def __init__(self, controller: ServerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._jobs = Jobs()
        self.setWindowTitle("Traymind models")
        self.setWindowIcon(app_icon())
        self.resize(560, 460)
        self.intro = QLabel(
            "Agents answer with the model named “default”. Choose a provider, test the "
            "connection, pick one of its models and save: config.yaml is updated (its "
            "comments kept) and reloaded at once."
        )
        self.intro.setWordWrap(True)
        self.preset = QComboBox()
        for preset in PRESETS:
            self.preset.addItem(preset.name)
        self.preset.currentIndexChanged.connect(self._preset_changed)
        self.base_url = QLineEdit()
        self.key_env = QLineEdit()
        self.key_env.setPlaceholderText("no key needed")
        self.key_env.textChanged.connect(self._update_note)
        self.api_key = QLineEdit()
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key.setPlaceholderText("kept in the OS keyring, never in config.yaml")
        self.api_key.textChanged.connect(self._update_note)
        self.keyring_usable = True
        self.key_note = QLabel()
        self.key_note.setWordWrap(True)
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.models = QListWidget()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.save_button = QPushButton("Save as default model")
        self.save_button.clicked.connect(self.save)
        form = QFormLayout()
        form.addRow("Provider:", self.preset)
        form.addRow("Base URL:", self.base_url)
        form.addRow("API key:", self.api_key)
        form.addRow("Key variable:", self.key_env)
        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addStretch()
        buttons.addWidget(self.save_button)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.key_note)
        layout.addWidget(self.models, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self._preset_changed(0)
        backend = controller.options.keystore
        self._jobs.run(lambda: check_provider_keyring(backend), None, self._keyring_failed)

    @property
    def busy(self) -> bool:
        return self._jobs.busy

    def current_preset(self) -> Preset:
        return PRESETS[self.preset.currentIndex()]

    def _preset_changed(self, _index: int) -> None:
        preset = self.current_preset()
        self.base_url.setText(preset.base_url or "")
        self.base_url.setEnabled(preset.provider == "openai")
        self.key_env.setText(preset.key_env or "")
        self.models.clear()
        self.message.clear()
        self._update_note()

    def _update_note(self, _text: str = "") -> None:
        env = self.key_env.text().strip()
        if not self.keyring_usable:
            text = NO_KEYRING
        elif self._key():
            text = STORED_NOTE
        else:
            text = KEY_NOTE.format(env=env) if env else ""
        self.key_note.setText(text)
        self.key_note.setVisible(bool(text))

    def _keyring_failed(self, error: BaseException) -> None:
        if isinstance(error, KeyringUnavailable):
            self._set_keyring_unusable()
        else:
            self.message.setText(str(error))

    def _set_keyring_unusable(self) -> None:
        self.keyring_usable = False
        self.api_key.clear()
        self.api_key.setEnabled(False)
        self._update_note()

    def test_connection(self) -> None:
        preset, url, env = self.current_preset(), self.base_url.text().strip(), self._env()
        key = self._key()
        self._update_note()
        self.message.setText("Asking the provider for its models…")
        self.models.clear()
        self._jobs.run(
            lambda: list_models(preset.provider, url, env, key), self._listed, self._failed
        )

    def _env(self) -> str | None:
        return self.key_env.text().strip() or None

    def _key(self) -> str | None:
        return (self.api_key.text().strip() or None) if self.keyring_usable else None

    def _listed(self, ids: list[str]) -> None:
        self.models.addItems(ids)
        if ids:
            self.models.setCurrentRow(0)
            self.message.setText(f"Connected: {len(ids)} model(s). Choose one and save.")
        else:
            self.message.setText("Connected, but the provider lists no models.")

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, KeyringUnavailable):
            self._set_keyring_unusable()
            self.message.setText("Not saved: " + NO_KEYRING)
            return
        self.message.setText(str(error))

    def save(self) -> None:
        item = self.models.currentItem()
        if item is None:
            self.message.setText("Test the connection and choose a model first.")
            return
        url = self.base_url.text().strip() or None
        key = self._key()
        provider = self.current_preset().provider
        entry = default_entry(provider, url, item.text(), self._env(), KEY_NAME if key else None)
        path = self.controller.config_path()
        backend, data_dir = self.controller.options.keystore, self.controller.data_dir()
        self._jobs.run(
            lambda: save_default_model(path, entry, key, backend, data_dir),
            self._saved,
            self._failed,
        )

    def _saved(self, _: object) -> None:
        self.api_key.clear()
        self.message.setText("Saved to config.yaml; reloading…")
        self.controller.reload_config()
