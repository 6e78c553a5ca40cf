"""The client key store: a real Secret Service, the no-keyring error, the file fallback.

Keyring tests start their own D-Bus session and gnome-keyring (see
``tests/keyring_driver.py``); everything else runs the CLI in subprocesses so that the
environment (``PYTHON_KEYRING_BACKEND``, ``TRAYMIND_KEYSTORE``) is real, not patched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from server.keys.client_keys import KeyStore  # noqa: E402
from server.security.auth import key_namespace  # noqa: E402

KEY_RE = re.compile(r"sk-tm-[0-9a-f]{12}-[A-Za-z0-9_-]{43}")


def base_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment: no D-Bus session, HOME and XDG dirs in a temporary folder."""
    runtime = home / "run"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "share"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_RUNTIME_DIR": str(runtime),
        "PYTHONPATH": str(ROOT),
        "LANG": "C.UTF-8",
    }
    env.update(extra)
    return env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "keys", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def plaintext_files(root: Path, key: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and key.encode() in p.read_bytes()]


# --- a real Secret Service -------------------------------------------------------------

MISSING = [t for t in ("dbus-run-session", "gnome-keyring-daemon") if not shutil.which(t)]


@pytest.fixture(scope="module")
def driven(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run ``keyring_driver.py`` once inside a fresh D-Bus session with gnome-keyring."""
    if MISSING:
        pytest.skip(f"{' and '.join(MISSING)} not installed (apt-get install gnome-keyring dbus)")
    home = tmp_path_factory.mktemp("keyring-home")
    data_dir = home / "data"
    driver = ROOT / "tests" / "keyring_driver.py"
    inner = (
        "echo -n traymind-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null;"
        ' exec "$0" "$1" "$2"'
    )
    proc = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", inner, sys.executable, str(driver), str(data_dir)],
        cwd=ROOT,
        env=base_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.keyring
def test_keyring_backend_is_secret_service(driven: dict[str, Any]) -> None:
    assert driven["backend_class"] == "keyring.backends.SecretService"
    assert driven["store_name"] == "keyring"
    assert driven["describe"] == "Secret Service (OS keyring)"


@pytest.mark.keyring
def test_keyring_cli_create_prints_only_the_key(driven: dict[str, Any]) -> None:
    assert driven["create"]["rc"] == 0, driven["create"]["stderr"]
    assert driven["create"]["stdout_lines"] == 1
    assert driven["key_shape_ok"]
    assert "Secret Service" in driven["create"]["stderr"]
    assert driven["second_create_rc"] == 0
    assert driven["duplicate"]["rc"] == 1 and driven["duplicate"]["stdout"] == ""


@pytest.mark.keyring
def test_keyring_list_shows_metadata_never_the_key(driven: dict[str, Any]) -> None:
    listed = driven["list"]
    assert listed["rc"] == 0
    assert not listed["key_in_output"]
    header, row = listed["stdout"].splitlines()[:2]
    assert header.split() == [
        "LABEL", "CREATED", "LAST", "USED", "FINGERPRINT", "BACKEND", "OWNER",
    ]  # fmt: skip
    assert row.startswith("alpha ") and row.endswith("keyring")


@pytest.mark.keyring
def test_keyring_holds_a_hash_and_matches_in_process(driven: dict[str, Any]) -> None:
    assert driven["keyring_entry"] == {"present": True, "is_hash": True, "contains_key": False}
    assert driven["match"] == {"source": "keyring", "key_id": "alpha", "namespace_ok": True}
    assert driven["wrong_secret_match"] is False
    assert driven["last_used_recorded"]


@pytest.mark.keyring
def test_keyring_other_process_changes_are_honoured_within_two_seconds(
    driven: dict[str, Any],
) -> None:
    assert driven["new_key_seen_after"] is not None and driven["new_key_seen_after"] < 2.0
    assert driven["revoke_rc"] == 0
    assert driven["revoke_seen_after"] is not None and driven["revoke_seen_after"] < 2.0
    assert driven["other_key_still_matches"]
    assert driven["keyring_entry_after_revoke"] is False
    assert driven["revoke_again_rc"] == 1
    assert driven["labels_after"] == ["beta"]


@pytest.mark.keyring
def test_keyring_key_never_stored_in_plaintext(driven: dict[str, Any]) -> None:
    assert driven["plaintext_files"] == []
    assert driven["keys_json_has_key"] is False
    assert driven["secret_file_exists"] is False


# --- no usable keyring -----------------------------------------------------------------


@pytest.mark.parametrize(
    "backend", ["keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"]
)
@pytest.mark.parametrize("action", [["create", "--label", "x"], ["list"], ["revoke", "x"]])
def test_no_keyring_is_a_plain_error_naming_the_fallback(
    tmp_path: Path, backend: str, action: list[str]
) -> None:
    data_dir = tmp_path / "data"
    env = base_env(tmp_path / "home", PYTHON_KEYRING_BACKEND=backend)
    proc = run_cli(env, *action, "--data-dir", str(data_dir))
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "--keystore file" in lines[0] and "TRAYMIND_KEYSTORE=file" in lines[0]
    assert "not the OS keyring" in lines[0]
    assert not data_dir.exists()  # nothing was written anywhere instead


def test_no_dbus_session_means_no_keyring(tmp_path: Path) -> None:
    proc = run_cli(base_env(tmp_path / "home"), "list", "--data-dir", str(tmp_path / "d"))
    assert proc.returncode == 2, proc.stderr
    assert "--keystore file" in proc.stderr


# --- the explicit file fallback --------------------------------------------------------


def test_file_fallback_end_to_end_via_cli(tmp_path: Path) -> None:
    home, data_dir = tmp_path / "home", tmp_path / "data"
    env = base_env(home, TRAYMIND_KEYSTORE="file", TRAYMIND_DATA_DIR=str(data_dir))

    created = run_cli(env, "create", "--label", "laptop")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert created.stdout == key + "\n" and KEY_RE.fullmatch(key)
    assert "not the OS keyring" in created.stderr and key not in created.stderr

    listed = run_cli(env, "list")
    assert listed.returncode == 0 and key not in listed.stdout
    assert listed.stdout.splitlines()[1].split()[0] == "laptop"
    assert listed.stdout.splitlines()[1].endswith("file")

    store = KeyStore.open(data_dir, "file")
    found = store.match(key)
    assert found is not None and found.source == "file" and found.key_id == "laptop"
    assert found.namespace == key_namespace(key)

    for name in ("keys.json", "keys.secret.json"):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600
    assert plaintext_files(tmp_path, key) == []

    assert run_cli(env, "revoke", "laptop").returncode == 0
    assert _within(lambda: store.match(key) is None, 2.0)
    assert run_cli(env, "list").stdout == ""
    assert run_cli(env, "revoke", "laptop").returncode == 1


def test_file_store_in_process(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, "file")
    assert not store.has_keys()
    info, key = store.create("desk")
    assert KEY_RE.fullmatch(key)
    assert (info.label, info.source, info.last_used) == ("desk", "file", None)
    assert info.id in key and info.fingerprint not in (key, "")
    assert store.has_keys() and [i.label for i in store.list()] == ["desk"]
    assert store.describe_backend().endswith("(not the OS keyring)")

    other_info, other = store.create("phone")
    m1, m2 = store.match(key), store.match(other)
    assert m1 and m2 and m1.key_id == "desk" and m2.key_id == "phone"
    assert m1.namespace != m2.namespace

    with pytest.raises(ValueError, match="already exists"):
        store.create("desk")
    with pytest.raises(KeyError) as absent:
        store.revoke(key)  # a key given by mistake is never echoed back
    assert key not in str(absent.value)
    with pytest.raises(ValueError):
        store.create("sk-looks-like-a-key")

    assert store.revoke(other_info.id).label == "phone"  # by id works too
    assert store.match(other) is None and store.match(key) is not None
    assert plaintext_files(tmp_path, key) == [] and plaintext_files(tmp_path, other) == []


def test_near_misses_never_match(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, "file")
    _, key = store.create("k")
    prefix, secret = key[:19], key[19:]
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    misses = [
        prefix + flipped,  # same id, wrong secret
        prefix + secret[::-1],
        "sk-tm-000000000000-" + secret,  # unknown id
        "",
        "sk-",
        key + "\n",
        " " + key,
        key.upper(),
        key + "x" * 100_000,
        "x" * 1_000_000,
        key[:-1] + "é",  # non-ASCII, same length
        key[:-2] + "\udcff" + "a",  # lone surrogate
        "Bearer " + key,
    ]
    for presented in misses:
        assert store.match(presented) is None
    assert store.match(key) is not None


def test_cross_process_create_and_revoke_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = base_env(tmp_path / "home")
    store = KeyStore(data_dir, "file")
    assert not store.has_keys()  # before the file exists

    made = run_cli(
        env, "create", "--label", "ci", "--data-dir", str(data_dir), "--keystore", "file"
    )
    key = made.stdout.strip()
    assert _within(lambda: store.match(key) is not None, 2.0)
    assert store.has_keys()

    gone = run_cli(env, "revoke", "ci", "--data-dir", str(data_dir), "--keystore", "file")
    assert gone.returncode == 0
    assert _within(lambda: store.match(key) is None, 2.0)
    assert _within(lambda: not store.has_keys(), 2.0)


def _within(predicate: Any, limit: float) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_touch_writes_at_most_once_a_minute(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, "file")
    store.create("k")
    meta = tmp_path / "keys.json"
    store.touch("k")
    store.flush()
    first = json.loads(meta.read_text())["keys"][0]["last_used"]
    assert first
    before = meta.stat().st_ino, meta.stat().st_mtime_ns
    time.sleep(1.1)
    store.touch("k")  # within the minute: kept in memory only
    time.sleep(0.2)
    assert (meta.stat().st_ino, meta.stat().st_mtime_ns) == before
    assert store.list()[0].last_used > first  # but visible in-process
    store.flush()
    assert json.loads(meta.read_text())["keys"][0]["last_used"] > first
    store.touch("no-such-key")  # ignored


def test_constructor_is_inert_and_backends_are_checked(tmp_path: Path) -> None:
    KeyStore(tmp_path / "nowhere", "keyring")
    KeyStore(tmp_path / "nowhere", "file")
    assert not (tmp_path / "nowhere").exists()
    with pytest.raises(ValueError):
        KeyStore(tmp_path, "plaintext")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        KeyStore.open(tmp_path, "plaintext")


def test_invalid_env_choice_is_an_error(tmp_path: Path) -> None:
    env = base_env(tmp_path / "home", TRAYMIND_KEYSTORE="plaintext")
    proc = run_cli(env, "list", "--data-dir", str(tmp_path / "d"))
    assert proc.returncode == 1 and "TRAYMIND_KEYSTORE" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_only_keystore_imports_keyring() -> None:
    importers = [
        str(p.relative_to(ROOT))
        for top in ("server", "app")
        for p in (ROOT / top).rglob("*.py")
        if re.search(r"^\s*(import keyring|from keyring)", p.read_text(), re.MULTILINE)
    ]
    assert importers == ["server/keys/keyring_backend.py"]
