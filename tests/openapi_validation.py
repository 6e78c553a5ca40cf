"""Validate our wire bodies against the official OpenAI OpenAPI spec.

The whole spec lives outside the repo (`../shared/openai-openapi.yaml`, or `$OPENAI_OPENAPI_SPEC`);
when it is absent, the schemas we validate against and all they reference come from
`tests/fixtures/openai-openapi-subset.json` (written by `python -m tools.openapi_subset`), so
these tests always run.

The spec is OpenAPI 3.1, validated as JSON Schema 2020-12, after three adjustments:

1. OpenAPI 3.0 leftovers: `nullable: true` (111 schemas) becomes `anyOf: [schema, {type: null}]`,
   and the boolean `exclusiveMinimum: true` + `minimum` pairs become numeric `exclusiveMinimum`.
2. Required fields real servers omit are relaxed, each below with the reason (`_RELAXED`).
3. Nothing else. Decisions on the remaining required fields of the schemas we serve:
   - `CreateChatCompletionResponse`: id, object, created, model, choices stay required (we send
     them all); `usage` is optional in the spec and we send it anyway.
   - `ChatCompletionResponseMessage`: `role` and `content` stay required; `content` is nullable,
     so a tool-call-only message must say `"content": null` rather than omit it.
   - `CreateChatCompletionStreamResponse`: id, object, created, model, choices stay required;
     each choice requires `delta`, `index` and `finish_reason` (nullable), so every chunk must
     carry `"finish_reason": null` until the last; `choices: []` is valid for the usage chunk.
   - `ListModelsResponse` / `Model`: object, data / id, object, created, owned_by stay required.
     `Model` does not forbid additional properties, so our extra `name` and `description`
     fields are valid.
   - `ErrorResponse` / `Error`: `message`, `type`, `param` and `code` stay required (`param`
     and `code` nullable): every error we send must carry them, as OpenAI's own errors do.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing
import yaml
from jsonschema.exceptions import ValidationError
from referencing.jsonschema import DRAFT202012

SPEC_URI = "urn:openai:openapi"
REPO_ROOT = Path(__file__).resolve().parent.parent

# (schema, pointer to a `required` list inside it, field, why we relax it)
_RELAXED: list[tuple[str, tuple[str, ...], str, str]] = [
    (
        "CreateChatCompletionStreamResponse",
        ("properties", "choices", "items"),
        "logprobs",
        "stream choices never carry logprobs here (required there by some versions of the "
        "spec); a null on every chunk would only cost bytes on the hot path",
    ),
]


def _find_spec() -> Path | None:
    candidates = [
        os.environ.get("OPENAI_OPENAPI_SPEC"),
        REPO_ROOT.parent / "shared/openai-openapi.yaml",
        REPO_ROOT / "tests/fixtures/openai-openapi-subset.json",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


SPEC_PATH: Path | None = _find_spec()


def spec_available() -> bool:
    """True when the OpenAI OpenAPI spec file was found."""
    return SPEC_PATH is not None


requires_spec = pytest.mark.skipif(
    not spec_available(),
    reason="OpenAI OpenAPI spec not found at ../shared/openai-openapi.yaml "
    "(set OPENAI_OPENAPI_SPEC)",
)


def validate(schema_name: str, instance: Any) -> None:
    """Assert that `instance` is valid against `#/components/schemas/<schema_name>`."""
    schemas = _document()["components"]["schemas"]
    if schema_name not in schemas:
        raise KeyError(f"no schema named {schema_name!r} in {SPEC_PATH}")
    errors = sorted(_validator(schema_name).iter_errors(instance), key=lambda e: list(e.path))
    if errors:
        raise AssertionError(_report(schema_name, instance, errors))


@functools.cache
def _document() -> dict[str, Any]:
    if SPEC_PATH is None:
        pytest.skip("OpenAI OpenAPI spec not available")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open("rb") as handle:
        document = (
            json.load(handle) if SPEC_PATH.suffix == ".json" else yaml.load(handle, Loader=loader)
        )
    _relax(document["components"]["schemas"])
    _upgrade_openapi30(document["components"])
    return document


@functools.cache
def _registry() -> referencing.Registry:
    resource = DRAFT202012.create_resource(_document())
    return referencing.Registry().with_resource(SPEC_URI, resource)


@functools.cache
def _validator(schema_name: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def _upgrade_openapi30(node: Any) -> None:
    """Rewrite OpenAPI 3.0 keywords, in place, into their JSON Schema 2020-12 meaning."""
    if isinstance(node, list):
        for item in node:
            _upgrade_openapi30(item)
        return
    if not isinstance(node, dict):
        return
    for value in node.values():
        _upgrade_openapi30(value)
    for keyword, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        flag = node.get(keyword)
        if isinstance(flag, bool):  # 3.0: a flag on `minimum`; 3.1: the bound itself
            del node[keyword]
            if flag and bound in node:
                node[keyword] = node.pop(bound)
    if node.pop("nullable", False) is True:
        original = dict(node)
        node.clear()
        node["anyOf"] = [original, {"type": "null"}]


def _relax(schemas: dict[str, Any]) -> None:
    """Drop the `_RELAXED` fields from their `required` lists (pointers into the spec as is)."""
    for schema_name, pointer, field, _why in _RELAXED:
        target = schemas.get(schema_name, {})
        for key in pointer:
            target = target.get(key, {})
        required = target.get("required", [])
        if field in required:
            required.remove(field)


def _report(schema_name: str, instance: Any, errors: list[ValidationError]) -> str:
    lines = [f"{len(errors)} error(s) validating against {schema_name}:"]
    for error in errors:
        line = f"  at {error.json_path}: {_short(error.message)}"
        for branch in error.context[:6]:  # why each anyOf/oneOf branch failed
            line += f"\n      - branch at {branch.json_path}: {_short(branch.message)}"
        lines.append(line)
    lines.append("instance: " + _short(json.dumps(instance, default=repr), 2000))
    return "\n".join(lines)


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
