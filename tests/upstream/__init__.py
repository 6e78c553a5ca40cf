"""A real loopback OpenAI-compatible LLM stand-in for tests and benchmarks."""

from .replies import Reply, ToolCall
from .server import Upstream
from .state import RecordedRequest

__all__ = ["RecordedRequest", "Reply", "ToolCall", "Upstream"]
