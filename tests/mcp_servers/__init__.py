"""MCP servers written for the tests, run as real processes (stdio or streamable HTTP)."""
