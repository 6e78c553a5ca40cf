"""Write the part of OpenAI's OpenAPI document that the tests validate against into the repo.

The whole document (``../shared/openai-openapi.yaml``, 3 MB) lives outside the
repository; a test that needs a file outside it is a test a newcomer never runs.
This keeps the named schemas and every schema they reference, unchanged:

    python -m tools.openapi_subset ../shared/openai-openapi.yaml
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

OUTPUT = (
    Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "openai-openapi-subset.json"
)
ROOTS = (
    "ListModelsResponse",
    "Model",
    "CreateChatCompletionRequest",
    "CreateChatCompletionResponse",
    "CreateChatCompletionStreamResponse",
    "CompletionUsage",
    "CreateEmbeddingResponse",
    "ErrorResponse",
    "Response",
    "ResponseStreamEvent",
)
PREFIX = "#/components/schemas/"


def references(node: Any) -> set[str]:
    """Names of the component schemas ``node`` refers to with ``$ref``."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith(PREFIX):
                found.add(ref.removeprefix(PREFIX))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def subset(document: dict[str, Any], roots: tuple[str, ...] = ROOTS) -> dict[str, Any]:
    schemas = document["components"]["schemas"]
    keep: dict[str, Any] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in keep:
            continue
        keep[name] = schemas[name]
        pending.extend(references(schemas[name]) - keep.keys())
    return {
        "openapi": document["openapi"],
        "info": {**document["info"], "x-subset-of": "openai/openai-openapi", "x-roots": roots},
        "components": {"schemas": dict(sorted(keep.items()))},
    }


def main(argv: list[str]) -> int:
    source = Path(argv[0] if argv else "../shared/openai-openapi.yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with source.open("rb") as handle:
        document = yaml.load(handle, Loader=loader)
    result = subset(document)
    OUTPUT.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{len(result['components']['schemas'])} schemas written to {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
