"""Images and PDFs in chat messages: to models that take them, out of the session store."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

from tests.harness import agent_config, http, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-images"
ENV = {"OPENAI_COMPAT_API_KEYS": KEY}
AUTH = {"Authorization": f"Bearer {KEY}"}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def config(upstream: Upstream, *, vision: bool | None, **server: object) -> dict[str, object]:
    built = agent_config(upstream.base_url, general={"display_name": "GeneralAgent"})
    if vision is not None:
        built["models"]["default"]["vision"] = vision  # type: ignore[index]
    if server:
        built["server"] = server
    return built


def image_message(url: str = PNG_URI, text: str = "What is in this picture?") -> dict:
    return {
        "role": "user",
        "content": [
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": url}},
        ],
    }


def post(handle, messages: list[dict], **headers: str):
    with http(handle) as h:
        return h.post(
            "/v1/chat/completions",
            json={"model": "general", "messages": messages},
            headers={**AUTH, **headers},
        )


def last_user_content(upstream: Upstream) -> object:
    return upstream.chat_requests[-1].body["messages"][-1]["content"]


def test_an_image_reaches_a_vision_model_and_stays_out_of_the_store(
    tmp_path: Path, upstream: Upstream
) -> None:
    upstream.script(Reply.text("A test pattern."), Reply.text("Still a pattern."))
    data = tmp_path / "data"
    with running_server(tmp_path, config(upstream, vision=True), env=ENV, data_dir=data) as h:
        first = post(h, [image_message()], **{"X-Session-Id": "pic"})
        assert first.status_code == 200, first.text
        again = post(h, [{"role": "user", "content": "And now?"}], **{"X-Session-Id": "pic"})
        assert again.status_code == 200
    sent = upstream.chat_requests[0].body["messages"][-1]["content"]
    assert {"type": "text", "text": "What is in this picture?"} in sent
    assert {"type": "image_url", "image_url": {"url": PNG_URI}} in sent
    # The stored turn references a hash-named file instead of holding the image.
    files = list((data / "attachments").iterdir())
    assert [f.read_bytes() for f in files] == [PNG]
    assert files[0].stat().st_mode & 0o777 == 0o600
    rows = sqlite3.connect(data / "sessions.sqlite3").execute("SELECT * FROM turns").fetchall()
    stored = b"".join(
        bytes(v) if isinstance(v, bytes) else str(v).encode() for r in rows for v in r
    )
    assert base64.b64encode(PNG)[:40] not in stored
    assert files[0].name.encode() in stored
    # The next turn's history carries that reference, not megabytes of base64.
    history = str(upstream.chat_requests[1].body["messages"])
    assert files[0].name in history and PNG_URI not in history


def test_an_https_image_is_passed_as_its_url(tmp_path: Path, upstream: Upstream) -> None:
    upstream.script(Reply.text("A cat."))
    url = "https://example.org/cat.png"
    with running_server(tmp_path, config(upstream, vision=True), env=ENV) as handle:
        assert post(handle, [image_message(url)]).status_code == 200
    assert {"type": "image_url", "image_url": {"url": url}} in last_user_content(upstream)


def test_a_pdf_file_part_reaches_a_vision_model(tmp_path: Path, upstream: Upstream) -> None:
    upstream.script(Reply.text("A tiny PDF."))
    pdf_uri = "data:application/pdf;base64," + base64.b64encode(PDF).decode()
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "Summarise this."},
            {"type": "file", "file": {"filename": "notes.pdf", "file_data": pdf_uri}},
        ],
    }
    with running_server(tmp_path, config(upstream, vision=True), env=ENV) as handle:
        assert post(handle, [message]).status_code == 200
    parts = last_user_content(upstream)
    files = [p for p in parts if p.get("type") == "file"]
    assert len(files) == 1
    assert base64.b64encode(PDF).decode() in files[0]["file"]["file_data"]


def test_a_model_without_vision_keeps_the_text_and_says_so_once(
    tmp_path: Path, upstream: Upstream
) -> None:
    upstream.script(Reply.text("I can only read text."))
    with running_server(tmp_path, config(upstream, vision=None), env=ENV) as handle:
        response = post(
            handle,
            [
                image_message(),
            ],
        )
    content = response.json()["choices"][0]["message"]["content"]
    assert content.startswith("[Traymind: this agent's model does not take images")
    assert content.count("not seen") == 1 and content.endswith("I can only read text.")
    assert last_user_content(upstream) == "What is in this picture?"


def test_an_image_over_the_limit_is_a_413(tmp_path: Path, upstream: Upstream) -> None:
    with running_server(
        tmp_path, config(upstream, vision=True, max_image_bytes=100), env=ENV
    ) as handle:
        response = post(handle, [image_message()])
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["param"] == "messages[0].content[1]"
    assert "server.max_image_bytes" in error["message"]
    assert upstream.chat_requests == []


def test_a_malformed_image_part_is_a_400(tmp_path: Path, upstream: Upstream) -> None:
    bad = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}
    with running_server(tmp_path, config(upstream, vision=True), env=ENV) as handle:
        response = post(handle, [bad])
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[0].content[0]"


def test_an_image_alone_is_a_message(tmp_path: Path, upstream: Upstream) -> None:
    """A picture with no words is still something to answer."""
    upstream.script(Reply.text("A pattern."))
    only = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": PNG_URI}}]}
    with running_server(tmp_path, config(upstream, vision=True), env=ENV) as handle:
        assert post(handle, [only]).status_code == 200
    parts = last_user_content(upstream)
    assert {"type": "image_url", "image_url": {"url": PNG_URI}} in parts


def test_an_empty_or_percent_encoded_data_url_is_read_not_refused(
    tmp_path: Path, upstream: Upstream
) -> None:
    upstream.script(Reply.text("Read it."))
    note = "data:text/plain,hello%20there"
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "Two parts"},
            {"type": "image_url", "image_url": {"url": "data:,"}},
            {"type": "image_url", "image_url": {"url": note}},
        ],
    }
    with running_server(tmp_path, config(upstream, vision=True), env=ENV) as handle:
        assert post(handle, [message]).status_code == 200
    parts = last_user_content(upstream)
    assert parts[0] == {"type": "text", "text": "Two parts"}
    assert len(parts) == 2  # the empty data: URL had nothing to send
