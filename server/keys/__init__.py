"""Keys: client API keys (salted hashes) and provider API keys, in the OS keyring or a 0600 file.

Why this shape:

* A client key is ``sk-tm-<id>-<secret>``. The short public ``id`` finds the one stored
  hash to check, so verification is a single HMAC and ``hmac.compare_digest``, not a scan.
* The secret part never touches disk: the keyring (service ``traymind``, username =
  key id) holds ``HMAC-SHA256(salt, key)`` and the salt. Keys carry 256 random bits, so
  a fast keyed hash is enough; a slow KDF would only slow every request down.
* Non-secret metadata lives in ``<data_dir>/keys.json`` so listings and the running
  server's reload check need no keyring round trip. A server notices another
  process's create or revoke through a cheap ``stat`` of that file (every 0.5 s).
* No silent fallback: an unusable keyring raises ``KeyringUnavailable``. The file
  store (``keys.secret.json``, mode 0600) is used only when chosen explicitly.
* Provider API keys (the key Traymind sends to OpenAI, Anthropic, ...) are kept as the
  key itself, since it must be sent: keyring service ``traymind-providers``; with the
  file backend, ``provider-keys.json`` (0600, plaintext, only because it was chosen).

Modules: ``backends`` (the choice and its errors), ``keyring_backend`` (the only module
of the project that imports ``keyring``), ``file_backend``, ``files`` (atomic JSON and
the cross-process lock), ``client_keys`` (``KeyStore``), ``provider_keys``.
"""
