"""Pydantic's validation errors, rewritten as config problems people can act on.

Pydantic says "Extra inputs are not permitted" at a location; we say which key
is unknown and which one was probably meant. Error inputs are never read, so a
secret pasted into the wrong key cannot leak into a message.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from server.config.errors import ConfigProblem, did_you_mean, join_path
from server.config.schema import Config

_PHRASES = {
    "missing": "required key is missing",
    "dict_type": "must be a mapping (key: value pairs)",
    "list_type": "must be a list",
    "string_type": "must be text",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
}


def problems_from(exc: ValidationError, root: type[BaseModel] = Config) -> list[ConfigProblem]:
    """One problem per pydantic error, with dotted key paths and did-you-mean hints."""
    problems: list[ConfigProblem] = []
    for error in exc.errors(include_url=False, include_input=False):
        context: dict[str, Any] = error.get("ctx") or {}
        loc = list(error["loc"])
        if error["type"] == "config_references":
            problems.extend(context["problems"])
            continue
        if error["type"] == "config_key":
            loc.extend(context["key"].split("."))
            message = context["message"]
        elif error["type"] == "extra_forbidden":
            message = _unknown_key(root, loc)
        elif error["type"] == "too_short" and context.get("min_length") == 1:
            message = "must not be empty"
        else:
            message = _PHRASES.get(error["type"]) or _plain(error["msg"])
        problems.append(ConfigProblem(join_path(loc), message))
    return problems


def _plain(message: str) -> str:
    """Pydantic's wording, shortened: "Value error, x" -> "x"; "Input should be" -> "must be"."""
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if message.startswith("Input should be "):
        message = "must be " + message.removeprefix("Input should be ")
    return message


def _unknown_key(root: type[BaseModel], loc: list[int | str]) -> str:
    key = str(loc[-1])
    section = _model_at(root, loc[:-1])
    if section is None:
        return "unknown key"
    known = list(section.model_fields)
    hint = did_you_mean(key, known)
    return f"unknown key{hint}" if hint else f"unknown key (expected one of: {', '.join(known)})"


def _model_at(root: type[BaseModel], loc: list[int | str]) -> type[BaseModel] | None:
    """The section model found at ``loc`` by walking field types (dicts, lists, optionals)."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) in (dict, list):
            current = typing.get_args(current)[-1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` as ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation
