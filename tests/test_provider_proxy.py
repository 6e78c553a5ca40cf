"""Every path to a provider honours ``HTTP(S)_PROXY`` and ``NO_PROXY``, as its SDK does.

The provider's address does not resolve (``.invalid``); the stand-in is given as the
HTTP proxy, so a request arrives only if it went through the proxy: the tool-less direct
path, the agent runtime (tools) and the embeddings relay alike. With the provider in
``NO_PROXY`` the proxy is bypassed and the request fails to resolve, as it should.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.harness import agent_config, client, http, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-test-proxy"
pytestmark = pytest.mark.skipif(
    any(os.environ.get(n) for n in ("http_proxy", "no_proxy", "NO_PROXY", "HTTP_PROXY")),
    reason="this machine sets its own proxy variables",
)
PROVIDER = "http://provider.invalid/v1"
LOOPBACK = "127.0.0.1,localhost"  # the test's own client talks to Traymind directly


def config() -> dict[str, object]:
    return agent_config(PROVIDER, plain={}, tools={"tools": ["calculator"]})


def test_provider_requests_go_through_the_configured_proxy(
    tmp_path: Path, upstream: Upstream
) -> None:
    env = {"OPENAI_COMPAT_API_KEYS": KEY, "HTTP_PROXY": upstream.base_url.removesuffix("/v1"),
           "NO_PROXY": LOOPBACK}  # fmt: skip
    with running_server(tmp_path, config(), env=env) as handle:
        sdk = client(handle, KEY)
        for agent in ("plain", "tools"):
            upstream.script(Reply.text(f"via the proxy: {agent}"))
            answer = sdk.chat.completions.create(
                model=agent, messages=[{"role": "user", "content": "hi"}]
            )
            assert answer.choices[0].message.content == f"via the proxy: {agent}"
        vectors = sdk.embeddings.create(model="m", input=["one", "two"])
        assert len(vectors.data) == 2
    seen = [(r.path, r.headers.get("host")) for r in upstream.requests]
    assert seen == [  # asked as a proxy for the provider, by Traymind (never by the test)
        ("/v1/chat/completions", "provider.invalid"),
        ("/v1/chat/completions", "provider.invalid"),
        ("/v1/embeddings", "provider.invalid"),
    ]


def test_no_proxy_is_honoured_too(tmp_path: Path, upstream: Upstream) -> None:
    env = {"OPENAI_COMPAT_API_KEYS": KEY, "HTTP_PROXY": upstream.base_url.removesuffix("/v1"),
           "NO_PROXY": f"{LOOPBACK},provider.invalid"}  # fmt: skip
    with running_server(tmp_path, config(), env=env) as handle, http(handle) as h:
        for agent in ("plain", "tools"):
            failed = h.post(
                "/v1/chat/completions",
                headers={"Authorization": f"Bearer {KEY}"},
                json={"model": agent, "messages": [{"role": "user", "content": "hi"}]},
            )
            assert failed.status_code == 502, (agent, failed.text)  # it does not resolve
            assert "cannot be reached" in failed.json()["error"]["message"]
    assert upstream.requests == []  # the proxy was never asked
