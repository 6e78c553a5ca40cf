"""Traymind's desktop app: the Qt tray around the server in ``server/``."""
