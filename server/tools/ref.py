"""``ToolRef``: one entry of an agent's ``tools:`` list, normalized.

It lives apart from the registry so that ``server.config`` can use the type
while the registry stays free of config imports (no import cycle).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

ENTRY_SHAPE = "a tool entry must be a tool name or a one-key mapping {name: {option: value}}"


class ToolRef(BaseModel):
    """A tool name and its options.

    Accepts the YAML forms ``calculator`` and ``{calculator: {option: value}}``,
    and the dumped form ``{name: calculator, options: {...}}`` (so a dumped
    config validates again).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    options: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _coerce(cls, data: object) -> object:
        if isinstance(data, str):
            return {"name": data.strip()}
        if not isinstance(data, dict):
            return data if isinstance(data, ToolRef) else _fail(ENTRY_SHAPE)
        if "name" in data and set(data) <= {"name", "options"}:
            return data
        if len(data) != 1:
            _fail(ENTRY_SHAPE)
        name, options = next(iter(data.items()))
        if not isinstance(name, str):
            _fail(ENTRY_SHAPE)
        if options is None:
            options = {}
        if not isinstance(options, dict):
            _fail(f"the options of tool '{name}' must be a mapping of option names to values")
        return {"name": name.strip(), "options": options}


def _fail(message: str) -> Any:
    raise ValueError(message)
