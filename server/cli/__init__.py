"""The headless command line: ``serve``, ``check-config``, ``keys``, ``kb``, ``memory``.

``main`` parses and dispatches; each command lives in its own module.
"""
