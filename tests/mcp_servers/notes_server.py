"""A small MCP server for the tests, built on the ``mcp`` SDK's ``MCPServer`` (ex-FastMCP).

``python tests/mcp_servers/notes_server.py stdio`` serves over stdin/stdout;
``... http`` binds a free loopback port, prints ``PORT <n>`` and serves
streamable HTTP at ``/mcp``. Tools: ``add``, ``shout``, ``whoami`` (the
process id, to prove reuse), ``calculator`` (clashes with the built-in one),
``crash`` (the process exits at once), ``fail`` (a tool error), ``header``
(an HTTP request header, to check configured headers). With ``NOTES_PID_FILE`` set,
the process writes its id there first; ``NOTES_STARTS_LOG`` gets a line per start, and
``NOTES_START_DELAY`` (seconds) makes it start slowly, as an ``npx`` server does.
"""

from __future__ import annotations

import os
import socket
import sys

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("notes")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def shout(text: str) -> str:
    """Return the text in capitals."""
    return text.upper()


@server.tool()
def whoami() -> str:
    """The server's process id."""
    return str(os.getpid())


@server.tool()
def calculator(expression: str) -> str:
    """A tool whose name clashes with Traymind's built-in calculator."""
    return "from the MCP server"


@server.tool()
def crash() -> str:
    """Exit the server process at once."""
    os._exit(3)


@server.tool()
def fail() -> str:
    """Always fails."""
    raise ValueError("this tool always fails")


@server.tool()
def header(name: str, ctx: Context) -> str:
    """The value of an HTTP request header ('' over stdio)."""
    request = getattr(ctx.request_context, "request", None)
    headers = getattr(request, "headers", None)
    return headers.get(name, "") if headers is not None else ""


def serve_http() -> None:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    app = server.streamable_http_app()
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    if os.environ.get("NOTES_STARTS_LOG"):
        with open(os.environ["NOTES_STARTS_LOG"], "a") as starts:
            starts.write(f"{os.getpid()}\n")
    if os.environ.get("NOTES_START_DELAY"):
        import time

        time.sleep(float(os.environ["NOTES_START_DELAY"]))
    if os.environ.get("NOTES_PID_FILE"):
        with open(os.environ["NOTES_PID_FILE"], "w") as pid_file:
            pid_file.write(str(os.getpid()))
    if sys.argv[1:] == ["http"]:
        serve_http()
    else:
        server.run("stdio")
