"""The Models… dialog: pick a named model, its provider, test it, choose its model id, save.

``default`` is what every agent answers with unless it names another model; "New
model…" adds another name (agents pick it in Agents…).

Listing models and saving run in the background (a provider may be slow or far
away); saving writes config.yaml through ``model_setup`` and reloads it live. A typed
API key goes to the OS keyring (or the chosen 0600 file fallback) under the model's
name; config.yaml only gets ``api_key_keyring: <name>``.

It opens on what config.yaml saved (provider, URL, model). A stored key is never
shown: the key field says one is stored, and left blank it keeps that key, for the
same provider at the same URL only (it is never sent anywhere else). The notes under
the model list change as you type; above it nothing moves, so a click lands on the
model you aimed at.
"""

from __future__ import annotations

from PySide6.QtGui import QShowEvent
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
    DEFAULT_MODEL,
    MODEL_NAME,
    PRESETS,
    Preset,
    SavedModel,
    default_entry,
    key_name,
    list_models,
    model_names,
    preset_index,
    save_default_model,
    saved_default,
)
from app.server_controller import Problem, ServerController
from server.keys.backends import KeyringUnavailable, choose_backend
from server.keys.provider_keys import check_provider_keyring, get_provider_key

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
KEY_PLACEHOLDER = "kept in the OS keyring, never in config.yaml"
FILE_PLACEHOLDER = "kept in the key file in the data folder (0600), never in config.yaml"
KEPT_PLACEHOLDER = "a key is stored for this provider; leave blank to keep it"
KEPT_NOTE = (
    "A key is stored for this provider (it is never shown): leave the field blank to keep "
    "it, or type a new one to replace it."
)
FORGOT_NOTE = " The key stored for the previous provider was removed: nothing uses it now."
NEW_MODEL = "New model…"
BAD_NAME = (
    "Give the new model a name: letters, digits, '.', '_' or '-', starting with a letter or "
    "digit (for example fast or local)."
)


class ModelsDialog(QDialog):
    """One provider at a time: its URL, the variable holding its key, and its models."""

    def __init__(self, controller: ServerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._jobs = Jobs()
        self.saved: SavedModel | None = None
        self.name = DEFAULT_MODEL  # the model being edited: models.<name>
        self._saving: str | None = None  # the model id saved, until its reload is done
        self._forgot = ""
        self.setWindowTitle("Traymind models")
        self.setWindowIcon(app_icon())
        self.resize(560, 460)
        self.intro = QLabel(
            "Agents answer with the model named “default” unless they name another one "
            "(Agents…). Choose a provider, test the connection, pick one of its models and "
            "save: config.yaml is updated (its comments kept) and reloaded at once."
        )
        self.intro.setWordWrap(True)
        self.model_name = QComboBox()
        self.model_name.currentIndexChanged.connect(self._name_chosen)
        self.new_name = QLineEdit()
        self.new_name.setPlaceholderText("name of the new model, e.g. fast or local")
        self.new_name.textChanged.connect(self._new_name_typed)
        self.new_name.hide()
        self.preset = QComboBox()
        for preset in PRESETS:
            self.preset.addItem(preset.name)
        self.preset.currentIndexChanged.connect(self._preset_changed)
        self.base_url = QLineEdit()
        self.base_url.textChanged.connect(self._update_note)
        self.base_url.textEdited.connect(self._url_edited)
        self.key_env = QLineEdit()
        self.key_env.setPlaceholderText("no key needed")
        self.key_env.textChanged.connect(self._update_note)
        self.api_key = QLineEdit()
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key.setPlaceholderText(KEY_PLACEHOLDER)
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
        names = QHBoxLayout()
        names.addWidget(self.model_name, 1)
        names.addWidget(self.new_name, 1)
        form.addRow("Model:", names)
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
        layout.addWidget(self.models, 1)
        layout.addWidget(self.key_note)  # below the list: its changes never move the list
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self._preset_changed(0)
        self.load_names()
        self.load_saved()
        controller.reloaded.connect(self._reload_done)
        controller.phase_changed.connect(self._phase_changed)
        controller.problem.connect(self._reload_problem)
        backend = controller.options.keystore
        self._jobs.run(lambda: check_provider_keyring(backend), None, self._keyring_failed)

    @property
    def busy(self) -> bool:
        return self._jobs.busy

    def current_preset(self) -> Preset:
        return PRESETS[self.preset.currentIndex()]

    # --- what config.yaml saved --------------------------------------------------------

    def load_names(self) -> None:
        """The named models config.yaml holds (``default`` always), then "New model…"."""
        names = model_names(self.controller.config_path())
        names = [DEFAULT_MODEL, *(n for n in names if n != DEFAULT_MODEL)]
        if self.name not in names and not self.new_name.isVisible():
            self.name = DEFAULT_MODEL
        self.model_name.blockSignals(True)
        self.model_name.clear()
        self.model_name.addItems([*names, NEW_MODEL])
        adding = self.new_name.isVisibleTo(self)
        self.model_name.setCurrentIndex(len(names) if adding else names.index(self.name))
        self.model_name.blockSignals(False)

    def _name_chosen(self, index: int) -> None:
        adding = self.model_name.itemText(index) == NEW_MODEL
        self.new_name.setVisible(adding)
        if adding:
            self.name = ""
            self.new_name.clear()
            self.new_name.setFocus()
        else:
            self.name = self.model_name.itemText(index)
        self.load_saved()

    def _url_edited(self, _text: str) -> None:
        """A listed model belongs to the URL it was listed from: a new URL is tested again."""
        if self.models.count():
            self.models.clear()
            self.message.setText("The URL changed: test the connection again, then choose.")

    def _url_problem(self) -> str | None:
        url = self.base_url.text().strip()
        if self.current_preset().provider != "openai" or not url:
            return None
        if not url.lower().startswith(("http://", "https://")):
            return f"The base URL must start with http:// or https:// (http://{url}?)."
        return None

    def _new_name_typed(self, text: str) -> None:
        self.name = text.strip()
        self._update_save_label()

    def _update_save_label(self) -> None:
        if self.name == DEFAULT_MODEL:
            self.save_button.setText("Save as default model")
        else:
            self.save_button.setText(f"Save model “{self.name}”" if self.name else "Save model")

    def load_saved(self) -> None:
        """Show the provider, URL and model config.yaml names (kept as is when it names none)."""
        saved = saved_default(self.controller.config_path(), self.name) if self.name else None
        self.saved = saved
        self._update_save_label()
        if saved is None:
            if self.name != DEFAULT_MODEL:  # a new name, or one the file lost: start afresh
                self.preset.setCurrentIndex(0)
                self._preset_changed(0)
            self._update_note()
            return
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(preset_index(saved))
        self.preset.blockSignals(False)
        preset = self.current_preset()
        self.base_url.setText(saved.base_url or preset.base_url or "")
        self.base_url.setEnabled(preset.provider == "openai")
        self.key_env.setText(saved.api_key_env or "")
        self.api_key.clear()
        self.models.clear()
        self.models.addItem(saved.id)
        self.models.setCurrentRow(0)
        self.message.setText(
            f"Saved: {self._uses()} {saved.id}. Test the connection to list the "
            "provider's other models."
        )
        self._update_note()

    def kept_key_name(self) -> str | None:
        """The stored key a blank key field keeps: the saved one, for the same provider only."""
        saved = self.saved
        if saved is None or not saved.api_key_keyring:
            return None  # (an unusable keyring keeps the name all the same: blank means keep)
        url = self.base_url.text().strip() or None
        return (
            saved.api_key_keyring if saved.same_place(self.current_preset().provider, url) else None
        )

    def _uses(self) -> str:
        """How the saved model is used, for the messages."""
        if self.name == DEFAULT_MODEL:
            return "agents answer with"
        return f"“{self.name}” is"

    def showEvent(self, event: QShowEvent) -> None:
        if not self.busy:
            self.load_names()
            self.load_saved()  # reopened: what the file says now, not what was typed before
        super().showEvent(event)

    # --- the form ----------------------------------------------------------------------

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
        kept = self.kept_key_name() is not None
        self.api_key.setPlaceholderText(KEPT_PLACEHOLDER if kept else self._key_placeholder())
        if not self.keyring_usable:
            text = NO_KEYRING
        elif self._key():
            text = STORED_NOTE
        elif kept:
            text = KEPT_NOTE
        else:
            text = KEY_NOTE.format(env=env) if env else ""
        self.key_note.setText(text)
        self.key_note.setVisible(bool(text))

    def _key_placeholder(self) -> str:
        try:
            in_file = choose_backend(self.controller.options.keystore) == "file"
        except ValueError:
            in_file = False
        return FILE_PLACEHOLDER if in_file else KEY_PLACEHOLDER

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

    def _env(self) -> str | None:
        return self.key_env.text().strip() or None

    def _key(self) -> str | None:
        return (self.api_key.text().strip() or None) if self.keyring_usable else None

    # --- testing -----------------------------------------------------------------------

    def test_connection(self) -> None:
        problem = self._url_problem()
        if problem:
            self.message.setText(problem)
            return
        preset, url, env = self.current_preset(), self.base_url.text().strip(), self._env()
        key, kept = self._key(), self.kept_key_name()
        backend, data_dir = self.controller.options.keystore, self.controller.data_dir()
        self._update_note()
        self.message.setText("Asking the provider for its models…")
        self.models.clear()

        def work() -> list[str]:
            return list_models(preset.provider, url, env, key or stored_key(kept))

        def stored_key(name: str | None) -> str | None:
            try:
                return get_provider_key(name, backend, data_dir) if name else None
            except KeyringUnavailable:
                return None  # tested without it: the provider says whether it needs one

        self._jobs.run(work, self._listed, self._failed)

    def _listed(self, ids: list[str]) -> None:
        self.models.addItems(ids)
        if ids:
            saved = self.saved.id if self.saved is not None else None
            self.models.setCurrentRow(ids.index(saved) if saved in ids else 0)
            self.message.setText(f"Connected: {len(ids)} model(s). Choose one and save.")
        else:
            self.message.setText("Connected, but the provider lists no models.")

    def _failed(self, error: BaseException) -> None:
        self._saving = None
        if isinstance(error, KeyringUnavailable):
            self._set_keyring_unusable()
            self.message.setText("Not saved: " + NO_KEYRING)
            return
        self.message.setText(str(error))

    # --- saving ------------------------------------------------------------------------

    def save(self) -> None:
        item = self.models.currentItem()
        if item is None:
            self.message.setText("Test the connection and choose a model first.")
            return
        model = self.name
        if not MODEL_NAME.fullmatch(model):
            self.message.setText(BAD_NAME)
            return
        taken = {n.lower(): n for n in [DEFAULT_MODEL, *model_names(self.controller.config_path())]}
        if self.new_name.isVisible() and model.lower() in taken:
            self.message.setText(
                f"A model named “{taken[model.lower()]}” exists already: choose it above."
            )
            return
        problem = self._url_problem()
        if problem:
            self.message.setText(problem)
            return
        url = self.base_url.text().strip() or None
        key = self._key()
        name = key_name(model) if key else self.kept_key_name()
        provider = self.current_preset().provider
        entry = default_entry(provider, url, item.text(), self._env(), name)
        path = self.controller.config_path()
        backend, data_dir = self.controller.options.keystore, self.controller.data_dir()
        self._jobs.run(
            lambda: save_default_model(path, entry, key, backend, data_dir, model),
            lambda forgot: self._saved(entry["id"], forgot),
            self._failed,
        )

    def _saved(self, model_id: str, forgot_key: bool) -> None:
        self.api_key.clear()
        if self.new_name.isVisible():  # the new name is one of the models now
            self.new_name.hide()
        self.load_names()
        self.saved = saved_default(self.controller.config_path(), self.name)
        self._saving = model_id
        self._forgot = FORGOT_NOTE if forgot_key else ""
        self.message.setText("Saved to config.yaml; reloading…")
        self._update_note()
        self.controller.reload_config()

    def _reload_done(self) -> None:
        """The reload after a save finished: say so (the reloading line must not stay)."""
        if self._saving is not None:
            uses = "agents now answer with" if self.name == DEFAULT_MODEL else self._uses()
            done = f"Saved and reloaded: {uses} {self._saving}."
            if self.name != DEFAULT_MODEL:
                done += " Choose it for an agent in Agents…"
            self.message.setText(done + self._forgot)
            self._saving = None

    def _phase_changed(self, phase: str) -> None:
        if phase == "running":  # saved while stopped: reloading started the server
            self._reload_done()

    def _reload_problem(self, problem: Problem) -> None:
        if self._saving is None or problem.kind == "provider":  # a warning, not a failure
            return
        self._saving = None
        if problem.kind in ("config", "reload"):
            self.message.setText(f"Saved to config.yaml, but it did not load: {problem.headline}")
        else:
            self.message.setText(
                f"Saved to config.yaml; the server did not start: {problem.headline}"
            )
