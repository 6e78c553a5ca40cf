"""Traymind's headless server: the OpenAI-compatible API and the agent runtime.

Nothing in this package imports Qt; the tray app in ``app/`` drives it through
``server.runner.ServerHandle``.
"""
