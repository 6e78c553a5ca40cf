"""The Linux installers, built and smoke-tested (slow: `make test-slow`).

The .deb is unpacked into a scratch root with ``dpkg -x`` rather than installed with
``dpkg -i``: CI runs on a developer's machine that later sessions get back, and a real
install would leave /opt/traymind and /usr/bin/traymind behind. What ``dpkg -i`` would
check beyond the files, that every dependency resolves, ``apt-get -s install`` checks
without installing. Then the installed bundle runs ``traymind serve`` against the
loopback LLM stand-in, and the tray app offscreen; the figures go to docs/packaging.md.
"""

from __future__ import annotations

import os
import queue
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest

from tests.harness import agent_config, write_config
from tests.upstream import Reply, Upstream
from tools import build

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1800),  # a first build makes a virtualenv and runs PyInstaller
    pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs Debian's dpkg-deb"),
]

KEY = build.CLIENT_KEY
INSTALLED = build.INSTALL_DIR.lstrip("/")
DEBIAN_MIRROR = "http://deb.debian.org/debian"


@pytest.fixture(scope="module")
def artifacts() -> build.Artifacts:
    """The bundle, .deb and .tar.gz of the current sources (a fresh build is reused)."""
    return build.build(force=False)


@pytest.fixture(scope="module")
def root(artifacts: build.Artifacts, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch root the .deb is unpacked into."""
    assert artifacts.deb is not None
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg", "-x", str(artifacts.deb), str(root)], check=True)
    return root


def exe(root: Path) -> Path:
    return root / INSTALLED / "traymind"


def bundle_processes(root: Path) -> list[int]:
    """Pids of live processes running an executable from the scratch root."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.readlink(entry / "exe").startswith(str(root)):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def wait_serving(proc: subprocess.Popen[str], timeout: float = 30) -> str:
    """The base URL from ``Traymind serving http://...``, printed once the server serves."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()  # type: ignore[union-attr]
    line = lines.get(timeout=timeout)
    stderr = proc.stderr.read() if proc.stderr and proc.poll() is not None else ""
    assert line.startswith("Traymind serving "), (line, stderr)
    return line.split()[-1]


def wait_healthy(proc: subprocess.Popen[str], port: int, timeout: float = 30) -> None:
    """Until the tray app's server answers /api/health (the tray prints no line)."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"the tray app's server did not answer in {timeout} s"
        time.sleep(0.05)


def test_deb_declares_the_package_and_installs_the_menu_entry(artifacts: build.Artifacts) -> None:
    assert artifacts.deb is not None
    assert artifacts.deb.name == f"traymind_{build.version()}_{build.deb_arch()}.deb"
    fields = subprocess.run(
        ["dpkg-deb", "-f", str(artifacts.deb), "Package", "Version", "Architecture", "Depends"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert f"Package: traymind\nVersion: {build.version()}\n" in fields
    for library in (
        "libgl1",
        "libegl1",
        "libfontconfig1",
        "libxkbcommon0",
        "libdbus-1-3",
        "libxcb-cursor0",
        "libglib2.0-0",
    ):
        assert library in fields
    listing = subprocess.run(
        ["dpkg-deb", "-c", str(artifacts.deb)], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    owners = {line.split()[1] for line in listing}
    assert owners == {"root/root"}
    names = {line.split()[5] for line in listing}
    assert {
        "./opt/traymind/traymind",
        "./usr/share/applications/traymind.desktop",
        "./usr/share/icons/hicolor/scalable/apps/traymind.svg",
        "./usr/share/icons/hicolor/256x256/apps/traymind.png",
    } <= names
    assert any(line.endswith("./usr/bin/traymind -> /opt/traymind/traymind") for line in listing)


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get")
def test_every_dependency_resolves_on_this_debian(artifacts: build.Artifacts) -> None:
    assert artifacts.deb is not None
    result = subprocess.run(
        ["apt-get", "install", "--simulate", "--no-install-recommends", str(artifacts.deb)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Inst traymind " in result.stdout


def test_desktop_entry_launches_the_linked_command(root: Path) -> None:
    entry = (root / "usr/share/applications/traymind.desktop").read_text()
    assert "\nExec=traymind\n" in entry and "\nIcon=traymind\n" in entry
    assert os.readlink(root / "usr/bin/traymind") == "/opt/traymind/traymind"


def test_serve_from_the_installed_bundle_answers_the_openai_sdk(root: Path, tmp_path: Path) -> None:
    with Upstream() as up:
        up.default = Reply.text("Hello from the stand-in.")
        config = write_config(tmp_path, agent_config(up.base_url))
        proc = subprocess.Popen(
            [
                str(exe(root)),
                "serve",
                "--port",
                "0",
                "--data-dir",
                str(tmp_path / "data"),
                "--config",
                str(config),
            ],
            env=build.serve_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            url = wait_serving(proc)
            health = httpx.get(url.removesuffix("/v1") + "/api/health", timeout=10).json()
            assert health == {
                "status": "ok",
                "version": build.version(),
                "agents": 1,
                "auth": "keys from environment",
                "default_model": {"id": "test-model", "base_url": up.base_url, "source": "config"},
            }
            sdk = openai.OpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=30)
            assert [m.id for m in sdk.models.list()] == ["auto", "general"]
            answer = sdk.chat.completions.create(
                model="general", messages=[{"role": "user", "content": "Hi"}]
            )
            assert answer.choices[0].message.content == "Hello from the stand-in."
            assert len(up.chat_requests) == 1
        finally:
            code = build.stop(proc)
        assert code == 0, proc.stderr.read() if proc.stderr else ""


def test_a_symlink_to_the_executable_runs_the_bundle(root: Path, tmp_path: Path) -> None:
    """/usr/bin/traymind is a link: the bundle must find its files through one."""
    link = tmp_path / "traymind"
    link.symlink_to(exe(root))
    config = write_config(tmp_path, agent_config(None))
    result = subprocess.run(
        [str(link), "check-config", str(config)],
        env=build.serve_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{config}: OK (1 agents: general)\n"


@pytest.mark.keyring
@pytest.mark.skipif(
    not (shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")),
    reason="needs dbus-run-session and gnome-keyring",
)
def test_the_bundle_finds_the_secret_service_keyring_backend(root: Path, tmp_path: Path) -> None:
    """keyring finds its backends through entry points: the bundle must carry them."""
    script = (
        "echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; "
        '"$0" keys create --label ci --keystore keyring --data-dir "$1" >/dev/null && '
        'exec "$0" keys list --keystore keyring --data-dir "$1"'
    )
    result = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", script, str(exe(root)), str(tmp_path / "data")],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == [
        "LABEL", "CREATED", "LAST", "USED", "FINGERPRINT", "BACKEND", "OWNER",
    ]  # fmt: skip
    assert row.split()[0] == "ci" and row.split()[-1] == "keyring"


def test_tray_app_from_the_bundle_serves_and_quits_on_sigterm(root: Path, tmp_path: Path) -> None:
    port = build.free_port()
    config = write_config(tmp_path, agent_config(None))
    env = {**build.serve_env(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen(
        [
            str(exe(root)),
            "--port",
            str(port),
            "--config",
            str(config),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_healthy(proc, port)
        models = httpx.get(
            f"http://127.0.0.1:{port}/v1/models",
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=10,
        )
        assert [m["id"] for m in models.json()["data"]] == ["auto", "general"]
    finally:
        code = build.stop(proc)
    stderr = proc.stderr.read() if proc.stderr else ""
    assert code == 0, stderr
    assert bundle_processes(root) == []
    if (build.ROOT / "app" / "main.py").exists():  # the tray, not the headless fallback
        assert "headless" not in stderr, stderr
        assert "tray app starting" in (tmp_path / "logs" / "traymind.log").read_text()


@contextmanager
def fresh_debian(where: Path) -> Iterator[Path]:
    """A minimal Debian of this machine's release (debootstrap), /proc mounted, then removed."""
    release = dict(
        line.split("=", 1)
        for line in Path("/etc/os-release").read_text().splitlines()
        if "=" in line
    )
    root = where / "debian"
    subprocess.run(
        ["debootstrap", "--variant=minbase", release["VERSION_CODENAME"], str(root), DEBIAN_MIRROR],
        check=True,
        capture_output=True,
        timeout=600,
    )
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    try:
        yield root
    finally:
        subprocess.run(["umount", "--lazy", str(root / "proc")], check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("debootstrap") is None,
    reason="needs root and debootstrap (a fresh Debian in a chroot)",
)
def test_a_fresh_debian_installs_the_deb_and_runs_traymind(
    artifacts: build.Artifacts, tmp_path: Path
) -> None:
    """What a user does: apt installs the .deb and what it depends on, `traymind` runs."""
    assert artifacts.deb is not None
    with fresh_debian(tmp_path) as debian:
        shutil.copy(artifacts.deb, debian / "tmp")
        install = f"apt-get update -qq && apt-get install -y -qq /tmp/{artifacts.deb.name}"
        result = subprocess.run(
            ["chroot", str(debian), "sh", "-c", install],
            capture_output=True,
            text=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            timeout=900,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        (debian / "tmp/home").mkdir()
        write_config(debian / "tmp/home", agent_config(None))
        inside = [
            "chroot",
            str(debian),
            "env",
            "-i",
            "HOME=/tmp/home",
            "PATH=/usr/bin:/bin",
            "TRAYMIND_DETECT_URLS=",
            "TRAYMIND_KEYSTORE=file",
            f"OPENAI_COMPAT_API_KEYS={KEY}",
        ]
        serve = subprocess.Popen(
            [*inside, "traymind", "serve", "--port", "0", "--config", "/tmp/home/config.yaml"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            url = wait_serving(serve)
            sdk = openai.OpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=30)
            assert [m.id for m in sdk.models.list()] == ["auto", "general"]
        finally:
            code = build.stop(serve)
        assert code == 0, serve.stderr.read() if serve.stderr else ""
        port = build.free_port()
        tray = subprocess.Popen(  # as the menu entry starts it, but on a free port
            [*inside, "QT_QPA_PLATFORM=offscreen", "traymind", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_healthy(tray, port)
        finally:
            code = build.stop(tray)
        assert code == 0, tray.stderr.read() if tray.stderr else ""
        assert "tray app starting" in next(debian.glob("tmp/home/**/traymind.log")).read_text()
        # the first run wrote the default config from the bundle's resources/
        written = debian / "tmp/home/.config/traymind/config.yaml"
        assert written.read_text() == (build.ROOT / "resources/default-config.yaml").read_text()


def test_figures_reach_their_targets_and_are_documented(
    artifacts: build.Artifacts, tmp_path: Path
) -> None:
    figures = build.report(artifacts, tmp_path)
    assert figures.bundle_bytes < 250e6
    assert figures.deb_bytes < 100e6
    assert statistics.median(figures.serve_starts) < 1.5, figures.serve_starts
    assert statistics.median(figures.tray_starts) < 1.5, figures.tray_starts
    doc = build.DOC.read_text()
    assert f"{statistics.median(figures.serve_starts):.2f} s" in doc
    for name in (
        "build.spec",
        "packaging/linux/control.in",
        "packaging/windows/traymind.iss",
        "packaging/macos/make-dmg.sh",
        ".github/workflows/installers.yml",
    ):
        assert (build.ROOT / name).exists() and name in doc, name
