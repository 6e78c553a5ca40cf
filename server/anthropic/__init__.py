"""The Anthropic Messages API (``POST /v1/messages``), for Claude Code and the ``anthropic`` SDK.

``request`` turns a Messages body into the same ``ChatTurn`` chat completions use (client
tools and attachments included); ``encoding`` writes the message object and its SSE
events; ``routes`` is the thin router. Errors on these paths take Anthropic's shape.
"""
