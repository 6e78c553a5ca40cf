"""Storage faults under a running server, over real HTTP: a full disk says so and the server
saves again once space is freed; a data folder deleted while running is noticed, logged,
shown in /api/status, and made again.

The full disk is a real one: a 3 MB tmpfs mounted for the test (we run as root here and in CI).
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.harness import agent_config, client, http, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-storage"
ENV = {"OPENAI_COMPAT_API_KEYS": KEY}
SESSION = {"X-Session-Id": "storage-chat"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs: a disk that really fills up."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs (needs root): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)
        if mount_point.is_mount():
            subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path) -> Path:
    """A filler file taking every free byte of the disk."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError:
            pass
        try:
            while True:
                out.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def user_texts(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


def ask(handle: Any, text: str, history: list[dict[str, str]] | None = None) -> str:
    answer = client(handle, KEY, **SESSION).chat.completions.create(
        model="general", messages=[*(history or []), {"role": "user", "content": text}]
    )
    return answer.choices[0].message.content or ""


def storage_status(handle: Any) -> dict[str, Any]:
    with http(handle) as web:
        response = web.get("/api/status", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200
    return response.json().get("storage", {})


def test_a_full_disk_says_so_and_the_server_saves_again_once_space_is_freed(
    tmp_path: Path, small_disk: Path, upstream: Upstream
) -> None:
    data_dir = small_disk / "data"
    with running_server(
        tmp_path, agent_config(upstream.base_url), env=ENV, data_dir=data_dir
    ) as handle:
        upstream.script(Reply.text("First answer."))
        assert ask(handle, "first question") == "First answer."

        filler = fill(small_disk)
        upstream.script(Reply.text("An answer that cannot be saved. " * 200))
        with pytest.raises(openai.InternalServerError) as failure:
            ask(handle, "second question " + "x" * 20000)
        body = failure.value.body
        assert isinstance(body, dict)
        assert body["message"] == "Could not save the conversation turn: the disk is full."
        assert body["type"] == "server_error"
        assert body["code"] == "storage_error"
        assert storage_status(handle) == {
            "state": "error",
            "message": "Could not save the conversation turn: the disk is full.",
        }

        filler.unlink()
        upstream.script(Reply.text("Third answer."))
        assert ask(handle, "third question") == "Third answer."
        upstream.clear()
        upstream.script(Reply.text("Fourth answer."))
        assert ask(handle, "fourth question") == "Fourth answer."
        assert user_texts(upstream.chat_requests[0].body) == [
            "first question",
            "third question",
            "fourth question",
        ]
        assert storage_status(handle)["state"] == "ok"
    db = sqlite3.connect(data_dir / "sessions.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM turns").fetchone() == (3,)
    finally:
        db.close()


def test_a_deleted_data_folder_is_noticed_logged_shown_and_made_again(
    tmp_path: Path, upstream: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    with running_server(
        tmp_path, agent_config(upstream.base_url), env=ENV, data_dir=data_dir
    ) as handle:
        upstream.script(Reply.text("First answer."))
        assert ask(handle, "first question") == "First answer."
        shutil.rmtree(data_dir)

        caplog.set_level(logging.ERROR)
        upstream.clear()
        upstream.script(Reply.text("Second answer."))
        history = [
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "First answer."},
        ]
        assert ask(handle, "second question", history) == "Second answer."
        # The stored history went with the folder: the turn goes on from the client's copy.
        assert user_texts(upstream.chat_requests[0].body) == ["first question", "second question"]
        lost = [r for r in caplog.records if r.levelno >= logging.ERROR and "deleted" in r.message]
        assert lost, "the loss of the data folder was not logged"
        assert "history stored before is lost" in lost[0].message
        status = storage_status(handle)
        assert status["state"] == "error"
        assert status["message"] == (
            f"The data folder {data_dir} was deleted or replaced while Traymind ran: "
            "it was made again and the conversation history stored before is lost."
        )
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert (data_dir / "sessions.sqlite3").exists()

        upstream.clear()
        upstream.script(Reply.text("Third answer."))
        assert ask(handle, "third question") == "Third answer."
        assert user_texts(upstream.chat_requests[0].body) == [
            "first question",
            "second question",
            "third question",
        ]


def test_memory_saved_after_the_data_folder_was_deleted_goes_to_a_new_file(
    tmp_path: Path, upstream: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    config = agent_config(upstream.base_url, general={"memory": True})
    with running_server(tmp_path, config, env=ENV, data_dir=data_dir) as handle:
        upstream.script(
            Reply.tool_calls([("remember", {"fact": "The user likes tea."})]), Reply.text("ok")
        )
        ask(handle, "Remember that I like tea.")
        shutil.rmtree(data_dir)
        caplog.set_level(logging.ERROR)
        upstream.clear()
        upstream.script(
            Reply.tool_calls([("remember", {"fact": "The user likes coffee."})]), Reply.text("ok")
        )
        ask(handle, "Remember that I like coffee.")
        result = upstream.chat_requests[-1].body["messages"][-1]["content"]
        assert result == "Remembered as memory #1: The user likes coffee."
        assert any("agent memory stored before is lost" in r.message for r in caplog.records)
    db = sqlite3.connect(data_dir / "memory.sqlite3")
    try:
        assert db.execute("SELECT text FROM memories").fetchall() == [("The user likes coffee.",)]
    finally:
        db.close()
