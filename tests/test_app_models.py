"""The Models… dialog: test a provider, pick the default model, write config.yaml, reload."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import socket

import openai
import pytest
import yaml

from app.model_setup import PRESETS, ModelSetupError, list_models, with_default_model
from app.settings import Settings
from server.config import parse_config
from server.paths import resource
from tests.upstream import Reply, Upstream

pytest_plugins = ("tests.app_conftest",)
pytestmark = pytest.mark.gui

ENTRY = {"provider": "openai", "id": "llama3.2", "base_url": "http://127.0.0.1:11434/v1"}
WITH_MODELS = """\
# my config
models:
  # the local one
  default:
    provider: openai
    id: old-model
    base_url: http://127.0.0.1:9/v1
  # a second one
  gpt:
    provider: openai
    id: gpt-4o-mini   # cheap
agents:
  general: {}   # keep me
"""


def is_subsequence(small: list[str], big: list[str]) -> bool:
    remaining = iter(big)
    return all(line in remaining for line in small)


def test_adding_a_default_model_keeps_every_line_of_the_bundled_config() -> None:
    text = resource("default-config.yaml").read_text()
    updated = with_default_model(text, ENTRY)
    assert is_subsequence(text.splitlines(), updated.splitlines())
    assert yaml.safe_load(updated)["models"] == {"default": ENTRY}
    parse_config(yaml.safe_load(updated))


def test_replacing_the_default_model_keeps_the_rest() -> None:
    updated = with_default_model(WITH_MODELS, ENTRY)
    doc = yaml.safe_load(updated)
    assert doc["models"]["default"] == ENTRY
    assert doc["models"]["gpt"] == {"provider": "openai", "id": "gpt-4o-mini"}
    for kept in ("# my config", "  # the local one", "  # a second one", "# cheap", "# keep me"):
        assert kept in updated
    assert "old-model" not in updated


def test_a_new_named_model_goes_after_the_others_and_editing_it_keeps_them() -> None:
    added = with_default_model(WITH_MODELS, ENTRY, "local")
    before = WITH_MODELS.split("agents:")[0].splitlines()
    assert added.splitlines()[: len(before)] == before  # every line before it kept, in order
    assert list(yaml.safe_load(added)["models"]) == ["default", "gpt", "local"]
    assert yaml.safe_load(added)["models"]["local"] == ENTRY
    assert "# keep me" in added

    edited = with_default_model(added, {"provider": "openai", "id": "gpt-4.1"}, "gpt")
    doc = yaml.safe_load(edited)["models"]
    assert doc["gpt"] == {"provider": "openai", "id": "gpt-4.1"}
    assert doc["default"]["id"] == "old-model" and doc["local"] == ENTRY
    assert "  # the local one" in edited and "  # a second one" in edited


@pytest.mark.parametrize(
    ("text", "expected_models"),
    [
        ("models:\n  gpt:\n    id: gpt-4o-mini\nagents: {}\n", {"gpt": {"id": "gpt-4o-mini"}}),
        ("models:\nagents: {}\n", {}),
        ("", {}),
    ],
)
def test_a_default_model_is_added_where_there_was_none(text: str, expected_models) -> None:
    doc = yaml.safe_load(with_default_model(text, ENTRY))
    assert doc["models"] == {**expected_models, "default": ENTRY}


def test_flow_style_models_are_left_to_the_user() -> None:
    with pytest.raises(ModelSetupError, match="by hand"):
        with_default_model("models: {a: {id: x}}\n", ENTRY)


def test_listing_explains_an_unreachable_server_and_a_missing_key(tray_env) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ModelSetupError, match="does not answer"):
        list_models("openai", f"http://127.0.0.1:{port}/v1", None)
    with pytest.raises(ModelSetupError, match="TRAYMIND_TEST_NO_SUCH_KEY is not set"):
        list_models("openai", f"http://127.0.0.1:{port}/v1", "TRAYMIND_TEST_NO_SUCH_KEY")


def test_a_404_on_a_url_without_v1_suggests_adding_it(tray_env, upstream: Upstream) -> None:
    root = upstream.base_url.removesuffix("/v1")
    with pytest.raises(ModelSetupError) as problem:
        list_models("openai", root, None)
    assert f"try {root}/v1 as the base URL" in str(problem.value)
    assert list_models("openai", upstream.base_url, None) == upstream.models
    with pytest.raises(ModelSetupError) as elsewhere:  # a 404 under /v1 gets no such hint
        list_models("openai", f"{root}/nothing/v1", None)
    assert str(elsewhere.value) == f"{root}/nothing/v1/models answered HTTP 404."


def test_models_dialog_connects_the_default_model_live(make_app, qtbot, upstream: Upstream) -> None:
    harness = make_app(
        "# my agents\nagents:\n  general: {}  # the helper\n",
        settings=Settings(allow_unauthenticated=True),
    )
    controller = harness.app.controller
    qtbot.waitUntil(lambda: controller.warning is not None)
    assert controller.warning.kind == "provider"
    window = harness.app.status_window
    window.refresh()
    assert window.models_button.isVisible()  # offered when no model answers

    harness.menu_action("Models…").trigger()
    dialog = harness.app.models_dialog
    other = next(i for i, p in enumerate(PRESETS) if p.name.startswith("Other"))
    dialog.preset.setCurrentIndex(other)
    dialog.base_url.setText(upstream.base_url)
    upstream.models = ["small-model", "large-model"]
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.models.count() == 2)
    assert "Connected: 2 model(s)" in dialog.message.text()
    dialog.models.setCurrentRow(1)
    with qtbot.waitSignal(controller.reloaded, timeout=5000):
        dialog.save_button.click()
    text = harness.config_path.read_text()
    assert "# my agents" in text and "# the helper" in text
    assert yaml.safe_load(text)["models"]["default"] == {
        "provider": "openai",
        "id": "large-model",
        "base_url": upstream.base_url,
    }
    qtbot.waitUntil(lambda: controller.warning is None)

    upstream.script(Reply.text("from the large model"))
    client = openai.OpenAI(base_url=harness.url, api_key="unused", max_retries=0, timeout=20)
    reply = client.chat.completions.create(
        model="general", messages=[{"role": "user", "content": "Hi"}]
    )
    assert reply.choices[0].message.content == "from the large model"
    assert upstream.chat_requests[-1].body["model"] == "large-model"
