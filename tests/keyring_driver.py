"""Drive the key store against a real Secret Service inside ONE D-Bus session.

Each ``dbus-run-session`` starts a fresh, empty keyring, so the steps that must share a
keyring (CLI create, in-process match, revoke from another process) run here, in order,
and the results are printed as one JSON object for ``tests/test_keystore.py`` to check.

Usage: ``python tests/keyring_driver.py DATA_DIR`` (run under dbus-run-session with
gnome-keyring-daemon unlocked; HOME pointing at a throwaway folder).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keyring  # noqa: E402  (reading the raw entry is the point of this driver)

from server.keys.client_keys import KeyStore  # noqa: E402
from server.keys.keyring_backend import SERVICE  # noqa: E402
from server.security.auth import key_namespace  # noqa: E402


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m server.cli keys ...`` in its own process, same D-Bus session."""
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "keys", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def wait_for(predicate: Any, limit: float = 5.0) -> float | None:
    """Seconds until ``predicate()`` is true, or None after ``limit`` seconds."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def files_containing(root: Path, needles: list[str]) -> list[str]:
    """Every file under ``root`` whose bytes contain one of ``needles``."""
    raw = [n.encode() for n in needles]
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if any(n in data for n in raw):
                found.append(str(path))
    return found


def main(data_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["backend_class"] = type(keyring.get_keyring()).__module__
    dd = str(data_dir)

    created = cli("create", "--label", "alpha", "--data-dir", dd)
    key = created.stdout.strip()
    out["create"] = {"rc": created.returncode, "stdout_lines": len(created.stdout.splitlines())}
    out["create"]["stderr"] = created.stderr.replace(key, "<KEY>") if key else created.stderr
    out["key_shape_ok"] = key.startswith("sk-tm-") and len(key) == 62

    listed = cli("list", TRAYMIND_DATA_DIR=dd)  # the data dir from the environment
    out["list"] = {
        "rc": listed.returncode,
        "stdout": listed.stdout.replace(key, "<KEY>"),
        "key_in_output": key in listed.stdout + listed.stderr,
    }

    store = KeyStore.open(data_dir)
    out["store_name"] = store.name
    out["describe"] = store.describe_backend()
    found = store.match(key)
    out["match"] = found and {
        "source": found.source,
        "key_id": found.key_id,
        "namespace_ok": found.namespace == key_namespace(key),
    }
    out["wrong_secret_match"] = store.match(key[:-1] + ("A" if key[-1] != "A" else "B")) is not None

    key_id = key.split("-")[2]
    stored = keyring.get_password(SERVICE, key_id) or ""
    out["keyring_entry"] = {
        "present": bool(stored),
        "is_hash": stored.startswith("hmac-sha256$"),
        "contains_key": key in stored or key.split("-", 3)[3] in stored,
    }

    second = cli("create", "--label", "beta", "--data-dir", dd)
    key2 = second.stdout.strip()
    out["second_create_rc"] = second.returncode
    out["new_key_seen_after"] = wait_for(lambda: store.match(key2) is not None)

    dup = cli("create", "--label", "alpha", "--data-dir", dd)
    out["duplicate"] = {"rc": dup.returncode, "stdout": dup.stdout}

    store.touch("alpha")
    store.flush()
    out["last_used_recorded"] = next(i.last_used for i in store.list() if i.label == "alpha")

    revoked = cli("revoke", "alpha", "--data-dir", dd)
    out["revoke_rc"] = revoked.returncode
    out["revoke_seen_after"] = wait_for(lambda: store.match(key) is None)
    out["other_key_still_matches"] = store.match(key2) is not None
    out["keyring_entry_after_revoke"] = keyring.get_password(SERVICE, key_id) is not None
    out["revoke_again_rc"] = cli("revoke", "alpha", "--data-dir", dd).returncode
    out["labels_after"] = [i.label for i in store.list()]

    home = Path(os.environ["HOME"])
    out["plaintext_files"] = files_containing(home, [key, key2]) + files_containing(
        data_dir, [key, key2]
    )
    out["keys_json_has_key"] = key in (data_dir / "keys.json").read_text()
    out["secret_file_exists"] = (data_dir / "keys.secret.json").exists()
    return out


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
