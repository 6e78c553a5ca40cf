"""Built-in tools agents can use, one module each, listed in ``registry``.

Nothing here imports pydantic-ai until tools are built, so validating a config
stays fast.
"""

from server.tools.ref import ToolRef
from server.tools.registry import (
    TOOL_NAMES,
    TOOLS,
    BuiltinTool,
    build_tools,
    validate_tool_options,
)

__all__ = [
    "TOOLS",
    "TOOL_NAMES",
    "BuiltinTool",
    "ToolRef",
    "build_tools",
    "validate_tool_options",
]
