"""MCP servers as tool sources: ``mcp_servers`` in config.yaml, served to agents as toolsets.

``McpManager`` (in ``server.mcp.manager``) imports pydantic-ai; import it where the
runtime is built, not at config load.
"""
