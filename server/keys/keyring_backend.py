"""Secrets in the OS keyring. The only module of the project that imports ``keyring``."""

from __future__ import annotations

from typing import Any

from server.keys.backends import KeyringUnavailable

SERVICE = "traymind"


def _keyring_problem(kr: Any) -> str | None:
    """Why the active keyring backend cannot keep secrets, or None when it can."""
    from keyring.backends import chainer, fail, null

    if isinstance(kr, fail.Keyring):
        return "no keyring backend is available (no Secret Service, Keychain or Credential Manager)"
    if isinstance(kr, null.Keyring):
        return "the configured keyring backend is the null backend, which stores nothing"
    if isinstance(kr, chainer.ChainerBackend) and not kr.backends:
        return "the keyring chainer has no viable backend"
    return None


_BACKEND_NAMES = {
    "keyring.backends.SecretService": "Secret Service (OS keyring)",
    "keyring.backends.libsecret": "Secret Service via libsecret (OS keyring)",
    "keyring.backends.kwallet": "KWallet (OS keyring)",
    "keyring.backends.macOS": "macOS Keychain (OS keyring)",
    "keyring.backends.Windows": "Windows Credential Manager (OS keyring)",
}


class KeyringSecrets:
    """Hash records in the OS keyring: service ``traymind``, username = key id.

    ``service`` and ``item`` let provider keys (service ``traymind-providers``) reuse it.
    """

    def __init__(self, service: str = SERVICE, item: str = "key hash") -> None:
        self._kr: Any = None
        self.service = service
        self.item = item

    def backend(self) -> Any:
        if self._kr is None:
            import keyring

            self._kr = keyring.get_keyring()
        return self._kr

    def check(self) -> None:
        """Raise ``KeyringUnavailable`` unless the keyring answers a harmless read."""
        kr = self.backend()
        problem = _keyring_problem(kr)
        if problem:
            raise KeyringUnavailable.because(problem)
        self.get("__traymind_probe__")

    def _call(self, what: str, fn: Any, *args: str) -> Any:
        kr = self.backend()
        problem = _keyring_problem(kr)
        if problem:
            raise KeyringUnavailable.because(problem)
        try:
            return fn(self.service, *args)
        except Exception as exc:  # backends raise their own types (D-Bus, OS errors...)
            raise KeyringUnavailable.because(
                f"{what} failed in {self.describe()}: {type(exc).__name__}: {exc}"
            ) from None

    def get(self, key_id: str) -> str | None:
        return self._call(f"reading a {self.item}", self.backend().get_password, key_id)

    def set(self, key_id: str, record: str) -> None:
        self._call(f"storing a {self.item}", self.backend().set_password, key_id, record)

    def delete(self, key_id: str) -> None:
        from keyring.errors import PasswordDeleteError

        try:
            self.backend().delete_password(self.service, key_id)
        except PasswordDeleteError:
            return  # already gone
        except Exception as exc:
            raise KeyringUnavailable.because(
                f"deleting a {self.item} failed in {self.describe()}: {type(exc).__name__}: {exc}"
            ) from None

    def describe(self) -> str:
        kr = self.backend()
        if _keyring_problem(kr):
            return "no usable OS keyring"
        return _BACKEND_NAMES.get(type(kr).__module__, f"{kr.name} (keyring backend)")
