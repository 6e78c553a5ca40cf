"""The ``web_fetch`` tool against a real HTTP server on loopback.

With ``allow_private: true`` it fetches and converts pages, within its size and
time caps. Without it, loopback is refused before any connection is made (the
server counts its requests). Other private ranges are checked on the address
rule alone: this machine must never send traffic to them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from server.tools import ToolRef, build_tools, validate_tool_options
from server.tools.addresses import RefusedAddress, non_public_kind, refuse_non_public
from tests.harness import agent_config, client, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-test-web"
PAGE = (
    "<html><head><title>Tea notes</title><script>alert(1)</script></head>"
    "<body><h1>Green tea</h1><p>Steep at <b>80 °C</b> for 2 minutes.</p></body></html>"
)


class Site:
    """A tiny HTTP server on 127.0.0.1 that counts the requests it gets."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append(self.path)
                if self.path == "/page":
                    self._send(200, "text/html; charset=utf-8", PAGE.encode())
                elif self.path == "/plain":
                    self._send(200, "text/plain", b"just text")
                elif self.path == "/big":
                    self._send(200, "text/plain", b"x" * 3_000_000)
                elif self.path == "/slow":
                    time.sleep(3)
                    self._send(200, "text/plain", b"late")
                elif self.path == "/image":
                    self._send(200, "image/png", b"\x89PNG\r\n\x1a\n")
                elif self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", "/page")
                    self.end_headers()
                else:
                    self._send(404, "text/plain", b"not here")

            def _send(self, status: int, media_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", media_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Site:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as running:
        yield running


def web_fetch(**options: object) -> Callable[[str], str]:
    (tool,) = build_tools([ToolRef(name="web_fetch", options=options)])
    function: Callable[[str], Awaitable[str]] = tool.function
    return lambda url: asyncio.run(function(url))


def test_html_becomes_readable_text(site: Site) -> None:
    text = web_fetch(allow_private=True)(f"{site.url}/page")
    assert text == (
        f"# Tea notes\nURL: {site.url}/page\n\n"
        "Tea notes\n\nGreen tea\n=========\n\nSteep at **80 °C** for 2 minutes."
    )
    assert "alert" not in text


def test_plain_text_redirects_and_errors(site: Site) -> None:
    fetch = web_fetch(allow_private=True)
    assert fetch(f"{site.url}/plain") == f"URL: {site.url}/plain\n\njust text"
    assert fetch(f"{site.url}/moved").startswith("# Tea notes\n")
    missing = fetch(f"{site.url}/missing")
    assert missing.startswith(f"Error: Failed to fetch {site.url}/missing") and "404" in missing
    assert fetch(f"{site.url}/image") == f"Error: {site.url}/image is image/png content, not text"


def test_the_size_cap_refuses_large_responses(site: Site) -> None:
    text = web_fetch(allow_private=True, max_download_bytes=100_000)(f"{site.url}/big")
    assert text.startswith("Error: ") and "100000 bytes" in text


def test_the_text_cap_cuts_long_text(site: Site) -> None:
    text = web_fetch(allow_private=True, max_chars=4)(f"{site.url}/plain")
    assert text == f"URL: {site.url}/plain\n\njust\n\n[Content truncated]"


def test_the_time_cap_stops_slow_servers(site: Site) -> None:
    started = time.monotonic()
    text = web_fetch(allow_private=True, timeout_seconds=0.5)(f"{site.url}/slow")
    assert time.monotonic() - started < 2.5
    assert text == f"Error: {site.url}/slow took longer than 0.5 seconds"


@pytest.mark.parametrize(
    ("host", "address"),
    [("127.0.0.1", "127.0.0.1"), ("localhost", "127.0.0.1"), ("[::1]", "::1")],
)
def test_loopback_is_refused_without_a_connection(site: Site, host: str, address: str) -> None:
    port = site.url.rsplit(":", 1)[1]
    url = f"http://{host}:{port}/page"
    text = web_fetch()(url)
    assert text.startswith(f"Error: refused to fetch {url}: {host.strip('[]')} resolves to ")
    assert "which is loopback; this agent may fetch only public addresses" in text
    assert site.requests == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/", "http:///nohost"])
def test_only_http_urls_with_a_host(url: str) -> None:
    assert web_fetch()(url).startswith(f"Error: refused to fetch {url}: ")


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.1.2.3", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("127.8.8.8", "loopback"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "not publicly routable"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("::1", "loopback"),
        ("fe80::1%eth0", "link-local"),
        ("fd12:3456::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:c0a8:0101::1", "private"),  # 6to4 of 192.168.1.1
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_rule(address: str, kind: str | None) -> None:
    assert non_public_kind(address) == kind


def test_every_address_of_a_host_is_checked() -> None:
    refuse_non_public("public.example", ["8.8.8.8", "2606:4700:4700::1111"])
    with pytest.raises(RefusedAddress) as caught:
        refuse_non_public("mixed.example", ["8.8.8.8", "10.0.0.7"])
    assert str(caught.value) == (
        "mixed.example resolves to 10.0.0.7, which is private; "
        "this agent may fetch only public addresses"
    )


def test_unknown_options_have_a_hint() -> None:
    with pytest.raises(ValueError) as caught:
        validate_tool_options("web_fetch", {"allow_privat": True})
    assert str(caught.value) == (
        "unknown option 'allow_privat' for tool 'web_fetch'; did you mean 'allow_private'?"
    )


def test_agents_fetch_or_refuse_over_http(tmp_path: Path, site: Site, upstream: Upstream) -> None:
    config = agent_config(
        upstream.base_url,
        lan={"tools": [{"web_fetch": {"allow_private": True}}]},
        public={"tools": ["web_fetch"]},
    )
    url = f"{site.url}/plain"
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": KEY}) as handle:
        for model in ("lan", "public"):
            upstream.script(Reply.tool_calls([("web_fetch", {"url": url})]), Reply.text("ok"))
            client(handle, KEY).chat.completions.create(
                model=model, messages=[{"role": "user", "content": "fetch"}]
            )
    fetched = upstream.chat_requests[1].body["messages"][-1]["content"]
    refused = upstream.chat_requests[3].body["messages"][-1]["content"]
    assert fetched == f"URL: {url}\n\njust text"
    assert refused.startswith(f"Error: refused to fetch {url}: 127.0.0.1 resolves to 127.0.0.1")
    assert site.requests == ["/plain"]
