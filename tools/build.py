"""Build Traymind's installers, and measure them.

    python -m tools.build                # dist/traymind/ (the bundle), the .deb, the .tar.gz
    python -m tools.build --bundle-only  # dist/traymind/ only (Windows and macOS wrap it)
    python -m tools.build --smoke        # start `traymind serve` from dist/traymind/ once
    python -m tools.build --report       # build what is stale, measure, write docs/packaging.md
    ... --in-place                       # bundle this interpreter's packages, not build/venv's

Why a virtualenv of its own (build/venv): PyInstaller bundles whatever the import
graph reaches in the environment it runs in, and a developer's .venv also holds test
tools and packages being tried out, which libraries' optional imports pick up. build/venv
holds only Traymind's runtime dependencies and PyInstaller: the same bundle everywhere.

Only the standard library is imported at module level: any Python 3.11 runs this.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import time
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
WORK = ROOT / "build"
BUNDLE = DIST / "traymind"
ICONS = WORK / "icons"
DOC = ROOT / "docs" / "packaging.md"
INSTALL_DIR = "/opt/traymind"
ICON_SIZES = (16, 32, 48, 64, 128, 256)
# What the bundle is made of: when one is newer than the bundle, it is rebuilt.
INPUTS = ("app", "server", "resources", "packaging", "build.spec", "pyproject.toml")
# The build tools, when pyproject.toml has no `build` extra to say which (Pillow turns
# the PNG icon into Windows' .ico and macOS' .icns).
BUILD_TOOLS = [
    "pyinstaller==6.22.3",
    "pyinstaller-hooks-contrib==2026.9",
    "pillow>=10; sys_platform != 'linux'",
]
FIGURES_START = "<!-- figures: written by `python -m tools.build --report` -->"
FIGURES_END = "<!-- /figures -->"
CLIENT_KEY = "sk-test"
WINDOWS = sys.platform == "win32"


def run(*cmd: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], check=True, text=True, **kwargs)  # type: ignore[call-overload]


def project() -> dict[str, object]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def version() -> str:
    return str(project()["version"])


def deb_arch() -> str:
    return run("dpkg", "--print-architecture", capture_output=True).stdout.strip()


def deb_path() -> Path:
    return DIST / f"traymind_{version()}_{deb_arch()}.deb"


def tarball_path() -> Path:
    return DIST / f"traymind-{version()}-linux-{platform.machine()}.tar.gz"


def executable(bundle: Path = BUNDLE, *, console: bool = False) -> Path:
    """The bundle's program; on Windows ``console`` picks the twin that has a stdout."""
    if WINDOWS:
        return bundle / ("traymind-cli.exe" if console else "traymind.exe")
    return bundle / "traymind"


def newest_input() -> float:
    times = [0.0]
    for name in INPUTS:
        path = ROOT / name
        files = path.rglob("*") if path.is_dir() else [path]
        times += [f.stat().st_mtime for f in files if f.is_file() and "__pycache__" not in f.parts]
    return max(times)


def is_fresh(output: Path, than: float | None = None) -> bool:
    """``output`` exists and is newer than every input (or than ``than``)."""
    return output.exists() and output.stat().st_mtime > (than or newest_input())


def dir_size(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir())


# The bundle


def requirements() -> list[str]:
    """Runtime dependencies, the gui and speed extras, and the build tools (build extra)."""
    meta = project()
    extras: dict[str, list[str]] = meta.get("optional-dependencies", {})  # type: ignore[assignment]
    needed = [*meta["dependencies"], *extras.get("gui", []), *extras.get("speed", [])]  # type: ignore[misc]
    return needed + (extras.get("build") or BUILD_TOOLS)


def build_python() -> Path:
    """build/venv's interpreter, made anew when pyproject.toml changed."""
    venv = WORK / "venv"
    python = venv / ("Scripts/python.exe" if WINDOWS else "bin/python")
    stamp = venv / ".installed"
    if is_fresh(stamp, (ROOT / "pyproject.toml").stat().st_mtime):
        return python
    print(f"build: creating {venv.relative_to(ROOT)}", flush=True)
    run(sys.executable, "-m", "venv", "--clear", venv)
    run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(python, "-m", "pip", "install", "--quiet", *requirements())
    stamp.touch()
    return python


def render_icons(out: Path = ICONS) -> None:
    """PNGs of resources/traymind.svg: the .deb's icons, and the Windows and macOS icons."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication([])
    renderer = QSvgRenderer(str(ROOT / "resources" / "traymind.svg"))
    out.mkdir(parents=True, exist_ok=True)
    for size in ICON_SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        if not image.save(str(out / f"traymind-{size}.png")):
            raise SystemExit(f"build: cannot write {out}/traymind-{size}.png")


def build_bundle(python: Path) -> None:
    """dist/traymind/ from build.spec; PyInstaller's log goes to build/pyinstaller.log."""
    run(python, "-m", "tools.build", "--render-icons", cwd=ROOT)
    log = WORK / "pyinstaller.log"
    print(f"build: bundling with PyInstaller (log: {log.relative_to(ROOT)})", flush=True)
    with log.open("w") as out:
        done = subprocess.run(
            [python, "-m", "PyInstaller", "--noconfirm", "--clean", "--distpath", DIST,
             "--workpath", WORK / "pyinstaller", ROOT / "build.spec"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    if done.returncode:
        sys.stderr.write("".join(log.read_text().splitlines(True)[-30:]))
        raise SystemExit("build: PyInstaller failed")


def built_with() -> str:
    """PyInstaller's and Python's versions, as the last build log states them."""
    log = WORK / "pyinstaller.log"
    found = dict(re.findall(r"INFO: (PyInstaller|Python): ([\w.]+)", log.read_text()))
    return f"PyInstaller {found.get('PyInstaller')}, Python {found.get('Python')}"


# Linux installers


def glibc_floor(bundle: Path) -> str:
    """The newest GLIBC_x.y symbol version that a bundled binary needs."""
    elves = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()]
    elves = [p for p in elves if ".so" in p.name or p == executable(bundle)]
    dump = run("objdump", "-T", *elves, capture_output=True).stdout
    found = {tuple(map(int, m)) for m in re.findall(r"GLIBC_(\d+)\.(\d+)", dump)}
    return "{}.{}".format(*max(found))


def stage_deb(bundle: Path) -> Path:
    """The .deb's tree: /opt/traymind, the /usr/bin link, desktop entry, icons, control."""
    root = WORK / "deb"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(bundle, root / INSTALL_DIR.lstrip("/"), symlinks=True)
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/traymind").symlink_to(f"{INSTALL_DIR}/traymind")
    share = root / "usr/share"
    (share / "applications").mkdir(parents=True)
    shutil.copy(ROOT / "resources/traymind.desktop", share / "applications")
    (share / "icons/hicolor/scalable/apps").mkdir(parents=True)
    shutil.copy(ROOT / "resources/traymind.svg", share / "icons/hicolor/scalable/apps")
    for size in ICON_SIZES:
        folder = share / f"icons/hicolor/{size}x{size}/apps"
        folder.mkdir(parents=True)
        shutil.copy(ICONS / f"traymind-{size}.png", folder / "traymind.png")
    control = (ROOT / "packaging/linux/control.in").read_text()
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text(
        control.format(
            version=version(),
            arch=deb_arch(),
            installed_size=dir_size(root) // 1024 + 1,
            glibc=glibc_floor(bundle),
        )
    )
    for path in [root, *root.rglob("*")]:  # modes independent of umask and checkout
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    return root


def build_deb(bundle: Path) -> Path:
    out = deb_path()
    run(
        "dpkg-deb",
        "--root-owner-group",
        "--build",
        stage_deb(bundle),
        out,
        stdout=subprocess.DEVNULL,
    )
    return out


def build_tarball(bundle: Path) -> Path:
    """The bundle as ``traymind/`` in a .tar.gz: unpack anywhere, run ``traymind/traymind``."""
    out = tarball_path()
    with tarfile.open(out, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname="traymind")
    return out


@dataclass(frozen=True, slots=True)
class Artifacts:
    bundle: Path
    deb: Path | None = None
    tarball: Path | None = None


def build(*, in_place: bool = False, bundle_only: bool = False, force: bool = True) -> Artifacts:
    """Build what is stale (everything when ``force``) and return where it is."""
    if force or not is_fresh(executable()):
        build_bundle(Path(sys.executable) if in_place else build_python())
    if bundle_only:
        return Artifacts(BUNDLE)
    made = executable().stat().st_mtime
    deb = deb_path() if is_fresh(deb_path(), made) else build_deb(BUNDLE)
    tarball = tarball_path() if is_fresh(tarball_path(), made) else build_tarball(BUNDLE)
    return Artifacts(BUNDLE, deb, tarball)


# Running and measuring a bundle


def serve_env(home: Path) -> dict[str, str]:
    """An environment in which Traymind touches nothing of the user's and probes no LLM."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "OPENAI_"))}
    return {
        **env,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "APPDATA": str(home / "AppData/Roaming"),
        "LOCALAPPDATA": str(home / "AppData/Local"),
        "TRAYMIND_LOG_DIR": str(home / "logs"),
        "TRAYMIND_DETECT_URLS": "",
        "TRAYMIND_KEYSTORE": "file",
        "OPENAI_COMPAT_API_KEYS": CLIENT_KEY,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(proc: subprocess.Popen[str], timeout: float = 10) -> int:
    """SIGTERM, then the exit code (killed, and TimeoutExpired, when it does not stop)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def models_answer(port: int) -> bool:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {CLIENT_KEY}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except OSError:  # not listening yet
        return False


def cold_start(exe: Path, config: Path, home: Path, *, tray: bool) -> float:
    """Seconds from starting the tray app (offscreen) or ``traymind serve`` to the first
    200 answer of /v1/models; the process is stopped after."""
    port = free_port()
    env = {**serve_env(home), **({"QT_QPA_PLATFORM": "offscreen"} if tray else {})}
    command = [exe, *([] if tray else ["serve"]), "--port", str(port), "--config", config]
    started = time.perf_counter()
    proc = subprocess.Popen([*command, "--data-dir", home / "data"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        while not models_answer(port):
            if proc.poll() is not None or time.perf_counter() - started > 30:
                raise RuntimeError(f"{command} exited or did not answer in 30 s")
            time.sleep(0.005)
        return time.perf_counter() - started
    finally:
        stop(proc)


def cold_starts(bundle: Path, work: Path, runs: int, *, tray: bool = False) -> list[float]:
    """``runs`` cold starts, each with a new home and data folder."""
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.yaml"
    config.write_text("agents:\n  general:\n    display_name: GeneralAgent\n")
    exe = executable(bundle, console=not tray)
    kind = "tray" if tray else "serve"
    return [cold_start(exe, config, work / f"{kind}{i}", tray=tray) for i in range(runs)]


@dataclass(frozen=True, slots=True)
class Figures:
    bundle_bytes: int
    deb_bytes: int
    tarball_bytes: int
    serve_starts: list[float]  # seconds, in the order measured
    tray_starts: list[float]


def figures_markdown(fig: Figures, artifacts: Artifacts) -> str:
    assert artifacts.deb is not None and artifacts.tarball is not None
    mb = lambda n: f"{n / 1e6:.0f} MB"  # noqa: E731
    listed = lambda starts: ", ".join(f"{s:.2f}" for s in starts)  # noqa: E731
    median = lambda starts: f"{statistics.median(starts):.2f} s"  # noqa: E731
    return "\n".join([
        FIGURES_START,
        f"Measured on {time.strftime('%Y-%m-%d')}: Traymind {version()}, {built_with()}, "
        f"Debian {Path('/etc/debian_version').read_text().strip()}, {platform.machine()}, "
        f"{os.cpu_count()} cores.",
        "",
        "| what | figure | target |",
        "| --- | --- | --- |",
        f"| bundle, unpacked (`dist/traymind/`) | {mb(fig.bundle_bytes)} | < 250 MB |",
        f"| `{artifacts.deb.name}` | {mb(fig.deb_bytes)} | < 100 MB |",
        f"| `{artifacts.tarball.name}` | {mb(fig.tarball_bytes)} | |",
        f"| cold start, `traymind serve` (median of {len(fig.serve_starts)}) "
        f"| {median(fig.serve_starts)} | < 1.5 s |",
        f"| cold start, the tray app offscreen (median of {len(fig.tray_starts)}) "
        f"| {median(fig.tray_starts)} | < 1.5 s |",
        "",
        f"Each start, in order: serve {listed(fig.serve_starts)} s; tray "
        f"{listed(fig.tray_starts)} s.",
        FIGURES_END,
    ])  # fmt: skip


def report(artifacts: Artifacts, work: Path, runs: int = 5) -> Figures:
    """Measure the artifacts and write the figures into docs/packaging.md."""
    assert artifacts.deb is not None and artifacts.tarball is not None
    fig = Figures(
        dir_size(artifacts.bundle),
        artifacts.deb.stat().st_size,
        artifacts.tarball.stat().st_size,
        cold_starts(artifacts.bundle, work, runs),
        cold_starts(artifacts.bundle, work, runs, tray=True),
    )
    head, rest = DOC.read_text().split(FIGURES_START, 1)
    DOC.write_text(head + figures_markdown(fig, artifacts) + rest.split(FIGURES_END, 1)[1])
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.build", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--bundle-only", action="store_true", help="only dist/traymind/")
    parser.add_argument("--in-place", action="store_true", help="use this interpreter's packages")
    parser.add_argument("--smoke", action="store_true", help="start the built bundle once")
    parser.add_argument("--report", action="store_true", help="measure into docs/packaging.md")
    parser.add_argument("--render-icons", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.render_icons:
        render_icons()
        return 0
    if args.smoke:
        [seconds] = cold_starts(BUNDLE, WORK / "smoke", 1)
        print(f"build: `traymind serve` from the bundle answered /v1/models in {seconds:.2f} s")
        return 0
    artifacts = build(in_place=args.in_place, bundle_only=args.bundle_only, force=not args.report)
    for path in (artifacts.bundle, artifacts.deb, artifacts.tarball):
        if path is not None:
            size = dir_size(path) if path.is_dir() else path.stat().st_size
            print(f"build: {path.relative_to(ROOT)} ({size / 1e6:.0f} MB)")
    if args.report:
        report(artifacts, WORK / "measure")
        print(f"build: figures written into {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
