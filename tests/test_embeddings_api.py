"""``POST /v1/embeddings``: a chat app's RAG embeds through Traymind's own provider."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.harness import agent_config, client, http, running_server
from tests.openapi_validation import validate
from tests.upstream import Upstream

KEY = "sk-embeddings"
ENV = {"OPENAI_COMPAT_API_KEYS": KEY}
AUTH = {"Authorization": f"Bearer {KEY}"}


def with_embeddings(upstream: Upstream) -> dict[str, object]:
    config = agent_config(upstream.base_url)
    config["models"]["embedder"] = {  # type: ignore[index]
        "provider": "openai",
        "id": "embed-model",
        "base_url": upstream.base_url,
    }
    config["embeddings"] = {"model": "embedder"}
    return config


def embedding_requests(upstream: Upstream) -> list[dict]:
    return [r.body for r in upstream.requests if r.path == "/v1/embeddings"]


def test_the_sdk_gets_one_vector_per_input_from_the_embeddings_model(
    tmp_path: Path, upstream: Upstream
) -> None:
    with running_server(tmp_path, with_embeddings(upstream), env=ENV) as handle:
        answer = client(handle, KEY).embeddings.create(
            model="text-embedding-3-small", input=["first passage", "second passage"]
        )
    assert answer.model == "text-embedding-3-small"
    assert [d.index for d in answer.data] == [0, 1]
    assert len(answer.data[0].embedding) == len(answer.data[1].embedding) > 0
    assert answer.data[0].embedding != answer.data[1].embedding
    (sent,) = embedding_requests(upstream)
    assert sent["model"] == "embed-model"  # Traymind's model, not the client's name
    assert sent["input"] == ["first passage", "second passage"]
    assert sent["encoding_format"] == "base64"  # the SDK's default, passed through


def test_without_an_embeddings_model_the_default_model_serves(
    tmp_path: Path, upstream: Upstream
) -> None:
    with (
        running_server(tmp_path, agent_config(upstream.base_url), env=ENV) as handle,
        http(handle) as h,
    ):
        response = h.post(
            "/v1/embeddings", json={"model": "any", "input": "one text"}, headers=AUTH
        )
    assert response.status_code == 200
    body = response.json()
    validate("CreateEmbeddingResponse", body)
    assert body["model"] == "any" and len(body["data"]) == 1
    assert embedding_requests(upstream)[0]["model"] == "test-model"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "x"}, "model"),
        ({"model": "m"}, "input"),
        ({"model": "m", "input": []}, "input"),
        ({"model": "m", "input": [{"text": "x"}]}, "input"),
    ],
    ids=["no-model", "no-input", "empty", "not-text"],
)
def test_malformed_requests_are_400(tmp_path: Path, upstream: Upstream, body, param) -> None:
    with running_server(tmp_path, with_embeddings(upstream), env=ENV) as handle, http(handle) as h:
        response = h.post("/v1/embeddings", json=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert embedding_requests(upstream) == []


def test_a_key_is_required_and_provider_failures_are_gateway_errors(tmp_path: Path) -> None:
    dead = "http://127.0.0.1:9/v1"  # nothing listens on the discard port
    config = agent_config(dead)
    with running_server(tmp_path, config, env=ENV) as handle:
        with http(handle) as h:
            refused = h.post("/v1/embeddings", json={"model": "m", "input": "x"})
            failed = h.post("/v1/embeddings", json={"model": "m", "input": "x"}, headers=AUTH)
        with pytest.raises(openai.APIStatusError) as raised:
            client(handle, KEY).embeddings.create(model="m", input="x")
    assert refused.status_code == 401
    assert failed.status_code == 502
    error = failed.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "cannot be reached" in error["message"] and dead in error["message"]
    assert error["message"].startswith("The embeddings relay could not get an answer")
    assert raised.value.status_code == 502
