"""One verified TLS context for every outgoing HTTP client in the process.

Why: each ``httpx.Client()`` otherwise builds its own ``SSLContext`` and loads the
whole CA bundle into it (about 20 ms), and OpenSSL 3.0 can crash when several
threads load CA bundles at once (the tray's probes, the server's event loop and a
chat window do exactly that). The context is built once, under a lock, and then
only read, which ``ssl`` documents as safe to share between threads.

The CA bundle is certifi's, as httpx uses; ``SSL_CERT_FILE`` or ``SSL_CERT_DIR``
name another one (a company CA), even though our clients ignore proxy variables.
"""

from __future__ import annotations

import os
import ssl
import threading

import certifi

_lock = threading.Lock()
_context: ssl.SSLContext | None = None


def tls_context() -> ssl.SSLContext:
    """The process's shared client context: pass it as httpx's ``verify=``."""
    global _context
    if _context is None:
        with _lock:
            if _context is None:
                _context = _build()
    return _context


def _build() -> ssl.SSLContext:
    cafile = os.environ.get("SSL_CERT_FILE", "").strip()
    capath = os.environ.get("SSL_CERT_DIR", "").strip()
    if cafile:
        return ssl.create_default_context(cafile=cafile)
    if capath:
        return ssl.create_default_context(capath=capath)
    return ssl.create_default_context(cafile=certifi.where())
