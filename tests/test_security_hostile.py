"""What a hostile client sends before and around authentication: huge or endless headers,
slow and silent connections, floods, forged forwarding headers, odd ``Host`` headers,
numbers and strings Python cannot handle, bodies cut short."""

from __future__ import annotations

import json
import logging
import socket
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from server.runner import ServeOptions, ServerHandle, StartupError
from server.security.host_guard import is_loopback_host
from tests.harness import BASE_ENV, ServeProcess, agent_config, environment, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-hostile-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def server(tmp_path, upstream: Upstream):
    config = agent_config(upstream.base_url)
    config["server"] = {
        "header_timeout_seconds": 1.5,
        "body_timeout_seconds": 2,
        "auth_failure_limit": 3,
        "auth_failure_window_seconds": 60,
    }
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": KEY}) as handle:
        yield handle


def connect(handle: ServerHandle, timeout: float = 10) -> socket.socket:
    return socket.create_connection(("127.0.0.1", handle.port), timeout=timeout)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def raw_request(handle: ServerHandle, head: str, body: bytes = b"") -> bytes:
    with connect(handle) as sock:
        sock.sendall(head.encode("latin-1") + body)
        return read_all(sock)


# 5. Pre-auth memory: request line and headers are capped.


def test_a_header_that_never_ends_is_431_and_closed(server) -> None:
    with connect(server) as sock:
        sock.sendall(f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-A: ".encode())
        sent = 0
        try:
            while sent < 16 * 1024 * 1024:
                sock.sendall(b"a" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    error = json.loads(answer.partition(b"\r\n\r\n")[2])["error"]
    assert error["code"] == "headers_too_large"
    assert sent < 16 * 1024 * 1024  # the server hung up long before


def test_a_complete_but_huge_header_is_431_and_a_normal_one_is_served(server) -> None:
    huge = "x" * (100 * 1024)
    answer = raw_request(
        server, f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {huge}\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    big_but_fine = "y" * (30 * 1024)
    with httpx.Client(timeout=10) as http:
        response = http.get(
            server.url.removesuffix("/v1") + "/api/health", headers={"X-Big": big_but_fine}
        )
    assert response.status_code == 200


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for the server's memory")
def test_eight_endless_headers_do_not_grow_the_server(tmp_path, upstream: Upstream) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(json.dumps(agent_config(upstream.base_url)))
    proc = ServeProcess(
        ["-m", "server", "--config", str(config_path), "--port", "0",
         "--data-dir", str(tmp_path / "data")],
        env={"OPENAI_COMPAT_API_KEYS": KEY},
    )  # fmt: skip
    try:
        url = proc.wait_ready()
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        before = rss_mib(proc.proc.pid)
        socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(8)]
        for sock in socks:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: ")
        for _ in range(64 * 16):  # up to 64 MiB each, in turns
            for sock in list(socks):
                try:
                    sock.sendall(b"a" * 8192)
                except OSError:
                    socks.remove(sock)
                    sock.close()
            if not socks:
                break
        grown = rss_mib(proc.proc.pid) - before
        for sock in socks:
            sock.close()
        assert not socks or grown < 40
        assert grown < 40, f"the server grew by {grown:.0f} MiB"
        health = httpx.get(url.removesuffix("/v1") + "/api/health", timeout=10)
        assert health.status_code == 200
    finally:
        proc.stop()


# 6. Idle, slow and half-open connections time out; a flood cannot lock others out.


def test_a_silent_connection_is_closed_after_the_header_timeout(server) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert 1.0 < time.monotonic() - started < 5


def test_slowloris_headers_are_cut_at_the_header_timeout(server) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        try:
            for _ in range(40):  # one more header byte every 0.2 s, never the blank line
                sock.sendall(b"X")
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - started < 6


def test_a_slow_body_is_cut_at_the_body_timeout(server, upstream: Upstream) -> None:
    body = json.dumps({"model": "general", "messages": [{"role": "user", "content": "hi"}]})
    with connect(server) as sock:
        sock.sendall(
            (
                f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
        )
        started = time.monotonic()
        try:
            for char in body:
                sock.sendall(char.encode())
                time.sleep(0.3)
        except (BrokenPipeError, ConnectionResetError):
            pass
        read_all(sock)
    assert time.monotonic() - started < 8
    assert upstream.chat_requests == []


def test_keep_alive_requests_on_one_connection_still_work(server) -> None:
    with httpx.Client(timeout=10) as http:
        for _ in range(5):
            response = http.get(server.url + "/models", headers=AUTH)
            assert response.status_code == 200
            time.sleep(0.3)


@pytest.mark.skipif(sys.platform != "linux", reason="sets RLIMIT_NOFILE for the server process")
def test_a_flood_of_idle_connections_under_a_low_file_limit_keeps_health_and_chat_answering(
    tmp_path, upstream: Upstream
) -> None:
    upstream.default = Reply.text("still here")
    config_path = tmp_path / "config.yaml"
    config_path.write_text(json.dumps(agent_config(upstream.base_url)))
    argv = ["server", "--config", str(config_path), "--port", "0",
            "--data-dir", str(tmp_path / "data")]  # fmt: skip
    launcher = (
        "import resource, runpy, sys\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))\n"
        f"sys.argv = {argv!r}\n"
        "runpy.run_module('server', run_name='__main__')\n"
    )
    proc = ServeProcess(["-c", launcher], env={"OPENAI_COMPAT_API_KEYS": KEY})
    flood: list[socket.socket] = []
    try:
        url = proc.wait_ready()
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        for _ in range(3000):
            try:
                flood.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            except OSError:
                break
        root = url.removesuffix("/v1")
        with httpx.Client(timeout=10) as http:
            for _ in range(5):
                assert http.get(root + "/api/health").status_code == 200
        chat = openai.OpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=20)
        answer = chat.chat.completions.create(
            model="general", messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.choices[0].message.content == "still here"
        assert proc.proc.poll() is None
    finally:
        for sock in flood:
            sock.close()
        proc.stop()


# 8. Input Python chokes on: 400, never 500.


def chat_raw(handle: ServerHandle, body: str, **headers: str) -> httpx.Response:
    with httpx.Client(timeout=10) as http:
        return http.post(
            handle.url + "/chat/completions",
            content=body.encode("utf-8"),
            headers={"Content-Type": "application/json", **AUTH, **headers},
        )


def body_with(**fields: object) -> str:
    """A chat body; ``json.dumps`` writes lone surrogates as the escapes a client would send."""
    return json.dumps({"model": "general", **fields})


HI = [{"role": "user", "content": "hi"}]
ODD_BODIES = {
    "huge-int": body_with(messages=HI)[:-1] + ', "seed": ' + "1" * 5000 + "}",
    "lone-surrogate": body_with(messages=[{"role": "user", "content": "hi \ud800"}]),
    "system-surrogate": body_with(messages=[{"role": "system", "content": "be \udfff"}, *HI]),
    "stream-part-surrogate": body_with(
        stream=True, messages=[{"role": "user", "content": [{"type": "text", "text": "\ud83d"}]}]
    ),
    "key-surrogate": body_with(messages=HI, metadata={"\udc00": "x"}),
}


@pytest.mark.parametrize("body", ODD_BODIES.values(), ids=ODD_BODIES.keys())
def test_numbers_and_strings_python_cannot_take_are_400(
    server, upstream: Upstream, body: str, caplog
) -> None:
    caplog.set_level(logging.INFO)
    response = chat_raw(server, body, **{"X-Session-Id": "odd-input"})
    assert response.status_code == 400, response.text
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert upstream.chat_requests == []
    assert "Traceback" not in caplog.text
    upstream.script(Reply.text("fine"))
    ok = chat_raw(
        server,
        '{"model": "general", "messages": [{"role": "user", "content": "hi \\ud83d\\ude00"}]}',
        **{"X-Session-Id": "odd-input"},
    )
    assert ok.status_code == 200
    assert upstream.chat_requests[-1].body["messages"][-1]["content"] == "hi \U0001f600"


# 9. Forwarding headers are not believed unless the user names the proxy.


def test_rotating_x_forwarded_for_does_not_escape_the_throttle(server) -> None:
    statuses = []
    with httpx.Client(timeout=10) as http:
        for i in range(8):
            response = http.get(
                server.url + "/models",
                headers={"Authorization": "Bearer wrong", "X-Forwarded-For": f"10.0.0.{i}"},
            )
            statuses.append(response.status_code)
    assert statuses[:3] == [401, 401, 401]
    assert set(statuses[3:]) == {429}


def test_trusted_proxies_make_forwarded_addresses_count(tmp_path, upstream: Upstream) -> None:
    config = agent_config(upstream.base_url)
    config["server"] = {"trusted_proxies": ["127.0.0.1"], "auth_failure_limit": 3}
    env = {"OPENAI_COMPAT_API_KEYS": KEY}
    with running_server(tmp_path, config, env=env) as handle, httpx.Client(timeout=10) as http:
        statuses = [
            http.get(
                handle.url + "/models",
                headers={"Authorization": "Bearer wrong", "X-Forwarded-For": f"10.0.0.{i}"},
            ).status_code
            for i in range(8)
        ]
    assert statuses == [401] * 8  # eight different clients behind the proxy


# 13. Host headers, the loopback test, /openapi.json, disconnects while sending.


def test_duplicate_or_missing_host_is_400(server) -> None:
    twice = raw_request(
        server,
        "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n"
        f"Authorization: Bearer {KEY}\r\nConnection: close\r\n\r\n",
    )
    assert twice.startswith(b"HTTP/1.1 400"), twice[:200]
    assert b"duplicate_host" in twice
    missing = raw_request(server, f"GET /v1/models HTTP/1.0\r\nAuthorization: Bearer {KEY}\r\n\r\n")
    assert missing.startswith(b"HTTP/1.1 400"), missing[:200]
    assert b"missing_host" in missing


def test_unauthenticated_mode_says_why_a_non_loopback_host_is_refused(tmp_path) -> None:
    config = agent_config(None)
    config["server"] = {"trusted_hosts": ["traymind.lan"]}
    env = {"OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "1"}
    with running_server(tmp_path, config, env=env) as h, httpx.Client(timeout=10) as http:
        response = http.get(h.url + "/models", headers={"Host": "traymind.lan"})
    assert response.status_code == 401
    message = response.json()["error"]["message"]
    assert "unauthenticated access is off" not in message.lower()
    assert "localhost" in message and "API key" in message


@pytest.mark.parametrize(
    ("name", "loopback"),
    [
        ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
        ("::ffff:127.0.0.1", True), ("localhost", True), ("LOCALHOST.", True),
        ("app.localhost", True), ("127.x.example", False), ("127.0.0.1.nip.io", False),
        ("localhost.evil.example", False), ("0.0.0.0", False), ("::", False),
        ("192.168.1.2", False), ("", False), (None, False),
    ],
)  # fmt: skip
def test_one_loopback_test(name, loopback) -> None:
    assert is_loopback_host(name) is loopback


def test_a_host_that_only_looks_like_loopback_needs_keys_to_listen(tmp_path) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(json.dumps(agent_config(None)))
    with environment({**BASE_ENV, "OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "1"}):
        handle = ServerHandle(
            ServeOptions(
                config=str(config_path), host="127.x.example", port=0, data_dir=str(tmp_path)
            )
        )
        with pytest.raises(StartupError, match="unauthenticated access on"):
            handle.start()


def test_openapi_document_needs_the_same_auth_as_v1(server) -> None:
    root = server.url.removesuffix("/v1")
    with httpx.Client(timeout=10) as http:
        assert http.get(root + "/openapi.json").status_code == 401
        document = http.get(root + "/openapi.json", headers=AUTH)
    assert document.status_code == 200
    assert "/v1/chat/completions" in document.json()["paths"]


def test_a_client_leaving_mid_body_logs_one_line_and_no_traceback(server, caplog) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(5):
        with connect(server) as sock:
            sock.sendall(
                (
                    "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
                    'Content-Length: 5000\r\n\r\n{"model": '
                ).encode()
            )
            time.sleep(0.2)
    deadline = time.monotonic() + 5
    while caplog.text.count("disconnected while sending") < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert caplog.text.count("disconnected while sending") == 5
    assert "Exception in ASGI application" not in caplog.text
    assert "Traceback" not in caplog.text


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_the_data_folder_is_0700_and_its_databases_0600(tmp_path, upstream: Upstream) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    old = data / "sessions.sqlite3"
    old.write_bytes(b"")
    old.chmod(0o644)  # what an earlier version left behind
    upstream.script(Reply.text("stored"))
    with running_server(
        tmp_path,
        agent_config(upstream.base_url),
        env={"OPENAI_COMPAT_API_KEYS": KEY},
        data_dir=data,
    ) as handle:
        chat = openai.OpenAI(base_url=handle.url, api_key=KEY, max_retries=0)
        chat.chat.completions.create(
            model="general",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"X-Session-Id": "perm"},
        )
        modes = {p.name: p.stat().st_mode & 0o777 for p in data.glob("*.sqlite3*")}
    assert data.stat().st_mode & 0o777 == 0o700
    assert "sessions.sqlite3-wal" in modes or "sessions.sqlite3" in modes
    assert modes and all(mode == 0o600 for mode in modes.values()), modes
