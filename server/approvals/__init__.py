"""Tool approvals: side-effect tool calls wait until the person at the desktop decides.

``policy`` says which calls ask (config.yaml's ``approval`` settings and their
defaults), ``broker`` holds the pending requests and their decisions, shared by
every route that can decide (the tray, ``/api/approvals``, the terminal), and
``toolset`` makes an agent's tool calls wait for the broker.
"""
