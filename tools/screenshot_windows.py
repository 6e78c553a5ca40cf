"""Regenerate the screenshots of every window in docs/screenshots (except the tray menu's).

Usage: ``.venv/bin/python tools/screenshot_windows.py [--out-dir DIR]``
(``tools/screenshot.py`` runs it on its Xvfb display after the tray picture.)

Runs the real ``TraymindApp`` against the loopback LLM stand-in and the test MCP
server, sends real requests (answered ones, an agent's tool call, a wrong key's 401
and an unknown model's 404), then opens each window the way a person would and grabs
it: status, logs, agents, chat, models, keys, connect, settings, about and welcome.
Everything lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from shot_session import SHOTS, Session, private_environment

KEY = "sk-screenshot-key"


def traffic(base: str, upstream: object) -> None:
    """Requests for the status window: answers, a tool call, a 401 and a 404."""
    import httpx

    from tests.upstream import Reply

    auth = {"Authorization": f"Bearer {KEY}", "User-Agent": "OpenAI/Python 2.0"}
    with httpx.Client(base_url=base, timeout=30) as web:
        for i in range(6):
            question = {"model": "general", "messages": [{"role": "user", "content": "Hi"}]}
            web.post(
                "/v1/chat/completions",
                json=question,
                headers={**auth, "X-Session-Id": f"trip-{i % 2}"},
            )
        upstream.script(  # type: ignore[attr-defined]
            Reply.tool_calls([("calculator", {"expression": "17*23"})]), Reply.text("391")
        )
        sums = {"model": "maths", "messages": [{"role": "user", "content": "17*23?"}]}
        web.post("/v1/chat/completions", json=sums, headers={**auth, "X-Session-Id": "homework"})
        web.get("/v1/models", headers={"Authorization": "Bearer sk-wrong"})
        missing = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}
        web.post("/v1/chat/completions", json=missing, headers=auth)


def capture(out_dir: Path, workdir: Path) -> None:
    private_environment(workdir, KEY)
    from tests.harness import agent_config
    from tests.mcp_servers.harness import SERVER
    from tests.upstream import Reply, Upstream

    shots = Session()
    notes = workdir / "notes"
    notes.mkdir()
    (notes / "trip.md").write_text("# Lisbon\nFlights on the 12th.\n")
    with Upstream() as upstream:
        upstream.default = Reply.text("Here is a short answer.")
        upstream.models = ["llama3.2", "qwen2.5:7b", "mistral-small"]
        config = agent_config(
            upstream.base_url,
            general={"display_name": "GeneralAgent", "role": "Everyday questions"},
            maths={"display_name": "MathsAgent", "role": "Sums", "tools": ["calculator"]},
            notes={
                "display_name": "NotesAgent",
                "role": "Reads and files my notes",
                "instructions": ["Answer from my notes.", "Say which note you used."],
                "tools": [
                    {"files": {"roots": [str(notes)], "write": True}},
                    {"mcp": {"server": "notes-mcp", "allow": ["add", "shout", "whoami"]}},
                ],
                "knowledge_bases": ["trips"],
                "memory": True,
            },
        )
        fast = {"provider": "openai", "id": "qwen2.5:7b", "base_url": upstream.base_url}
        config["models"]["fast"] = fast  # type: ignore[index]
        config["knowledge_bases"] = {"trips": {"path": str(notes), "description": "Trip notes"}}
        config["mcp_servers"] = {
            "notes-mcp": {"command": sys.executable, "args": [str(SERVER), "stdio"]}
        }
        app = shots.start_app(workdir, config)
        assert app.controller.url is not None
        traffic(app.controller.url.removesuffix("/v1"), upstream)
        shots.pump(1.0)

        window = app.status_window
        window.resize(980, 720)
        app.show_status()
        window.refresh()
        window.tabs.setCurrentIndex(2)
        shots.pump(0.5)
        window.requests_view.selectRow(2)  # the tool call's request
        shots.save(window, out_dir / "status.png")
        window.hide()

        app.show_logs()
        logs = app.logs_window
        assert logs is not None
        logs.resize(980, 480)
        shots.pump(1.5, lambda: bool(logs.text.toPlainText()))
        logs.level.setCurrentIndex(0)
        shots.save(logs, out_dir / "logs.png")
        logs.hide()

        app.show_agents()
        agents = app.agents_window
        assert agents is not None
        agents.resize(1000, 900)
        shots.pump(10, lambda: agents.editor is not None and not agents.busy)
        rows = [agents.entries.item(i).text() for i in range(agents.entries.count())]
        agents.entries.setCurrentRow(next(i for i, r in enumerate(rows) if r.startswith("notes")))
        form = agents.agent_form
        shots.pump(0.5)
        form.mcp.servers.setCurrentRow(0)
        form.mcp.test_selected()
        shots.pump(20, lambda: form.mcp.tools.isVisible())
        shots.pump(5, lambda: "ready" in form.knowledge.bases.item(0).text())
        scroller = form.parentWidget().parentWidget()  # the scroll area's viewport's area
        scroller.verticalScrollBar().setValue(form.tools.y() + form.tools.height() - 40)
        shots.save(agents, out_dir / "agents.png")
        agents.hide()

        app.show_chat()
        chat_window = app.chat_window
        assert chat_window is not None
        chat = chat_window.chat
        shots.pump(10, lambda: chat.models.count() > 0)
        chat.select_model("maths")
        upstream.script(
            Reply.tool_calls([("calculator", {"expression": "12*7.5"})]),
            Reply.text("Twelve tickets at 7.50 come to **90.00**."),
        )
        chat.input.setPlainText("What do 12 tickets at 7.50 cost?")
        chat.send()
        shots.pump(15, lambda: not chat.busy)
        shots.save(chat_window, out_dir / "chat.png")
        chat_window.hide()

        app.show_models()
        models = app.models_dialog
        assert models is not None
        models.resize(600, 520)
        shots.pump(1.0)
        models.model_name.setCurrentIndex(1)  # "fast": one of two named models
        models.test_connection()
        shots.pump(10, lambda: models.models.count() > 1)
        shots.save(models, out_dir / "models.png")
        models.hide()

        app.show_keys()
        keys = app.keys_dialog
        assert keys is not None
        shots.pump(5, lambda: not keys.busy)
        keys.label_edit.setText("LibreChat")
        keys.create_key()
        shots.pump(5, lambda: not keys.busy and bool(keys.new_key.text()))
        shots.save(keys, out_dir / "keys.png")
        keys.hide()

        for show, name in (
            (app.show_connect, "connect"),
            (app.show_settings, "settings"),
            (app.show_about, "about"),
        ):  # dialogs shown as they open
            show()
            dialog = getattr(app, f"{name}_dialog")
            assert dialog is not None
            if name == "connect":
                dialog.resize(760, 600)
            shots.save(dialog, out_dir / f"{name}.png")
            dialog.hide()

        app.show_welcome()
        welcome = app.welcome_window
        assert welcome is not None
        welcome.resize(900, 640)
        shots.pump(3.0)
        shots.save(welcome, out_dir / "welcome.png")
        welcome.go_to(2)  # Connect your chat app
        shots.save(welcome, out_dir / "welcome-connect.png")
        welcome.hide()
        app.quit()
        shots.pump(1.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=SHOTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="traymind-shot-") as tmp:
        capture(args.out_dir.resolve(), Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
