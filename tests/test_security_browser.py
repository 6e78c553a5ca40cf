"""Cross-site requests: what a hostile web page can make a browser send never reaches an agent.

A page may POST to 127.0.0.1 without a preflight when the body is ``text/plain``,
a form encoding or multipart, with any ``Origin`` (also ``null`` from a sandboxed
frame or a ``file://`` page). Each shape is sent in unauthenticated mode and with a
valid key; the provider stand-in must record nothing. The real clients' captured
requests (``tests/fixtures/client_requests.json``) must keep working.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.harness import agent_config, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-browser-key"
ALLOWED = "http://localhost:3080"
BODY = json.dumps({"model": "general", "messages": [{"role": "user", "content": "hi"}]})
CAPTURED = json.loads(
    (Path(__file__).parent / "fixtures" / "client_requests.json").read_text(encoding="utf-8")
)

# (Origin or None, Sec-Fetch-Site or None, Content-Type): all refused with 403.
HOSTILE = [
    ("http://attacker.example", "cross-site", "text/plain;charset=UTF-8"),
    ("http://attacker.example", None, "text/plain;charset=UTF-8"),
    ("http://attacker.example", "cross-site", "application/x-www-form-urlencoded"),
    ("http://attacker.example", "cross-site", "multipart/form-data; boundary=x"),
    ("http://attacker.example", "cross-site", "application/json"),
    ("null", "cross-site", "text/plain"),
    ("null", None, "application/x-www-form-urlencoded"),
    ("file://", "cross-site", "text/plain"),
    ("chrome-extension://abcdefghijklmnop", "none", "text/plain"),
    ("http://127.0.0.1:9999", "same-site", "text/plain"),  # another local port
    ("http://localhost:3080.attacker.example", "cross-site", "application/json"),
    (None, "cross-site", "text/plain"),
    (None, "same-site", "application/json"),
    (None, "cross-site", None),
]


@pytest.fixture(params=["unauthenticated", "keys"])
def mode(request, tmp_path, upstream: Upstream):
    """A server in one of the two modes, and the Authorization header its clients send."""
    config = agent_config(upstream.base_url)
    config["server"] = {"cors_origins": [ALLOWED, "null"]}  # "null" is never honoured
    if request.param == "unauthenticated":
        env, auth = {"OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "1"}, {}
    else:
        env, auth = {"OPENAI_COMPAT_API_KEYS": KEY}, {"Authorization": f"Bearer {KEY}"}
    with running_server(tmp_path, config, env=env) as handle:
        yield handle, auth


def base(handle) -> str:
    return handle.url.removesuffix("/v1")


def browser_headers(origin: str | None, fetch_site: str | None, content_type: str | None):
    headers = {}
    if origin is not None:
        headers["Origin"] = origin
    if fetch_site is not None:
        headers["Sec-Fetch-Site"] = fetch_site
        headers["Sec-Fetch-Mode"] = "no-cors"
        headers["Sec-Fetch-Dest"] = "empty"
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


@pytest.mark.parametrize(("origin", "fetch_site", "content_type"), HOSTILE)
def test_a_hostile_page_never_reaches_an_agent(
    mode, upstream: Upstream, origin, fetch_site, content_type
) -> None:
    handle, auth = mode
    upstream.script(Reply.text("you should never see this"))
    headers = {**browser_headers(origin, fetch_site, content_type), **auth}
    with httpx.Client(timeout=10) as http:
        response = http.post(handle.url + "/chat/completions", content=BODY, headers=headers)
        models = http.get(handle.url + "/models", headers=headers)
        status = http.get(base(handle) + "/api/status", headers=headers)
    for answer in (response, models, status):
        assert answer.status_code == 403, answer.text
        error = answer.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["code"] == "cors_forbidden"
        assert "access-control-allow-origin" not in answer.headers
    assert upstream.requests == []


@pytest.mark.parametrize(
    ("origin", "fetch_site", "content_type"),
    [
        (ALLOWED, "cross-site", "text/plain;charset=UTF-8"),
        (ALLOWED, "cross-site", "application/x-www-form-urlencoded"),
        (None, None, "text/plain"),  # with only Sec-Fetch-Mode below
        (None, "same-origin", "multipart/form-data; boundary=x"),
        (None, "none", "text/plain"),
    ],
)
def test_a_browsers_non_json_body_is_415(
    mode, upstream: Upstream, origin, fetch_site, content_type
) -> None:
    handle, auth = mode
    headers = {**browser_headers(origin, fetch_site, content_type), **auth}
    headers["Sec-Fetch-Mode"] = "cors"
    with httpx.Client(timeout=10) as http:
        response = http.post(handle.url + "/chat/completions", content=BODY, headers=headers)
    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert upstream.requests == []


def test_an_allow_listed_origin_sending_json_is_served(mode, upstream: Upstream) -> None:
    handle, auth = mode
    upstream.script(Reply.text("hello page"))
    headers = {**browser_headers(ALLOWED, "cross-site", "application/json"), **auth}
    with httpx.Client(timeout=10) as http:
        response = http.post(handle.url + "/chat/completions", content=BODY, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.json()["choices"][0]["message"]["content"] == "hello page"


@pytest.mark.parametrize("captured", CAPTURED, ids=[c["client"].split(" (")[0] for c in CAPTURED])
def test_real_clients_captured_requests_keep_working(mode, upstream: Upstream, captured) -> None:
    """LibreChat's openai-node sends ``Sec-Fetch-Mode: cors`` with no Origin: never refused."""
    handle, _ = mode
    upstream.script(Reply.text("served"))
    headers = [(name, value.replace("{KEY}", KEY)) for name, value in captured["headers"]]
    with httpx.Client(timeout=10) as http:
        response = http.request(
            captured["method"],
            base(handle) + captured["path"],
            content=json.dumps(captured["body"]),
            headers=headers,
        )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "served"


def test_a_cross_site_request_is_refused_before_its_body_is_read(mode, upstream: Upstream) -> None:
    """Headers alone decide: the answer comes while the promised body never arrives."""
    handle, auth = mode
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{handle.port}\r\n"
        "Origin: http://attacker.example\r\nContent-Type: text/plain\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in auth.items())
        + "Content-Length: 100000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", handle.port), timeout=5) as sock:
        sock.sendall(head.encode())
        started = time.monotonic()
        answer = sock.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 403"), answer
    assert time.monotonic() - started < 2
    assert upstream.requests == []
