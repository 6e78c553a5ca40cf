"""The request body ``POST /v1/chat/completions`` documents in our own OpenAPI document.

Routes parse the raw body themselves (to accept a BOM, to answer 400 in OpenAI's
shape, to ignore what clients add), so this schema only documents what is read;
the schemathesis fuzz tests generate bodies from it, valid and invalid.
"""

from __future__ import annotations

from typing import Any

CONTENT_PART: dict[str, Any] = {
    "type": "object",
    "properties": {"type": {"type": "string"}, "text": {"type": "string"}},
    "required": ["type"],
}

MESSAGE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "role": {
            "type": "string",
            "enum": ["system", "developer", "user", "assistant", "tool", "function"],
        },
        "content": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": CONTENT_PART},
                {"type": "null"},
            ]
        },
    },
    "required": ["role"],
}

CHAT_COMPLETION_REQUEST: dict[str, Any] = {
    "type": "object",
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "messages": {"type": "array", "items": MESSAGE, "minItems": 1},
        "stream": {"type": "boolean"},
        "stream_options": {
            "type": "object",
            "properties": {"include_usage": {"type": "boolean"}},
        },
    },
    "required": ["model", "messages"],
}

ERROR_RESPONSE: dict[str, Any] = {
    "description": "An error in OpenAI's shape",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {
                            "message": {"type": "string"},
                            "type": {"type": "string"},
                            "param": {"type": ["string", "null"]},
                            "code": {"type": ["string", "null"]},
                        },
                        "required": ["message", "type", "param", "code"],
                    }
                },
                "required": ["error"],
            }
        }
    },
}

CHAT_COMPLETIONS_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": CHAT_COMPLETION_REQUEST}},
    },
    "responses": {
        "200": {"description": "A chat completion, or an SSE stream of chunks"},
        **{
            code: ERROR_RESPONSE
            for code in ("400", "401", "404", "413", "429", "502", "503", "504")
        },
    },
}

MODELS_OPENAPI: dict[str, Any] = {
    "responses": {code: ERROR_RESPONSE for code in ("401", "404", "429")},
}
