"""Browser attacks on localhost, key guessing, exposure beyond loopback, session isolation."""

from __future__ import annotations

import json
import logging
import random
import socket
import string
import time
from pathlib import Path

import httpx
import openai
import pytest

from server.logging_setup import configure_logging
from server.runner import ServeOptions, ServerHandle, StartupError
from tests.harness import BASE_ENV, agent_config, client, environment, running_server, write_config
from tests.upstream import Reply, Upstream

KEY = "sk-security-key"
OTHER = "sk-security-other"


@pytest.fixture
def server(tmp_path, upstream: Upstream):
    config = agent_config(upstream.base_url)
    config["server"] = {
        "trusted_hosts": ["traymind.lan"],
        "cors_origins": ["http://localhost:3080"],
        "auth_failure_limit": 5,
        "auth_failure_window_seconds": 30,
    }
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": f"{KEY},{OTHER}"}) as h:
        yield h


def get(handle, path: str, **headers: str) -> httpx.Response:
    with httpx.Client(timeout=10) as h:
        return h.get(handle.url.removesuffix("/v1") + path, headers=headers)


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8765", "127.0.0.1.nip.io", "localhost.evil.example"]
)
def test_dns_rebinding_hosts_are_refused_with_421(server, host) -> None:
    response = get(server, "/v1/models", Host=host, Authorization=f"Bearer {KEY}")
    assert response.status_code == 421
    assert response.json()["error"]["code"] == "untrusted_host"
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:1234",
        "127.0.0.1:9",
        "[::1]:80",
        "traymind.lan",
        "TRAYMIND.LAN:8765",
        "192.168.1.20:8765",
        "host.docker.internal:8765",
    ],
)
def test_loopback_ip_literal_and_trusted_hosts_are_served(server, host) -> None:
    assert get(server, "/v1/models", Host=host, Authorization=f"Bearer {KEY}").status_code == 200


def test_no_cors_headers_for_origins_not_allowed(server) -> None:
    response = get(
        server, "/v1/models", Origin="https://evil.example", Authorization=f"Bearer {KEY}"
    )
    assert response.status_code == 403  # a page's origin not allow-listed never gets in
    assert response.json()["error"]["code"] == "cors_forbidden"
    assert not any(h.startswith("access-control-") for h in response.headers)
    with httpx.Client(timeout=10) as h:
        preflight = h.options(
            server.url + "/chat/completions",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers


def test_allowed_origin_gets_a_correct_preflight_and_headers(server) -> None:
    with httpx.Client(timeout=10) as h:
        preflight = h.options(
            server.url + "/chat/completions",
            headers={
                "Origin": "http://localhost:3080",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
                "Access-Control-Request-Private-Network": "true",
            },
        )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:3080"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "Authorization" in preflight.headers["access-control-allow-headers"]
    assert preflight.headers["access-control-allow-private-network"] == "true"
    response = get(
        server, "/v1/models", Origin="http://localhost:3080", Authorization=f"Bearer {KEY}"
    )
    assert response.headers["access-control-allow-origin"] == "http://localhost:3080"


def test_unauthenticated_mode_needs_a_loopback_host_name_too(tmp_path) -> None:
    config = agent_config(None)
    config["server"] = {"trusted_hosts": ["traymind.lan"]}
    env = {"OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "1"}
    with running_server(tmp_path, config, env=env) as handle:
        assert get(handle, "/v1/models", Host="localhost").status_code == 200
        assert get(handle, "/v1/models", Host="127.0.0.1").status_code == 200
        assert get(handle, "/v1/models", Host="traymind.lan").status_code == 401


def test_repeated_failures_are_throttled_but_valid_keys_never_are(server) -> None:
    statuses = [
        get(server, "/v1/models", Authorization=f"Bearer wrong-{i}").status_code for i in range(7)
    ]
    assert statuses == [401] * 5 + [429] * 2
    throttled = get(server, "/v1/models", Authorization="Bearer wrong")
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 30
    assert throttled.json()["error"]["type"] == "rate_limit_error"
    assert get(server, "/v1/models", Authorization=f"Bearer {KEY}").status_code == 200


def test_throttle_frees_when_the_window_passes(tmp_path) -> None:
    config = agent_config(None)
    config["server"] = {"auth_failure_limit": 2, "auth_failure_window_seconds": 0.5}
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": KEY}) as handle:
        codes = [get(handle, "/v1/models").status_code for _ in range(3)]
        assert codes == [401, 401, 429]
        time.sleep(0.6)
        assert get(handle, "/v1/models").status_code == 401


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "needs at least one API key"),
        (
            {"OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "1", "OPENAI_COMPAT_API_KEYS": KEY},
            "unauthenticated access on",
        ),
    ],
)
def test_listening_beyond_loopback_is_refused_without_keys_or_with_unauth(
    tmp_path, env, message
) -> None:
    config = write_config(tmp_path, agent_config(None))
    handle = ServerHandle(
        ServeOptions(config=str(config), host="0.0.0.0", port=0, data_dir=str(tmp_path / "d"))
    )
    with environment({**BASE_ENV, **env}), pytest.raises(StartupError) as info:
        handle.start()
    assert message in str(info.value)
    assert not handle.running


def raw_chat(handle, key: str, session: bytes, text: str) -> int:
    """A chat request over a raw socket, so any header bytes reach the server as sent."""
    body = json.dumps({"model": "general", "messages": [{"role": "user", "content": text}]})
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\nContent-Type: application/json\r\n"
        b"X-Session-Id: "
        + session
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body.encode()
    )
    with socket.create_connection(("127.0.0.1", handle.port), timeout=10) as sock:
        sock.sendall(request)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    return int(response.split(b" ", 2)[1]) if response else 0


def test_session_ids_never_cross_namespaces(server, upstream) -> None:
    rng = random.Random(1234)
    alphabet = (string.printable[:-5] + "éü'\";%_*").encode("latin-1")
    ids = [
        b" ",
        b"noauth",
        b"../x",
        b"' OR 1=1 --",
        b"%",
        b"_",
        b"a" * 512,
        b"x\xe9",
        b"\xff\xfe",
        b"{{LIBRECHAT_BODY_CONVERSATIONID}}x",
        b"\t tab",
    ]
    ids += [bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(15)]
    upstream.default = Reply.text("ok")
    for session in ids:
        assert raw_chat(server, KEY, session, "the password is swordfish") in (200, 400)
        upstream.clear()
        status = raw_chat(server, OTHER, session, "what was said before?")
        assert status in (200, 400)
        for request in upstream.chat_requests:
            assert "swordfish" not in json.dumps(request.body), f"{session!r} leaked across keys"
    # the server keeps serving normally afterwards
    assert get(server, "/v1/models", Authorization=f"Bearer {KEY}").status_code == 200


def test_keys_never_reach_the_logs(tmp_path: Path, upstream: Upstream) -> None:
    log_dir = tmp_path / "logs"
    provider_key = "sk-provider-never-logged"
    config = agent_config(upstream.base_url)
    config["models"]["default"]["api_key_env"] = "PROVIDER_KEY_FOR_TEST"
    env = {
        "OPENAI_COMPAT_API_KEYS": KEY,
        "PROVIDER_KEY_FOR_TEST": provider_key,
        "TRAYMIND_LOG_DIR": str(log_dir),
    }
    with environment(env):
        configure_logging(to_stderr=False)
    try:
        with running_server(tmp_path, config, env=env) as handle:
            upstream.script(Reply.error(401, "bad key"), Reply.error(500), Reply.text("fine"))
            outcomes = []
            for _ in range(3):
                try:
                    client(handle, KEY).chat.completions.create(
                        model="general", messages=[{"role": "user", "content": "hi"}]
                    )
                    outcomes.append(200)
                except openai.APIStatusError as exc:
                    outcomes.append(exc.status_code)
            assert outcomes == [502, 502, 200]
            get(handle, "/v1/models", Authorization="Bearer sk-wrong-guess")
    finally:
        for handler in list(logging.getLogger().handlers):
            handler.close()
            logging.getLogger().removeHandler(handler)
    text = "\n".join(p.read_text() for p in log_dir.glob("*.log*"))
    # the failures were logged, in sentences that name what failed but no key
    assert "general failed (502): Agent 'general' could not get an answer" in text
    assert "authentication failed for a request from 127.0.0.1" in text
    for secret in (KEY, provider_key, "sk-wrong-guess"):
        assert secret not in text
