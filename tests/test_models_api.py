"""``GET /v1/models`` and ``GET /v1/models/{id}``."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.harness import client, http, running_server
from tests.openapi_validation import requires_spec, validate

CONFIG = {
    "agents": {
        "general": {"display_name": "GeneralAgent", "role": "General-purpose assistant"},
        "code": {"display_name": "CodeAgent"},
        "secret": {"worker_scope": "user"},
        "mine": {"private": {"per": "user"}},
    },
    "teams": {
        "super_team": {
            "display_name": "Super Team",
            "role": "Engineers",
            "agents": ["general", "code"],
        },
        "hidden_team": {"agents": ["general", "secret"]},
    },
}
KEY = "sk-test-models"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with running_server(
        tmp_path_factory.mktemp("models"), CONFIG, env={"OPENAI_COMPAT_API_KEYS": KEY}
    ) as handle:
        yield handle


def test_list_orders_auto_agents_then_teams_and_hides_private_ones(server) -> None:
    with http(server) as h:
        response = h.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200
    body = response.json()
    created = body["data"][0]["created"]
    assert body == {
        "object": "list",
        "data": [
            {
                "id": "auto",
                "object": "model",
                "created": created,
                "owned_by": "traymind",
                "name": "Auto",
                "description": "Picks the best agent for each message.",
            },
            {
                "id": "general",
                "object": "model",
                "created": created,
                "owned_by": "traymind",
                "name": "GeneralAgent",
                "description": "General-purpose assistant",
            },
            {
                "id": "code",
                "object": "model",
                "created": created,
                "owned_by": "traymind",
                "name": "CodeAgent",
                "description": None,
            },
            {
                "id": "team/super_team",
                "object": "model",
                "created": created,
                "owned_by": "traymind",
                "name": "Super Team",
                "description": "Engineers",
            },
        ],
    }


@requires_spec
def test_list_matches_the_openai_schema(server) -> None:
    with http(server) as h:
        body = h.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"}).json()
    validate("ListModelsResponse", body)
    for entry in body["data"]:
        validate("Model", entry)


def test_sdk_lists_and_retrieves_models_including_team_ids_with_a_slash(server) -> None:
    sdk = client(server, KEY)
    assert [m.id for m in sdk.models.list()] == ["auto", "general", "code", "team/super_team"]
    assert sdk.models.retrieve("team/super_team").id == "team/super_team"
    assert sdk.models.retrieve("general").owned_by == "traymind"


@pytest.mark.parametrize("model_id", ["nope", "secret", "team/hidden_team", "team/nope"])
def test_unknown_and_hidden_models_are_404_in_openai_shape(server, model_id: str) -> None:
    with http(server) as h:
        response = h.get(f"/v1/models/{model_id}", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": f"The model '{model_id}' does not exist.",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }


def test_sdk_raises_not_found(server) -> None:
    with pytest.raises(openai.NotFoundError):
        client(server, KEY).models.retrieve("nope")


def test_no_auto_when_no_agent_is_listed(tmp_path: Path) -> None:
    config = {"agents": {"secret": {"worker_scope": "user_agent"}}}
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": KEY}) as handle:
        assert client(handle, KEY).models.list().data == []
